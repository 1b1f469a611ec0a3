//! What the web proxy calls on the sessions it holds: entry with the one-time code, the session
//! a cookie holds, where and as whom to forward, the sealed request record, the end, and the
//! poll for drops (which is also the holder's heartbeat).

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::crypto::cipher::Aad;
use crate::domain::network::canonical;
use crate::domain::pam::{CredentialKey, CredentialKind};
use crate::domain::sessions::failure::FailureCause;
use crate::domain::sessions::{EndReason, LiveSession, LoginSecret, RemoteSession, RequestNote, SessionTarget};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::audit::AuditSink;
use crate::service::pam::keys::open_key;
use crate::service::pam::lookup::{inactive, no_access};
use crate::service::pam::reveal::current_password;
use crate::service::pam::settings::open_settings;
use crate::service::sessions::{
    ACTIVITY_EVERY_SECS, HEARTBEAT_EVERY_SECS, OWNER_SILENCE_SECS, SessionEvent, audit_event,
};
use crate::store::sessions::records::Ended;

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX / 2)
}

/// Consumes an entry code (once, from the address that redeemed the ticket, on the host of the
/// session it was made for) and gives the session to this process under a new cookie value
/// (64 hex), which only its hash is kept of.
pub async fn enter(
    core: &Core,
    audit: &AuditSink,
    code: &str,
    session_id: &str,
    client_ip: IpAddr,
) -> ApiResult<(LiveSession, Zeroizing<String>)> {
    let refused = || ApiError::forbidden("The session entry code is not valid.");
    if code.len() != 64 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refused());
    }
    let code_hash = crate::crypto::sha256(code.to_ascii_lowercase().as_bytes());
    let cookie = crate::crypto::random_hex(32);
    let cookie_hash = crate::crypto::sha256(cookie.as_bytes());
    let ip = canonical(client_ip).to_string();
    let entered = core
        .store
        .enter_remote_session(&code_hash, session_id, &ip, &cookie_hash, &core.process_id, core.now())
        .await?;
    let Some(session) = entered else { return Err(refused()) };
    audit_event(
        core,
        audit,
        SessionEvent {
            event: "enter",
            session_id: &session.session_id,
            application_id: Some(session.application_id),
            authorization_id: Some(session.authorization_id),
            client_ip: Some(ip),
            status: 200,
            detail: serde_json::json!({"user": session.username}),
        },
    )
    .await?;
    Ok((session.into(), cookie))
}

/// The live session a cookie holds: not ended, not dropped, within the idle timeout and the
/// maximum length (a session past either is ended as expired). Records activity, at most every
/// few seconds.
pub async fn by_cookie(core: &Core, audit: &AuditSink, cookie: &str) -> ApiResult<Option<LiveSession>> {
    let hash = crate::crypto::sha256(cookie.as_bytes());
    let Some(session) = core.store.remote_session_by_cookie(&hash).await? else { return Ok(None) };
    if session.ended_at.is_some() || session.drop_requested {
        return Ok(None);
    }
    let now = core.now();
    let idle = now - session.last_seen_at > secs(core.config.session_idle_timeout);
    let too_long = now - session.started_at > secs(core.config.session_max_length);
    if idle || too_long {
        let why = if idle { "idle timeout" } else { "maximum length" };
        end_because(core, audit, &session.session_id, EndReason::Expired, why).await?;
        return Ok(None);
    }
    core.store.touch_remote_session(session.id, now, ACTIVITY_EVERY_SECS).await?;
    Ok(Some(session.into()))
}

/// Where to forward the session and with which credential, read as the authorization that
/// issued the ticket reads it now (a credential since unlinked or disabled stops working).
pub async fn target(core: &Core, session: &LiveSession) -> ApiResult<SessionTarget> {
    let row = core.store.remote_session(session.id).await?.ok_or_else(|| ApiError::not_found("Session not found"))?;
    let found = core.store.find_credential(row.authorization_id, &CredentialKey::Id(row.credential_id)).await?;
    if !found.visible {
        return Err(no_access());
    }
    let c = &found.credential;
    if !c.enabled {
        return Err(inactive());
    }
    let secret = match c.kind {
        CredentialKind::Password => LoginSecret::Password(current_password(core, row.authorization_id, c).await?),
        CredentialKind::SshKey => {
            let (private_key, passphrase) = open_key(core, c).await?;
            LoginSecret::Key { private_key, passphrase }
        }
    };
    let settings = open_settings(core, c).await?;
    Ok(SessionTarget {
        protocol: row.protocol,
        address: row.address.unwrap_or_else(|| row.host.clone()),
        host: row.host,
        port: row.port,
        device_id: row.device_id,
        username: c.username.clone(),
        secret,
        session_settings: settings.session,
    })
}

fn request_aad(uid: &str) -> Aad<'_> {
    Aad::new("session_requests", uid, "record")
}

/// Records one proxied request, sealed (method, path, status, byte counts; never bodies).
pub async fn note_request(core: &Core, session: &LiveSession, note: &RequestNote) -> ApiResult<()> {
    let uid = uuid::Uuid::new_v4().simple().to_string();
    let plain = Zeroizing::new(serde_json::to_vec(note).map_err(|e| ApiError::internal(&e))?);
    let sealed = core.seal(&request_aad(&uid), &plain);
    core.store.insert_session_request(session.id, &uid, core.clock.now_ms(), &sealed).await?;
    Ok(())
}

