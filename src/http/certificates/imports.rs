//! Import (cofre's own `POST /certificate/import`, `/certificado/importar`) and discovery
//! (`POST /certificate/scan`, `/certificado/descobrir`) of certificates cofre did not sign.

use axum::Extension;
use axum::extract::State;
use serde_json::{Value, json};

use super::{certificate_json, names};
use crate::domain::authorization::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::middleware::RequestContext;
use crate::http::params::Params;
use crate::service::certificates::discovery::{self, ScanInput};
use crate::service::certificates::imports::{self, ImportInput};
use crate::state::AppState;

pub async fn import(State(state): State<AppState>, caller: Caller, mut params: Params) -> ApiResult<Reply> {
    let input = ImportInput {
        certificate: params.take_secret("certificate")?,
        format: params.text("format")?,
        password: params.take_secret("password")?,
        private_key: params.take_secret("private_key")?,
        key_password: params.take_secret("key_password")?,
        password_revogation: params.take_secret("password_revogation")?,
    };
    let certificate = imports::import(&state.core, &caller, input).await?;
    Ok(Reply::created("Certificate imported").with("certificate", certificate_json(&certificate, state.core.now())))
}

pub async fn scan(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    caller: Caller,
    params: Params,
) -> ApiResult<Reply> {
    let timeout_seconds = match params.text("timeout")? {
        None => None,
        Some(t) => {
            Some(t.trim().parse().map_err(|_| ApiError::bad_request("Parameter 'timeout' must be 1 to 30 seconds."))?)
        }
    };
    let input = ScanInput { targets: names(&params, "targets")?, timeout_seconds };
    let findings = discovery::scan(&state.core, &caller, input).await?;
    let refused: Vec<Value> = findings.iter().filter(|f| f.refused).map(|f| Value::from(f.target.as_str())).collect();
    if !refused.is_empty() {
        context.note("refused_targets", refused);
    }
    let now = state.core.now();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| match &f.outcome {
            Ok((certificate, new)) => json!({
                "target": f.target,
                "found": true,
                "new": new,
                "certificate": certificate_json(certificate, now),
            }),
            Err(why) => json!({ "target": f.target, "found": false, "error": why }),
        })
        .collect();
    Ok(Reply::ok("Certificate discovery").with("results", Value::Array(results)))
}
