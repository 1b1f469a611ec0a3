//! Applications and authorizations: creation (secrets shown once), listing, changes, links.
//! The CLI and the admin API call these same functions.

use zeroize::Zeroizing;

use crate::crypto::random_hex;
use crate::domain::authorization::ApplicationSummary;
pub use crate::domain::authorization::AuthorizationChanges;
use crate::domain::authorization::{Access, Authorization, ItemKind, Resources};
use crate::domain::network::IpAllowList;
use crate::domain::pam::CredentialKey;
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::service::Core;
use crate::service::admin::users;
use crate::service::auth::oauth1::secret_aad;
use crate::store::StoreError;
use crate::store::admin::apps::{AwsRow, NewAuthorizationRow, OAuth1Row};

/// The schemes an application may authenticate with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthMethods {
    pub oauth2: bool,
    pub oauth1: bool,
    pub aws: bool,
}

impl AuthMethods {
    pub fn parse_list(s: &str) -> Result<Self, String> {
        let mut methods = Self::default();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "oauth2" => methods.oauth2 = true,
                "oauth1" => methods.oauth1 = true,
                "aws" => methods.aws = true,
                other => {
                    return Err(format!("unknown authentication method {other:?} (expected oauth2, oauth1 or aws)"));
                }
            }
        }
        if methods == Self::default() { Err("name at least one authentication method".into()) } else { Ok(methods) }
    }

    fn to_stored(self) -> String {
        let names: Vec<&str> = [(self.oauth2, "oauth2"), (self.oauth1, "oauth1"), (self.aws, "aws")]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n)
            .collect();
        names.join(",")
    }
}

pub struct NewApplication {
    pub name: String,
    pub resources: Resources,
    pub read_only: bool,
    pub allowed_ips: IpAllowList,
    pub allowed_referers: Vec<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub methods: AuthMethods,
    /// OAuth 1: accept the contract's unsigned consumer-key-and-token mode.
    pub oauth1_unsigned: bool,
    /// The user the authorization acts as (a MySafe API key).
    pub owner: Option<String>,
}

impl NewApplication {
    /// An OAuth 2 application with defaults for everything but the name and resources.
    pub fn oauth2(name: &str, resources: Resources) -> Self {
        Self {
            name: name.to_owned(),
            resources,
            read_only: false,
            allowed_ips: IpAllowList::Any,
            allowed_referers: Vec::new(),
            expires_at: None,
            methods: AuthMethods { oauth2: true, ..AuthMethods::default() },
            oauth1_unsigned: false,
            owner: None,
        }
    }
}

/// The only time these secrets exist outside the caller's hands.
pub struct CreatedApplication {
    pub application_id: i64,
    pub authorization_id: i64,
    pub client_id: String,
    pub client_secret: Zeroizing<String>,
    pub oauth1: Option<OAuth1Credentials>,
    pub aws: Option<AwsCredentials>,
}

impl CreatedApplication {
    /// The one display of the secrets: for the CLI's `--json` and the admin API's answer.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::json!({
            "application_id": self.application_id.to_string(),
            "authorization_id": self.authorization_id.to_string(),
            "client_id": self.client_id,
            "client_secret": self.client_secret.as_str(),
        });
        if let Some(map) = out.as_object_mut() {
            if let Some(o) = &self.oauth1 {
                map.insert("consumer_key".into(), o.consumer_key.clone().into());
                map.insert("consumer_secret".into(), o.consumer_secret.as_str().into());
                map.insert("token".into(), o.token.clone().into());
                map.insert("token_secret".into(), o.token_secret.as_str().into());
            }
            if let Some(a) = &self.aws {
                map.insert("access_key_id".into(), a.access_key_id.clone().into());
                map.insert("secret_access_key".into(), a.secret_access_key.as_str().into());
            }
        }
        out
    }
}

pub struct OAuth1Credentials {
    pub consumer_key: String,
    pub consumer_secret: Zeroizing<String>,
    pub token: String,
    pub token_secret: Zeroizing<String>,
}

pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
}

pub fn check_referers(referers: &[String]) -> ApiResult<()> {
    match referers.iter().find(|r| r.is_empty() || r.len() > 2048 || r.contains(char::is_whitespace)) {
        Some(bad) => Err(ApiError::bad_request(format!("Invalid referer {bad:?}."))),
        None => Ok(()),
    }
}

