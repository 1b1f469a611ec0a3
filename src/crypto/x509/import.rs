//! Reading certificates cofre did not sign: PEM bundles, DER, PKCS#12 (with its password) and
//! what a TLS server presents. Every refusal names what was wrong, for a 400 to carry.

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use zeroize::Zeroizing;

use super::pkcs12_costs::{self, Refusal};
use crate::crypto::kdf_limits;

/// What cofre records of a certificate (the leaf; `chain_pem` holds the rest as given).
#[derive(Debug)]
pub struct Described {
    pub certificate_pem: String,
    pub chain_pem: String,
    /// SHA-256 of the leaf's DER, hex: the same certificate seen twice is one row.
    pub fingerprint: String,
    pub serial: String,
    pub common_name: String,
    /// DNS names and IP addresses.
    pub san: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub self_signed: bool,
}

/// A certificate with the key that matches it, if one came along (PKCS#8 DER).
pub struct Imported {
    pub described: Described,
    pub key_der: Option<Zeroizing<Vec<u8>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pem,
    Der,
    Pkcs12,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PEM" => Some(Self::Pem),
            "DER" | "CER" | "CRT" => Some(Self::Der),
            "PKCS12" | "P12" | "PFX" => Some(Self::Pkcs12),
            _ => None,
        }
    }
}

type ImportResult<T> = Result<T, String>;

const REENCRYPT: &str = "re-encrypt it with OpenSSL's defaults (`openssl pkcs8 -topk8 -v2 aes-256-cbc`)";

fn pem_block(tag: &str, der: &[u8]) -> String {
    pem::encode_config(&pem::Pem::new(tag, der.to_vec()), pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF))
}

/// The leaf (first) and the rest of a chain, from DER certificates.
pub fn describe_chain(chain: &[Vec<u8>]) -> ImportResult<Described> {
    let (leaf, rest) = chain.split_first().ok_or("No certificate found.")?;
    let (_, cert) = X509Certificate::from_der(leaf).map_err(|_| "The certificate is not valid X.509.".to_owned())?;
    let mut san = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(n) => san.push((*n).to_owned()),
                GeneralName::IPAddress(raw) => match raw.len() {
                    4 => san.push(IpAddr::from(<[u8; 4]>::try_from(*raw).expect("4 bytes")).to_string()),
                    16 => san.push(IpAddr::from(<[u8; 16]>::try_from(*raw).expect("16 bytes")).to_string()),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .or_else(|| san.first().cloned())
        .unwrap_or_default();
    Ok(Described {
        certificate_pem: pem_block("CERTIFICATE", leaf),
        chain_pem: rest.iter().map(|c| pem_block("CERTIFICATE", c)).collect(),
        fingerprint: hex::encode(Sha256::digest(leaf)),
        serial: hex::encode_upper(cert.raw_serial()).trim_start_matches("00").to_owned(),
        common_name,
        san,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        self_signed: cert.subject() == cert.issuer(),
    })
}

/// What an imported authority's certificate and key must be: a CA certificate (basicConstraints
/// CA:TRUE) whose key is one cofre signs with. Returns the key's kind.
pub fn authority_key(leaf_pem: &str, key_der: &[u8]) -> ImportResult<crate::domain::certificates::KeySpec> {
    use crate::domain::certificates::KeySpec;
    let block = pem::parse(leaf_pem).map_err(|_| "The PEM text is malformed.".to_owned())?;
    let (_, cert) =
        X509Certificate::from_der(block.contents()).map_err(|_| "The certificate is not valid X.509.".to_owned())?;
    if !cert.basic_constraints().ok().flatten().is_some_and(|bc| bc.value.ca) {
        return Err("The certificate is not a certificate authority's (basicConstraints CA:TRUE).".into());
    }
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(key_der.to_vec());
    let key = rcgen::KeyPair::try_from(&der).map_err(|_| "The private key is not a supported one.".to_owned())?;
    if key.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
        return Ok(KeySpec::EcdsaP256);
    }
    if key.is_compatible(&rcgen::PKCS_ECDSA_P384_SHA384) {
        return Ok(KeySpec::EcdsaP384);
    }
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let rsa = rsa::RsaPrivateKey::from_pkcs8_der(key_der)
        .map_err(|_| "The key must be RSA 2048, 3072 or 4096 bits, or ECDSA P-256 or P-384.".to_owned())?;
    match rsa.size() * 8 {
        bits @ (2048 | 3072 | 4096) => Ok(KeySpec::Rsa(bits as u32)),
        bits => Err(format!("An RSA key of {bits} bits is not supported: use 2048, 3072 or 4096.")),
    }
}

