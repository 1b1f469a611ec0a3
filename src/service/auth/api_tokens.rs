//! Named API tokens (Securden style). Each token owns an authorization that carries its scope,
//! IP rules and expiry, so a token is checked by the same gate as every other caller.
//!
//! Static tokens have one value (`cft_…`), shown at creation and on regeneration only. Dynamic
//! tokens are definitions bound to a user: `/api/get_auth_token` trades that user's login and
//! password for a short-lived value (`cfd_…`). Values are stored only as keyed hashes.

use zeroize::Zeroizing;

use crate::crypto::random_hex;
use crate::domain::authorization::{Caller, Scheme, Scopes};
use crate::domain::network::IpAllowList;
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::service::Core;
use crate::service::admin::users;
use crate::service::auth::login;
use crate::service::auth::{Origin, admit};
use crate::store::StoreError;
use crate::store::admin::apps::NewAuthorizationRow;
use crate::store::auth::api_tokens::{ApiTokenRow, NewApiTokenRow};

pub const STATIC_PREFIX: &str = "cft_";
pub const DYNAMIC_PREFIX: &str = "cfd_";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Static,
    Dynamic,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Dynamic => "dynamic",
        }
    }
}

impl std::str::FromStr for TokenKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "static" => Ok(Self::Static),
            "dynamic" => Ok(Self::Dynamic),
            other => Err(format!("token type {other:?} must be static or dynamic")),
        }
    }
}

pub struct NewToken {
    pub name: String,
    pub description: String,
    pub kind: TokenKind,
    pub scopes: Scopes,
    pub allowed_ips: IpAllowList,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    /// The user a dynamic token is drawn by.
    pub user: Option<String>,
}

pub struct CreatedToken {
    pub token_id: i64,
    /// The static value; dynamic tokens have none until drawn.
    pub token: Option<Zeroizing<String>>,
}

/// A token as listed: never its value.
pub struct TokenSummary {
    pub row: ApiTokenRow,
    pub scopes: String,
    pub allowed_ips: String,
    pub expires_at: Option<i64>,
    pub enabled: bool,
}

fn new_value(prefix: &str) -> Zeroizing<String> {
    Zeroizing::new(format!("{prefix}{}", random_hex(32).as_str()))
}

fn not_found(key: &str) -> ApiError {
    ApiError::not_found(format!("API token '{key}' not found."))
}

pub async fn create(core: &Core, new: NewToken) -> ApiResult<CreatedToken> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request("Parameter 'name' must have 1 to 100 printable characters."));
    }
    if new.scopes.is_empty() {
        return Err(ApiError::bad_request("Parameter 'scope' must name at least one RESOURCE:read or RESOURCE:write."));
    }
    let user_id = match (new.kind, &new.user) {
        (TokenKind::Dynamic, Some(user)) => Some(users::user(core, user).await?.id),
        (TokenKind::Dynamic, None) => {
            return Err(ApiError::bad_request("A dynamic token needs the user who draws it."));
        }
        (TokenKind::Static, _) => None,
    };
    let value = (new.kind == TokenKind::Static).then(|| new_value(STATIC_PREFIX));
    let client_id = random_hex(20);
    let unusable_secret = core.hash_credential(&random_hex(32));
    let row = NewAuthorizationRow {
        application_name: name,
        auth_methods: "token",
        acting_user_id: user_id,
        scopes: Some(new.scopes.to_stored()),
        oauth1: None,
        aws: None,
        dsm_application_id: None,
        client_id: &client_id,
        secret_hash: &unusable_secret,
        expires_at: new.expires_at,
        resources: new.scopes.resources().to_stored(),
        read_only: false,
        allowed_ips: new.allowed_ips.to_stored(),
        allowed_referers: String::new(),
    };
    let now = core.now();
    let token_hash = value.as_ref().map(|v| core.hash_credential(v).to_vec());
    // The name is unique: check before creating the authorization, so a clash leaves nothing.
    // (An unreachable store is an outage, not a free name.)
    match core.store.api_token(name).await {
        Ok(_) => return Err(ApiError::conflict(format!("API token '{name}' already exists."))),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let token_row = NewApiTokenRow {
        name,
        description: new.description.trim(),
        kind: new.kind.as_str(),
        token_hash,
        user_id,
        lifetime_minutes: (new.kind == TokenKind::Dynamic)
            .then(|| i64::try_from(core.config.dynamic_token_minutes).unwrap_or(30)),
    };
    let (token_id, _) = core.store.insert_api_token(&row, &token_row, now).await.map_err(|e| match e {
        StoreError::Conflict => ApiError::conflict(format!("API token '{name}' already exists.")),
        other => other.into(),
    })?;
    Ok(CreatedToken { token_id, token: value })
}

