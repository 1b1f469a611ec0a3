//! DSM applications, their secrets and versions, and provisioned pods.

pub mod secrets;
