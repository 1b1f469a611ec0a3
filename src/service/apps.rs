//! Applications and authorizations: creation (secret shown once), listing, disabling, linking.
//! The CLI calls these; the admin API will call the same functions.

use zeroize::Zeroizing;

use super::Core;
use crate::crypto::random_hex;
use crate::domain::authorization::{ItemKind, Resources};
use crate::domain::network::IpAllowList;
use crate::store::apps::{ApplicationSummary, NewAuthorizationRow};
use crate::store::{StoreError, StoreResult};

pub struct NewApplication {
    pub name: String,
    pub resources: Resources,
    pub read_only: bool,
    pub allowed_ips: IpAllowList,
    pub allowed_referers: Vec<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

/// The only time the client secret exists outside the caller's hands.
pub struct CreatedApplication {
    pub application_id: i64,
    pub authorization_id: i64,
    pub client_id: String,
    pub client_secret: Zeroizing<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create_application(core: &Core, new: NewApplication) -> Result<CreatedApplication, AppError> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::Invalid("the application name must have 1 to 200 characters".into()));
    }
    if new.resources.is_empty() {
        return Err(AppError::Invalid("give the authorization at least one resource".into()));
    }
    if let Some(bad) = new.allowed_referers.iter().find(|r| r.is_empty() || r.contains(char::is_whitespace)) {
        return Err(AppError::Invalid(format!("invalid referer {bad:?}")));
    }
    // 160 bits of client id, 256 bits of secret; only a peppered hash of the secret is kept.
    let client_id = random_hex(20);
    let client_secret = random_hex(32);
    let hash = core.hash_client_secret(&client_secret);
    let row = NewAuthorizationRow {
        application_name: name,
        client_id: &client_id,
        secret_hash: &hash,
        expires_at: new.expires_at,
        resources: new.resources.to_stored(),
        read_only: new.read_only,
        allowed_ips: new.allowed_ips.to_stored(),
        allowed_referers: new.allowed_referers.join(" "),
    };
    let (application_id, authorization_id) = core.store.insert_application(&row, core.now()).await?;
    Ok(CreatedApplication { application_id, authorization_id, client_id: client_id.to_string(), client_secret })
}

pub async fn list_applications(core: &Core) -> StoreResult<Vec<ApplicationSummary>> {
    core.store.applications().await
}

pub async fn set_application_enabled(core: &Core, application_id: i64, enabled: bool) -> Result<(), AppError> {
    core.store.set_application_enabled(application_id, enabled, core.now()).await.map_err(|e| match e {
        StoreError::NotFound => AppError::NotFound(format!("application {application_id}")),
        other => other.into(),
    })
}

/// Links a protected-information item (by id or identifier) to every authorization of an app.
pub async fn link_info(core: &Core, application_id: i64, info: &str) -> Result<i64, AppError> {
    let item_id = core.store.info_id(info).await.map_err(|e| match e {
        StoreError::NotFound => AppError::NotFound(format!("protected information {info:?}")),
        other => other.into(),
    })?;
    if core.store.link_item(application_id, ItemKind::Info, item_id, core.now()).await? == 0
        && !core.store.applications().await?.iter().any(|a| a.id == application_id)
    {
        return Err(AppError::NotFound(format!("application {application_id}")));
    }
    Ok(item_id)
}
