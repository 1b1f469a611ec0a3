//! OAuth 2.0 client credentials (§2.1): the token endpoint and bearer tokens.

use zeroize::Zeroizing;

use crate::crypto::jwt::{AccessClaims, ISSUER};
use crate::crypto::random_hex;
use crate::domain::authorization::{Authorization, Caller, Scheme};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::auth::throttle::{self, Proof};
use crate::service::auth::{Origin, admit, gate, reason};
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

/// Checks the client, then the gate, and signs a token. Every failure answers `invalid_client`
/// alike; the audit record keeps the reason. Failures count towards the lockout.
pub async fn issue_token(core: &Core, credentials: &ClientCredentials, origin: Origin<'_>) -> ApiResult<IssuedToken> {
    let subject = credentials.client_id.trim().to_ascii_lowercase();
    let authorization =
        throttle::guard(core, "oauth2", Some(&subject), origin.ip, check_client(core, credentials)).await?;
    gate(core, &authorization, origin).await.map_err(|r| {
        ApiError::invalid_client().with_reason(reason(r)).with_caller(authorization.application_id, authorization.id)
    })?;
    let now = core.now();
    let ttl = core.config.token_ttl;
    let claims = AccessClaims {
        iss: ISSUER.to_owned(),
        aud: authorization.client_id.clone(),
        sub: authorization.id.to_string(),
        jti: random_hex(16).to_string(),
        iat: now,
        nbf: now,
        exp: now + i64::try_from(ttl).unwrap_or(3600),
        generation: authorization.token_generation,
        scopes: Vec::new(),
    };
    Ok(IssuedToken { access_token: Zeroizing::new(core.tokens.sign(&claims)), expires_in: ttl, authorization })
}

/// The client id and secret, compared in constant time whether or not the client exists.
async fn check_client(core: &Core, credentials: &ClientCredentials) -> ApiResult<Proof<Authorization>> {
    let found = match core.store.recent_authorization_by_client_id(&credentials.client_id, core.now()).await {
        Ok(found) => Some(found),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let stored_hash = found.as_ref().map_or(&DUMMY_HASH[..], |(_, hash)| hash.as_slice());
    let secret_ok = core.client_secret_matches(&credentials.client_secret, stored_hash);
    Ok(match found {
        Some((authorization, _)) if secret_ok => Proof::Valid(authorization),
        found => {
            let why = if found.is_some() { "wrong client_secret" } else { "unknown client_id" };
            Proof::Invalid(ApiError::invalid_client().with_reason(why))
        }
    })
}

/// Verifies an OAuth 2.0 access token and re-reads its authorization.
pub async fn resolve_bearer(core: &Core, token: &str, origin: Origin<'_>) -> ApiResult<Caller> {
    let claims = core.tokens.verify(token, core.now()).ok_or_else(ApiError::invalid_token)?;
    let id: i64 = claims.sub.parse().map_err(|_| ApiError::invalid_token())?;
    let authorization = match core.store.recent_authorization(id).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Err(ApiError::invalid_token()),
        Err(e) => return Err(e.into()),
    };
    if authorization.client_id != claims.aud || authorization.token_generation != claims.generation {
        return Err(ApiError::invalid_token().with_reason("token superseded"));
    }
    admit(core, authorization, None, Scheme::OAuth2, origin).await
}
