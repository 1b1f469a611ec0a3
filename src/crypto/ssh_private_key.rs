//! SSH private keys as people have them: OpenSSH, PKCS#1 (`RSA PRIVATE KEY`, as AWS EC2 hands
//! out), SEC1 (`EC PRIVATE KEY`) and PKCS#8 (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`) for RSA,
//! ECDSA P-256/P-384 and Ed25519. Only the public half is derived, to check it against the public
//! key given with it; the key itself is stored as sent. All parsing and decryption is done by the
//! RustCrypto crates; nothing here is hand-rolled crypto.

use pkcs8::der::SecretDocument;
use pkcs8::der::asn1::ObjectIdentifier;
use pkcs8::pkcs5::EncryptionScheme;
use pkcs8::{DecodePrivateKey, EncryptedPrivateKeyInfo, PrivateKeyInfo};
use rsa::pkcs1::DecodeRsaPrivateKey;
use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, KeyData, RsaPublicKey};
use zeroize::Zeroizing;

use super::kdf_limits;

const FORMATS: &str = "cofre reads OpenSSH, PKCS#1, SEC1 and PKCS#8 private keys";
const CONVERT: &str = "convert it with `ssh-keygen -p -m PKCS8 -f KEYFILE` (encrypted PKCS#8) or \
                       `ssh-keygen -p -f KEYFILE` (OpenSSH format)";

// The KDF parameters come with the key, and an authenticated caller must not make one request
// burn minutes of CPU or gigabytes of memory: PBKDF2 and scrypt are bounded in kdf_limits, for
// every import alike; bcrypt, OpenSSH's own, here. ssh-keygen's default is 16 rounds, `-a 100`
// for the careful; 256 rounds take ssh-keygen itself about 2 s.
const MAX_BCRYPT_ROUNDS: u32 = 256;

const OTHER_CURVE: &str = "an EC key on another curve than P-256 or P-384";

const RSA_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Why a private key's public half could not be derived; the message is for the caller.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "The private_key is not a private key in a format cofre reads ({FORMATS}: -----BEGIN OPENSSH PRIVATE KEY-----, RSA PRIVATE KEY, EC PRIVATE KEY, PRIVATE KEY or ENCRYPTED PRIVATE KEY)."
    )]
    UnknownFormat,
    #[error("The private_key is not a valid {0} ({FORMATS}).")]
    Invalid(&'static str),
    #[error(
        "The private_key is {0}, which cofre does not read: it reads RSA, ECDSA P-256 and P-384, and Ed25519 keys."
    )]
    Unsupported(&'static str),
    #[error(
        "The private_key is encrypted the legacy PEM way (Proc-Type: 4,ENCRYPTED), which cofre does not read: {CONVERT}."
    )]
    LegacyEncryption,
    #[error("The private_key is encrypted with a scheme cofre does not read: {CONVERT}.")]
    UnsupportedEncryption,
    #[error("The private_key's key derivation is too costly ({0}); {CONVERT} with the default settings.")]
    TooCostly(String),
    #[error("The private_key is encrypted: give its passphrase in password.")]
    PassphraseMissing,
    #[error("The password is not the private_key's passphrase (the key could not be decrypted with it).")]
    WrongPassphrase,
}

