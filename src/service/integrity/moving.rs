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
}

/// Takes a backup of the store `core` serves.
pub async fn backup_to(core: &Core, path: &Path) -> Result<Summary, BackupError> {
    backup::backup(&core.store, &core.master(), path, core.clock.now_ms()).await
}

/// Loads `file` into the (empty) store `config` names, with the master key `config` names,
/// then opens it as cofre would and checks it.
pub async fn restore_into(config: &Config, clock: Arc<dyn Clock>, file: &Path) -> Result<Restored, BackupError> {
    let header = backup::read_header(file)?;
    let key_path = config.master_key_path();
    let master = MasterKey::load(&key_path).map_err(|e| {
        BackupError::Refused(format!(
            "restoring needs master key {} ({e}): put that key at {} or set COFRE_MASTER_KEY_FILE",
            header.master_key,
            key_path.display()
        ))
    })?;
    let store = Store::connect(&config.database_url(), config.database_max_connections).await?;
    store.migrate().await?;
    let restored = backup::restore(&store, &master, file).await;
    store.close().await;
    let summary = restored?;
    check(config, clock, summary).await
}

/// Opens the restored store as a server would and checks counts, seals and the audit chain.
async fn check(config: &Config, clock: Arc<dyn Clock>, summary: Summary) -> Result<Restored, BackupError> {
    let core = Core::open(config.clone(), clock)
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
        Ok(Restored { summary, sealed_values: seals.opened, audit_records })
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
