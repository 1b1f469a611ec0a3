//! SCIM 2.0 (§12): users and groups over cofre's own, queries, Bulk, and the published schema.

pub mod bulk;
pub mod error;
pub mod query;
pub mod resources;
pub mod schema;
pub mod translate;
