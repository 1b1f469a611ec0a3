//! SCIM's own error shape (RFC 7644 §3.12), and how store and schema failures map into it.

use crate::service::scim::schema::Invalid;
use crate::store::StoreError;

/// An error in the SCIM error schema.
#[derive(Debug)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

pub type ScimResult<T> = Result<T, ScimError>;

pub fn error(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> ScimError {
    ScimError { status, scim_type, detail: detail.into() }
}

pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
    error(400, Some(scim_type), detail)
}

impl From<Invalid> for ScimError {
    fn from(i: Invalid) -> Self {
        bad(i.0, i.1)
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => error(404, None, "Resource not found"),
            StoreError::Conflict => error(409, Some("uniqueness"), "A resource with this name already exists"),
            StoreError::Stale => error(412, None, "The resource changed concurrently"),
            StoreError::Unavailable(_) => error(503, None, "Service temporarily unavailable"),
            other => {
                let id = uuid::Uuid::now_v7();
                tracing::error!(error.id = %id, error.cause = %other, "SCIM store error");
                error(500, None, format!("Unexpected error (error id {id})"))
            }
        }
    }
}
