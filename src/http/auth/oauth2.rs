//! `/oauth2/token`: OAuth 2.0 client credentials (RFC 6749 §4.4), client authentication by form
//! body or HTTP Basic (§2.3.1), failures in the §5.2 shape.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use serde_json::json;
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult, OAuthError};
use crate::http::middleware::RequestContext;
use crate::http::params::Params;
use crate::service::auth::Origin;
use crate::service::auth::oauth2::{ClientCredentials, issue_token};
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    mut params: Params,
) -> ApiResult<Response> {
    match params.text("grant_type")?.as_deref() {
        None | Some("") => {
            return Err(ApiError::oauth(OAuthError::InvalidRequest, "The grant_type parameter is required"));
        }
        Some("client_credentials") => {}
        Some(_) => {
            return Err(ApiError::oauth(OAuthError::UnsupportedGrantType, "Only client_credentials is supported"));
        }
    }
    // Only HTTP Basic authenticates a client here. Any other scheme is ignored: dsmcli logs in
    // again with new body credentials while it still sends its old `Bearer` token.
    let basic = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            context.note("credential", state.core.audit_mask(value.as_bytes()));
            if is_basic(value.as_bytes()) {
                Some(basic_credentials(value.as_bytes()).ok_or_else(ApiError::invalid_client)?)
            } else {
                None
            }
        }
        None => None,
    };
    let body_secret = params.take_secret("client_secret")?;
    let credentials = match (basic, body_secret) {
        // Two client authentications in one request (RFC 6749 §2.3: "MUST NOT").
        (Some(_), Some(_)) => {
            return Err(ApiError::oauth(OAuthError::InvalidRequest, "Send the client credentials one way only"));
        }
        (Some(basic), None) => basic,
        (None, Some(client_secret)) => {
            let client_id = params.text("client_id")?.ok_or_else(ApiError::invalid_client)?;
            ClientCredentials { client_id, client_secret }
        }
        (None, None) => return Err(ApiError::invalid_client().with_reason("no client credentials")),
    };
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let issued = issue_token(&state.core, &credentials, Origin { ip: context.client_ip, referer }).await?;
    context.note_caller(issued.authorization.application_id, issued.authorization.id);
    let body = json!({
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "access_token": issued.access_token.as_str(),
    });
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Whether the header's scheme is `Basic` (in any letter case).
fn is_basic(value: &[u8]) -> bool {
    let value = value.trim_ascii_start();
    value.len() >= 5 && value[..5].eq_ignore_ascii_case(b"basic") && value.get(5).is_none_or(u8::is_ascii_whitespace)
}

/// `Basic base64(urlencode(id):urlencode(secret))`; `None` when malformed or another scheme.
fn basic_credentials(value: &[u8]) -> Option<ClientCredentials> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Zeroizing::new(STANDARD.decode(encoded.trim()).ok()?);
    let decoded = std::str::from_utf8(&decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let client_id = percent_decode_str(id).decode_utf8().ok()?.into_owned();
    let client_secret = Zeroizing::new(percent_decode_str(secret).decode_utf8().ok()?.into_owned());
    (!client_id.is_empty()).then_some(ClientCredentials { client_id, client_secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_decode() {
        let header = format!("basic {}", STANDARD.encode("my%20id:s3cr%3At"));
        let creds = basic_credentials(header.as_bytes()).expect("valid");
        assert_eq!(creds.client_id, "my id");
        assert_eq!(creds.client_secret.as_str(), "s3cr:t");
        assert!(basic_credentials(b"Basic !!!").is_none());
        assert!(basic_credentials(b"Bearer abc").is_none());
        assert!(is_basic(b"Basic abc") && is_basic(b" basic") && is_basic(b"BASIC\tabc"));
        assert!(!is_basic(b"Bearer abc") && !is_basic(b"Basically") && !is_basic(b"OAuth x"));
    }
}
