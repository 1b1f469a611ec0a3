//! The key hierarchy: a master key (KEK) wraps data keys (DEKs); DEKs seal fields.
//!
//! The KEK never touches the store. Each DEK is stored wrapped by the KEK together with the KEK's
//! id, so a later KEK rotation re-wraps only the small `data_keys` table while sealed fields stay
//! as they are. Sealed fields carry their DEK's id, so several DEKs can be live at once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::cipher::{Aad, CryptoError, SealingKey, blob_key_id};

/// The master key and the id derived from it.
pub struct MasterKey {
    key: SealingKey,
    /// Root of keys derived for other purposes (backups), never used to seal directly.
    derivation: Zeroizing<[u8; 32]>,
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("master key file {path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let derivation = Zeroizing::new(super::hmac_sha256(bytes, b"cofre master key derivation"));
        Self { key: SealingKey::new(kek_id(bytes), bytes), derivation }
    }

    /// The key that seals backup `backup_id`: only this master key opens the backup.
    pub fn backup_key(&self, backup_id: &str) -> SealingKey {
        let mut label = b"cofre backup ".to_vec();
        label.extend_from_slice(backup_id.as_bytes());
        let bytes = Zeroizing::new(super::hmac_sha256(self.derivation.as_ref(), &label));
        SealingKey::new(self.id(), &bytes)
    }

    /// Reads a 64-hex-digit key, or generates one (mode 0600) when the file does not exist.
    /// Returns whether a key was generated, so the caller can warn loudly.
    pub fn load_or_generate(path: &Path) -> Result<(Self, bool), MasterKeyError> {
        let invalid = |reason: String| MasterKeyError::Invalid { path: path.display().to_string(), reason };
        if !path.exists() {
            let mut bytes = Zeroizing::new([0u8; 32]);
            super::fill_random(bytes.as_mut());
            let text = Zeroizing::new(format!("{}\n", hex::encode(bytes.as_ref())));
            write_private(path, text.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            return Ok((Self::from_bytes(&bytes), true));
        }
        Ok((Self::load(path)?, false))
    }

    /// Reads an existing key file: private to its owner, 64 hex digits, not all zero.
    pub fn load(path: &Path) -> Result<Self, MasterKeyError> {
        let invalid = |reason: String| MasterKeyError::Invalid { path: path.display().to_string(), reason };
        if !path.exists() {
            return Err(invalid("no such file".into()));
        }
        check_private(path).map_err(invalid)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?);
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), bytes.as_mut())
            .map_err(|_| invalid("must hold exactly 64 hexadecimal digits (a 256-bit key)".into()))?;
        if bytes.iter().all(|b| *b == 0) {
            return Err(invalid("an all-zero key is refused".into()));
        }
        Ok(Self::from_bytes(&bytes))
    }

    /// Where a rotation keeps the incoming key while data keys move to it: beside the master
    /// key file, so every process finds both until the rotation completes.
    pub fn incoming_path(path: &Path) -> std::path::PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".next");
        std::path::PathBuf::from(name)
    }

    /// Where a rotation keeps the master key `id` it retired: beside the key file, because
    /// backups taken before the rotation are sealed under it.
    pub fn retired_path(path: &Path, id: u32) -> std::path::PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".retired-{id:08x}"));
        std::path::PathBuf::from(name)
    }

    /// Copies the key in `from` to `to` (mode 0600), refusing to overwrite.
    pub fn copy_file(from: &Path, to: &Path) -> std::io::Result<()> {
        let text = Zeroizing::new(std::fs::read(from)?);
        write_private(to, &text)
    }

    pub fn id(&self) -> u32 {
        self.key.id()
    }

    pub fn wrap(&self, dek_id: i64, dek: &[u8; 32]) -> Vec<u8> {
        self.key.seal(&dek_aad(&dek_id.to_string()), dek)
    }

    /// Data key `dek_id`, wrapped by this key, wrapped by `to` instead; the key itself is held
    /// only in zeroizing memory on the way.
    pub fn rewrap(&self, dek_id: i64, wrapped: &[u8], to: &MasterKey) -> Result<Vec<u8>, CryptoError> {
        let bytes = self.key.open(&dek_aad(&dek_id.to_string()), wrapped)?;
        Ok(to.key.seal(&dek_aad(&dek_id.to_string()), &bytes))
    }

    pub fn unwrap(&self, dek_id: i64, wrapped: &[u8]) -> Result<SealingKey, CryptoError> {
        let id = u32::try_from(dek_id).map_err(|_| CryptoError::Malformed)?;
        let bytes = self.key.open(&dek_aad(&dek_id.to_string()), wrapped)?;
        let bytes: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(SealingKey::new(id, bytes))
    }
}

