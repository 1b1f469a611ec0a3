//! `cofre backup|restore|migrate-store`.

use std::path::Path;
use std::sync::Arc;

use super::CliResult;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::service::Core;
use crate::service::integrity::moving::{self, Restored};

pub async fn backup(core: &Core, file: &Path) -> CliResult {
    let summary = moving::backup_to(core, file).await?;
    let header = crate::service::integrity::backup::read_header(file)?;
    println!(
        "backup written to {}: {} rows in {} tables; it needs master key {} to restore",
        file.display(),
        summary.rows(),
        summary.counts.len(),
        header.master_key
    );
    Ok(())
}

/// Runs without opening the target as a server would first: that would give it keys of its own.
pub async fn restore(config: Config, file: &Path, key_file: Option<&Path>) -> CliResult {
    let restored = moving::restore_with_key(&config, Arc::new(SystemClock), file, key_file).await?;
    report("restored", &restored);
    if let Some((old, current)) = restored.rewrapped {
        println!(
            "data keys re-wrapped from master key {old:08x} (the backup's) to {current:08x} (the master key file's)"
        );
    }
    warn_of_later_checkpoints(&config, restored.audit_records);
    Ok(())
}

/// A backup ends where it was taken: checkpoints written after that, in the checkpoint file
/// this configuration uses, will fail `cofre audit verify` on the restored store.
fn warn_of_later_checkpoints(config: &Config, restored_to: u64) {
    let path = config.audit_checkpoint_path();
    let latest = crate::service::integrity::chain::read_checkpoints(&path)
        .map(|all| all.iter().map(|c| c.seq).max().unwrap_or(0))
        .unwrap_or(0);
    if latest > i64::try_from(restored_to).unwrap_or(i64::MAX) {
        eprintln!(
            "note: {} holds a checkpoint at audit record {latest}, past the restored trail's end ({restored_to}): cofre audit verify will report the records after the backup as removed; if this store replaces the one that file witnessed, move the file aside",
            path.display()
        );
    }
}

pub async fn migrate_store(core: &Core, to: &str) -> CliResult {
    let restored = moving::migrate_store(core, to).await?;
    report("moved", &restored);
    println!("point COFRE_DATABASE_URL at the new store and start cofre with the same master key");
    Ok(())
}

fn report(what: &str, r: &Restored) {
    println!(
        "{what}: {} rows in {} tables, {} sealed values open, {} audit records verified",
        r.summary.rows(),
        r.summary.counts.len(),
        r.sealed_values,
        r.audit_records
    );
}
