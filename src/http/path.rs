//! The `{key}` path segment (an id or an identifier), with rejections in the envelope.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::ApiError;

const MAX_KEY_CHARS: usize = 256;

pub struct ItemKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ItemKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(key) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("The path parameter is not valid UTF-8."))?;
        if key.contains('\0') {
            return Err(nul_in_path());
        }
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(ApiError::bad_request(format!(
                "The path parameter must have 1 to {MAX_KEY_CHARS} characters."
            )));
        }
        Ok(Self(key))
    }
}

/// Path parameters of any shape (`Segments(id): Segments<String>`, `Segments((a, b)): …`), with
/// rejections in the envelope instead of axum's plain-text ones.
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if has_encoded_nul(parts.uri.path()) {
            return Err(nul_in_path());
        }
        Path::<T>::from_request_parts(parts, state).await.map(|Path(value)| Self(value)).map_err(|_| {
            ApiError::bad_request(
                "A path parameter is malformed: not UTF-8 text, or not a number where one is expected.",
            )
        })
    }
}

/// `%00` anywhere in the path: a NUL no id or name holds (PostgreSQL's text cannot store it).
pub fn has_encoded_nul(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| w == b"%00")
}

fn nul_in_path() -> ApiError {
    ApiError::bad_request("The path may not contain NUL characters (%00).")
}
