//! The holder's watch: polls the store for drops of the sessions this process holds (the poll is
//! also its heartbeat), cuts their streams and ends them; now and then also ends overdue sessions
//! (idle, too long, or left by a dead process) and cuts those it carries.

use std::time::Duration;

use crate::domain::sessions::EndReason;
use crate::service::sessions::live::Cut;
use crate::service::sessions::proxy;
use crate::state::AppState;

/// How often the store is asked for drops: a dropped session's streams close within a second.
const DROP_POLL: Duration = Duration::from_millis(400);
/// Overdue sessions are looked for every this many drop polls (about every ten seconds).
const SWEEP_EVERY_POLLS: u32 = 25;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(DROP_POLL);
        let mut polls = 0u32;
        loop {
            tick.tick().await;
            let (core, audit) = (&state.core, &state.audit);
            polls = polls.wrapping_add(1);
            if polls % SWEEP_EVERY_POLLS == 0 {
                match proxy::end_overdue(core, audit).await {
                    Ok(ended) => ended.iter().for_each(|id| state.live.cut(id, Cut::Expired)),
                    Err(e) => tracing::warn!(error = %e, "could not end overdue sessions"),
                }
            }
            let dropped = match proxy::drop_requested(core, &core.process_id).await {
                Ok(dropped) => dropped,
                Err(e) => {
                    tracing::warn!(error = %e, "could not poll for dropped sessions");
                    continue;
                }
            };
            for session_id in dropped {
                state.live.cut(&session_id, Cut::Dropped);
                if let Err(e) = proxy::end(core, audit, &session_id, EndReason::Dropped).await {
                    tracing::warn!(error = %e, "could not end a dropped session");
                }
            }
        }
    })
}