/// The public half of `private` (any of the formats above; `\r\n` line breaks are fine).
/// `passphrase` decrypts an encrypted PKCS#8 key, which needs it, and an encrypted OpenSSH key,
/// whose public half is readable without it (it is then only checked when given).
/// Deriving may take a KDF's worth of CPU: call it off the async workers.
pub fn public_key_of(private: &str, passphrase: Option<&str>) -> Result<KeyData, KeyError> {
    let text = Zeroizing::new(private.trim().replace("\r\n", "\n"));
    let passphrase = passphrase.filter(|p| !p.is_empty());
    let label = text
        .lines()
        .next()
        .and_then(|l| l.trim().strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .ok_or(KeyError::UnknownFormat)?;
    let legacy_encrypted =
        text.lines().any(|l| l.trim_start().strip_prefix("Proc-Type:").is_some_and(|v| v.contains("ENCRYPTED")));
    if legacy_encrypted {
        return Err(KeyError::LegacyEncryption);
    }
    match label {
        "OPENSSH PRIVATE KEY" => openssh(&text, passphrase),
        "RSA PRIVATE KEY" => rsa_public(
            &rsa::RsaPrivateKey::from_pkcs1_pem(&text).map_err(|_| KeyError::Invalid("PKCS#1 RSA private key"))?,
        ),
        "EC PRIVATE KEY" => {
            let (_, der) = SecretDocument::from_pem(&text).map_err(|_| KeyError::Invalid("SEC1 EC private key"))?;
            sec1(der.as_bytes())
        }
        "PRIVATE KEY" => {
            let (_, der) = SecretDocument::from_pem(&text).map_err(|_| KeyError::Invalid("PKCS#8 private key"))?;
            pkcs8(der.as_bytes())
        }
        "ENCRYPTED PRIVATE KEY" => {
            let (_, der) =
                SecretDocument::from_pem(&text).map_err(|_| KeyError::Invalid("encrypted PKCS#8 private key"))?;
            // Schemes pkcs5 does not know (PBES1, PKCS#12 PBEs) already fail here.
            let info =
                EncryptedPrivateKeyInfo::try_from(der.as_bytes()).map_err(|_| KeyError::UnsupportedEncryption)?;
            check_pkcs8_cost(&info.encryption_algorithm)?;
            let passphrase = passphrase.ok_or(KeyError::PassphraseMissing)?;
            // A wrong passphrase mostly fails the padding check (which pkcs5 0.7 reports as
            // EncryptFailed); otherwise it yields garbage that is no PKCS#8 structure.
            let plain = info.decrypt(passphrase).map_err(|e| {
                use pkcs8::pkcs5::Error::{DecryptFailed, EncryptFailed};
                match e {
                    pkcs8::Error::EncryptedPrivateKey(DecryptFailed | EncryptFailed) => KeyError::WrongPassphrase,
                    pkcs8::Error::EncryptedPrivateKey(_) => KeyError::UnsupportedEncryption,
                    _ => KeyError::WrongPassphrase,
                }
            })?;
            PrivateKeyInfo::try_from(plain.as_bytes()).map_err(|_| KeyError::WrongPassphrase)?;
            pkcs8(plain.as_bytes())
        }
        "DSA PRIVATE KEY" => Err(KeyError::Unsupported("a DSA key")),
        _ => Err(KeyError::UnknownFormat),
    }
}

fn openssh(text: &str, passphrase: Option<&str>) -> Result<KeyData, KeyError> {
    let key = ssh_key::PrivateKey::from_openssh(text).map_err(|_| KeyError::Invalid("OpenSSH private key"))?;
    if let (true, Some(passphrase)) = (key.is_encrypted(), passphrase) {
        if let ssh_key::Kdf::Bcrypt { rounds, .. } = key.kdf() {
            if *rounds > MAX_BCRYPT_ROUNDS {
                return Err(KeyError::TooCostly(format!("{rounds} bcrypt rounds, at most {MAX_BCRYPT_ROUNDS}")));
            }
        }
        key.decrypt(passphrase).map_err(|_| KeyError::WrongPassphrase)?;
    }
    Ok(key.public_key().key_data().clone())
}

fn check_pkcs8_cost(scheme: &EncryptionScheme<'_>) -> Result<(), KeyError> {
    let EncryptionScheme::Pbes2(params) = scheme else {
        return Err(KeyError::UnsupportedEncryption);
    };
    kdf_limits::check_pbes2(params).map_err(|e| KeyError::TooCostly(e.0))
}

fn pkcs8(der: &[u8]) -> Result<KeyData, KeyError> {
    let info = PrivateKeyInfo::try_from(der).map_err(|_| KeyError::Invalid("PKCS#8 private key"))?;
    let curve = info.algorithm.parameters_oid().ok();
    match (info.algorithm.oid, curve) {
        (RSA_OID, _) => rsa_public(
            &rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|_| KeyError::Invalid("PKCS#8 RSA private key"))?,
        ),
        (EC_OID, Some(P256_OID)) => {
            p256_public(&p256::SecretKey::from_pkcs8_der(der).map_err(|_| KeyError::Invalid("PKCS#8 P-256 key"))?)
        }
        (EC_OID, Some(P384_OID)) => {
            p384_public(&p384::SecretKey::from_pkcs8_der(der).map_err(|_| KeyError::Invalid("PKCS#8 P-384 key"))?)
        }
        (EC_OID, _) => Err(KeyError::Unsupported(OTHER_CURVE)),
        (ED25519_OID, _) => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map_err(|_| KeyError::Invalid("PKCS#8 Ed25519 private key"))?;
            Ok(KeyData::Ed25519(Ed25519PublicKey(key.verifying_key().to_bytes())))
        }
        _ => Err(KeyError::Unsupported("a PKCS#8 key of another algorithm")),
    }
}

