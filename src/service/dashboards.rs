//! Dashboards (§13.1): sessions counts, higher-risk events and credential counts. Callers need
//! the `dashboards` resource (checked first: 500), and see the whole vault, as an operator's
//! dashboard does. Input is checked in the contract's order with its exact words.

pub mod credentials;
pub mod filters;
pub mod risk;
pub mod sessions;

use crate::domain::authorization::{Caller, Resource};
use crate::error::{ApiError, ApiResult};
use crate::service::access::require_resource;

pub fn require(caller: &Caller) -> ApiResult<()> {
    require_resource(caller, Resource::Dashboards)
}

/// An unknown path parameter.
pub fn invalid_request() -> ApiError {
    ApiError::dashboard("Invalid request")
}
