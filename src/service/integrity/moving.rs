//! Restoring a backup and moving an installation to another store, each checked end to end:
//! every count matches, every sealed value opens, and the audit chain verifies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::keyring::MasterKey;
use crate::service::Core;
use crate::service::integrity::backup::{self, BackupError, Summary};
use crate::service::integrity::chain::{self, Verdict};
use crate::service::integrity::sealed;
use crate::store::Store;

/// What a restore or a move checked.
#[derive(Debug)]
pub struct Restored {
    pub summary: Summary,
    pub sealed_values: u64,
    pub audit_records: u64,
    /// When the backup was sealed under a retired master key: its id, and the current key's,
    /// under which its data keys were re-wrapped.
    pub rewrapped: Option<(u32, u32)>,
}

/// Takes a backup of the store `core` serves.
pub async fn backup_to(core: &Core, path: &Path) -> Result<Summary, BackupError> {
    backup::backup(&core.store, &core.master(), path, core.clock.now_ms()).await
}

/// Loads `file` into the (empty) store `config` names, with the master key `config` names,
/// then opens it as cofre would and checks it.
pub async fn restore_into(config: &Config, clock: Arc<dyn Clock>, file: &Path) -> Result<Restored, BackupError> {
    restore_with_key(config, clock, file, None).await
}

/// `restore_into` for a backup sealed under a master key a rotation retired: `key_file`, else
/// the one the rotation kept beside the key file. Its data keys are re-wrapped under the
/// current master key, so the restored store opens with the key file like any other.
pub async fn restore_with_key(
    config: &Config,
    clock: Arc<dyn Clock>,
    file: &Path,
    key_file: Option<&Path>,
) -> Result<Restored, BackupError> {
    let header = backup::read_header(file)?;
    let key_path = config.master_key_path();
    let current = MasterKey::load(&key_path).map_err(|e| {
        BackupError::Refused(format!(
            "restoring needs master key {} ({e}): put that key at {} or set COFRE_MASTER_KEY_FILE",
            header.master_key,
            key_path.display()
        ))
    })?;
    let retired = opening_key(&header, &current, &key_path, key_file)?;
    let store = Store::connect(&config.database_url(), config.database_max_connections).await?;
    store.migrate().await?;
    let restored = match &retired {
        Some(old) => backup::restore(&store, old, Some(&current), file).await,
        None => backup::restore(&store, &current, None, file).await,
    };
    store.close().await;
    let summary = restored?;
    let mut checked = check(config, clock, summary).await?;
    checked.rewrapped = retired.map(|k| (k.id(), current.id()));
    Ok(checked)
}

/// The retired master key that opens the backup, when the current one does not: `key_file`,
/// else `<key file>.retired-<id>`.
fn opening_key(
    header: &backup::Header,
    current: &MasterKey,
    key_path: &Path,
    key_file: Option<&Path>,
) -> Result<Option<MasterKey>, BackupError> {
    let needed = &header.master_key;
    if *needed == format!("{:08x}", current.id()) {
        return Ok(None);
    }
    if let Some(path) = key_file {
        let key = MasterKey::load(path).map_err(|e| BackupError::Refused(format!("--key-file: {e}")))?;
        if format!("{:08x}", key.id()) != *needed {
            return Err(BackupError::Refused(format!(
                "this backup needs master key {needed}, and {} holds {:08x}",
                path.display(),
                key.id()
            )));
        }
        return Ok(Some(key));
    }
    let kept = u32::from_str_radix(needed, 16).ok().map(|id| MasterKey::retired_path(key_path, id));
    if let Some(key) = kept.as_deref().and_then(|path| MasterKey::load(path).ok())
        && format!("{:08x}", key.id()) == *needed
    {
        return Ok(Some(key));
    }
    Err(BackupError::Refused(format!(
        "this backup needs master key {needed}, and the master key file holds {:08x}: pass the key it was made with as --key-file (a rotation keeps it as {}.retired-{needed})",
        current.id(),
        key_path.display()
    )))
}

/// Opens the restored store as a server would and checks counts, seals and the audit chain.
async fn check(config: &Config, clock: Arc<dyn Clock>, summary: Summary) -> Result<Restored, BackupError> {
    let core = Core::open(config.clone(), clock, crate::service::vault::Opening::Existing)
        .await
        .map_err(|e| BackupError::Refused(format!("the restored store does not open: {e}")))?;
    let result = async {
        backup::check_counts(&core.store, &summary).await?;
        let seals = sealed::check_all(&core).await.map_err(|e| BackupError::Refused(e.to_string()))?;
        if let Some(first) = seals.failures.first() {
            return Err(BackupError::Refused(format!(
                "{} sealed values do not open after the restore, the first: {first}",
                seals.failures.len()
            )));
        }
        let verdict = chain::verify(&core, &core.audit_chain_key(), 1, &[])
            .await
            .map_err(|e| BackupError::Refused(e.to_string()))?;
        let audit_records = match verdict {
            Verdict::Intact { count, .. } => count,
            Verdict::Broken { seq, problem } => {
                return Err(BackupError::Refused(format!(
                    "the restored audit trail is broken at record {seq}: {problem}"
                )));
            }
        };
        Ok(Restored { summary, sealed_values: seals.opened, audit_records, rewrapped: None })
    }
    .await;
    core.close().await;
    result
}

/// Moves the installation `core` serves to the empty store at `to_url`: a backup (one
/// consistent moment) restored there and checked. Writes after that moment stay behind, so
/// stop the servers first, or move, then point them at the new store.
pub async fn migrate_store(core: &Core, to_url: &str) -> Result<Restored, BackupError> {
    let file: PathBuf = core.config.data_dir.join(format!("migrate-{}.cofre-backup", uuid::Uuid::new_v4()));
    let outcome = async {
        backup_to(core, &file).await?;
        restore_into(&backup::targeting(&core.config, to_url), core.clock.clone(), &file).await
    }
    .await;
    let _ = std::fs::remove_file(&file);
    outcome
}
