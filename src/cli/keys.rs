//! `cofre key …`: the master key and data keys, rotated while cofre serves.

use super::CliResult;
use crate::service::Core;
use crate::service::integrity::{keys as key_ops, sealed};

use clap::Subcommand;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Re-wrap every data key under the master key in FILE (64 hex digits, mode 0600), then
    /// install FILE's key as the master key file, keeping the old one beside it as
    /// `<key file>.retired-<id>` for the backups taken before. Resumes an interrupted rotation.
    Rotate {
        #[arg(long)]
        new_key_file: std::path::PathBuf,
    },
    /// Start sealing new values under a fresh data key (every process switches within one
    /// job interval).
    NewDataKey,
    /// Move values sealed under older data keys to the newest, at most RATE values a second.
    Reseal {
        #[arg(long, default_value_t = 200)]
        rate: u64,
    },
    /// Delete a data key nothing is sealed under any more.
    RetireDataKey { id: i64 },
    /// The data keys, what wraps each, and how many values each seals.
    List,
}

pub async fn run(core: &Core, command: KeyCommand) -> CliResult {
    match command {
        KeyCommand::Rotate { new_key_file } => {
            let done = key_ops::rotate_master_key(core, &new_key_file, |done, total| {
                eprintln!("re-wrapped {done}/{total} data keys");
                std::ops::ControlFlow::Continue(())
            })
            .await?;
            println!(
                "master key rotated to {:08x}: {} data keys wrapped by it ({} re-wrapped now); {} holds it",
                done.kek_id,
                done.data_keys,
                done.rewrapped,
                core.config.master_key_path().display()
            );
            if let Some((old, kept)) = &done.retired {
                println!(
                    "the old key {old:08x} is kept at {} (mode 0600): backups taken before this rotation need it, and cofre restore finds it there; delete it only when no such backup is kept",
                    kept.display()
                );
            }
            Ok(())
        }
        KeyCommand::NewDataKey => {
            let id = core.new_data_key().await?;
            super::run::created_ids(&[("data_key_id", id)]);
            println!("data key {id} created: new values are sealed under it (cofre key reseal moves the old ones)");
            Ok(())
        }
        KeyCommand::Reseal { rate } => {
            let done = key_ops::reseal(core, rate, |p| {
                eprintln!("resealed {} values under data key {}", p.moved, p.active_key)
            })
            .await?;
            println!("reseal complete: {} values moved to data key {}", done.moved, done.active_key);
            Ok(())
        }
        KeyCommand::RetireDataKey { id } => {
            key_ops::retire_data_key(core, id).await?;
            println!("data key {id} deleted");
            Ok(())
        }
        KeyCommand::List => {
            core.refresh_data_keys().await?;
            let active = i64::from(core.active_data_key_id());
            for key in core.store.data_keys().await? {
                let count = sealed::count_under_key(core, u32::try_from(key.id)?).await?;
                let mark = if key.id == active { " (active)" } else { "" };
                println!("data key {}{mark}: wrapped by master key {:08x}, {count} values", key.id, key.kek_id);
            }
            Ok(())
        }
    }
}
