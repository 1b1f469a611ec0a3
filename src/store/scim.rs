//! SCIM users and groups: the rows behind them and their memberships, and the conditions and
//! orders lists are answered with.

pub mod query;
pub mod resources;
