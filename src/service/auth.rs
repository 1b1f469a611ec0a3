//! OAuth 2.0 client credentials, and turning a presented bearer token into a `Caller`.
//!
//! The authorization row is read on every request, so disabling an application, expiring an
//! authorization or rotating its secret stops its tokens at once, on every cofre process.

use std::net::IpAddr;

use zeroize::Zeroizing;

use super::Core;
use crate::crypto::random_hex;
use crate::crypto::token::{AccessClaims, ISSUER};
use crate::domain::authorization::{Authorization, Caller, Refusal};
use crate::error::{ApiError, ApiResult};
use crate::store::StoreError;

pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Zeroizing<String>,
}

pub struct IssuedToken {
    pub access_token: Zeroizing<String>,
    pub expires_in: u64,
    pub authorization: Authorization,
}

/// A fixed hash to compare against when the client id is unknown, so both paths do equal work.
const DUMMY_HASH: [u8; 32] = [0x5a; 32];

/// Checks the client, then the same gate every request passes, and signs a token.
/// Every failure answers `invalid_client` alike; the audit record keeps the reason.
pub async fn issue_token(
    core: &Core,
    credentials: &ClientCredentials,
    client_ip: IpAddr,
    referer: Option<&str>,
) -> ApiResult<IssuedToken> {
    let found = match core.store.authorization_by_client_id(&credentials.client_id).await {
        Ok(found) => Some(found),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let stored_hash = found.as_ref().map_or(&DUMMY_HASH[..], |(_, hash)| hash.as_slice());
    let secret_ok = core.client_secret_matches(&credentials.client_secret, stored_hash);
    let Some((authorization, _)) = found else {
        return Err(ApiError::invalid_client().with_reason("unknown client_id"));
    };
    if !secret_ok {
        return Err(ApiError::invalid_client().with_reason("wrong client_secret"));
    }
    let now = core.now();
    authorization.admits(now, client_ip, referer).map_err(|r| ApiError::invalid_client().with_reason(reason(r)))?;
    let ttl = core.config.token_ttl;
    let ttl_secs = i64::try_from(ttl).unwrap_or(3600);
    let claims = AccessClaims {
        iss: ISSUER.to_owned(),
        aud: authorization.client_id.clone(),
        sub: authorization.id.to_string(),
        jti: random_hex(16).to_string(),
        iat: now,
        nbf: now,
        exp: now + ttl_secs,
        generation: authorization.token_generation,
        scopes: Vec::new(),
    };
    Ok(IssuedToken { access_token: Zeroizing::new(core.tokens.sign(&claims)), expires_in: ttl, authorization })
}

/// Verifies a bearer token and re-reads its authorization: status, expiry, IP and referrer.
pub async fn resolve_bearer(core: &Core, token: &str, client_ip: IpAddr, referer: Option<&str>) -> ApiResult<Caller> {
    let now = core.now();
    let claims = core.tokens.verify(token, now).ok_or_else(ApiError::invalid_token)?;
    let id: i64 = claims.sub.parse().map_err(|_| ApiError::invalid_token())?;
    let authorization = match core.store.authorization(id).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Err(ApiError::invalid_token()),
        Err(e) => return Err(e.into()),
    };
    if authorization.client_id != claims.aud || authorization.token_generation != claims.generation {
        return Err(ApiError::invalid_token().with_reason("token superseded"));
    }
    match authorization.admits(now, client_ip, referer) {
        Ok(()) => Ok(Caller { authorization, client_ip }),
        Err(r @ (Refusal::Disabled | Refusal::Expired)) => Err(ApiError::invalid_token().with_reason(reason(r))),
        Err(Refusal::IpNotAllowed) => Err(ApiError::forbidden("Access denied: this client IP is not authorized.")),
        Err(Refusal::RefererNotAllowed) => {
            Err(ApiError::forbidden("Access denied: this HTTP referer is not authorized."))
        }
    }
}

fn reason(r: Refusal) -> &'static str {
    match r {
        Refusal::Disabled => "authorization or application disabled",
        Refusal::Expired => "authorization expired",
        Refusal::IpNotAllowed => "client IP not allowed",
        Refusal::RefererNotAllowed => "referer not allowed",
    }
}
