//! Domain values shared by the service and store layers; nothing here knows HTTP or SQL.

pub mod audit;
pub mod authorization;
pub mod certificates;
pub mod dashboards;
pub mod dsm;
pub mod expiration;
pub mod identifier;
pub mod info;
pub mod mysafe;
pub mod network;
pub mod pam;
pub mod scim;
pub mod sessions;
pub mod targets;
pub mod user;
