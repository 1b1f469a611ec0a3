//! DevOps Secret Manager routes (§10): registration, secrets, variables and provisioning.

pub mod registration;
pub mod secrets;
