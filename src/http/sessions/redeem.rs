//! `GET /modulos/auth?_sr=TOKEN`, at the root and unauthenticated: the ticket is the credential.
//! A refusal is a plain page that says only that the link is no good; the audit says why. Only a
//! `GET` redeems: a `HEAD` (a chat's link preview, a mail scanner) leaves the ticket unused.

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiResult;
use crate::http::envelope::AuditReason;
use crate::http::middleware::RequestContext;
use crate::service::sessions::redeem;
use crate::state::AppState;
use crate::store::sessions::tickets::Refused;

#[derive(serde::Deserialize)]
pub struct RedeemQuery {
    #[serde(rename = "_sr")]
    sr: Option<String>,
}

pub async fn redeem(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    method: Method,
    Query(query): Query<RedeemQuery>,
) -> ApiResult<Response> {
    if method == Method::HEAD {
        let mut response = StatusCode::OK.into_response();
        private(response.headers_mut());
        return Ok(response);
    }
    let token = query.sr.unwrap_or_default();
    match redeem::redeem(&state.core, token.trim(), context.client_ip).await? {
        Ok(entered) => {
            context.note_caller(entered.application_id, entered.authorization_id);
            context.note("session_id", entered.session_id.as_str());
            context.note("user", entered.username.as_str());
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&entered.redirect) {
                headers.insert(header::LOCATION, location);
            }
            private(headers);
            Ok(response)
        }
        Err(refused) => Ok(refusal(refused)),
    }
}

/// Nothing of this exchange may be cached, nor its URL (which held the token) sent onwards.
fn private(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

fn refusal(refused: Refused) -> Response {
    let (status, text) = match refused {
        Refused::Reused | Refused::Expired => {
            (StatusCode::GONE, "This session link has already been used or has expired. Ask for a new one.\n")
        }
        Refused::Unknown | Refused::WrongAddress | Refused::UserInactive | Refused::WrongProtocol => {
            (StatusCode::FORBIDDEN, "This session link is not valid.\n")
        }
    };
    let mut response = (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    private(response.headers_mut());
    response.extensions_mut().insert(AuditReason(refused.as_str()));
    response
}