/// Whether `der` parses as one X.509 certificate (and so is not a PKCS#12 file).
pub fn is_certificate_der(der: &[u8]) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(rest, _)| rest.is_empty())
}

/// The SHA-256 fingerprint of a PEM certificate's DER, as [`Described::fingerprint`].
pub fn fingerprint_pem(pem_text: &str) -> ImportResult<String> {
    let block = pem::parse(pem_text).map_err(|_| "The PEM text is malformed.".to_owned())?;
    Ok(hex::encode(Sha256::digest(block.contents())))
}

/// Reads `data` as `format`; `key_pem` is a separate private key (PKCS#8, encrypted PKCS#8 with
/// `password`, or PKCS#1 RSA). A key, from anywhere, must match the certificate.
pub fn import(format: Format, data: &[u8], password: Option<&str>, key_pem: Option<&str>) -> ImportResult<Imported> {
    let (chain, mut key) = match format {
        Format::Pem => pem_bundle(data, password)?,
        Format::Der => (vec![data.to_vec()], None),
        Format::Pkcs12 => pkcs12(data, password.ok_or("Parameter 'password' is required for a PKCS#12 file.")?)?,
    };
    if let Some(text) = key_pem {
        let (certs, separate) = pem_bundle(text.as_bytes(), password)?;
        if !certs.is_empty() {
            return Err("Parameter 'private_key' must hold only a private key.".into());
        }
        key = Some(separate.ok_or("Parameter 'private_key' holds no private key.")?);
    }
    let described = describe_chain(&chain)?;
    if let Some(key) = &key {
        key_matches(&chain[0], key)?;
    }
    Ok(Imported { described, key_der: key })
}

type Material = (Vec<Vec<u8>>, Option<Zeroizing<Vec<u8>>>);

fn pem_bundle(data: &[u8], password: Option<&str>) -> ImportResult<Material> {
    let blocks = pem::parse_many(data).map_err(|_| "The PEM text is malformed.".to_owned())?;
    if blocks.is_empty() {
        return Err("No PEM block found: expected -----BEGIN CERTIFICATE-----.".into());
    }
    let (mut certs, mut key) = (Vec::new(), None);
    for block in blocks {
        let der = Zeroizing::new(block.contents().to_vec());
        let found = match block.tag() {
            "CERTIFICATE" => {
                certs.push(der.to_vec());
                continue;
            }
            "PRIVATE KEY" => der,
            "ENCRYPTED PRIVATE KEY" => {
                // One key at most, refused before a second derivation runs.
                if key.is_some() {
                    return Err("More than one private key given.".into());
                }
                let password = password.ok_or("Parameter 'password' is required for an encrypted private key.")?;
                decrypt_pkcs8(&der, password)?
            }
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                use rsa::pkcs8::EncodePrivateKey;
                let rsa = rsa::RsaPrivateKey::from_pkcs1_der(&der)
                    .map_err(|_| "The RSA private key is malformed.".to_owned())?;
                let doc = rsa.to_pkcs8_der().map_err(|_| "The RSA private key is malformed.".to_owned())?;
                Zeroizing::new(doc.as_bytes().to_vec())
            }
            other => {
                return Err(format!(
                    "PEM blocks of type {other:?} are not supported: give CERTIFICATE and PRIVATE KEY (PKCS#8), \
                     ENCRYPTED PRIVATE KEY or RSA PRIVATE KEY blocks."
                ));
            }
        };
        if key.replace(found).is_some() {
            return Err("More than one private key given.".into());
        }
    }
    Ok((certs, key))
}

/// An encrypted PKCS#8 key, its key derivation bounded before it runs.
fn decrypt_pkcs8(der: &[u8], password: &str) -> ImportResult<Zeroizing<Vec<u8>>> {
    use pkcs8::pkcs5::EncryptionScheme;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der)
        .map_err(|_| "The encrypted private key is malformed or uses an unsupported encryption.".to_owned())?;
    let EncryptionScheme::Pbes2(params) = &info.encryption_algorithm else {
        return Err(format!("The encrypted private key uses PBES1, which cofre does not read: {REENCRYPT}."));
    };
    kdf_limits::check_pbes2(params)
        .map_err(|e| format!("The encrypted private key is too costly to decrypt: its {e}; {REENCRYPT}."))?;
    let doc = info.decrypt(password).map_err(|_| "Wrong password for the encrypted private key.".to_owned())?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

