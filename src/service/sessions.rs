//! Remote sessions (§8, issue 14): single-use session URLs (tickets), their redemption into a
//! session row, the calls the web proxy makes on a session it holds, and list, show and drop.
//!
//! Who holds a session: the process whose proxy entered it (`Core::process_id`, new at every
//! start). The holder polls `drop_requested` at least every half second, and that poll is also
//! its heartbeat on the sessions it holds. A session whose holder has been silent for
//! `OWNER_SILENCE_SECS` is taken for abandoned by a dead process: `close_interrupted` (at start)
//! ends it as interrupted, and a drop ends it at once instead of waiting for the holder.

pub mod control;
pub mod exec;
pub mod live;
pub mod proxy;
pub mod recording;
pub mod redeem;
pub mod ssh;
pub mod tickets;
pub mod watch;

use serde_json::{Value, json};

use crate::domain::audit::AuditRecord;
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::audit::AuditSink;

/// How long a holder may stay silent before its sessions count as abandoned.
pub const OWNER_SILENCE_SECS: i64 = 30;
/// How often a holder's heartbeat is written (its polls come far more often).
pub const HEARTBEAT_EVERY_SECS: i64 = 2;
/// How often a session's last activity is written (not on every proxied request).
pub const ACTIVITY_EVERY_SECS: i64 = 5;
/// How long the one-time code that hands a session to the proxy origin stays good.
pub const ENTRY_CODE_TTL_SECS: i64 = 30;

/// An event on a session that no request of the vault's carries (entry through the proxy, an
/// end by timeout, drop or restart): audited through the same writer as requests.
pub struct SessionEvent<'a> {
    pub event: &'static str,
    pub session_id: &'a str,
    pub application_id: Option<i64>,
    pub authorization_id: Option<i64>,
    pub client_ip: Option<String>,
    pub status: i64,
    pub detail: Value,
}

pub async fn audit_event(core: &Core, audit: &AuditSink, e: SessionEvent<'_>) -> ApiResult<()> {
    let mut detail = json!({"event": e.event, "session_id": e.session_id});
    if let (Some(map), Value::Object(extra)) = (detail.as_object_mut(), e.detail) {
        map.extend(extra);
    }
    let record = AuditRecord {
        at_ms: core.clock.now_ms(),
        request_id: uuid::Uuid::now_v7().to_string(),
        client_ip: e.client_ip.unwrap_or_else(|| "-".into()),
        application_id: e.application_id,
        authorization_id: e.authorization_id,
        method: "SESSION".into(),
        route: format!("/session/{}", e.session_id),
        status: e.status,
        outcome: if e.status < 400 { "success" } else { "denied" }.into(),
        detail: detail.to_string(),
    };
    audit.record(record).await.map_err(|_| ApiError::unavailable())
}
