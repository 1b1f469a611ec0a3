//! Store side of integrity operations: store-wide leases and re-wrapping data keys.

pub mod keys;
pub mod leases;
pub mod loading;
pub mod references;
pub mod sealed;
pub mod snapshot;
