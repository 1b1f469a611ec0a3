//! The key derivations a PKCS#12 file asks for, bounded before p12-keystore runs any of them: it
//! derives as it parses (the MAC key, then each encrypted part's key) with whatever parameters
//! the file names. Here the parameters of the MAC, of every encrypted safe and of every shrouded
//! key (and secret) bag are read from the file's ASN.1 and checked against kdf_limits. Bags inside
//! an encrypted safe are seen only by decrypting it, which is done once its own parameters
//! passed. Whatever cannot be read here is refused, so only a file whose every derivation was
//! seen and bounded reaches p12-keystore.

use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use cms::encrypted_data::EncryptedData;
use pkcs8::der::asn1::{ContextSpecific, ObjectIdentifier, OctetString, OctetStringRef};
use pkcs8::der::{Any, Decode, Encode, Reader, SliceReader};
use pkcs8::pkcs5::pbes2;
use pkcs8::spki::AlgorithmIdentifierOwned;
use pkcs12::authenticated_safe::AuthenticatedSafe;
use pkcs12::kdf::{Pkcs12KeyType, derive_key_utf8};
use pkcs12::pbe_params::EncryptedPrivateKeyInfo;
use pkcs12::pfx::Pfx;
use pkcs12::safe_bag::SafeContents;
use zeroize::Zeroizing;

use crate::crypto::kdf_limits::{self, TooCostly};

const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
// The PKCS#12 PBE schemes p12-keystore decrypts (OpenSSL's `-legacy`, older Windows exports).
const PBE_SHA1_3DES: ObjectIdentifier = pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC;
const PBE_SHA1_RC2_40: ObjectIdentifier = pkcs12::PKCS_12_PBEWITH_SHAAND40_BIT_RC2_CBC;

/// Derivations per file (the MAC, each encrypted safe, each shrouded key or secret bag): tools
/// write two or three for one key and its chain; each one is bounded, and so is their number.
pub const MAX_DERIVATIONS: usize = 16;

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// What was too costly, as a phrase ("its MAC iteration count … exceeds the limit of …").
    TooCostly(String),
    Malformed,
    /// An encrypted safe did not decrypt with the password.
    WrongPassword,
}

impl From<pkcs8::der::Error> for Refusal {
    fn from(_: pkcs8::der::Error) -> Self {
        Self::Malformed
    }
}

fn costly(part: &str) -> impl FnOnce(TooCostly) -> Refusal + '_ {
    move |e| Refusal::TooCostly(format!("{part} {e}"))
}

struct Budget(usize);

impl Budget {
    fn spend(&mut self) -> Result<(), Refusal> {
        self.0 += 1;
        if self.0 > MAX_DERIVATIONS {
            return Err(Refusal::TooCostly(format!(
                "its number of password-encrypted parts exceeds the limit of {MAX_DERIVATIONS}"
            )));
        }
        Ok(())
    }
}

/// Refuses `data` unless every key derivation p12-keystore would run on it is within limits.
/// Runs only the derivations that open encrypted safes, each after its parameters passed.
pub fn check(data: &[u8], password: &str) -> Result<(), Refusal> {
    let pfx = Pfx::from_der(data)?;
    let mut budget = Budget(0);
    if let Some(mac) = &pfx.mac_data {
        budget.spend()?;
        let iterations = u64::try_from(mac.iterations).map_err(|_| Refusal::Malformed)?;
        kdf_limits::check_iterations("MAC iteration count", iterations).map_err(costly("its"))?;
    }
    if pfx.auth_safe.content_type != DATA {
        return Err(Refusal::Malformed);
    }
    let safes = AuthenticatedSafe::from_der(OctetString::from_der(&pfx.auth_safe.content.to_der()?)?.as_bytes())?;
    let mut sealed = Vec::new();
    for safe in &safes {
        match safe.content_type {
            DATA => {
                let bags = SafeContents::from_der(OctetString::from_der(&safe.content.to_der()?)?.as_bytes())?;
                check_bags(&bags, &mut budget)?;
            }
            ENCRYPTED_DATA => {
                let encrypted = EncryptedData::from_der(&safe.content.to_der()?)?;
                let info = encrypted.enc_content_info;
                if let Some(content) = info.encrypted_content {
                    budget.spend()?;
                    check_scheme(&info.content_enc_alg, "its encrypted contents'")?;
                    sealed.push((info.content_enc_alg, content));
                }
            }
            _ => return Err(Refusal::Malformed),
        }
    }
    // Every parameter in sight passed: now what the encrypted safes hold.
    for (scheme, content) in sealed {
        let plain = decrypt(&scheme, content.as_bytes(), password).ok_or(Refusal::WrongPassword)?;
        let bags = SafeContents::from_der(&plain).map_err(|_| Refusal::WrongPassword)?;
        check_bags(&bags, &mut budget)?;
    }
    Ok(())
}

