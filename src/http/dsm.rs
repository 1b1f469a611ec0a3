//! DevOps Secret Manager routes (§10): registration, secrets, variables and provisioning.

pub mod registration;
pub mod secrets;

use crate::domain::authorization::{Caller, Resource};
use crate::error::ApiResult;

/// The module is checked before any parameter is read (§2.4), as in every other family: a
/// caller without DSM gets 500 "You are not authorized…", never a parameter error.
fn module(caller: &Caller) -> ApiResult<()> {
    crate::service::access::require_resource(caller, Resource::Dsm)
}
