//! `GET /certificate/ca/{id|name}` (the authority's certificate and chain) and
//! `GET /certificate/ca/{id|name}/crl` (a CRL signed now), for any `certificates` caller.

use axum::extract::State;
use serde_json::{Value, json};

use crate::domain::authorization::Caller;
use crate::domain::certificates::Authority;
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::http::pam::datetime;
use crate::http::path::Segments;
use crate::service::certificates::authorities;
use crate::state::AppState;

pub fn authority_json(a: &Authority, chain: &str) -> Value {
    json!({
        "id": a.id.to_string(),
        "name": a.name,
        "parent": a.parent_id.map(|p| p.to_string()),
        "key_type": a.key.as_stored(),
        "start_validity": datetime(Some(a.not_before)),
        "end_validity": datetime(Some(a.not_after)),
        "certificate": a.certificate_pem,
        "chain": chain,
    })
}

pub async fn show(State(state): State<AppState>, caller: Caller, Segments(key): Segments<String>) -> ApiResult<Reply> {
    let a = authorities::show(&state.core, &caller, &key).await?;
    let chain = authorities::chain_pem(&state.core, &a).await?;
    Ok(Reply::ok("Certificate authority").with("certificate", authority_json(&a, &chain)))
}

pub async fn crl(State(state): State<AppState>, caller: Caller, Segments(key): Segments<String>) -> ApiResult<Reply> {
    let crl = authorities::crl(&state.core, &caller, &key).await?;
    Ok(Reply::ok("Certificate revocation list").with("certificate", json!({ "crl": crl })))
}
