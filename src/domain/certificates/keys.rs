//! Key types and signature digests cofre makes certificates with: RSA 2048/3072/4096 and ECDSA
//! P-256/P-384. DSA and keys under 2048 bits are refused by name, so the caller learns what is
//! supported instead of getting a weak key.

/// A key pair's type and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySpec {
    Rsa(u32),
    EcdsaP256,
    EcdsaP384,
}

/// The hash of a certificate's signature (`certificate_algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureDigest {
    Sha256,
    Sha384,
    Sha512,
}

pub const SUPPORTED_KEYS: &str = "RSA with 2048, 3072 or 4096 bits, or ECDSA with 256 (P-256) or 384 (P-384) bits";

impl KeySpec {
    /// From `encryption` and `encryption_key_size` as a request names them.
    pub fn parse(encryption: &str, size: &str) -> Result<Self, String> {
        let size: u32 = size.trim().parse().map_err(|_| {
            format!("Parameter 'encryption_key_size' must be a number of bits: {SUPPORTED_KEYS} are supported.")
        })?;
        match (encryption.trim().to_ascii_uppercase().as_str(), size) {
            ("RSA", 2048 | 3072 | 4096) => Ok(Self::Rsa(size)),
            ("RSA", _) => Err(format!("RSA keys of {size} bits are not supported: {SUPPORTED_KEYS} are.")),
            ("ECDSA" | "EC", 256) => Ok(Self::EcdsaP256),
            ("ECDSA" | "EC", 384) => Ok(Self::EcdsaP384),
            ("ECDSA" | "EC", _) => Err(format!("ECDSA keys of {size} bits are not supported: {SUPPORTED_KEYS} are.")),
            ("DSA", _) => Err(format!("DSA keys are not supported: {SUPPORTED_KEYS} are.")),
            _ => Err(format!("Parameter 'encryption' must be RSA or ECDSA: {SUPPORTED_KEYS} are supported.")),
        }
    }

    /// The stored form, also used by the admin API and the CLI (`RSA-2048`, `ECDSA-P256`).
    pub fn as_stored(self) -> String {
        match self {
            Self::Rsa(bits) => format!("RSA-{bits}"),
            Self::EcdsaP256 => "ECDSA-P256".into(),
            Self::EcdsaP384 => "ECDSA-P384".into(),
        }
    }

    pub fn from_stored(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        match upper.as_str() {
            "ECDSA-P256" | "P-256" | "P256" => Ok(Self::EcdsaP256),
            "ECDSA-P384" | "P-384" | "P384" => Ok(Self::EcdsaP384),
            _ => match upper.strip_prefix("RSA-") {
                Some(bits) => Self::parse("RSA", bits),
                None if upper.starts_with("DSA") => Self::parse("DSA", "2048"),
                None => Err(format!("unknown key type {s:?}: {SUPPORTED_KEYS} are supported")),
            },
        }
    }

    /// `encryption` and `encryption_key_size` as a request names them.
    pub fn encryption(self) -> &'static str {
        match self {
            Self::Rsa(_) => "RSA",
            Self::EcdsaP256 | Self::EcdsaP384 => "ECDSA",
        }
    }

    pub fn bits(self) -> u32 {
        match self {
            Self::Rsa(bits) => bits,
            Self::EcdsaP256 => 256,
            Self::EcdsaP384 => 384,
        }
    }

    /// The digest an ECDSA key signs with is fixed by its curve; RSA takes any of the three.
    pub fn default_digest(self) -> SignatureDigest {
        match self {
            Self::Rsa(_) | Self::EcdsaP256 => SignatureDigest::Sha256,
            Self::EcdsaP384 => SignatureDigest::Sha384,
        }
    }

    pub fn check_digest(self, digest: SignatureDigest) -> Result<(), String> {
        match (self, digest) {
            (Self::Rsa(_), _)
            | (Self::EcdsaP256, SignatureDigest::Sha256)
            | (Self::EcdsaP384, SignatureDigest::Sha384) => Ok(()),
            (Self::EcdsaP256, _) => Err("ECDSA P-256 keys sign with SHA256 only.".into()),
            (Self::EcdsaP384, _) => Err("ECDSA P-384 keys sign with SHA384 only.".into()),
        }
    }
}

impl SignatureDigest {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().replace('-', "").as_str() {
            "SHA256" => Ok(Self::Sha256),
            "SHA384" => Ok(Self::Sha384),
            "SHA512" => Ok(Self::Sha512),
            _ => Err("Parameter 'certificate_algorithm' must be SHA256, SHA384 or SHA512.".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Sha384 => "SHA384",
            Self::Sha512 => "SHA512",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_and_unknown_keys_are_refused_by_name() {
        assert_eq!(KeySpec::parse("RSA", "2048"), Ok(KeySpec::Rsa(2048)));
        assert_eq!(KeySpec::parse("ecdsa", "384"), Ok(KeySpec::EcdsaP384));
        assert!(KeySpec::parse("RSA", "1024").expect_err("weak").contains("1024 bits are not supported"));
        assert!(KeySpec::parse("DSA", "2048").expect_err("dsa").starts_with("DSA keys are not supported"));
        assert!(KeySpec::parse("RSA", "big").is_err());
    }

    #[test]
    fn stored_forms_round_trip() {
        for k in [KeySpec::Rsa(3072), KeySpec::EcdsaP256, KeySpec::EcdsaP384] {
            assert_eq!(KeySpec::from_stored(&k.as_stored()), Ok(k));
        }
        assert!(KeySpec::from_stored("DSA-1024").is_err());
    }

    #[test]
    fn ecdsa_digests_follow_the_curve() {
        assert!(KeySpec::EcdsaP256.check_digest(SignatureDigest::Sha384).is_err());
        assert!(KeySpec::Rsa(2048).check_digest(SignatureDigest::Sha512).is_ok());
        assert_eq!(SignatureDigest::parse("sha-384"), Ok(SignatureDigest::Sha384));
    }
}
