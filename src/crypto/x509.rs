//! X.509 with rcgen and the RustCrypto crates: key pairs, CSRs, certificates for authorities and
//! TLS servers, CRLs, and encrypted PKCS#8 export. Keys enter and leave as PKCS#8 DER in
//! zeroizing buffers; nothing here touches the store.

pub mod import;
mod pkcs12_costs;

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SanType, SerialNumber, SignatureAlgorithm,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::domain::certificates::{KeySpec, SignatureDigest};

#[derive(Debug, thiserror::Error)]
pub enum X509Error {
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    #[error("certificate building failed: {0}")]
    Build(#[from] rcgen::Error),
    #[error("a time outside the certificate range")]
    Time,
    #[error("key encryption failed")]
    Encryption,
}

pub type X509Result<T> = Result<T, X509Error>;

/// A new private key as PKCS#8 DER. RSA keys take a while: call from a blocking thread.
pub fn generate_key(spec: KeySpec) -> X509Result<Zeroizing<Vec<u8>>> {
    match spec {
        KeySpec::Rsa(bits) => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits as usize)
                .map_err(|e| X509Error::KeyGeneration(e.to_string()))?;
            let der = key.to_pkcs8_der().map_err(|e| X509Error::KeyGeneration(e.to_string()))?;
            Ok(Zeroizing::new(der.as_bytes().to_vec()))
        }
        KeySpec::EcdsaP256 | KeySpec::EcdsaP384 => {
            let key = KeyPair::generate_for(algorithm(spec, spec.default_digest()))?;
            Ok(Zeroizing::new(key.serialize_der()))
        }
    }
}

fn algorithm(spec: KeySpec, digest: SignatureDigest) -> &'static SignatureAlgorithm {
    match (spec, digest) {
        (KeySpec::Rsa(_), SignatureDigest::Sha256) => &rcgen::PKCS_RSA_SHA256,
        (KeySpec::Rsa(_), SignatureDigest::Sha384) => &rcgen::PKCS_RSA_SHA384,
        (KeySpec::Rsa(_), SignatureDigest::Sha512) => &rcgen::PKCS_RSA_SHA512,
        (KeySpec::EcdsaP256, _) => &rcgen::PKCS_ECDSA_P256_SHA256,
        (KeySpec::EcdsaP384, _) => &rcgen::PKCS_ECDSA_P384_SHA384,
    }
}

/// A key that signs with `digest` (ECDSA keys with their curve's own).
pub fn signing_key(der: &[u8], spec: KeySpec, digest: SignatureDigest) -> X509Result<KeyPair> {
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(der.to_vec());
    Ok(KeyPair::from_pkcs8_der_and_sign_algo(&der, algorithm(spec, digest))?)
}

/// An authority held in cofre, as the issuer of what it signs.
pub struct IssuerKey<'a> {
    pub certificate_pem: &'a str,
    pub key: KeyPair,
}

impl IssuerKey<'_> {
    fn issuer(&self) -> X509Result<Issuer<'static, &KeyPair>> {
        Ok(Issuer::from_ca_cert_pem(self.certificate_pem, &self.key)?)
    }
}

fn at(unix: i64) -> X509Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(|_| X509Error::Time)
}

/// 16 random bytes, positive and without a leading zero byte, as RFC 5280 asks.
pub fn random_serial() -> Vec<u8> {
    let mut serial = vec![0u8; 16];
    crate::crypto::fill_random(&mut serial);
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial
}

/// An authority's certificate: self-signed for a root, signed by `parent` for an intermediate,
/// which may then sign only end-entity certificates.
pub fn authority_certificate(
    name: &str,
    key: &KeyPair,
    serial: &[u8],
    not_before: i64,
    not_after: i64,
    parent: Option<&IssuerKey<'_>>,
) -> X509Result<String> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.distinguished_name.push(DnType::OrganizationName, "cofre");
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = at(not_before)?;
    params.not_after = at(not_after)?;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.key_identifier_method = KeyIdMethod::Sha256;
    let cert = match parent {
        None => {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.self_signed(key)?
        }
        Some(parent) => {
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.use_authority_key_identifier_extension = true;
            params.signed_by(key, &parent.issuer()?)?
        }
    };
    Ok(cert.pem())
}

/// What a TLS server certificate names.
pub struct LeafSubject<'a> {
    pub common_name: &'a str,
    pub organization: &'a str,
    /// DNS names and IP addresses.
    pub names: &'a [String],
}

