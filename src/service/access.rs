//! The checks every route applies to a resolved caller, in the contract's order: module first
//! (500), then read-only (1039), then a token's scope (403 insufficient_scope).

use crate::domain::authorization::{Access, Caller, Resource};
use crate::error::{ApiError, ApiResult};

pub fn require_resource(caller: &Caller, resource: Resource) -> ApiResult<()> {
    require(caller, resource, Access::Read)
}

pub fn require_write(caller: &Caller, resource: Resource) -> ApiResult<()> {
    require(caller, resource, Access::Write)
}

fn require(caller: &Caller, resource: Resource, access: Access) -> ApiResult<()> {
    let authorization = &caller.authorization;
    if !authorization.resources.contains(resource) {
        return Err(ApiError::resource_not_authorized());
    }
    if access == Access::Write && authorization.read_only {
        return Err(ApiError::read_only());
    }
    match &authorization.scopes {
        Some(scopes) if !scopes.allows(resource, access) => Err(ApiError::insufficient_scope()),
        _ => Ok(()),
    }
}
