//! Commands through the SSH gateway: the rule (`domain::sessions::exec`) applied to a session,
//! and the audit records of each command — refused, started and exited — naming the session,
//! the command line and, at the end, its exit status. The command line is the user's own typing,
//! as a shell session's echo is; cofre never puts a vaulted secret in it.

use serde_json::{Value, json};

use crate::domain::sessions::LiveSession;
use crate::domain::sessions::exec::{ExecRefusal, Exit, audited_command};
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::audit::AuditSink;
use crate::service::sessions::{SessionEvent, audit_event};

async fn record(
    core: &Core,
    audit: &AuditSink,
    session: &LiveSession,
    event: &'static str,
    status: i64,
    command: &[u8],
    extra: Value,
) -> ApiResult<()> {
    let (text, cut) = audited_command(command);
    let mut detail = json!({"command": text});
    if cut {
        detail["command_truncated"] = Value::Bool(true);
    }
    if let (Some(map), Value::Object(extra)) = (detail.as_object_mut(), extra) {
        map.extend(extra);
    }
    audit_event(
        core,
        audit,
        SessionEvent {
            event,
            session_id: &session.session_id,
            application_id: Some(session.application_id),
            authorization_id: Some(session.authorization_id),
            client_ip: Some(session.origin_ip.clone()),
            status,
            detail,
        },
    )
    .await
}

/// A command refused before it reached the device.
pub async fn refused(
    core: &Core,
    audit: &AuditSink,
    session: &LiveSession,
    command: &[u8],
    why: ExecRefusal,
) -> ApiResult<()> {
    record(core, audit, session, "exec_refused", 403, command, json!({"refused": why.as_str()})).await
}

/// A command about to be sent to the device (written first: a command is not run unaudited).
pub async fn started(core: &Core, audit: &AuditSink, session: &LiveSession, command: &[u8]) -> ApiResult<()> {
    record(core, audit, session, "exec", 200, command, json!({})).await
}

/// A command's end: its exit status or signal (null when the device sent none: the session was cut).
pub async fn exited(
    core: &Core,
    audit: &AuditSink,
    session: &LiveSession,
    command: &[u8],
    exit: &Exit,
) -> ApiResult<()> {
    let extra = json!({"exit_status": exit.status, "exit_signal": exit.signal});
    record(core, audit, session, "exec_exit", 200, command, extra).await
}
