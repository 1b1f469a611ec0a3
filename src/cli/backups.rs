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
    Ok(())
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