pub async fn list(core: &Core) -> ApiResult<Vec<TokenSummary>> {
    let rows = core.store.api_tokens().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let authorization = core.store.authorization(row.authorization_id).await?;
        out.push(TokenSummary {
            scopes: authorization.scopes.as_ref().map(Scopes::to_stored).unwrap_or_default(),
            allowed_ips: authorization.allowed_ips.to_stored(),
            expires_at: authorization.expires_at,
            enabled: authorization.enabled && authorization.application_enabled,
            row,
        });
    }
    Ok(out)
}

async fn find(core: &Core, key: &str) -> ApiResult<ApiTokenRow> {
    core.store.api_token(key.trim()).await.or_not_found(|| not_found(key))
}

/// Changes a token's lifetime: `Some(None)` never expires, `Some(Some(t))` valid until `t`.
pub async fn set_expiry(core: &Core, key: &str, expires_at: Option<i64>) -> ApiResult<()> {
    let token = find(core, key).await?;
    core.store.set_authorization_expiry(token.authorization_id, expires_at, core.now()).await?;
    Ok(())
}

/// A new value for a static token; the old one stops working at once.
pub async fn regenerate(core: &Core, key: &str) -> ApiResult<Zeroizing<String>> {
    let token = find(core, key).await?;
    if token.kind != TokenKind::Static.as_str() {
        return Err(ApiError::bad_request("Only static tokens have a value to regenerate."));
    }
    let value = new_value(STATIC_PREFIX);
    core.store.set_static_token_hash(token.id, &core.hash_credential(&value), core.now()).await?;
    Ok(value)
}

pub async fn delete(core: &Core, key: &str) -> ApiResult<()> {
    let token = find(core, key).await?;
    core.store.delete_api_token(token.id, core.now()).await?;
    Ok(())
}

/// The caller behind a presented token value, or a 401 that does not say why.
pub async fn resolve(core: &Core, value: &str, origin: Origin<'_>) -> ApiResult<Caller> {
    let refused = || ApiError::authentication_failed("unknown or expired API token");
    let hash = core.hash_credential(value);
    let (authorization_id, acting_user) = if value.starts_with(STATIC_PREFIX) {
        match core.store.static_token_by_hash(&hash).await {
            Ok(token) => (token.authorization_id, None),
            Err(StoreError::NotFound) => return Err(refused()),
            Err(e) => return Err(e.into()),
        }
    } else if value.starts_with(DYNAMIC_PREFIX) {
        match core.store.issued_token(&hash, core.now()).await {
            Ok((token, user_id, true)) => (token.authorization_id, Some(user_id)),
            Ok(_) | Err(StoreError::NotFound) => return Err(refused()),
            Err(e) => return Err(e.into()),
        }
    } else {
        return Err(refused());
    };
    let authorization = core.store.authorization(authorization_id).await?;
    admit(core, authorization, acting_user, Scheme::ApiToken, origin).await
}

pub struct DrawnToken {
    pub value: Zeroizing<String>,
    pub expires_in: i64,
}

/// `/api/get_auth_token`: a user's login and password for a short-lived value of one of their
/// dynamic tokens (the one named, or their newest).
pub async fn draw_dynamic(
    core: &Core,
    login_name: &str,
    password: Zeroizing<String>,
    domain_name: Option<&str>,
    token_name: Option<&str>,
    origin: Origin<'_>,
) -> ApiResult<DrawnToken> {
    // Only local accounts exist; another domain fails like a wrong password (after the same work).
    let local = domain_name.is_none_or(|d| d.trim().is_empty() || d.trim().eq_ignore_ascii_case("local"));
    let user_id = login::login(core, login_name, password, origin).await?;
    if !local {
        return Err(ApiError::authentication_failed("unknown domain"));
    }
    let definitions = core.store.dynamic_tokens_of(user_id).await?;
    let definition = match token_name {
        Some(name) => definitions.into_iter().find(|d| d.name == name.trim()),
        None => definitions.into_iter().next(),
    }
    .ok_or_else(|| ApiError::authentication_failed("no dynamic token for this user"))?;
    let authorization = core.store.authorization(definition.authorization_id).await?;
    crate::service::auth::gate(core, &authorization, origin)
        .await
        .map_err(|r| ApiError::authentication_failed(crate::service::auth::reason(r)))?;
    let minutes = definition.lifetime_minutes.unwrap_or(30);
    let now = core.now();
    let value = new_value(DYNAMIC_PREFIX);
    core.store
        .insert_issued_token(&core.hash_credential(&value), definition.id, user_id, now + minutes * 60, now)
        .await?;
    Ok(DrawnToken { value, expires_in: minutes * 60 })
}
