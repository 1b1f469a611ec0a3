//! Certificate authorities, requests and certificates (issue 17). Lists of names are stored as
//! JSON arrays in TEXT columns; keys arrive sealed and leave sealed.

pub mod authorities;
pub mod issued;
pub mod publishing;
pub mod renewals;
pub mod requests;

use crate::store::{StoreError, StoreResult};

fn names_to_stored(names: &[String]) -> String {
    serde_json::Value::from(names.to_vec()).to_string()
}

fn names_from_stored(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(sqlx::Error::Decode(Box::new(e))))
}

fn decode_error(message: String) -> StoreError {
    StoreError::Other(sqlx::Error::Decode(message.into()))
}
