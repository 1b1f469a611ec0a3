//! What the SSH gateway asks of the session core: a ticket given as an SSH user name opens and
//! enters its session at once; the gateway's own host key; and the device host keys that are
//! pinned on first use and then required.

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::crypto::cipher::Aad;
use crate::domain::sessions::host_key::HostKey;
use crate::domain::sessions::{LiveSession, Protocol};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::audit::AuditSink;
use crate::service::auth::throttle::{self, Proof};
use crate::service::sessions::{SessionEvent, audit_event, proxy, redeem};
use crate::store::StoreError;
use crate::store::sessions::host_keys::PinnedHostKey;
use crate::store::sessions::tickets::Refused;

const GATEWAY_KEY: &str = "ssh_host_ed25519";

/// A ticket offered as the SSH user name, redeemed as one counted login attempt from `ip` (so
/// guessing tickets is throttled as guessing passwords is): the session it opens, held by this
/// process. A refusal is audited with its reason; the client learns only that it failed.
pub async fn open_native(core: &Core, audit: &AuditSink, token: &str, ip: IpAddr) -> ApiResult<LiveSession> {
    let check = async {
        Ok(match redeem::open(core, token, ip, Some(Protocol::Ssh)).await? {
            Ok(opened) => Proof::Valid(opened),
            Err(refused) => Proof::Invalid(refusal(core, audit, refused, ip).await?),
        })
    };
    let opened = throttle::guard(core, "ssh_ticket", None, ip, check).await?;
    let (session, _cookie) = proxy::enter(core, audit, &opened.entry_code, &opened.session_id, ip).await?;
    Ok(session)
}

async fn refusal(core: &Core, audit: &AuditSink, refused: Refused, ip: IpAddr) -> ApiResult<ApiError> {
    audit_event(
        core,
        audit,
        SessionEvent {
            event: "redeem",
            session_id: "-",
            application_id: None,
            authorization_id: None,
            client_ip: Some(crate::domain::network::canonical(ip).to_string()),
            status: 403,
            detail: serde_json::json!({"via": "ssh", "refused": refused.as_str()}),
        },
    )
    .await?;
    Ok(ApiError::forbidden("The session ticket is not valid."))
}

/// The seed of the gateway's Ed25519 host key: made by the first process that asks, sealed in
/// the store, the same for every process after.
pub async fn gateway_host_key_seed(core: &Core) -> ApiResult<Zeroizing<[u8; 32]>> {
    let aad = Aad::new("gateway_keys", GATEWAY_KEY, "seed");
    let mut fresh = Zeroizing::new([0u8; 32]);
    crate::crypto::fill_random(fresh.as_mut());
    let sealed = core.seal(&aad, fresh.as_ref());
    let stored = core.store.gateway_key(GATEWAY_KEY, &sealed, core.now()).await?;
    let opened = core.unseal(&aad, &stored).await?;
    let mut seed = Zeroizing::new([0u8; 32]);
    if opened.len() != seed.len() {
        return Err(ApiError::internal(&"the stored gateway host key has the wrong length"));
    }
    seed.copy_from_slice(&opened);
    Ok(seed)
}

/// What the device's host key is, measured against the one pinned for it.
#[derive(Debug, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// The pinned key (pinned now, when this was the first connection).
    Trusted,
    /// Another key than the pinned one: the connection must not go on.
    Changed { pinned: String, seen: String },
}

/// Pins `seen` for the device on first use, or compares it with the pinned key.
pub async fn check_host_key(core: &Core, device_id: i64, seen: &HostKey) -> ApiResult<HostKeyCheck> {
    let offer = PinnedHostKey {
        device_id,
        public_key: seen.line.clone(),
        fingerprint: seen.fingerprint.clone(),
        source: "first use".into(),
        pinned_at: core.now(),
    };
    let pinned = core.store.pin_device_host_key(&offer).await?;
    Ok(if pinned.public_key == seen.line {
        HostKeyCheck::Trusted
    } else {
        HostKeyCheck::Changed { pinned: pinned.fingerprint, seen: seen.fingerprint.clone() }
    })
}

/// The pinned host key of a device (`None`: none yet), for the admin API and the CLI.
pub async fn host_key(core: &Core, device_id: i64) -> ApiResult<Option<PinnedHostKey>> {
    device_exists(core, device_id).await?;
    Ok(core.store.device_host_key(device_id).await?)
}

/// Sets the device's host key as an operator gives it (an OpenSSH public key line).
pub async fn set_host_key(core: &Core, device_id: i64, line: &str) -> ApiResult<PinnedHostKey> {
    device_exists(core, device_id).await?;
    let key = HostKey::parse(line).map_err(ApiError::bad_request)?;
    let pinned = PinnedHostKey {
        device_id,
        public_key: key.line,
        fingerprint: key.fingerprint,
        source: "operator".into(),
        pinned_at: core.now(),
    };
    core.store.set_device_host_key(&pinned).await?;
    Ok(pinned)
}

/// Forgets the device's host key: the next session pins what it meets. False when none was.
pub async fn reset_host_key(core: &Core, device_id: i64) -> ApiResult<bool> {
    device_exists(core, device_id).await?;
    Ok(core.store.reset_device_host_key(device_id).await?)
}

async fn device_exists(core: &Core, device_id: i64) -> ApiResult<()> {
    match core.store.device(device_id).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(ApiError::not_found("Device not found")),
        Err(e) => Err(e.into()),
    }
}