/// SEC1 names its curve in optional parameters; without them the key's length tells.
fn sec1(der: &[u8]) -> Result<KeyData, KeyError> {
    let invalid = || KeyError::Invalid("SEC1 EC private key");
    let key = sec1::EcPrivateKey::try_from(der).map_err(|_| invalid())?;
    match (key.parameters.and_then(|p| p.named_curve()), key.private_key.len()) {
        (Some(P256_OID), _) | (None, 32) => p256_public(&p256::SecretKey::from_sec1_der(der).map_err(|_| invalid())?),
        (Some(P384_OID), _) | (None, 48) => p384_public(&p384::SecretKey::from_sec1_der(der).map_err(|_| invalid())?),
        _ => Err(KeyError::Unsupported(OTHER_CURVE)),
    }
}

fn rsa_public(key: &rsa::RsaPrivateKey) -> Result<KeyData, KeyError> {
    let public = RsaPublicKey::try_from(key.to_public_key()).map_err(|_| KeyError::Invalid("RSA private key"))?;
    Ok(KeyData::Rsa(public))
}

fn p256_public(key: &p256::SecretKey) -> Result<KeyData, KeyError> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    ecdsa_public(key.public_key().to_encoded_point(false).as_bytes())
}

fn p384_public(key: &p384::SecretKey) -> Result<KeyData, KeyError> {
    use p384::elliptic_curve::sec1::ToEncodedPoint;
    ecdsa_public(key.public_key().to_encoded_point(false).as_bytes())
}

