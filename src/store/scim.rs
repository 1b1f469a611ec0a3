//! SCIM users and groups: the rows behind them and their memberships.

pub mod resources;