fn check_bags(bags: &SafeContents, budget: &mut Budget) -> Result<(), Refusal> {
    for bag in bags {
        match bag.bag_id {
            pkcs12::PKCS_12_PKCS8_KEY_BAG_OID => {
                let key = ContextSpecific::<EncryptedPrivateKeyInfo>::from_der(&bag.bag_value)?;
                budget.spend()?;
                check_scheme(&key.value.encryption_algorithm, "its shrouded key's")?;
            }
            // A Java keystore's secret key: p12-keystore decrypts it when it reads as an
            // encrypted PKCS#8 structure.
            pkcs12::PKCS_12_SECRET_BAG_OID => {
                if let Some(key) = secret_bag_key(&bag.bag_value)? {
                    budget.spend()?;
                    check_scheme(&key.encryption_algorithm, "its secret bag's")?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `[0] { SEQUENCE { OID, [0] { OCTET STRING }, attributes? } }`, the octets an encrypted key.
fn secret_bag_key(bag_value: &[u8]) -> Result<Option<EncryptedPrivateKeyInfo>, Refusal> {
    let envelope = Any::from_der(bag_value)?;
    let mut reader = SliceReader::new(envelope.value())?;
    let octets = reader.sequence(|r| {
        let _kind: ObjectIdentifier = r.decode()?;
        let value: ContextSpecific<OctetString> = r.decode()?;
        while !r.is_finished() {
            r.tlv_bytes()?;
        }
        Ok(value.value)
    })?;
    Ok(EncryptedPrivateKeyInfo::from_der(octets.as_bytes()).ok())
}

fn check_scheme(scheme: &AlgorithmIdentifierOwned, part: &str) -> Result<(), Refusal> {
    let params = scheme.parameters.as_ref().ok_or(Refusal::Malformed)?.to_der()?;
    match scheme.oid {
        PBES2 => kdf_limits::check_pbes2(&pbes2::Parameters::from_der(&params)?).map_err(costly(part)),
        PBE_SHA1_3DES | PBE_SHA1_RC2_40 => {
            let (_, iterations) = pbe_params(&params)?;
            kdf_limits::check_iterations("PKCS#12 PBE iteration count", iterations).map_err(costly(part))
        }
        // p12-keystore reads no other scheme.
        _ => Err(Refusal::Malformed),
    }
}

/// `SEQUENCE { salt, iterations }`, the count read as wide as p12-keystore reads it.
fn pbe_params(der: &[u8]) -> Result<(Vec<u8>, u64), Refusal> {
    let mut reader = SliceReader::new(der)?;
    Ok(reader.sequence(|r| Ok((OctetStringRef::decode(r)?.as_bytes().to_vec(), r.decode::<u64>()?)))?)
}

/// An encrypted safe's contents, as p12-keystore decrypts them; only after [`check_scheme`].
fn decrypt(scheme: &AlgorithmIdentifierOwned, data: &[u8], password: &str) -> Option<Zeroizing<Vec<u8>>> {
    let params = scheme.parameters.as_ref()?.to_der().ok()?;
    let plain = match scheme.oid {
        PBES2 => pbes2::Parameters::from_der(&params).ok()?.decrypt(password.as_bytes(), data).ok(),
        oid => {
            let (salt, iterations) = pbe_params(&params).ok()?;
            let iterations = i32::try_from(iterations).ok()?;
            let derive = |kind, len| {
                derive_key_utf8::<sha1::Sha1>(password, &salt, kind, iterations, len).ok().map(Zeroizing::new)
            };
            let iv = derive(Pkcs12KeyType::Iv, 8)?;
            match oid {
                PBE_SHA1_3DES => {
                    cbc::Decryptor::<des::TdesEde3>::new_from_slices(&derive(Pkcs12KeyType::EncryptionKey, 24)?, &iv)
                        .ok()?
                        .decrypt_padded_vec_mut::<Pkcs7>(data)
                        .ok()
                }
                PBE_SHA1_RC2_40 => {
                    cbc::Decryptor::<rc2::Rc2>::new_from_slices(&derive(Pkcs12KeyType::EncryptionKey, 5)?, &iv)
                        .ok()?
                        .decrypt_padded_vec_mut::<Pkcs7>(data)
                        .ok()
                }
                _ => None,
            }
        }
    };
    plain.map(Zeroizing::new)
}
