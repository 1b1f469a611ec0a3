//! The checks every route applies to a resolved caller, in the contract's order: module first
//! (500), then read-only (`READ_ONLY_AUTHORIZATION`), then a token's scope (403 insufficient_scope). Every family —
//! SCIM included, which words its refusals its own way — goes through `check`.

use crate::domain::authorization::{Access, Caller, Resource};
use crate::error::{ApiError, ApiResult};

/// Why a caller may not perform an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The authorization lacks the module.
    Module,
    /// A write by a read-only authorization.
    ReadOnly,
    /// A token whose scope lacks the operation.
    Scope,
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Module => ApiError::resource_not_authorized(),
            Denied::ReadOnly => ApiError::read_only(),
            Denied::Scope => ApiError::insufficient_scope(),
        }
    }
}

pub fn require_resource(caller: &Caller, resource: Resource) -> ApiResult<()> {
    Ok(check(caller, resource, Access::Read)?)
}

pub fn require_write(caller: &Caller, resource: Resource) -> ApiResult<()> {
    Ok(check(caller, resource, Access::Write)?)
}

pub fn check(caller: &Caller, resource: Resource, access: Access) -> Result<(), Denied> {
    let authorization = &caller.authorization;
    if !authorization.resources.contains(resource) {
        return Err(Denied::Module);
    }
    if access == Access::Write && authorization.read_only {
        return Err(Denied::ReadOnly);
    }
    match &authorization.scopes {
        Some(scopes) if !scopes.allows(resource, access) => Err(Denied::Scope),
        _ => Ok(()),
    }
}
