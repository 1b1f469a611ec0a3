//! SCIM 2.0 (RFC 7643/7644): filters and PATCH, as pure functions over resource JSON.

pub mod eval;
pub mod filter;
pub mod patch;
