//! The `Caller` extractor: the one place a request's credentials become a caller.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::middleware::RequestContext;
use crate::domain::authorization::Caller;
use crate::error::ApiError;
use crate::service::auth::resolve_bearer;
use crate::state::AppState;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let context = parts.extensions.get::<RequestContext>().cloned().ok_or_else(|| {
            ApiError::internal(&"request context missing: the audit middleware must wrap every route")
        })?;
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(ApiError::unauthenticated)?;
        let token = bearer_token(header.as_bytes()).ok_or_else(ApiError::unauthenticated)?;
        context.note("credential", state.core.audit_mask(token.as_bytes()));
        let referer = parts.headers.get(header::REFERER).and_then(|v| v.to_str().ok());
        let caller = resolve_bearer(&state.core, token, context.client_ip, referer).await?;
        context.note_caller(caller.authorization.application_id, caller.authorization.id);
        Ok(caller)
    }
}

/// `Bearer <token>`, the scheme in any letter case (some clients send `bearer`).
fn bearer_token(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(b"Bearer abc"), Some("abc"));
        assert_eq!(bearer_token(b"bearer abc"), Some("abc"));
        assert_eq!(bearer_token(b"BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer"), None);
    }
}
