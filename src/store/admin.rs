//! Applications, authorizations and their links; users and groups.

pub mod apps;
pub mod users;
