//! The higher-risk dashboard: the most recent credential reveals ("queries") and sessions
//! ("access") matching the filters, each scored by `domain::dashboards`, highest risk first.

use crate::domain::authorization::Caller;
use crate::domain::dashboards::{AccessEvent, QueryEvent, Risk, WorkingHours, access_risk, query_risk};
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::dashboards::filters::{self, RawFilters};
use crate::service::dashboards::{invalid_request, require};

/// How many recent events of each kind are read and scored, and how many are answered.
const SCANNED: i64 = 500;
const ANSWERED: usize = 100;

#[derive(Clone, Debug, Default)]
pub struct Scored {
    pub queries: Option<Vec<(QueryEvent, Risk)>>,
    pub access: Option<Vec<(AccessEvent, Risk)>>,
}

fn ranked<T>(mut items: Vec<(T, Risk)>, newest: impl Fn(&T) -> i64) -> Vec<(T, Risk)> {
    items.sort_by(|a, b| b.1.score.cmp(&a.1.score).then_with(|| newest(&b.0).cmp(&newest(&a.0))));
    items.truncate(ANSWERED);
    items
}

/// The module first (500), then `{m}`, then the filters.
pub async fn scored(core: &Core, caller: &Caller, m: &str, raw: RawFilters) -> ApiResult<Scored> {
    require(caller)?;
    let (queries, access) = match m.trim().to_ascii_lowercase().as_str() {
        "all" => (true, true),
        "consultas" | "queries" => (true, false),
        "acessos" | "access" => (false, true),
        _ => return Err(invalid_request()),
    };
    let filters = filters::parse(raw)?;
    // Checked at start-up; the default only if the config was built without that check.
    let hours = WorkingHours::parse(&core.config.working_hours).unwrap_or_default();
    let mut scored = Scored::default();
    if queries {
        let events = core.store.reveal_events(&filters, SCANNED).await?;
        let items = events.into_iter().map(|e| {
            let risk = query_risk(&e.facts, hours);
            (e, risk)
        });
        scored.queries = Some(ranked(items.collect(), |e| e.id));
    }
    if access {
        let events = core.store.access_events(&filters, SCANNED, core.now()).await?;
        let items = events.into_iter().map(|e| {
            let risk = access_risk(&e.facts, hours);
            (e, risk)
        });
        scored.access = Some(ranked(items.collect(), |e| e.id));
    }
    Ok(scored)
}
