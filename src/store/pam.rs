//! PAM Core: credentials and keys, devices, protected information, related users, policies.

pub mod credentials;
pub mod devices;
pub mod info;
pub mod keys;
pub mod policies;
pub mod related;
pub mod rotations;
