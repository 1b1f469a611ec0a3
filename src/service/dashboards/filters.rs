//! The dashboards' query parameters, checked in order: dates, then the hostname and
//! userCredencial pair, then the protocol.

use time::macros::format_description;
use time::{Date, Duration};

use crate::domain::dashboards::{Filters, protocol};
use crate::error::{ApiError, ApiResult};
use crate::service::dashboards::invalid_request;

/// The parameters as sent (PT or EN names already merged by the caller).
#[derive(Clone, Debug, Default)]
pub struct RawFilters {
    pub date1: Option<String>,
    pub date2: Option<String>,
    pub hostname: Option<String>,
    pub user_credential: Option<String>,
    pub username: Option<String>,
    pub protocol: Option<String>,
}

fn day(raw: &str) -> ApiResult<i64> {
    let date = Date::parse(raw.trim(), format_description!("[year]-[month]-[day]")).map_err(|_| invalid_request())?;
    Ok(date.midnight().assume_utc().unix_timestamp())
}

fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub fn parse(raw: RawFilters) -> ApiResult<Filters> {
    let since = given(raw.date1).map(|d| day(&d)).transpose()?;
    let last_day = given(raw.date2).map(|d| day(&d)).transpose()?;
    if let (Some(since), Some(last)) = (since, last_day) {
        if since > last {
            return Err(ApiError::dashboard("Date1 greater than date2"));
        }
    }
    let device = match (given(raw.hostname), given(raw.user_credential)) {
        (Some(host), Some(credential)) => Some((host, credential)),
        (None, Some(_)) => return Err(ApiError::dashboard("hostname parameter is missing")),
        (Some(_), None) => return Err(ApiError::dashboard("userCredencial parameter is missing")),
        (None, None) => None,
    };
    let protocols = match given(raw.protocol) {
        None => None,
        Some(p) if p.eq_ignore_ascii_case("all") => None,
        Some(p) => Some(protocol(&p).ok_or_else(|| ApiError::dashboard("Invalid protocol"))?.stored.to_vec()),
    };
    Ok(Filters {
        since,
        until: last_day.map(|d| d + Duration::DAY.whole_seconds()),
        device,
        username: given(raw.username),
        protocols,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(raw: RawFilters) -> String {
        parse(raw).expect_err("refused").message.to_string()
    }

    #[test]
    fn dates_bound_whole_days() {
        let f = parse(RawFilters {
            date1: Some("2024-01-01".into()),
            date2: Some("2024-01-01".into()),
            ..Default::default()
        })
        .expect("parsed");
        assert_eq!((f.since, f.until), (Some(1_704_067_200), Some(1_704_153_600)));
    }

    #[test]
    fn refusals_use_the_contract_words() {
        let d = |a: &str, b: &str| RawFilters { date1: Some(a.into()), date2: Some(b.into()), ..Default::default() };
        assert_eq!(message(d("2024-02-01", "2024-01-01")), "Date1 greater than date2");
        assert_eq!(message(d("01/02/2024", "2024-01-01")), "Invalid request");
        let host = RawFilters { hostname: Some("web01".into()), ..Default::default() };
        assert_eq!(message(host), "userCredencial parameter is missing");
        let credential = RawFilters { user_credential: Some("admin".into()), ..Default::default() };
        assert_eq!(message(credential), "hostname parameter is missing");
        assert_eq!(message(RawFilters { protocol: Some("gopher".into()), ..Default::default() }), "Invalid protocol");
    }
}
