//! Cryptography, all from audited crates: AES-256-GCM sealing, the key hierarchy, token signing,
//! and keyed hashes for stored client secrets and audit masking. docs/SECURITY.md has the design.

pub mod cipher;
pub mod jwt;
pub mod kdf_limits;
pub mod keyring;
pub mod oauth1_signature;
pub mod password;
pub mod sigv4_signature;
pub mod ssh_private_key;
pub mod totp;
pub mod x509;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Fills `buf` from the operating system's CSPRNG; without one the process cannot be safe.
pub fn fill_random(buf: &mut [u8]) {
    if let Err(e) = getrandom::getrandom(buf) {
        panic!("the OS random number generator failed: {e}");
    }
}

/// `bytes` random bytes, hex-encoded.
pub fn random_hex(bytes: usize) -> Zeroizing<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    fill_random(&mut buf);
    Zeroizing::new(hex::encode(buf.as_slice()))
}

pub fn random_key() -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    fill_random(key.as_mut());
    key
}

/// HMAC-SHA256 of `value` under `key`.
pub fn hmac_sha256(key: &[u8], value: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key size"));
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// Constant-time equality for hashes and tags.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// SHA-256 of `value`: the stored form of a 256-bit random token, which needs no key or salt.
pub fn sha256(value: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    Sha256::digest(value).into()
}
