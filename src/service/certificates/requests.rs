//! Certificate requests: the fields checked, a key pair made and sealed, and a CSR signed by
//! it. Posting to an existing code replaces a pending request (new key, new CSR); a signed one
//! is left as it is.

use zeroize::Zeroizing;

use super::{blocking, hash_password, key_aad, require_change, require_read};
use crate::crypto::x509::{self, LeafSubject};
use crate::domain::authorization::Caller;
use crate::domain::certificates::requests::{CertificateRequest, NewRequest, RawRequest, RequestFilter, check_code};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::store::certificates::requests::Upserted;

pub const TABLE: &str = "certificate_requests";

pub struct RequestInput {
    pub code: String,
    pub raw: RawRequest,
    pub key_password: Option<Zeroizing<String>>,
    pub password_revogation: Option<Zeroizing<String>>,
}

/// The AAD row of a request's key: the request is named by its application and code, which an
/// upsert keeps, so the key cannot be moved to another request.
pub fn key_row(application_id: i64, code: &str) -> String {
    format!("{application_id}:{code}")
}

/// Creates or replaces the request; true when it was created.
pub async fn submit(core: &Core, caller: &Caller, input: RequestInput) -> ApiResult<(CertificateRequest, bool)> {
    require_change(caller)?;
    check_code(&input.code).map_err(ApiError::bad_request)?;
    let fields = input.raw.check().map_err(ApiError::bad_request)?;
    let key_password_hash = hash_password(core, "key_password", input.key_password).await?;
    let revocation_hash = hash_password(core, "password_revogation", input.password_revogation).await?;
    let spec = fields.key;
    let key_der = blocking(move || x509::generate_key(spec)).await?;
    let signing = x509::signing_key(&key_der, spec, fields.digest)?;
    let subject =
        LeafSubject { common_name: &fields.common_name, organization: &fields.organization, names: &fields.san };
    let csr_pem = subject.csr_pem(&signing)?;
    let application_id = caller.authorization.application_id;
    let new = NewRequest {
        application_id,
        sealed_key: core.seal(&key_aad(TABLE, &key_row(application_id, &input.code)), &key_der),
        code: input.code,
        fields,
        csr_pem,
        key_password_hash,
        revocation_hash,
    };
    let created = match core.store.upsert_certificate_request(&new, core.now()).await? {
        Upserted::Created(_) => true,
        Upserted::Replaced(_) => false,
        Upserted::AlreadySigned => {
            return Err(ApiError::conflict(format!("Certificate request {} is already signed.", new.code)));
        }
    };
    let request = core
        .store
        .certificate_request(application_id, &new.code)
        .await?
        .ok_or_else(|| ApiError::internal(&"request vanished"))?;
    Ok((request, created))
}

/// The caller's own requests, with the list's filters.
pub async fn list(core: &Core, caller: &Caller, filter: &RequestFilter) -> ApiResult<Vec<CertificateRequest>> {
    require_read(caller)?;
    Ok(core.store.certificate_requests(caller.authorization.application_id, filter).await?)
}
