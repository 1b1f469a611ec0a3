//! Dashboard routes (§13.1) under the Portuguese `coge` and the English `dash` paths: the path
//! picks the language of the answer's keys and message.

pub mod credentials;
pub mod risk;
pub mod sessions;

use crate::error::ApiResult;
use crate::http::params::Params;
use crate::service::dashboards::filters::RawFilters;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Pt,
    En,
}

/// The first of several names a parameter goes by.
fn first(params: &Params, names: &[&str]) -> ApiResult<Option<String>> {
    for name in names {
        if let Some(value) = params.text(name)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

pub fn raw_filters(params: &Params) -> ApiResult<RawFilters> {
    Ok(RawFilters {
        date1: first(params, &["data1", "date1"])?,
        date2: first(params, &["data2", "date2"])?,
        hostname: first(params, &["hostname"])?,
        user_credential: first(params, &["userCredencial", "userCredential"])?,
        username: first(params, &["username"])?,
        protocol: first(params, &["protocol", "protocolo"])?,
    })
}
