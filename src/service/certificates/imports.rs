//! Importing certificates cofre did not sign (`origin_certificate` IMPO): PEM, DER or PKCS#12,
//! with or without the private key. A key must match its certificate and is sealed under the
//! certificate's row; the same certificate imported twice is one row.

use base64::Engine;
use zeroize::Zeroizing;

use super::signing::TABLE;
use super::{blocking_text, hash_password, key_aad, require_change};
use crate::crypto::x509::import::{self, Format, Imported};
use crate::domain::authorization::Caller;
use crate::domain::certificates::{Certificate, CertificateFilter, DEFAULT_RENEWAL_DAYS, NewCertificate, Origin};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;

pub struct ImportInput {
    /// PEM text, or the file's bytes in base64 (DER or PKCS#12).
    pub certificate: Option<Zeroizing<String>>,
    pub format: Option<String>,
    /// The PKCS#12 file's password, or an encrypted PKCS#8 key's.
    pub password: Option<Zeroizing<String>>,
    /// A private key in PEM, when the certificate came without it.
    pub private_key: Option<Zeroizing<String>>,
    pub key_password: Option<Zeroizing<String>>,
    pub password_revogation: Option<Zeroizing<String>>,
}

/// The file's bytes and the format they are read as: PEM when it looks like PEM, otherwise
/// base64 of DER (a certificate) or of PKCS#12 (anything else), unless `format` says which.
fn material(text: &str, format: Option<&str>) -> ApiResult<(Format, Zeroizing<Vec<u8>>)> {
    let named = match format.map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => Some(
            Format::parse(f).ok_or_else(|| ApiError::bad_request("Parameter 'format' must be PEM, DER or PKCS12."))?,
        ),
    };
    if named == Some(Format::Pem) || (named.is_none() && text.contains("-----BEGIN")) {
        return Ok((Format::Pem, Zeroizing::new(text.as_bytes().to_vec())));
    }
    let compact: Zeroizing<String> = Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
    let bytes = Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()).map_err(|_| {
        ApiError::bad_request("Parameter 'certificate' must be PEM text, or base64 of a DER or PKCS#12 file.")
    })?);
    let format = named.unwrap_or_else(|| if import::is_certificate_der(&bytes) { Format::Der } else { Format::Pkcs12 });
    Ok((format, bytes))
}

pub async fn import(core: &Core, caller: &Caller, input: ImportInput) -> ApiResult<Certificate> {
    require_change(caller)?;
    let text = input.certificate.ok_or_else(|| ApiError::bad_request("Parameter 'certificate' is required."))?;
    let (format, bytes) = material(&text, input.format.as_deref())?;
    let (password, private_key) = (input.password, input.private_key);
    let Imported { described, key_der } = blocking_text(move || {
        import::import(
            format,
            &bytes,
            password.as_deref().map(String::as_str),
            private_key.as_deref().map(String::as_str),
        )
    })
    .await?;
    let key_password_hash = match key_der {
        Some(_) => hash_password(core, "key_password", input.key_password).await?,
        None => None,
    };
    let revocation_hash = hash_password(core, "password_revogation", input.password_revogation).await?;
    let uid = uuid::Uuid::now_v7().to_string();
    let now = core.now();
    let new = NewCertificate {
        sealed_key: key_der.as_ref().map(|der| core.seal(&key_aad(TABLE, &uid), der)),
        uid,
        application_id: caller.authorization.application_id,
        request_id: None,
        authority_id: None,
        origin: Origin::Imported,
        fingerprint: described.fingerprint,
        self_signed: described.self_signed,
        serial: described.serial,
        organization: String::new(),
        key: None,
        auto_renew: false,
        renewal_days: DEFAULT_RENEWAL_DAYS,
        common_name: described.common_name,
        san: described.san,
        certificate_pem: described.certificate_pem,
        chain_pem: described.chain_pem,
        not_before: described.not_before,
        not_after: described.not_after,
        key_password_hash,
        revocation_hash,
        sign_reason: None,
        sign_justification: None,
        itsm_code: None,
    };
    let (id, stored) = core.store.insert_certificate(&new, now).await?;
    if !stored {
        return Err(ApiError::conflict(format!("This certificate is already held, as certificate {id}.")));
    }
    by_id(core, caller.authorization.application_id, id).await
}

/// One of the application's certificates, as listed.
pub async fn by_id(core: &Core, application_id: i64, id: i64) -> ApiResult<Certificate> {
    let filter = CertificateFilter { id: Some(id), limit: 1, ..CertificateFilter::default() };
    core.store
        .certificates(Some(application_id), &filter, core.now())
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("Certificate not found."))
}
