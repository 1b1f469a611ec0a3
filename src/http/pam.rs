//! PAM Core routes (§3–§5, §7) and what they share: dates as the contract prints them.

pub mod credentials;
pub mod devices;
pub mod info;
pub mod keys;
pub mod legacy;
pub mod related;

use serde_json::Value;
use time::OffsetDateTime;

use super::params::Params;
use crate::error::ApiResult;

/// `YYYY-MM-DD HH:MM:SS` (UTC), or null.
pub fn datetime(unix: Option<i64>) -> Value {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    unix.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(format).ok())
        .map_or(Value::Null, Value::String)
}

/// A path key, or the same key sent as a parameter (`?credential=`, form `identifier=`).
pub fn key_param(params: &Params, names: &[&str]) -> ApiResult<Option<String>> {
    for name in names {
        if let Some(value) = params.text(name)?.filter(|v| !v.trim().is_empty()) {
            return Ok(Some(value.trim().to_owned()));
        }
    }
    Ok(None)
}
