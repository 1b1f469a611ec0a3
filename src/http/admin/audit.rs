//! Admin: the audit chain's head, for an external witness to record and compare later.

use axum::extract::State;
use serde_json::json;

use super::can_read;
use crate::domain::authorization::Caller;
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::state::AppState;

pub async fn head(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    can_read(&caller)?;
    let head = state.core.store.audit_head().await?;
    Ok(Reply::ok("Audit chain head").with(
        "head",
        json!({
            "seq": head.seq.to_string(),
            "mac": hex::encode(&head.mac),
            "count": head.seq.to_string(),
            "at": crate::http::pam::datetime(Some(head.at_ms / 1000)),
        }),
    ))
}
