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
use crate::store::StoreError;
use crate::store::admin::apps::NewAuthorizationRow;
use crate::store::dsm::secrets::FoundAuthorization;

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
    let given = [r.description.clone(), r.tags.clone(), r.line_of_business.clone(), r.application_type.clone()];
    let client_id = random_hex(20).to_string();
    let client_secret = random_hex(32);
    let hash = core.hash_credential(&client_secret);
    // A registration carries no precondition, so it never fails for concurrency: a
    // re-registration updates the application as it is once its change has locked it, so
    // concurrent ones apply one after the other (in any process), the first issuing the
    // authorization and the others run credentials under it. Two first registrations may both
    // insert: the loser updates what the winner created.
    for _ in 0..2 {
        let found = core.store.find_dsm_app(r.unique_key.as_deref(), &r.application, &r.system, &r.environment).await?;
        if let Some(app) = found {
            if !is_admin && app.registrar_application_id != Some(registrar.application_id) {
                return Err(ApiError::conflict(format!(
                    "Application '{}' ({}/{}) was registered by another application.",
                    app.name, app.system, app.environment
                ))
                .with_reason("DSM application of another registrar"));
            }
            let mut change = core.store.begin("register_dsm").await?;
            let mut app = change.lock_dsm_app(app.id).await?;
            set_given(&mut app, &given);
            let live = live_authorization(core, change.dsm_authorization(app.id).await?);
            let issued = if live.is_some() { "found" } else { "created" };
            let authorization_id = change
                .reregister_dsm(&app, &authorization_row(&app.name, &client_id, &hash, &limits), live, core.now())
                .await?;
            change.commit().await?;
            return Ok(registered(&app, "updated", app.id, issued, authorization_id, client_id, client_secret));
        }
        let mut app = DsmApp {
            registrar_application_id: Some(registrar.application_id),
            name: r.application.clone(),
            system: r.system.clone(),
            environment: r.environment.clone(),
            unique_key: r.unique_key.clone(),
            ..DsmApp::default()
        };
        set_given(&mut app, &given);
        match core.store.register_dsm(&app, &authorization_row(&app.name, &client_id, &hash, &limits), core.now()).await
        {
            Ok((dsm_id, authorization_id)) => {
                return Ok(registered(
                    &app,
                    "registered",
                    dsm_id,
                    "created",
                    authorization_id,
                    client_id,
                    client_secret,
                ));
            }
            // Lost the insert to a concurrent registration: update what it created.
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict("Another DSM application has this name, system and environment, or this unique key."))
}

/// The authorization a registration issues, for DSM only, within the registrar's gate.
fn authorization_row<'a>(
    name: &'a str,
    client_id: &'a str,
    hash: &'a [u8],
    limits: &GateLimits,
) -> NewAuthorizationRow<'a> {
    NewAuthorizationRow {
        application_name: name,
        auth_methods: "oauth2",
        acting_user_id: None,
        scopes: None,
        oauth1: None,
        aws: None,
        dsm_application_id: None,
        client_id,
        secret_hash: hash,
        expires_at: limits.expires_at,
        resources: Resource::Dsm.as_str().to_owned(),
        read_only: false,
        allowed_ips: limits.allowed_ips.to_stored(),
        allowed_referers: limits.allowed_referers.join(" "),
    }
}

fn registered(
    app: &DsmApp,
    verb: &str,
    dsm_id: i64,
    issued: &str,
    authorization_id: i64,
    client_id: String,
    client_secret: Zeroizing<String>,
) -> Registered {
    Registered {
        message: format!("Application {verb}: ({dsm_id}) {} | Authorization {issued}: ({authorization_id})", app.name),
        client_id,
        client_secret,
    }
}

/// The live authorization an earlier registration of this application issued (`newest`, the
/// newest enabled one, with its expiry): a re-registration gets a run credential under it,
/// expiring after `dsm_run_credential_ttl` (and never after the authorization itself), instead
/// of another authorization.
fn live_authorization(core: &Core, newest: Option<(i64, Option<i64>)>) -> Option<FoundAuthorization> {
    let now = core.now();
    let ttl = i64::try_from(core.config.dsm_run_credential_ttl).unwrap_or(i64::MAX);
    match newest {
        Some((id, expires_at)) if expires_at.is_none_or(|at| at > now) => Some(FoundAuthorization {
            id,
            run_expires_at: expires_at.map_or(now.saturating_add(ttl), |at| at.min(now.saturating_add(ttl))),
        }),
        _ => None,
    }
}

/// Sets the fields a registration gave.
fn set_given(app: &mut DsmApp, given: &[Option<String>; 4]) {
    for (slot, value) in app_fields(app).into_iter().zip(given) {
        if let Some(value) = value {
            slot.clone_from(value);
        }
    }
}

/// The fields a registration may set, in the order of `Registration`'s.
fn app_fields(app: &mut DsmApp) -> [&mut String; 4] {
    [&mut app.description, &mut app.tags, &mut app.line_of_business, &mut app.application_type]
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