impl LeafSubject<'_> {
    fn params(&self, serial: &[u8], not_before: i64, not_after: i64) -> X509Result<CertificateParams> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, self.common_name);
        params.distinguished_name.push(DnType::OrganizationName, self.organization);
        params.subject_alt_names = self
            .names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.as_str().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.serial_number = Some(SerialNumber::from_slice(serial));
        params.not_before = at(not_before)?;
        params.not_after = at(not_after)?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.key_identifier_method = KeyIdMethod::Sha256;
        Ok(params)
    }

    /// The PKCS#10 request for this subject, signed by its own key.
    pub fn csr_pem(&self, key: &KeyPair) -> X509Result<String> {
        let mut params = self.params(&[1], 0, 1)?;
        // A CSR carries no serial: the signer picks it.
        params.serial_number = None;
        Ok(params.serialize_request(key)?.pem()?)
    }

    /// The certificate: self-signed, or signed by `issuer`.
    pub fn certificate_pem(
        &self,
        key: &KeyPair,
        serial: &[u8],
        not_before: i64,
        not_after: i64,
        issuer: Option<&IssuerKey<'_>>,
    ) -> X509Result<String> {
        let mut params = self.params(serial, not_before, not_after)?;
        let cert = match issuer {
            None => params.self_signed(key)?,
            Some(issuer) => {
                params.use_authority_key_identifier_extension = true;
                params.signed_by(key, &issuer.issuer()?)?
            }
        };
        Ok(cert.pem())
    }
}

/// A CRL listing `revoked` (serial, revocation time), valid for a week from `now`.
pub fn crl_pem(issuer: &IssuerKey<'_>, number: u64, revoked: &[(Vec<u8>, i64)], now: i64) -> X509Result<String> {
    let revoked_certs = revoked
        .iter()
        .map(|(serial, when)| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(serial),
                revocation_time: at(*when)?,
                reason_code: Some(RevocationReason::Unspecified),
                invalidity_date: None,
            })
        })
        .collect::<X509Result<_>>()?;
    let params = CertificateRevocationListParams {
        this_update: at(now)?,
        next_update: at(now + 7 * 86_400)?,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    Ok(params.signed_by(&issuer.issuer()?)?.pem()?)
}

/// The key as encrypted PKCS#8 PEM (PBES2 with scrypt and AES-256-CBC) under `password`.
pub fn encrypted_key_pem(der: &[u8], password: &str) -> X509Result<Zeroizing<String>> {
    let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|_| X509Error::Encryption)?;
    let doc = info.encrypt(rand_core::OsRng, password.as_bytes()).map_err(|_| X509Error::Encryption)?;
    doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF).map_err(|_| X509Error::Encryption)
}

/// The hexadecimal form of a serial (upper case, as OpenSSL prints it).
pub fn serial_hex(serial: &[u8]) -> String {
    hex::encode_upper(serial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_signs_a_leaf_and_a_crl() {
        let ca_der = generate_key(KeySpec::EcdsaP256).expect("key");
        let ca_key = signing_key(&ca_der, KeySpec::EcdsaP256, SignatureDigest::Sha256).expect("ca key");
        let pem = authority_certificate("Test Root", &ca_key, &random_serial(), 0, 4_000_000_000, None).expect("root");
        let issuer = IssuerKey { certificate_pem: &pem, key: ca_key };
        let leaf_der = generate_key(KeySpec::EcdsaP384).expect("leaf key");
        let leaf_key = signing_key(&leaf_der, KeySpec::EcdsaP384, SignatureDigest::Sha384).expect("leaf");
        let names = vec!["www.example.com".to_owned(), "10.0.0.1".to_owned()];
        let subject = LeafSubject { common_name: "www.example.com", organization: "Example", names: &names };
        assert!(subject.csr_pem(&leaf_key).expect("csr").contains("CERTIFICATE REQUEST"));
        let leaf = subject.certificate_pem(&leaf_key, &random_serial(), 0, 1_000_000, Some(&issuer)).expect("leaf");
        assert!(leaf.starts_with("-----BEGIN CERTIFICATE-----"));
        let crl = crl_pem(&issuer, 7, &[(random_serial(), 100)], 1_000).expect("crl");
        assert!(crl.contains("X509 CRL"));
        let encrypted = encrypted_key_pem(&leaf_der, "a long password").expect("encrypted");
        assert!(encrypted.contains("ENCRYPTED PRIVATE KEY"));
    }

    #[test]
    fn serials_are_positive_and_full_length() {
        let s = random_serial();
        assert_eq!(s.len(), 16);
        assert!(s[0] & 0x80 == 0 && s[0] != 0);
    }
}
