//! The sessions dashboard: sessions per protocol, all of them in the window and those open.

use crate::domain::authorization::Caller;
use crate::domain::dashboards::{ProtocolName, protocol};
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::dashboards::filters::{self, RawFilters};
use crate::service::dashboards::{invalid_request, require};

/// The `{p}` values the contract lists, then the labels its English sample also counts (VNC over
/// HTTP, SQL) and cofre's own web protocols; `all` means every one.
const PATH_PROTOCOLS: [&str; 10] =
    ["jumpserver", "rdpgate", "ssh", "rdp", "rdpweb", "sshweb", "vnchttp", "sql", "http", "https"];

/// One protocol's counts; the answer labels them in its language.
pub struct Counted {
    pub protocol: &'static ProtocolName,
    pub historic: i64,
    pub active: i64,
}

/// The module first (500), then `{p}`, then the filters.
pub async fn counts(core: &Core, caller: &Caller, p: &str, raw: RawFilters) -> ApiResult<Vec<Counted>> {
    require(caller)?;
    let names: Vec<&str> = if p.eq_ignore_ascii_case("all") {
        PATH_PROTOCOLS.to_vec()
    } else {
        match PATH_PROTOCOLS.iter().find(|n| n.eq_ignore_ascii_case(p.trim())) {
            Some(name) => vec![*name],
            None => return Err(invalid_request()),
        }
    };
    let rows = core.store.session_counts(&filters::parse(raw)?).await?;
    Ok(names
        .into_iter()
        .filter_map(protocol)
        .map(|name| {
            let mine = rows.iter().filter(|r| name.stored.contains(&r.protocol.as_str()));
            let (historic, active) = mine.fold((0, 0), |(h, a), r| (h + r.total, a + r.active));
            Counted { protocol: name, historic, active }
        })
        .collect())
}
