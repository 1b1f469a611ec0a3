//! `expiration_time` (contract §1.6): ISO 8601 with an offset (`2024-05-16T17:31:31-03:00`,
//! `…Z`) or without one (`2021-01-16T17:31:39`, taken as UTC), a space allowed for the `T`, or
//! a bare date (midnight UTC). Stored and answered in one form that keeps the caller's offset:
//! `YYYY-MM-DDTHH:MM:SS±HH:MM`. An empty value unsets it.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

const WITH_OFFSET: &[FormatItem<'_>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory]:[offset_minute]"
);
const WITHOUT_OFFSET: &[FormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");
const DATE: &[FormatItem<'_>] = format_description!("[year]-[month]-[day]");
const ANSWERED: &[FormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]");

/// The stored form of an `expiration_time`, or `None` if it is not an ISO 8601 date-time.
pub fn normalize_expiration(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return Some(String::new());
    }
    let mut iso = text.replacen(' ', "T", 1);
    if let Some(rest) = iso.strip_suffix('Z').or_else(|| iso.strip_suffix('z')) {
        iso = format!("{rest}+00:00");
    }
    let at = OffsetDateTime::parse(&iso, WITH_OFFSET)
        .or_else(|_| PrimitiveDateTime::parse(&iso, WITHOUT_OFFSET).map(PrimitiveDateTime::assume_utc))
        .or_else(|_| Date::parse(&iso, DATE).map(|d| d.midnight().assume_offset(UtcOffset::UTC)))
        .ok()?;
    at.format(ANSWERED).ok()
}

#[cfg(test)]
mod tests {
    use super::normalize_expiration as n;

    #[test]
    fn iso_forms_are_kept_with_their_offset() {
        assert_eq!(n("2024-05-16T17:31:31-03:00").as_deref(), Some("2024-05-16T17:31:31-03:00"));
        assert_eq!(n("2021-01-16T17:31:39").as_deref(), Some("2021-01-16T17:31:39+00:00"));
        assert_eq!(n("2021-01-16 17:31:39Z").as_deref(), Some("2021-01-16T17:31:39+00:00"));
        assert_eq!(n("2021-01-16T17:31:39.250+05:30").as_deref(), Some("2021-01-16T17:31:39+05:30"));
        assert_eq!(n("2021-01-16").as_deref(), Some("2021-01-16T00:00:00+00:00"));
        assert_eq!(n(" ").as_deref(), Some(""));
    }

    #[test]
    fn garbage_is_refused() {
        for bad in ["tomorrow", "2021-13-01T00:00:00", "2021-01-16T25:00:00", "16/01/2021", "<script>"] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }
}
