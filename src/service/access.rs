//! The checks every route applies to a resolved caller, in the contract's order:
//! module first (500), then read-only (1039).

use crate::domain::authorization::{Caller, Resource};
use crate::error::{ApiError, ApiResult};

pub fn require_resource(caller: &Caller, resource: Resource) -> ApiResult<()> {
    if caller.authorization.resources.contains(resource) { Ok(()) } else { Err(ApiError::resource_not_authorized()) }
}

pub fn require_write(caller: &Caller, resource: Resource) -> ApiResult<()> {
    require_resource(caller, resource)?;
    if caller.authorization.read_only { Err(ApiError::read_only()) } else { Ok(()) }
}
