//! DSM registration (§10.1, §10.4 step 2): a registrar registers a DSM application and gets a
//! new authorization for it, never broader than its own.

use zeroize::Zeroizing;

use crate::crypto::random_hex;
use crate::domain::authorization::{Authorization, Caller, Resource};
use crate::domain::dsm::DsmApp;
use crate::domain::network::IpAllowList;
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::access::require_write;
use crate::store::admin::apps::NewAuthorizationRow;

pub struct Registration {
    pub application: String,
    pub system: String,
    pub environment: String,
    pub unique_key: Option<String>,
    pub description: Option<String>,
    pub tags: Option<String>,
    pub line_of_business: Option<String>,
    pub application_type: Option<String>,
    pub allowed_ips: Option<IpAllowList>,
    pub allowed_referers: Option<Vec<String>>,
    pub expires_at: Option<i64>,
}

pub struct Registered {
    pub message: String,
    pub client_id: String,
    pub client_secret: Zeroizing<String>,
}

/// Registers (or updates) the DSM application and issues a new authorization for it: its client
/// id and secret ("id" and "signature") can get a token at once.
///
/// Registering is a registrar's right: an authorization with DSM write access that was not itself
/// issued by a registration (a pipeline's own credentials cannot mint more), or an admin. A
/// registrar reaches only the DSM applications its own application registered, and the new
/// authorization is never broader than the registrar's: its addresses, referrers and expiry lie
/// within the registrar's, and it reaches DSM only.
pub async fn register(core: &Core, caller: &Caller, r: Registration) -> ApiResult<Registered> {
    require_write(caller, Resource::Dsm)?;
    let registrar = &caller.authorization;
    let is_admin = registrar.resources.contains(Resource::Admin) && !registrar.read_only;
    if registrar.dsm_application_id.is_some() && !is_admin {
        return Err(ApiError::forbidden(
            "This authorization was issued by a DSM registration and cannot register applications.",
        ));
    }
    let limits = narrowed_gate(registrar, &r)?;
    let found = core.store.find_dsm_app(r.unique_key.as_deref(), &r.application, &r.system, &r.environment).await?;
    if let Some(app) = &found {
        if !is_admin && app.registrar_application_id != Some(registrar.application_id) {
            return Err(ApiError::conflict(format!(
                "Application '{}' ({}/{}) was registered by another application.",
                app.name, app.system, app.environment
            ))
            .with_reason("DSM application of another registrar"));
        }
    }
    let created = found.is_none();
    let mut app = found.unwrap_or(DsmApp {
        id: 0,
        application_id: 0,
        registrar_application_id: Some(registrar.application_id),
        name: r.application.clone(),
        system: r.system.clone(),
        environment: r.environment.clone(),
        unique_key: r.unique_key.clone(),
        description: String::new(),
        tags: String::new(),
        line_of_business: String::new(),
        application_type: String::new(),
    });
    for (slot, given) in [
        (&mut app.description, r.description),
        (&mut app.tags, r.tags),
        (&mut app.line_of_business, r.line_of_business),
        (&mut app.application_type, r.application_type),
    ] {
        if let Some(value) = given {
            *slot = value;
        }
    }
    let client_id = random_hex(20).to_string();
    let client_secret = random_hex(32);
    let hash = core.hash_credential(&client_secret);
    let row = NewAuthorizationRow {
        application_name: &app.name,
        auth_methods: "oauth2",
        acting_user_id: None,
        scopes: None,
        oauth1: None,
        aws: None,
        dsm_application_id: None,
        client_id: &client_id,
        secret_hash: &hash,
        expires_at: limits.expires_at,
        resources: Resource::Dsm.as_str().to_owned(),
        read_only: false,
        allowed_ips: limits.allowed_ips.to_stored(),
        allowed_referers: limits.allowed_referers.join(" "),
    };
    let (dsm_id, authorization_id) = core.store.register_dsm(&app, &row, core.now()).await?;
    let verb = if created { "registered" } else { "updated" };
    Ok(Registered {
        message: format!("Application {verb}: ({dsm_id}) {} | Authorization created: ({authorization_id})", app.name),
        client_id,
        client_secret,
    })
}

/// The gate of a registered authorization.
struct GateLimits {
    allowed_ips: IpAllowList,
    allowed_referers: Vec<String>,
    expires_at: Option<i64>,
}

/// What the registration asked for, refused where it is broader than the registrar's own gate;
/// what it left out is inherited from the registrar.
fn narrowed_gate(registrar: &Authorization, r: &Registration) -> ApiResult<GateLimits> {
    let allowed_ips = match &r.allowed_ips {
        Some(ips) if !ips.is_within(&registrar.allowed_ips) => {
            return Err(ApiError::bad_request(
                "Parameter 'allowed_ips' must lie within the registering authorization's own allowed IPs.",
            ));
        }
        Some(ips) => ips.clone(),
        None => registrar.allowed_ips.clone(),
    };
    let allowed_referers = match &r.allowed_referers {
        Some(referers)
            if !registrar.allowed_referers.is_empty()
                && (referers.is_empty() || !referers.iter().all(|x| registrar.admits_referer(Some(x)))) =>
        {
            return Err(ApiError::bad_request(
                "Parameter 'allowed_http_referers' must lie within the registering authorization's own referrers.",
            ));
        }
        Some(referers) => referers.clone(),
        None => registrar.allowed_referers.clone(),
    };
    let expires_at = match (r.expires_at, registrar.expires_at) {
        (Some(asked), Some(limit)) if asked > limit => {
            return Err(ApiError::bad_request(
                "Parameter 'expiration_date' must not be later than the registering authorization's own expiry.",
            ));
        }
        (asked, limit) => asked.or(limit),
    };
    Ok(GateLimits { allowed_ips, allowed_referers, expires_at })
}
