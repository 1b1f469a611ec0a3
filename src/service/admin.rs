//! Administration: applications, their authorizations and links; users and groups.

pub mod apps;
pub mod users;
