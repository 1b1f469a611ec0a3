//! Certificate Manager routes (§13.2) under the English `certificate` and the Portuguese
//! `certificado` paths. Answers are senhasegura envelopes with a `certificate` block, or a list
//! under `certificates`, whose keys are the request's field names (docs/API.md has each shape).

pub mod authorities;
pub mod imports;
pub mod issued;
pub mod publishing;
pub mod requests;

use serde_json::{Value, json};

use super::pam::datetime;
use super::params::Params;
use crate::domain::certificates::Certificate;
use crate::error::{ApiError, ApiResult};

/// The most a list returns at once, and what it returns when `limit` is not given.
const MAX_LIMIT: i64 = 500;

/// `offset` and `limit` (§1.8): whole numbers, `limit` from 1 to 500.
fn paging(params: &Params) -> ApiResult<(i64, i64)> {
    let number = |name: &str, default: i64, range: std::ops::RangeInclusive<i64>| -> ApiResult<i64> {
        match params.text(name)? {
            None => Ok(default),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(format!(
                    "Parameter '{name}' must be a whole number from {} to {}.",
                    range.start(),
                    range.end()
                ))),
            },
        }
    };
    Ok((number("offset", 0, 0..=i64::from(i32::MAX))?, number("limit", MAX_LIMIT, 1..=MAX_LIMIT)?))
}

/// A list parameter (`san`, `tags`…) in any of the encodings `Params::list` reads.
fn names(params: &Params, name: &str) -> ApiResult<Vec<String>> {
    Ok(params.list(name)?.unwrap_or_default())
}

/// The first of several names a parameter goes by (English, then Portuguese).
fn first(params: &Params, names: &[&str]) -> ApiResult<Option<String>> {
    for name in names {
        if let Some(v) = params.text(name)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// A certificate as answered: never its key.
pub fn certificate_json(c: &Certificate, now: i64) -> Value {
    json!({
        "id": c.id.to_string(),
        "code": c.request_code,
        "common_name": c.common_name,
        "san": c.san,
        "serial": c.serial,
        "status_certificate": (c.status(now) as i64).to_string(),
        "active": if c.revoked_at.is_none() && now < c.not_after { "1" } else { "0" },
        "start_validity": datetime(Some(c.not_before)),
        "end_validity": datetime(Some(c.not_after)),
        "origin_certificate": c.origin.as_str(),
        "ca": c.authority,
        "self_signed": c.self_signed,
        "revoked_at": datetime(c.revoked_at),
        "auto_renew": c.auto_renew,
        "renewal_days": c.renewal_days.to_string(),
        "renewed_by": c.renewed_by.map(|id| id.to_string()),
        "private_key": if c.has_key { "sealed" } else { "absent" },
        "certificate": c.certificate_pem,
        "chain": c.chain_pem,
    })
}
