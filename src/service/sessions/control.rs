//! List, show and drop (§8), for API callers, the admin API and the CLI alike. An application
//! sees the sessions opened through its own tickets; the admin resource and the CLI see all.

use zeroize::Zeroizing;

use crate::domain::authorization::{Caller, Resource};
use crate::domain::sessions::{EndReason, RemoteSession};
use crate::error::{ApiError, ApiResult, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
use crate::service::audit::AuditSink;
use crate::service::sessions::proxy::{audit_end, held_by_live_owner};
use crate::service::sessions::{SessionEvent, audit_event};

/// Whose sessions a caller may see and drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Application(i64),
}

impl Scope {
    fn admits(self, s: &RemoteSession) -> bool {
        match self {
            Self::All => true,
            Self::Application(id) => s.application_id == id,
        }
    }

    fn application(self) -> Option<i64> {
        match self {
            Self::All => None,
            Self::Application(id) => Some(id),
        }
    }
}

/// The scope of an API caller: the module is checked first (500), then read-only for drops.
pub fn scope_for(caller: &Caller, write: bool) -> ApiResult<Scope> {
    if write {
        require_write(caller, Resource::Sessions)?;
    } else {
        require_resource(caller, Resource::Sessions)?;
    }
    Ok(if caller.authorization.resources.contains(Resource::Admin) {
        Scope::All
    } else {
        Scope::Application(caller.authorization.application_id)
    })
}

fn not_found() -> ApiError {
    ApiError::business(codes::SESSION_NOT_FOUND, "Session not found")
}

pub async fn list(core: &Core, scope: Scope) -> ApiResult<Vec<RemoteSession>> {
    Ok(core.store.remote_sessions(scope.application()).await?)
}

/// One session by its numeric id (`SESSION_ID_NOT_NUMERIC` otherwise).
pub async fn show(core: &Core, scope: Scope, raw_id: &str) -> ApiResult<RemoteSession> {
    let id = raw_id
        .trim()
        .parse::<i64>()
        .map_err(|_| ApiError::business(codes::SESSION_ID_NOT_NUMERIC, "Unexpected identifier type"))?;
    match core.store.remote_session(id).await? {
        Some(s) if scope.admits(&s) => Ok(s),
        _ => Err(not_found()),
    }
}

/// One session's recording (asciicast v2), as `show` finds the session.
pub async fn recording(core: &Core, scope: Scope, raw_id: &str) -> ApiResult<(RemoteSession, Zeroizing<Vec<u8>>)> {
    let session = show(core, scope, raw_id).await?;
    match super::recording::read(core, session.id, &session.session_id).await? {
        Some(cast) => Ok((session, cast)),
        None => Err(ApiError::not_found("This session has no recording (only SSH sessions are recorded)")),
    }
}

/// Asks the holder to drop a live session; ends it at once when no live process holds it.
/// `actor` is the (application, authorization) asking, for the audit trail. `false` when the
/// scope sees no live session by that id; each surface answers that in its own words. A session
/// whose drop was accepted is no longer live, though its holder may take up to a poll to end
/// its row: of any number of drops, concurrent or not, exactly one is accepted.
pub async fn drop_session(
    core: &Core,
    audit: &AuditSink,
    scope: Scope,
    session_id: &str,
    actor: Option<(i64, i64)>,
) -> ApiResult<bool> {
    match core.store.remote_session_by_session_id(session_id).await? {
        Some(s) if scope.admits(&s) && s.ended_at.is_none() && !s.drop_requested => {}
        _ => return Ok(false),
    }
    let Some(marked) = core.store.request_session_drop(session_id).await? else { return Ok(false) };
    audit_event(
        core,
        audit,
        SessionEvent {
            event: "drop",
            session_id,
            application_id: actor.map(|a| a.0),
            authorization_id: actor.map(|a| a.1),
            client_ip: None,
            status: 200,
            detail: serde_json::json!({"user": marked.username, "held": marked.owner.is_some()}),
        },
    )
    .await?;
    if !held_by_live_owner(&marked, core.now()) {
        if let Some(ended) = core.store.end_remote_session(session_id, EndReason::Dropped, None, core.now()).await? {
            audit_end(core, audit, &ended, EndReason::Dropped, None, "dropped while not held").await?;
        }
    }
    Ok(true)
}