/// A session's request records, opened: (time in ms, record).
pub async fn requests(core: &Core, session_row: i64) -> ApiResult<Vec<(i64, RequestNote)>> {
    let mut out = Vec::new();
    for (uid, at_ms, sealed) in core.store.session_requests(session_row).await? {
        let plain = core.unseal(&request_aad(&uid), &sealed).await?;
        out.push((at_ms, serde_json::from_slice(&plain).map_err(|e| ApiError::internal(&e))?));
    }
    Ok(out)
}

/// Ends a session; false when it was not open.
pub async fn end(core: &Core, audit: &AuditSink, session_id: &str, reason: EndReason) -> ApiResult<bool> {
    end_because(core, audit, session_id, reason, reason.as_str()).await
}

/// Ends a session, with why in the audit trail; false when it was not open. A failure goes
/// through [`fail`], which says which kind it was.
pub async fn end_because(
    core: &Core,
    audit: &AuditSink,
    session_id: &str,
    reason: EndReason,
    why: &str,
) -> ApiResult<bool> {
    end_with(core, audit, session_id, reason, None, why).await
}

/// Ends a session as failed: `cause` goes to its row (the session records show it) and to the
/// audit record of its end, with `why` (the error, no secret or URL path in it); false when it
/// was not open (the drop or the expiry that came first stands).
pub async fn fail(core: &Core, audit: &AuditSink, session_id: &str, cause: FailureCause, why: &str) -> ApiResult<bool> {
    end_with(core, audit, session_id, EndReason::Failed, Some(cause), why).await
}

async fn end_with(
    core: &Core,
    audit: &AuditSink,
    session_id: &str,
    reason: EndReason,
    cause: Option<FailureCause>,
    why: &str,
) -> ApiResult<bool> {
    let failure = cause.map(FailureCause::as_str);
    match core.store.end_remote_session(session_id, reason, failure, core.now()).await? {
        Some(ended) => {
            audit_end(core, audit, &ended, reason, cause, why).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

pub(super) async fn audit_end(
    core: &Core,
    audit: &AuditSink,
    e: &Ended,
    reason: EndReason,
    cause: Option<FailureCause>,
    why: &str,
) -> ApiResult<()> {
    let mut detail = serde_json::json!({"end_reason": reason.as_str(), "why": why});
    if let Some(cause) = cause {
        detail["failure"] = cause.as_str().into();
    }
    audit_event(
        core,
        audit,
        SessionEvent {
            event: "end",
            session_id: &e.session_id,
            application_id: Some(e.application_id),
            authorization_id: Some(e.authorization_id),
            client_ip: None,
            status: 200,
            detail,
        },
    )
    .await
}

/// The sessions `owner` holds whose drop was requested; the holder polls this at least every
/// half second, ends their streams, and calls `end(…, EndReason::Dropped)`. The poll is also the
/// holder's heartbeat.
pub async fn drop_requested(core: &Core, owner: &str) -> ApiResult<Vec<String>> {
    core.store.heartbeat_sessions(owner, core.now(), HEARTBEAT_EVERY_SECS).await?;
    Ok(core.store.session_drops_for(owner).await?)
}

/// At start: ends as interrupted the open sessions whose holder has been silent longer than
/// `OWNER_SILENCE_SECS` (its process died), and as expired those never entered whose entry
/// code ran out. Returns how many were ended.
pub async fn close_interrupted(core: &Core, audit: &AuditSink) -> ApiResult<usize> {
    let now = core.now();
    let (interrupted, never_entered) = core.store.end_abandoned_sessions(now - OWNER_SILENCE_SECS, now).await?;
    for e in &interrupted {
        audit_end(core, audit, e, EndReason::Interrupted, None, "holder stopped").await?;
    }
    for e in &never_entered {
        audit_end(core, audit, e, EndReason::Expired, None, "never entered").await?;
    }
    Ok(interrupted.len() + never_entered.len())
}

/// Ends the sessions past their idle timeout or maximum length, and those a dead process left
/// open, without waiting for their cookie to come back. Answers the ended session ids, so their
/// holder can cut their streams.
pub async fn end_overdue(core: &Core, audit: &AuditSink) -> ApiResult<Vec<String>> {
    let now = core.now();
    let idle_before = now - secs(core.config.session_idle_timeout);
    let started_before = now - secs(core.config.session_max_length);
    let overdue = core.store.end_overdue_sessions(idle_before, started_before, now).await?;
    for e in &overdue {
        audit_end(core, audit, e, EndReason::Expired, None, "idle timeout or maximum length").await?;
    }
    close_interrupted(core, audit).await?;
    Ok(overdue.into_iter().map(|e| e.session_id).collect())
}

/// Whether a live process holds the session (its heartbeat is recent).
pub(super) fn held_by_live_owner(session: &RemoteSession, now: i64) -> bool {
    session.owner.is_some() && session.owner_seen_at.is_some_and(|t| t >= now - OWNER_SILENCE_SECS)
}
