//! `POST /iso/remote/session`: a single-use session URL for a user, a credential and its device.

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::domain::authorization::{Caller, Resource};
use crate::domain::network::canonical;
use crate::domain::pam::{CredentialKey, FoundCredential};
use crate::domain::sessions::{NewTicket, Protocol};
use crate::domain::user::canonical_login;
use crate::error::{ApiError, ApiResult, codes};
use crate::service::Core;
use crate::service::access::require_write;
use crate::service::pam::lookup::{self, inactive, not_a_credential};

/// The parameters as sent (§8); checked here, in the contract's order.
#[derive(Default)]
pub struct TicketRequest {
    pub user: Option<String>,
    pub credential: Option<String>,
    pub device: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<String>,
    pub remote_addr: Option<String>,
    pub screensize: Option<String>,
}

/// What the caller gets back: the URL to hand to the user, and its token.
pub struct Ticket {
    pub session_url: Zeroizing<String>,
    pub token: Zeroizing<String>,
}

pub const DEFAULT_SCREENSIZE: &str = "1920x1080";

fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub async fn create(core: &Core, caller: &Caller, request: TicketRequest) -> ApiResult<Ticket> {
    require_write(caller, Resource::Sessions)?;
    let user = given(request.user).ok_or_else(|| ApiError::legacy("User not specified"))?;
    let credential = given(request.credential).ok_or_else(|| ApiError::legacy("Credential not specified"))?;
    let device = given(request.device).ok_or_else(|| ApiError::legacy("Credential device not specified"))?;
    let protocol = given(request.protocol)
        .as_deref()
        .and_then(Protocol::parse)
        .ok_or_else(|| ApiError::legacy("Invalid protocol"))?;
    let remote_addr = match given(request.remote_addr) {
        Some(raw) => Some(
            canonical(raw.parse::<IpAddr>().map_err(|_| ApiError::legacy("Invalid remoteAddr: not an IP address"))?)
                .to_string(),
        ),
        None => None,
    };
    let screensize = given(request.screensize).unwrap_or_else(|| DEFAULT_SCREENSIZE.to_owned());
    if !valid_screensize(&screensize) {
        return Err(ApiError::legacy("Invalid screensize: expected WIDTHxHEIGHT"));
    }
    let requested_port = match given(request.port) {
        Some(raw) => Some(raw.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| ApiError::legacy("Invalid port"))?),
        None => None,
    };

    let (user_id, _) = core
        .store
        .active_user(&canonical_login(&user))
        .await?
        .ok_or_else(|| ApiError::legacy("User not found or inactive"))?;
    let found = credential_on(core, caller, &credential, &device).await?;
    let c = &found.credential;
    if !protocol.accepts(c.kind) {
        return Err(not_a_credential());
    }
    if !c.enabled {
        return Err(inactive());
    }
    if !names_device(&found, &device) {
        return Err(ApiError::legacy("Credential is not registered on this device"));
    }
    if !found.device.enabled {
        return Err(ApiError::legacy("Device inactive"));
    }
    let port = requested_port
        .or_else(|| protocol.port_in(&found.device.connectivities))
        .unwrap_or_else(|| protocol.default_port());
    let (host, address) = device_name_and_address(&found.device.hostname, &found.device.ip);
    // Refused now rather than at the first connection: the caller learns it, and it is audited.
    // The address is what is connected to, so it is what the policy judges.
    if let Some(refused) = core.targets.refuses(&address, port).await {
        tracing::info!(device = found.device.id, %refused, "session ticket refused by target_networks");
        return Err(ApiError::legacy("Device address not allowed by target_networks"));
    }

    let token = crate::crypto::random_hex(32);
    let now = core.now();
    let ticket = NewTicket {
        token_hash: crate::crypto::sha256(token.as_bytes()).to_vec(),
        authorization_id: caller.authorization.id,
        application_id: caller.authorization.application_id,
        user_id,
        credential_id: c.id,
        device_id: found.device.id,
        protocol,
        host,
        address,
        port,
        remote_addr,
        screensize,
        expires_at: now + i64::try_from(core.config.session_ticket_ttl).unwrap_or(i64::MAX / 2),
    };
    core.store.insert_session_ticket(&ticket, now).await?;
    let session_url = Zeroizing::new(format!("{}/modulos/auth?_sr={}", core.config.public_base(), token.as_str()));
    Ok(Ticket { session_url, token })
}

/// The credential by id, by `username` on the named device, or by identifier; as the caller
/// may read it (`CREDENTIAL_NOT_FOUND`, `CREDENTIAL_NO_ACCESS`).
async fn credential_on(core: &Core, caller: &Caller, credential: &str, device: &str) -> ApiResult<FoundCredential> {
    if let Ok(id) = credential.parse::<i64>() {
        return lookup::find(core, caller, &CredentialKey::Id(id)).await;
    }
    let hostname = match core.store.device_by_hostname(device).await {
        Ok(d) => Some(d.hostname),
        Err(crate::store::StoreError::NotFound) => core.store.device_by_ip(device).await?.map(|d| d.hostname),
        Err(e) => return Err(e.into()),
    };
    if let Some(hostname) = hostname {
        let key = CredentialKey::UserAtHost { username: credential.to_owned(), hostname };
        match lookup::find(core, caller, &key).await {
            Err(e) if e.code() == Some(codes::CREDENTIAL_NOT_FOUND) => {}
            other => return other,
        }
    }
    lookup::find(core, caller, &CredentialKey::Identifier(credential.to_owned())).await
}

/// A device's name and the address sessions connect to. In PAM a hostname is usually a label
/// (`web01`) that resolves nowhere, so a session connects to the `ip`, and to the hostname only
/// when no ip is set; the name stays what the session is called, what TLS checks the device's
/// certificate against and what `Host` says.
fn device_name_and_address(hostname: &str, ip: &str) -> (String, String) {
    let (hostname, ip) = (hostname.trim(), ip.trim());
    let name = if hostname.is_empty() { ip } else { hostname };
    let address = if ip.is_empty() { hostname } else { ip };
    (name.to_owned(), address.to_owned())
}

/// Whether `device` (a hostname or an IP) names the credential's own device.
fn names_device(found: &FoundCredential, device: &str) -> bool {
    let d = &found.device;
    d.hostname.eq_ignore_ascii_case(device) || (!d.ip.is_empty() && (d.ip == device || same_ip(&d.ip, device)))
}

fn same_ip(a: &str, b: &str) -> bool {
    matches!((a.parse::<IpAddr>(), b.parse::<IpAddr>()), (Ok(a), Ok(b)) if canonical(a) == canonical(b))
}

fn valid_screensize(s: &str) -> bool {
    let Some((w, h)) = s.split_once(['x', 'X']) else { return false };
    [w, h].iter().all(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::device_name_and_address;

    #[test]
    fn sessions_connect_to_the_ip_and_keep_the_hostname_as_name() {
        let pair = |n: &str, a: &str| (n.to_owned(), a.to_owned());
        assert_eq!(device_name_and_address("web01", "10.0.0.5"), pair("web01", "10.0.0.5"));
        assert_eq!(device_name_and_address("web01.example", ""), pair("web01.example", "web01.example"));
        assert_eq!(device_name_and_address("", "10.0.0.5"), pair("10.0.0.5", "10.0.0.5"));
    }
}
