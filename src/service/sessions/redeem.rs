//! Redemption: the ticket is the credential. One atomic statement consumes it, and the session
//! row it opens carries a one-time entry code: the browser takes that code to the proxy origin
//! (`GET /modulos/auth?_sr=TOKEN` redirects there), the SSH gateway redeems it at once itself.

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::domain::network::canonical;
use crate::domain::pam::CredentialKey;
use crate::domain::sessions::Protocol;
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::sessions::ENTRY_CODE_TTL_SECS;
use crate::store::sessions::records::NewSessionRow;
use crate::store::sessions::tickets::Refused;

/// A session a redemption opened (not yet entered).
pub struct Opened {
    /// The one-time code that enters it (64 hex); only its hash is stored.
    pub entry_code: Zeroizing<String>,
    pub session_id: String,
    pub application_id: i64,
    pub authorization_id: i64,
    pub username: String,
}

/// A browser redemption: where to send the browser, and whom the audit names.
pub struct Redeemed {
    /// `{session origin}/_cofre/enter?code=…`, on the session's own host: carries the one-time
    /// entry code.
    pub redirect: Zeroizing<String>,
    pub session_id: String,
    pub application_id: i64,
    pub authorization_id: i64,
    pub username: String,
}

/// The browser's redemption, for a ticket of any protocol (an SSH one opens the browser terminal).
pub async fn redeem(core: &Core, token: &str, client_ip: IpAddr) -> ApiResult<Result<Redeemed, Refused>> {
    Ok(open(core, token, client_ip, None).await?.map(|o| Redeemed {
        redirect: Zeroizing::new(format!(
            "{}/_cofre/enter?code={}",
            core.config.session_origins().origin_of(&o.session_id),
            o.entry_code.as_str()
        )),
        session_id: o.session_id,
        application_id: o.application_id,
        authorization_id: o.authorization_id,
        username: o.username,
    }))
}

/// Consumes the ticket `token` (for `protocol` only, when given: another ticket is left unused)
/// and opens its session row.
pub async fn open(
    core: &Core,
    token: &str,
    client_ip: IpAddr,
    protocol: Option<Protocol>,
) -> ApiResult<Result<Opened, Refused>> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Err(Refused::Unknown));
    }
    let hash = crate::crypto::sha256(token.to_ascii_lowercase().as_bytes());
    let ip = canonical(client_ip).to_string();
    let now = core.now();
    let Some(ticket) = core.store.redeem_session_ticket(&hash, &ip, protocol, now).await? else {
        return Ok(Err(core.store.ticket_refusal(&hash, &ip, protocol, now).await?));
    };
    // The user is checked again: one disabled since the ticket was made does not get in.
    let Some(username) = core.store.active_user_login(ticket.user_id).await? else {
        return Ok(Err(Refused::UserInactive));
    };
    let credential =
        core.store.find_credential(ticket.authorization_id, &CredentialKey::Id(ticket.credential_id)).await?;
    let session_id = crate::crypto::random_hex(20).to_string();
    let code = crate::crypto::random_hex(32);
    let code_hash = crate::crypto::sha256(code.as_bytes());
    let device_label = format!("{}:{}", ticket.host, ticket.port);
    core.store
        .insert_remote_session(
            &NewSessionRow {
                session_id: &session_id,
                ticket_hash: &ticket.token_hash,
                authorization_id: ticket.authorization_id,
                application_id: ticket.application_id,
                user_id: ticket.user_id,
                username: &username,
                origin_ip: &ip,
                credential_id: ticket.credential_id,
                credential_label: &credential.credential.username,
                device_id: ticket.device_id,
                device_label: &device_label,
                host: &ticket.host,
                address: ticket.address.as_deref(),
                port: ticket.port,
                protocol: ticket.protocol,
                screensize: &ticket.screensize,
                entry_code_hash: &code_hash,
                entry_expires_at: now + ENTRY_CODE_TTL_SECS,
            },
            now,
        )
        .await?;
    Ok(Ok(Opened {
        entry_code: code,
        session_id,
        application_id: ticket.application_id,
        authorization_id: ticket.authorization_id,
        username,
    }))
}