fn pkcs12(data: &[u8], password: &str) -> ImportResult<Material> {
    const MALFORMED: &str = "The PKCS#12 file is malformed or uses an unsupported encryption.";
    const WRONG_PASSWORD: &str = "Wrong password for the PKCS#12 file.";
    // p12-keystore derives keys as it parses, with the parameters the file names: bound them first.
    pkcs12_costs::check(data, password).map_err(|refusal| match refusal {
        Refusal::TooCostly(what) => {
            format!("The PKCS#12 file is too costly to open: {what}. Export it again with the tool's default settings.")
        }
        Refusal::Malformed => MALFORMED.to_owned(),
        Refusal::WrongPassword => WRONG_PASSWORD.to_owned(),
    })?;
    let store = p12_keystore::KeyStore::from_pkcs12(data, password).map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) => WRONG_PASSWORD.to_owned(),
        _ => MALFORMED.to_owned(),
    })?;
    if let Some((_, chain)) = store.private_key_chain() {
        let certs = chain.chain().iter().map(|c| c.as_der().to_vec()).collect();
        return Ok((certs, Some(Zeroizing::new(chain.key().to_vec()))));
    }
    let certs = store
        .entries()
        .filter_map(|(_, entry)| match entry {
            p12_keystore::KeyStoreEntry::Certificate(c) => Some(c.as_der().to_vec()),
            _ => None,
        })
        .collect();
    Ok((certs, None))
}

/// The key's public half must be the certificate's.
fn key_matches(leaf: &[u8], key_der: &[u8]) -> ImportResult<()> {
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(key_der.to_vec());
    let key = rcgen::KeyPair::try_from(&der).map_err(|_| {
        "The private key is not a supported one (RSA 2048 bits or more, ECDSA P-256 or P-384).".to_owned()
    })?;
    let (_, cert) = X509Certificate::from_der(leaf).map_err(|_| "The certificate is not valid X.509.".to_owned())?;
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err("The private key does not match the certificate.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::x509::{LeafSubject, generate_key, random_serial, signing_key};
    use crate::domain::certificates::{KeySpec, SignatureDigest};

    fn leaf(spec: KeySpec) -> (String, Zeroizing<Vec<u8>>) {
        let der = generate_key(spec).expect("key");
        let key = signing_key(&der, spec, SignatureDigest::Sha256).expect("signing key");
        let names = vec!["shop.example.com".to_owned(), "192.0.2.7".to_owned()];
        let subject = LeafSubject { common_name: "shop.example.com", organization: "Shop", names: &names };
        (subject.certificate_pem(&key, &random_serial(), 0, 2_000_000_000, None).expect("cert"), der)
    }

    #[test]
    fn a_pem_bundle_with_its_key_is_described() {
        let (cert, der) = leaf(KeySpec::EcdsaP256);
        let bundle = format!("{cert}{}", pem_block("PRIVATE KEY", &der));
        let got = import(Format::Pem, bundle.as_bytes(), None, None).expect("import");
        assert_eq!(got.described.common_name, "shop.example.com");
        assert_eq!(got.described.san, ["shop.example.com", "192.0.2.7"]);
        assert!(got.described.self_signed);
        assert_eq!(got.described.not_after, 2_000_000_000);
        assert!(got.key_der.is_some());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (cert, _) = leaf(KeySpec::EcdsaP256);
        let other = generate_key(KeySpec::EcdsaP256).expect("key");
        let key = pem_block("PRIVATE KEY", &other);
        let err = import(Format::Pem, cert.as_bytes(), None, Some(&key)).err().expect("refused");
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn cofre_s_own_encrypted_export_reads_back_within_the_limits() {
        // encrypted_key_pem uses scrypt N=2^17, r=8: 128 MiB, the most kdf_limits allows.
        let (cert, der) = leaf(KeySpec::EcdsaP256);
        let encrypted = crate::crypto::x509::encrypted_key_pem(&der, "a long password").expect("encrypted");
        let got = import(Format::Pem, cert.as_bytes(), Some("a long password"), Some(&encrypted)).expect("read back");
        assert_eq!(got.key_der.as_deref(), Some(&*der));
    }

    #[test]
    fn garbage_is_named() {
        assert!(import(Format::Pem, b"hello", None, None).err().expect("no").contains("No PEM block"));
        assert!(import(Format::Der, b"\x30\x03\x02\x01\x01", None, None).err().expect("no").contains("X.509"));
        assert!(import(Format::Pkcs12, b"\x30\x00", Some("pw"), None).err().expect("no").contains("PKCS#12"));
    }
}
