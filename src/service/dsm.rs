//! DevOps Secret Manager (§10): registration, secrets and variables, provisioning, renewal.

pub mod registration;
pub mod renewal;
pub mod secrets;
