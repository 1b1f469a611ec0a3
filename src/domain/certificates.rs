//! Certificates (§13.2, issue 17): the authorities cofre holds, the requests applications make,
//! and the certificates signed from them. A certificate's status is derived from its dates and
//! revocation at the moment it is read, so it is never stale.

pub mod keys;
pub mod publishing;
pub mod requests;

pub use keys::{KeySpec, SignatureDigest};

/// Days before expiry from which a certificate is due for renewal, unless it says otherwise.
pub const DEFAULT_RENEWAL_DAYS: i64 = 30;

/// Where a certificate came from (`origin_certificate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Signed from a request made in cofre.
    Requested,
    /// Imported with or without its key.
    Imported,
    /// Found by a discovery scan.
    Scanned,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQU",
            Self::Imported => "IMPO",
            Self::Scanned => "SCAN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Requested, Self::Imported, Self::Scanned].into_iter().find(|o| o.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// `status_certificate`: 1 valid, 2 revoked, 3 renewal pending, 4 expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateStatus {
    Valid = 1,
    Revoked = 2,
    RenewalPending = 3,
    Expired = 4,
}

impl CertificateStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "1" => Some(Self::Valid),
            "2" => Some(Self::Revoked),
            "3" => Some(Self::RenewalPending),
            "4" => Some(Self::Expired),
            _ => None,
        }
    }

    /// Revocation wins over dates; the renewal window is `renewal_days` before the end.
    pub fn at(now: i64, not_after: i64, renewal_days: i64, revoked: bool) -> Self {
        if revoked {
            Self::Revoked
        } else if now >= not_after {
            Self::Expired
        } else if now >= not_after - renewal_days * 86_400 {
            Self::RenewalPending
        } else {
            Self::Valid
        }
    }
}

/// A certificate authority held in cofre; its key stays sealed in the store.
#[derive(Clone, Debug)]
pub struct Authority {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub key: KeySpec,
    pub certificate_pem: String,
    pub not_before: i64,
    pub not_after: i64,
    pub created_at: i64,
}

/// An authority to be stored: made and sealed by the service.
pub struct NewAuthority {
    pub uid: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub key: KeySpec,
    pub certificate_pem: String,
    pub sealed_key: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
}

/// A certificate as listed: never its key.
#[derive(Clone, Debug)]
pub struct Certificate {
    pub id: i64,
    pub uid: String,
    pub application_id: i64,
    pub request_code: Option<String>,
    pub authority: Option<String>,
    pub origin: Origin,
    pub serial: String,
    pub common_name: String,
    pub san: Vec<String>,
    pub certificate_pem: String,
    pub chain_pem: String,
    pub not_before: i64,
    pub not_after: i64,
    pub renewal_days: i64,
    pub revoked_at: Option<i64>,
    pub has_key: bool,
    pub self_signed: bool,
    /// Renewed by a CA in cofre before it expires (new key, same subject and names).
    pub auto_renew: bool,
    /// The certificate that replaced this one.
    pub renewed_by: Option<i64>,
}

impl Certificate {
    pub fn status(&self, now: i64) -> CertificateStatus {
        CertificateStatus::at(now, self.not_after, self.renewal_days, self.revoked_at.is_some())
    }
}

/// A certificate to be stored: signed from a request, imported or found by a scan.
pub struct NewCertificate {
    pub uid: String,
    pub application_id: i64,
    pub request_id: Option<i64>,
    pub authority_id: Option<i64>,
    pub origin: Origin,
    /// SHA-256 of the DER: one row per certificate and application.
    pub fingerprint: String,
    pub self_signed: bool,
    pub serial: String,
    pub common_name: String,
    pub organization: String,
    /// The key's kind and digest, when cofre made the key (renewal makes another alike).
    pub key: Option<(KeySpec, SignatureDigest)>,
    pub san: Vec<String>,
    pub certificate_pem: String,
    pub chain_pem: String,
    pub sealed_key: Option<Vec<u8>>,
    pub auto_renew: bool,
    /// Days before expiry from which it is due for renewal.
    pub renewal_days: i64,
    /// For imports, which have no request to hold them (argon2 hashes).
    pub key_password_hash: Option<String>,
    pub revocation_hash: Option<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub sign_reason: Option<String>,
    pub sign_justification: Option<String>,
    pub itsm_code: Option<String>,
}

/// The filters of `GET /certificate/list` (all optional; dates are unix seconds).
#[derive(Clone, Debug, Default)]
pub struct CertificateFilter {
    pub id: Option<i64>,
    /// The code of the request it was signed from; with `id` as well, either one matches.
    pub request_code: Option<String>,
    pub status: Option<CertificateStatus>,
    pub origin: Option<Origin>,
    pub common_name: Option<String>,
    /// Valid from on or after this time.
    pub start_validity: Option<i64>,
    /// Valid until on or before this time.
    pub end_validity: Option<i64>,
    /// Neither revoked nor expired (or, with false, one of the two).
    pub active: Option<bool>,
    pub offset: i64,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_dates_and_revocation() {
        let end = 100 * 86_400;
        assert_eq!(CertificateStatus::at(0, end, 30, false), CertificateStatus::Valid);
        assert_eq!(CertificateStatus::at(70 * 86_400, end, 30, false), CertificateStatus::RenewalPending);
        assert_eq!(CertificateStatus::at(end, end, 30, false), CertificateStatus::Expired);
        assert_eq!(CertificateStatus::at(end, end, 30, true), CertificateStatus::Revoked);
    }

    #[test]
    fn origins_use_the_contract_codes() {
        assert_eq!(Origin::parse("impo"), Some(Origin::Imported));
        assert_eq!(Origin::Requested.as_str(), "REQU");
        assert_eq!(Origin::parse("X"), None);
    }
}