fn ecdsa_public(sec1_point: &[u8]) -> Result<KeyData, KeyError> {
    EcdsaPublicKey::from_sec1_bytes(sec1_point).map(KeyData::Ecdsa).map_err(|_| KeyError::Invalid("EC private key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::der::{EncodePem, pem::LineEnding};
    use pkcs8::pkcs5::pbes2::{self, Kdf};

    /// `ssh-keygen -t ecdsa -N ""`: ECDSA OpenSSH keys and their public halves are read too.
    const ECDSA_OPENSSH: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS
1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQSX4ofcqDJZE6f5okoaYtf5iEkw2Xt9
kbSxKIy7nvW6qjHQDAjdt/AAQQt6HCDWc/tZ4naBz1JT5VD18l6TLh6kAAAAmAXrWogF61
qIAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJfih9yoMlkTp/mi
Shpi1/mISTDZe32RtLEojLue9bqqMdAMCN238ABBC3ocINZz+1nidoHPUlPlUPXyXpMuHq
QAAAAgGyq21X+GFRX5LUYxmi60K4lMIPjOf0vuVWwoTj3QwakAAAAA
-----END OPENSSH PRIVATE KEY-----
";
    const ECDSA_PUBLIC: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJfih9yoMlkTp/miShpi1/mISTDZe32RtLEojLue9bqqMdAMCN238ABBC3ocINZz+1nidoHPUlPlUPXyXpMuHqQ=";

    /// `ssh-keygen -t ed25519 -a 257 -N "correct horse"`: one bcrypt round over the limit.
    const COSTLY_OPENSSH: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABBzxh0fDS
gVXoN2A/sTWCLmAAABAQAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAINMCJ5TM1T9WT5YN
qrO5sSUs7MevM3kA9SasrQNViw3uAAAAkKzUESojWt85wzvS0OTI+Av/YG2J7poOkcZtk5
eUtUiqZZNLrHUwRyP/dQQHpxg16Un64i0pC2CznWiTun3S/YGhuYGVg4tqtuagXji3LGk8
5zIzIocvaG/oOva6fK96Hy8+a6pB1IBAHc22LEnx59hq4L1NcKStz6mmOAiEaUnKv6T7b7
BR3ClP3E3YAhRXpQ==
-----END OPENSSH PRIVATE KEY-----
";

    fn encrypted_pkcs8(kdf: Kdf<'_>) -> String {
        let iv = [7u8; 16];
        let scheme = EncryptionScheme::Pbes2(pbes2::Parameters {
            kdf,
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
        });
        let info = EncryptedPrivateKeyInfo { encryption_algorithm: scheme, encrypted_data: &[0u8; 32] };
        info.to_pem(LineEnding::LF).expect("pem")
    }

    #[test]
    fn ecdsa_openssh_keys_are_read() {
        let public = ssh_key::PublicKey::from_openssh(ECDSA_PUBLIC).expect("public");
        assert_eq!(public_key_of(ECDSA_OPENSSH, None).as_ref(), Ok(public.key_data()));
    }

    #[test]
    fn costly_key_derivations_are_refused_before_running() {
        let salt = [1u8; 16];
        let iterations = u32::try_from(kdf_limits::MAX_ITERATIONS + 1).expect("u32");
        let pbkdf2 = pbes2::Pbkdf2Params::hmac_with_sha256(iterations, &salt).expect("params");
        let pem = encrypted_pkcs8(Kdf::Pbkdf2(pbkdf2));
        assert!(matches!(public_key_of(&pem, Some("x")), Err(KeyError::TooCostly(_))));
        let scrypt = pbes2::ScryptParams {
            salt: &salt,
            cost_parameter: 1 << 20,
            block_size: 8,
            parallelization: 1,
            key_length: None,
        };
        let pem = encrypted_pkcs8(Kdf::Scrypt(scrypt));
        assert!(matches!(public_key_of(&pem, Some("x")), Err(KeyError::TooCostly(_))));
        let costly = public_key_of(COSTLY_OPENSSH, Some("correct horse"));
        assert!(matches!(costly, Err(KeyError::TooCostly(ref m)) if m.contains("257 bcrypt rounds")), "{costly:?}");
        // Without a passphrase nothing is derived: the public half is in clear.
        assert!(public_key_of(COSTLY_OPENSSH, None).is_ok());
    }

    #[test]
    fn unsupported_encryption_schemes_are_named() {
        // `openssl pkcs8 -topk8 -v2 aes-128-cbc -v2prf hmacWithSHA1` and `-v1 PBE-SHA1-3DES`.
        let sha1 = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGNMEkGCSqGSIb3DQEFDTA8MBsGCSqGSIb3DQEFDDAOBAj/CpPpPEySCwICCAAw
HQYJYIZIAWUDBAECBBCVvsQrWG9x64bcPrk7ErIWBECdMPsjcHJ8bjoHvumKxcLs
+raU/+qAn0v2GUZsyEmHH6NrUmN9d/r2HMuRRxnrapQJhrcnQavtjq00rrHVnfh0
-----END ENCRYPTED PRIVATE KEY-----
";
        let pbes1 = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MFgwHAYKKoZIhvcNAQwBAzAOBAgR4O5ygCVX0wICCAAEOGhdDMOW2PwtU4Bpb0z4
sH6iMTJg9wKmecphUH3bAFJVG/AnbahQvY9ck6VqueZCgQPmlX9G0amL
-----END ENCRYPTED PRIVATE KEY-----
";
        for pem in [sha1, pbes1] {
            assert_eq!(public_key_of(pem, Some("correct horse")), Err(KeyError::UnsupportedEncryption));
        }
    }

    #[test]
    fn other_texts_are_named() {
        assert_eq!(public_key_of("ssh-ed25519 AAAA", None), Err(KeyError::UnknownFormat));
        assert_eq!(
            public_key_of("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", None),
            Err(KeyError::UnknownFormat)
        );
        assert_eq!(
            public_key_of("-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----", None),
            Err(KeyError::Unsupported("a DSA key"))
        );
    }
}
