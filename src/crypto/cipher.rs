//! AES-256-GCM sealing with associated data that binds a ciphertext to where it is stored.
//!
//! Blob layout, format 1: `0x01 ‖ key_id (u32 BE) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
//! Associated data: `"cofre" ‖ format ‖ key_id ‖ len-prefixed table ‖ row ‖ field`, so a blob
//! copied to another row, field or table, or re-labelled with another key id, fails to open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use zeroize::Zeroizing;

pub const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// Where a sealed value lives: the associated data of its seal.
#[derive(Clone, Copy, Debug)]
pub struct Aad<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub field: &'a str,
}

impl<'a> Aad<'a> {
    pub fn new(table: &'a str, row: &'a str, field: &'a str) -> Self {
        Self { table, row, field }
    }

    fn encode(&self, key_id: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.table.len() + self.row.len() + self.field.len());
        out.extend_from_slice(b"cofre");
        out.push(FORMAT_V1);
        out.extend_from_slice(&key_id.to_be_bytes());
        for part in [self.table, self.row, self.field] {
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value failed its integrity check")]
    Integrity,
    #[error("sealed value names unknown key {0}")]
    UnknownKey(u32),
}

/// A 256-bit AES-GCM key with an id; the key bytes are wiped on drop.
pub struct SealingKey {
    id: u32,
    cipher: Aes256Gcm,
}

impl SealingKey {
    pub fn new(id: u32, bytes: &[u8; 32]) -> Self {
        Self { id, cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)) }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// Seals with a fresh random 96-bit nonce from the OS.
    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        super::fill_random(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad.encode(self.id) })
            // AES-GCM refuses only inputs beyond 64 GiB, far past any body limit.
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        blob.push(FORMAT_V1);
        blob.extend_from_slice(&self.id.to_be_bytes());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob
    }

    /// Opens a blob sealed by this key; no plaintext byte is returned from a failed open.
    pub fn open(&self, aad: &Aad<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if blob_key_id(blob)? != self.id {
            return Err(CryptoError::Integrity);
        }
        let (nonce, ciphertext) = blob[5..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad.encode(self.id) })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Integrity)
    }
}

/// The id of the key a blob was sealed with.
pub fn blob_key_id(blob: &[u8]) -> Result<u32, CryptoError> {
    if blob.len() < HEADER_LEN + TAG_LEN || blob[0] != FORMAT_V1 {
        return Err(CryptoError::Malformed);
    }
    Ok(u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> SealingKey {
        SealingKey::new(id, &[7u8; 32])
    }

    #[test]
    fn round_trips_and_every_bit_flip_fails() {
        let k = key(3);
        let aad = Aad::new("t", "row-1", "content");
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let blob = k.seal(&aad, &plaintext);
            assert_eq!(k.open(&aad, &blob).expect("opens").as_slice(), plaintext.as_slice());
            for bit in 0..blob.len() * 8 {
                let mut tampered = blob.clone();
                tampered[bit / 8] ^= 1 << (bit % 8);
                assert!(k.open(&aad, &tampered).is_err(), "bit {bit} of {len}-byte seal");
            }
            for cut in 0..blob.len() {
                assert!(k.open(&aad, &blob[..cut]).is_err());
            }
        }
    }

    #[test]
    fn associated_data_binds_table_row_field_and_key() {
        let k = key(1);
        let blob = k.seal(&Aad::new("info", "a", "content"), b"secret");
        assert!(k.open(&Aad::new("info", "b", "content"), &blob).is_err());
        assert!(k.open(&Aad::new("info", "a", "name"), &blob).is_err());
        assert!(k.open(&Aad::new("other", "a", "content"), &blob).is_err());
        // Length prefixes keep "ab"+"c" distinct from "a"+"bc".
        let blob = k.seal(&Aad::new("ab", "c", "f"), b"x");
        assert!(k.open(&Aad::new("a", "bc", "f"), &blob).is_err());
        let other = SealingKey::new(2, &[7u8; 32]);
        assert!(other.open(&Aad::new("ab", "c", "f"), &blob).is_err());
    }

    #[test]
    fn nonces_are_fresh() {
        let k = key(1);
        let aad = Aad::new("t", "r", "f");
        let blobs: std::collections::HashSet<Vec<u8>> = (0..1000).map(|_| k.seal(&aad, b"same")).collect();
        assert_eq!(blobs.len(), 1000);
    }
}
