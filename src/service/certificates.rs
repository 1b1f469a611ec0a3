//! Certificates (issue 17): authorities held in cofre, requests with keys made and sealed here,
//! signing, listing, export and revocation. Requests and certificates belong to the application
//! that made them; any `certificates` caller may read an authority's certificate and CRL, and
//! sign with it. Keys are opened only to sign or to export under the request's key password.

pub mod authorities;
pub mod discovery;
pub mod imports;
pub mod issued;
pub mod publishing;
pub mod renewal;
pub mod requests;
pub mod signing;

use zeroize::Zeroizing;

use crate::crypto::cipher::Aad;
use crate::crypto::x509::X509Error;
use crate::domain::authorization::{Caller, Resource};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};

pub fn require_read(caller: &Caller) -> ApiResult<()> {
    require_resource(caller, Resource::Certificates)
}

pub fn require_change(caller: &Caller) -> ApiResult<()> {
    require_write(caller, Resource::Certificates)
}

impl From<X509Error> for ApiError {
    fn from(e: X509Error) -> Self {
        ApiError::internal(&e)
    }
}

/// Runs CPU-heavy key work (RSA generation takes seconds) off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, X509Error> + Send + 'static) -> ApiResult<T> {
    Ok(tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::internal(&e))??)
}

/// Parsing work (PKCS#12 key derivation) off the async workers; its refusals are 400s.
pub(super) async fn blocking_text<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::internal(&e))?.map_err(ApiError::bad_request)
}

fn key_aad<'a>(table: &'a str, row: &'a str) -> Aad<'a> {
    Aad::new(table, row, "private_key")
}

/// A password that guards a key export or a revocation: 8 to 1024 characters, hashed with argon2.
async fn hash_password(core: &Core, name: &str, password: Option<Zeroizing<String>>) -> ApiResult<Option<String>> {
    let Some(password) = password.filter(|p| !p.is_empty()) else { return Ok(None) };
    if !(8..=1024).contains(&password.chars().count()) {
        return Err(ApiError::bad_request(format!("Parameter '{name}' must be 8 to 1024 characters.")));
    }
    Ok(Some(core.passwords.hash(password).await.map_err(|e| ApiError::internal(&e))?))
}