fn dek_aad(row: &str) -> Aad<'_> {
    Aad::new("data_keys", row, "wrapped_key")
}

/// A short public id for a KEK, so rows can say which KEK wrapped them without revealing it.
fn kek_id(bytes: &[u8; 32]) -> u32 {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(bytes).unwrap_or_else(|_| unreachable!("HMAC takes any key size"));
    mac.update(b"cofre kek id");
    let tag = mac.finalize().into_bytes();
    u32::from_be_bytes([tag[0], tag[1], tag[2], tag[3]])
}

/// The unwrapped DEKs held in memory. Reads are lock-free; loading a new DEK swaps the map.
pub struct Keyring {
    keys: ArcSwap<HashMap<u32, Arc<SealingKey>>>,
    active: ArcSwap<SealingKey>,
}

impl Keyring {
    /// `keys` must be non-empty; the highest id is the active one.
    pub fn new(keys: Vec<SealingKey>) -> Option<Self> {
        let keys: HashMap<u32, Arc<SealingKey>> = keys.into_iter().map(|k| (k.id(), Arc::new(k))).collect();
        let active = keys.values().max_by_key(|k| k.id())?.clone();
        Some(Self { keys: ArcSwap::from_pointee(keys), active: ArcSwap::new(active) })
    }

    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Vec<u8> {
        self.active.load().seal(aad, plaintext)
    }

    /// `Err(UnknownKey)` means another process created a DEK since this one loaded; the caller
    /// may fetch it, `insert` it and retry.
    pub fn open(&self, aad: &Aad<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let id = blob_key_id(blob)?;
        let keys = self.keys.load();
        let key = keys.get(&id).ok_or(CryptoError::UnknownKey(id))?;
        key.open(aad, blob)
    }

    /// The id of the data key new values are sealed with.
    pub fn active_id(&self) -> u32 {
        self.active.load().id()
    }

    /// Adds a data key; one newer than the active key becomes the active one, so every process
    /// seals with the newest key it knows.
    pub fn insert(&self, key: SealingKey) {
        let key = Arc::new(key);
        self.keys.rcu(|keys| {
            let mut keys = HashMap::clone(keys);
            keys.insert(key.id(), key.clone());
            keys
        });
        self.active.rcu(|active| if key.id() > active.id() { key.clone() } else { active.clone() });
    }

    pub fn contains(&self, id: u32) -> bool {
        self.keys.load().contains_key(&id)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Refuses a key file that group or others can read (the Kanidm rule).
#[cfg(unix)]
pub fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!("mode {:o} lets others read it; run chmod 600", mode & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_private_and_reloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let (first, generated) = MasterKey::load_or_generate(&path).expect("generate");
        assert!(generated);
        let (again, generated) = MasterKey::load_or_generate(&path).expect("reload");
        assert!(!generated);
        assert_eq!(first.id(), again.id());
        let wrapped = first.wrap(1, &[9u8; 32]);
        assert!(again.unwrap(1, &wrapped).is_ok());
        assert!(again.unwrap(2, &wrapped).is_err(), "a wrapped DEK is bound to its row");
    }

    #[cfg(unix)]
    #[test]
    fn readable_or_malformed_key_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(&path, "ab".repeat(32)).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(MasterKey::load_or_generate(&path).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(MasterKey::load_or_generate(&path).is_ok());
        std::fs::write(&path, "abcd").expect("write");
        assert!(MasterKey::load_or_generate(&path).is_err());
    }
}
