//! The credentials dashboard: enabled credentials past their expiration time, and in custody.

use time::OffsetDateTime;

use crate::domain::authorization::Caller;
use crate::error::ApiResult;
use crate::service::Core;
use crate::service::dashboards::{invalid_request, require};

/// What `{s}` asked for; `None` where it was not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CredentialCounts {
    pub expired: Option<i64>,
    pub using: Option<i64>,
}

fn past(expiration: &str, now: i64) -> bool {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
    );
    OffsetDateTime::parse(expiration, format).is_ok_and(|at| at.unix_timestamp() <= now)
}

pub async fn counts(core: &Core, caller: &Caller, s: &str) -> ApiResult<CredentialCounts> {
    require(caller)?;
    let (expired, using) = match s.trim().to_ascii_lowercase().as_str() {
        "all" => (true, true),
        "expiradas" | "expired" => (true, false),
        "utilizacao" | "using" => (false, true),
        _ => return Err(invalid_request()),
    };
    let mut counts = CredentialCounts::default();
    if expired {
        let now = core.now();
        let per_time = core.store.expiration_counts().await?;
        counts.expired = Some(per_time.iter().filter(|(at, _)| past(at, now)).map(|(_, n)| n).sum());
    }
    if using {
        counts.using = Some(core.store.credentials_in_use().await?);
    }
    Ok(counts)
}
