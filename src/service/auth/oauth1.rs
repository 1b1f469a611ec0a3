//! OAuth 1.0a request verification (RFC 5849) for applications created with `--auth oauth1`.
//!
//! Order matters: parameters are checked, the signature verified, and only then the nonce
//! consumed — in the store, so a replay is caught across restarts and across processes.

use crate::service::auth::{Origin, admit};
use std::collections::BTreeMap;

use crate::crypto::cipher::Aad;
use crate::crypto::ct_eq;
use crate::crypto::oauth1_signature::{SignatureMethod, base_string, verify};
use crate::domain::authorization::{Authorization, Caller, Scheme};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::auth::throttle::{self, Proof};
use crate::store::StoreError;

/// A request as OAuth 1.0a sees it. `params` are every request parameter (query, form body and
/// the `Authorization: OAuth` header's), decoded, in the order received.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub base_uri: String,
    pub params: Vec<(String, String)>,
    /// Whether the request reached cofre over TLS (PLAINTEXT needs it).
    pub secure: bool,
}

/// Where an authorization's OAuth 1 secrets are sealed.
pub fn secret_aad<'a>(client_id: &'a str, field: &'a str) -> Aad<'a> {
    Aad::new("authorizations", client_id, field)
}

pub async fn verify_request(core: &Core, request: SignedRequest<'_>, origin: Origin<'_>) -> ApiResult<Caller> {
    let mut protocol = BTreeMap::new();
    for (name, value) in request.params.iter().filter(|(n, _)| n.starts_with("oauth_")) {
        if protocol.insert(name.as_str(), value.as_str()).is_some() {
            return Err(ApiError::bad_request(format!("Duplicate OAuth parameter '{name}'."))
                .with_reason("duplicate oauth parameter"));
        }
    }
    let consumer_key = protocol.get("oauth_consumer_key").copied().unwrap_or_default();
    if consumer_key.is_empty() {
        return Err(ApiError::invalid_signature("no consumer key"));
    }
    let subject = format!("oauth1:{consumer_key}");
    let authorization =
        throttle::guard(core, "oauth1", Some(&subject), origin.ip, check(core, &request, &protocol)).await?;
    admit(core, authorization, None, Scheme::OAuth1, origin).await
}

/// Checks the signature (or the unsigned mode), then consumes the nonce.
async fn check(
    core: &Core,
    request: &SignedRequest<'_>,
    protocol: &BTreeMap<&str, &str>,
) -> ApiResult<Proof<Authorization>> {
    let fail = |reason: &'static str| Ok(Proof::Invalid(ApiError::invalid_signature(reason)));
    let consumer_key = protocol.get("oauth_consumer_key").copied().unwrap_or_default();
    let (authorization, secrets) = match core.store.authorization_by_consumer_key(consumer_key).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return fail("unknown consumer key"),
        Err(e) => return Err(e.into()),
    };
    let token = protocol.get("oauth_token").copied().unwrap_or_default();
    let token_matches = ct_eq(token.as_bytes(), secrets.token.as_bytes());
    let signature = protocol.get("oauth_signature").copied();

    // The contract's "without signature" mode: key and token in the URL, for apps set up for it.
    if !protocol.contains_key("oauth_signature_method") && signature.is_none_or(|s| s == "-") {
        if secrets.unsigned && token_matches {
            return Ok(Proof::Valid(authorization));
        }
        return fail("unsigned request refused");
    }

    let method = protocol.get("oauth_signature_method").copied().unwrap_or_default();
    let method = SignatureMethod::parse(method).ok_or_else(|| {
        ApiError::bad_request("Unsupported oauth_signature_method: use HMAC-SHA1, HMAC-SHA256 or PLAINTEXT.")
            .with_reason("unsupported signature method")
    })?;
    if method == SignatureMethod::Plaintext && !request.secure {
        return Err(ApiError::bad_request("PLAINTEXT signatures are accepted over HTTPS only.")
            .with_reason("plaintext over http"));
    }
    let timestamp = match protocol.get("oauth_timestamp") {
        Some(t) => Some(t.parse::<i64>().map_err(|_| {
            ApiError::bad_request("oauth_timestamp must be a number of seconds.").with_reason("bad timestamp")
        })?),
        None => None,
    };
    let nonce = protocol.get("oauth_nonce").copied();
    let window = core.config.oauth1_timestamp_window;
    let now = core.now();
    let (timestamp, nonce) = match (timestamp, nonce) {
        (Some(t), Some(n)) if !n.is_empty() => (Some(t), Some(n)),
        // PLAINTEXT may omit both (§3.1); the signatures that can be replayed may not.
        (None, None) if method == SignatureMethod::Plaintext => (None, None),
        _ => return fail("timestamp or nonce missing"),
    };
    // abs_diff cannot overflow, whatever timestamp the client sends.
    if timestamp.is_some_and(|t| now.abs_diff(t) > window) {
        return fail("timestamp outside the window");
    }
    if !token_matches {
        return fail("wrong token");
    }
    let consumer_secret =
        core.unseal(&secret_aad(&authorization.client_id, "oauth1_consumer_secret"), &secrets.consumer_secret).await?;
    let token_secret =
        core.unseal(&secret_aad(&authorization.client_id, "oauth1_token_secret"), &secrets.token_secret).await?;
    let (consumer_secret, token_secret) = (utf8(&consumer_secret)?, utf8(&token_secret)?);
    let signed: Vec<(String, String)> =
        request.params.iter().filter(|(n, _)| n != "oauth_signature" && n != "realm").cloned().collect();
    let base = base_string(request.method, &request.base_uri, &signed);
    if !verify(method, &base, consumer_secret, token_secret, signature.unwrap_or_default()) {
        return fail("signature mismatch");
    }
    if let (Some(t), Some(n)) = (timestamp, nonce) {
        let key = format!("oauth1:{consumer_key}:{token}:{t}:{n}");
        let keep_until = now.saturating_add(i64::try_from(window).unwrap_or(i64::MAX).saturating_mul(2));
        if !core.store.consume_once(&key, keep_until, now).await? {
            return Ok(Proof::Replayed(ApiError::invalid_signature("nonce replayed")));
        }
    }
    Ok(Proof::Valid(authorization))
}

fn utf8(bytes: &[u8]) -> ApiResult<&str> {
    std::str::from_utf8(bytes).map_err(|e| ApiError::internal(&e))
}
