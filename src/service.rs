//! Use cases: the rules of each family. Services take a `Core`, a `Caller` and domain values;
//! they seal and open secrets, apply authorization, and call the store. They never import axum.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod dashboards;
pub mod dsm;
pub mod external_command;
pub mod hosts;
pub mod integrity;
pub mod mysafe;
pub mod pam;
pub mod readiness;
pub mod required;
pub mod scim;
pub mod sessions;
pub mod vault;

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::cipher::{Aad, CryptoError};
use crate::crypto::jwt::TokenKeys;
use crate::crypto::keyring::{Keyring, MasterKey};
use crate::crypto::password::PasswordHasher;
use crate::crypto::{ct_eq, hmac_sha256, random_key};
use crate::domain::targets::TargetNetworks;
use crate::error::{ApiError, ApiResult};
use crate::store::{Store, StoreError};
use hosts::HostResolver;
use vault::{Opening, Plan};

/// Everything a use case needs; shared by the server and the CLI.
pub struct Core {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub tokens: TokenKeys,
    pub passwords: PasswordHasher,
    pub hosts: HostResolver,
    /// Where cofre may connect on a caller's behalf.
    pub targets: TargetNetworks,
    /// This process's random id: it owns the remote sessions it holds (new at every start).
    pub process_id: String,
    /// One readiness heartbeat at a time: a hung one is waited on, not piled up (`readiness`).
    heartbeat: Arc<tokio::sync::Mutex<()>>,
    /// The master key; swapped when a rotation installs a new one (see `master_for`).
    master: arc_swap::ArcSwap<MasterKey>,
    keyring: Keyring,
    /// Pepper for stored client-secret hashes.
    secret_pepper: Zeroizing<Vec<u8>>,
    /// Key for masking sensitive values in the audit trail; separate from the KEK.
    audit_key: Zeroizing<Vec<u8>>,
    /// Key of the audit chain's MACs.
    audit_chain_key: integrity::chain::ChainKey,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    MasterKey(#[from] crate::crypto::keyring::MasterKeyError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the stored keys do not open with this master key ({0}); is COFRE_MASTER_KEY_FILE the right file?")]
    WrongMasterKey(CryptoError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Refused before anything was written: what is missing, and where.
    #[error("{0}")]
    NoVault(String),
}

impl Core {
    /// Opens the vault `config` names: connects, migrates, loads the master key, data keys and
    /// server secrets. Where there is no vault, `opening` says whether this command may make
    /// one (`vault::plan` decides, before anything is written).
    pub async fn open(config: Config, clock: Arc<dyn Clock>, opening: Opening) -> Result<Self, StartError> {
        let plan = vault::plan(&config, opening).await?;
        create_private_dir(&config.data_dir)?;
        let key_path = config.master_key_path();
        // The key first: a start cut short leaves a key without a database, which init resumes.
        let master = match plan {
            Plan::Create { key_exists: false } => generate_master_key(&key_path)?,
            Plan::Create { key_exists: true } | Plan::Open => MasterKey::load(&key_path)?,
        };
        let store = Store::connect(&config.database_url(), config.database_max_connections).await?;
        store.migrate().await?;
        let creating = matches!(plan, Plan::Create { .. });
        let incoming = MasterKey::incoming_path(&key_path);
        let keyring = load_keyring(&store, &master, &incoming, clock.now(), creating).await?;
        let now = clock.now();
        let shared = |name: &'static str| server_secret(&store, &keyring, name, now);
        let token_key = shared("token_signing_key").await?;
        let secret_pepper = shared("client_secret_pepper").await?;
        let audit_key = shared("audit_hmac_key").await?;
        let audit_chain_key = integrity::chain::ChainKey::new(shared("audit_chain_key").await?);
        Ok(Self {
            tokens: TokenKeys::new(&token_key),
            passwords: PasswordHasher::new(config.password_hash_concurrency),
            hosts: HostResolver::default(),
            targets: TargetNetworks::new(config.target_networks.clone(), config.own_listeners()),
            process_id: crate::crypto::random_hex(16).to_string(),
            heartbeat: Arc::default(),
            config,
            store,
            clock,
            master: arc_swap::ArcSwap::from_pointee(master),
            keyring,
            secret_pepper,
            audit_key,
            audit_chain_key,
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Whether the store answers a read (`store_ready` checks that it takes writes).
    pub async fn store_reachable(&self) -> bool {
        self.store.ping().await.is_ok()
    }

    /// The newest audit records, newest first.
    pub async fn recent_audit(&self, limit: i64) -> ApiResult<Vec<crate::domain::audit::AuditRecord>> {
        Ok(self.store.recent_audit(limit).await?)
    }

    /// Closes the store's connections (the CLI, when a command is done).
    pub async fn close(&self) {
        self.store.close().await;
    }

    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Vec<u8> {
        self.keyring.seal(aad, plaintext)
    }

    /// The data key `seal` uses now; values under another are moved by `cofre key reseal`.
    pub fn active_data_key_id(&self) -> u32 {
        self.keyring.active_id()
    }

    /// Opens a sealed value; a data key created by another process is fetched once and kept.
    pub async fn unseal(&self, aad: &Aad<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        match self.keyring.open(aad, blob) {
            Err(CryptoError::UnknownKey(id)) => {
                let wrapped = self.store.data_key(i64::from(id)).await.map_err(|e| match e {
                    StoreError::NotFound => ApiError::from(CryptoError::UnknownKey(id)),
                    other => other.into(),
                })?;
                let master = self.master_for(wrapped.kek_id)?;
                self.keyring.insert(master.unwrap(wrapped.id, &wrapped.wrapped)?);
                Ok(self.keyring.open(aad, blob)?)
            }
            other => Ok(other?),
        }
    }

    /// The master key that wraps with id `kek_id`: the one in memory, else the key file read
    /// again (a rotation finished since this process started: the new key is installed from
    /// now on), else the incoming key of a rotation under way.
    pub fn master_for(&self, kek_id: i64) -> Result<Arc<MasterKey>, ApiError> {
        let current = self.master.load_full();
        if i64::from(current.id()) == kek_id {
            return Ok(current);
        }
        if let Ok(reread) = self.master_on_disk()
            && i64::from(reread.id()) == kek_id
        {
            tracing::info!(kek_id, "the master key was rotated: using the new key");
            return Ok(reread);
        }
        match MasterKey::load(&MasterKey::incoming_path(&self.config.master_key_path())) {
            Ok(incoming) if i64::from(incoming.id()) == kek_id => Ok(Arc::new(incoming)),
            _ => Err(ApiError::from(CryptoError::UnknownKey(u32::try_from(kek_id).unwrap_or(0)))),
        }
    }

    /// The master key in memory now.
    pub fn master(&self) -> Arc<MasterKey> {
        self.master.load_full()
    }

    /// The master key the key file holds now, kept in memory from here on: another process
    /// may have rotated it since this one started.
    pub fn master_on_disk(&self) -> Result<Arc<MasterKey>, crate::crypto::keyring::MasterKeyError> {
        let on_disk = MasterKey::load(&self.config.master_key_path())?;
        let current = self.master.load_full();
        if on_disk.id() == current.id() {
            return Ok(current);
        }
        let on_disk = Arc::new(on_disk);
        self.master.store(on_disk.clone());
        Ok(on_disk)
    }

    /// Loads data keys other processes made since this one looked, and seals with the newest
    /// from now on (after `cofre key new-data-key`, within one job interval).
    pub async fn refresh_data_keys(&self) -> ApiResult<usize> {
        let mut added = 0;
        for wrapped in self.store.data_keys().await? {
            let id = u32::try_from(wrapped.id).map_err(|_| ApiError::from(CryptoError::Malformed))?;
            if self.keyring.contains(id) {
                continue;
            }
            let master = self.master_for(wrapped.kek_id)?;
            self.keyring.insert(master.unwrap(wrapped.id, &wrapped.wrapped)?);
            added += 1;
        }
        Ok(added)
    }

    /// Makes a fresh data key, wrapped by the master key, and seals with it from now on.
    pub async fn new_data_key(&self) -> ApiResult<i64> {
        let master = self.master_on_disk().unwrap_or_else(|_| self.master());
        let dek = random_key();
        let id = self.store.insert_data_key(i64::from(master.id()), self.now(), |id| master.wrap(id, &dek)).await?;
        let wrapped = self.store.data_key(id).await?;
        self.keyring.insert(master.unwrap(wrapped.id, &wrapped.wrapped)?);
        Ok(id)
    }

    /// The stored form of a client secret or API token value: HMAC-SHA256 under the pepper.
    pub fn hash_credential(&self, secret: &str) -> [u8; 32] {
        hmac_sha256(&self.secret_pepper, secret.as_bytes())
    }

    pub fn client_secret_matches(&self, secret: &str, stored: &[u8]) -> bool {
        ct_eq(&self.hash_credential(secret), stored)
    }

    /// The key that links audit records into one chain.
    pub fn audit_chain_key(&self) -> integrity::chain::ChainKey {
        self.audit_chain_key.clone()
    }

    /// How a sensitive value appears in the audit trail.
    pub fn audit_mask(&self, value: &[u8]) -> String {
        format!("hmac-sha256:{}", hex::encode(hmac_sha256(&self.audit_key, value)))
    }
}

/// Writes a new master key file and warns loudly: it is the one thing that opens the vault.
fn generate_master_key(path: &Path) -> Result<MasterKey, StartError> {
    let (master, _) = MasterKey::load_or_generate(path)?;
    tracing::warn!(path = %path.display(), "generated a new master key: back it up and keep it apart from the database");
    eprintln!(
        "WARNING: generated a new master key at {} (mode 0600).\n\
         WARNING: without this file nothing stored by cofre can be read. Back it up, away from the database.",
        path.display()
    );
    Ok(master)
}

/// Loads every data key, creating the first one when a vault is being made (`creating`). A
/// store whose keys were wrapped by another master key is refused rather than extended with
/// keys it cannot share, unless that key is the incoming one of a rotation under way.
async fn load_keyring(
    store: &Store,
    master: &MasterKey,
    incoming: &Path,
    now: i64,
    creating: bool,
) -> Result<Keyring, StartError> {
    let kek_id = i64::from(master.id());
    let mut wrapped = store.data_keys().await?;
    if wrapped.is_empty() && !creating {
        return Err(StartError::NoVault(
            "the database holds no data keys: it is not a vault (a first start cut short?); move it away and \
             run cofre init"
                .into(),
        ));
    }
    if wrapped.is_empty() {
        let dek = random_key();
        let id = store.insert_data_key(kek_id, now, |id| master.wrap(id, &dek)).await?;
        wrapped.push(store.data_key(id).await?);
    }
    let next = if wrapped.iter().any(|k| k.kek_id != kek_id) { MasterKey::load(incoming).ok() } else { None };
    let mut keys = Vec::with_capacity(wrapped.len());
    for k in &wrapped {
        let wrapping = match &next {
            _ if k.kek_id == kek_id => master,
            Some(next) if i64::from(next.id()) == k.kek_id => next,
            _ => {
                return Err(StartError::WrongMasterKey(CryptoError::UnknownKey(u32::try_from(k.kek_id).unwrap_or(0))));
            }
        };
        keys.push(wrapping.unwrap(k.id, &k.wrapped).map_err(StartError::WrongMasterKey)?);
    }
    Keyring::new(keys).ok_or(StartError::WrongMasterKey(CryptoError::Malformed))
}

/// A random 256-bit server secret shared by every process on the store, sealed at rest.
async fn server_secret(
    store: &Store,
    keyring: &Keyring,
    name: &str,
    now: i64,
) -> Result<Zeroizing<Vec<u8>>, StartError> {
    let aad = Aad::new("server_secrets", name, "sealed");
    let fresh = random_key();
    let sealed = store.server_secret_or_insert(name, keyring.seal(&aad, fresh.as_ref()), now).await?;
    keyring.open(&aad, &sealed).map_err(StartError::WrongMasterKey)
}

/// The data directory holds the database and keys: create it readable by its owner only.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
