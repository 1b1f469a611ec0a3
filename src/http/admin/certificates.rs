//! Admin: certificate authorities (issue 17). `POST /admin/certificate-authorities` makes a root
//! or, with `parent`, an intermediate; `GET` lists them. Keys never leave the store.

use axum::extract::State;

use super::{can_read, can_write};
use crate::domain::authorization::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::certificates::authorities::authority_json;
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::service::certificates::authorities::{self, AuthorityImport, AuthorityInput};
use crate::state::AppState;

/// With `certificate` and `private_key` (PEM), an existing authority is imported; otherwise one
/// is made.
pub async fn create(State(state): State<AppState>, caller: Caller, mut params: Params) -> ApiResult<Reply> {
    can_write(&caller)?;
    if let Some(certificate) = params.take_secret("certificate")? {
        let input = AuthorityImport {
            name: params.text("name")?.ok_or_else(|| ApiError::bad_request("Parameter 'name' is required."))?,
            certificate,
            private_key: params
                .take_secret("private_key")?
                .ok_or_else(|| ApiError::bad_request("Parameter 'private_key' is required to import an authority."))?,
            password: params.take_secret("password")?,
            parent: params.text("parent")?,
        };
        let a = authorities::import(&state.core, input).await?;
        let chain = authorities::chain_pem(&state.core, &a).await?;
        let body = authority_json(&a, &chain);
        return Ok(Reply::created("Certificate authority imported").with("certificate_authority", body));
    }
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