pub async fn create_application(core: &Core, new: NewApplication) -> ApiResult<CreatedApplication> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request("The application name must have 1 to 200 characters."));
    }
    if new.resources.is_empty() {
        return Err(ApiError::bad_request("Give the authorization at least one resource."));
    }
    check_referers(&new.allowed_referers)?;
    let acting_user_id = match &new.owner {
        Some(owner) => Some(users::user(core, owner).await?.id),
        None => None,
    };
    // 160 bits of client id, 256 bits of secret; only a peppered hash of the secret is kept.
    let client_id = random_hex(20).to_string();
    let client_secret = random_hex(32);
    let hash = core.hash_credential(&client_secret);
    let oauth1 = new.methods.oauth1.then(|| OAuth1Credentials {
        consumer_key: random_hex(16).to_string(),
        consumer_secret: random_hex(32),
        token: random_hex(16).to_string(),
        token_secret: random_hex(32),
    });
    let aws = new.methods.aws.then(|| AwsCredentials {
        access_key_id: format!("CFR{}", random_hex(10).to_ascii_uppercase()),
        secret_access_key: random_hex(32),
    });
    let row = NewAuthorizationRow {
        application_name: name,
        auth_methods: &new.methods.to_stored(),
        acting_user_id,
        scopes: None,
        oauth1: oauth1.as_ref().map(|o| OAuth1Row {
            consumer_key: o.consumer_key.clone(),
            consumer_secret: core.seal(&secret_aad(&client_id, "oauth1_consumer_secret"), o.consumer_secret.as_bytes()),
            token: o.token.clone(),
            token_secret: core.seal(&secret_aad(&client_id, "oauth1_token_secret"), o.token_secret.as_bytes()),
            unsigned: new.oauth1_unsigned,
        }),
        dsm_application_id: None,
        aws: aws.as_ref().map(|a| AwsRow {
            access_key_id: a.access_key_id.clone(),
            secret_access_key: core
                .seal(&secret_aad(&client_id, "aws_secret_access_key"), a.secret_access_key.as_bytes()),
        }),
        client_id: &client_id,
        // An application without OAuth 2 keeps a secret nobody knows.
        secret_hash: &if new.methods.oauth2 { hash } else { core.hash_credential(&random_hex(32)) },
        expires_at: new.expires_at,
        resources: new.resources.to_stored(),
        read_only: new.read_only,
        allowed_ips: new.allowed_ips.to_stored(),
        allowed_referers: new.allowed_referers.join(" "),
    };
    let (application_id, authorization_id) = core.store.insert_application(&row, core.now()).await?;
    Ok(CreatedApplication { application_id, authorization_id, client_id, client_secret, oauth1, aws })
}

pub async fn list_applications(core: &Core) -> ApiResult<Vec<ApplicationSummary>> {
    Ok(core.store.applications(None).await?)
}

pub async fn application(core: &Core, id: i64) -> ApiResult<ApplicationSummary> {
    core.store.applications(Some(id)).await?.pop().ok_or_else(|| not_found(id))
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("Application {id} not found."))
}

fn authorization_not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("Authorization {id} not found."))
}

pub async fn set_application_enabled(core: &Core, application_id: i64, enabled: bool) -> ApiResult<()> {
    core.store
        .set_application_enabled(application_id, enabled, core.now())
        .await
        .or_not_found(|| not_found(application_id))
}

/// Applies the changes in one statement over the authorization as it is then: a change carries
/// no precondition, so concurrent changes apply one after the other, each keeping the fields
/// the others set and it did not, and none fails for it.
pub async fn update_authorization(core: &Core, id: i64, changes: AuthorizationChanges) -> ApiResult<Authorization> {
    if changes.resources.as_ref().is_some_and(Resources::is_empty) {
        return Err(ApiError::bad_request("Give the authorization at least one resource."));
    }
    if let Some(referers) = &changes.allowed_referers {
        check_referers(referers)?;
    }
    core.store.change_authorization(id, &changes, core.now()).await.or_not_found(|| authorization_not_found(id))?;
    core.store.authorization(id).await.or_not_found(|| authorization_not_found(id))
}

/// A new client secret; tokens issued under the old one stop working at once.
pub async fn regenerate_secret(core: &Core, authorization_id: i64) -> ApiResult<Zeroizing<String>> {
    let secret = random_hex(32);
    core.store
        .replace_client_secret(authorization_id, &core.hash_credential(&secret), core.now())
        .await
        .or_not_found(|| authorization_not_found(authorization_id))?;
    Ok(secret)
}

/// Links an item — protected information, credential or device, by id or identifier — to every
/// authorization of an application, for reading or also for writing; `None` unlinks it.
pub async fn set_link(
    core: &Core,
    application_id: i64,
    kind: ItemKind,
    key: &str,
    link: Option<Access>,
) -> ApiResult<i64> {
    let missing = |what: &str| ApiError::not_found(format!("{what} {key:?} not found."));
    let item_id = match kind {
        ItemKind::Info => core.store.info_id(key).await.or_not_found(|| missing("Protected information"))?,
        ItemKind::Credential => match core.store.find_credential(0, &CredentialKey::parse(key)).await {
            Ok(found) => found.credential.id,
            Err(StoreError::NotFound) => return Err(missing("Credential")),
            Err(e) => return Err(e.into()),
        },
        ItemKind::Device => match core.store.device_by_key(key).await {
            Ok(device) => device.id,
            Err(StoreError::NotFound) => return Err(missing("Device")),
            Err(e) => return Err(e.into()),
        },
    };
    application(core, application_id).await?;
    match link {
        Some(access) => core.store.link_item(application_id, kind, item_id, access, core.now()).await?,
        None => core.store.unlink_item(application_id, kind, item_id).await?,
    };
    Ok(item_id)
}
