//! Admin: certificate authorities (issue 17). `POST /admin/certificate-authorities` makes a root
//! or, with `parent`, an intermediate; `GET` lists them. Keys never leave the store.

use axum::extract::State;

use super::{can_read, can_write};
use crate::domain::authorization::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::certificates::authorities::authority_json;
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::service::certificates::authorities::{self, AuthorityInput};
use crate::state::AppState;

pub async fn create(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    let validity_days = params
        .text("validity_days")?
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| ApiError::bad_request("Parameter 'validity_days' must be a number."))
        })
        .transpose()?;
    let input = AuthorityInput {
        name: params.text("name")?.ok_or_else(|| ApiError::bad_request("Parameter 'name' is required."))?,
        key_type: params.text("key_type")?,
        validity_days,
        parent: params.text("parent")?,
    };
    let a = authorities::create(&state.core, input).await?;
    let chain = authorities::chain_pem(&state.core, &a).await?;
    Ok(Reply::created("Certificate authority created").with("certificate_authority", authority_json(&a, &chain)))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    let all = authorities::list(&state.core).await?;
    let items = all.iter().map(|a| authority_json(a, &a.certificate_pem)).collect();
    Ok(Reply::ok("Certificate authorities").with("certificate_authorities", items))
}
