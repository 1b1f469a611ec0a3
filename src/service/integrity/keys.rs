//! Key rotation while cofre serves.
//!
//! Master key: every data key is re-wrapped from the old master key to the new one, one row at
//! a time and only if the old key still wraps it, so at every moment each data key opens with
//! one of the two. The new key waits beside the key file (`<file>.next`) until the last row
//! moves, then replaces it: processes and restarts find both meanwhile, and a process that meets
//! a data key wrapped by the new key reads the key file again. The old key is kept beside the
//! key file (`<file>.retired-<id>`, mode 0600): backups taken before the rotation are sealed
//! under it, and `cofre restore` finds it there. A lease keeps a second rotation out; a crashed
//! one is resumed by running the command again.
//!
//! Data keys: `new_data_key` starts sealing under a fresh key, `reseal` moves old values to it
//! at a bounded rate, and `retire` deletes a data key once nothing is sealed under it.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crypto::keyring::MasterKey;
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::integrity::sealed;

const ROTATION_LEASE: &str = "master_key_rotation";
const LEASE_SECONDS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("{0}")]
    NewKey(String),
    #[error(
        "a master key rotation is already running (held by {holder} until {until}); wait for it, or run this again after then to resume it"
    )]
    AlreadyRunning { holder: String, until: i64 },
    #[error("an unfinished rotation to master key {incoming:08x} is under way ({path}); resume it with that key file")]
    OtherRotation { incoming: u32, path: String },
    #[error("data key {0} is wrapped by neither the current nor the new master key")]
    ForeignDataKey(i64),
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How a rotation ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Rotated {
    pub kek_id: u32,
    /// Data keys re-wrapped by this run (a resumed run counts only its own).
    pub rewrapped: usize,
    pub data_keys: usize,
    /// False when `progress` stopped it early: run again to finish.
    pub complete: bool,
    /// Once complete: the retired master key's id and where it is kept.
    pub retired: Option<(u32, PathBuf)>,
}

/// Rotates to the key in `new_key_file`. `progress(done, total)` runs after each data key;
/// `Break` stops there as a crash would (the lease is left to run out, the incoming key stays).
pub async fn rotate_master_key(
    core: &Core,
    new_key_file: &Path,
    mut progress: impl FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<Rotated, RotationError> {
    let new = MasterKey::load(new_key_file).map_err(|e| RotationError::NewKey(format!("new {e}")))?;
    let key_path = core.config.master_key_path();
    let old = core.master_on_disk().map_err(|e| RotationError::NewKey(format!("current {e}")))?;
    if new.id() == old.id() {
        return Err(RotationError::NewKey(format!(
            "{} holds the current master key: give a new one (64 hexadecimal digits, e.g. from `openssl rand -hex 32`)",
            new_key_file.display()
        )));
    }
    let holder = core.process_id.clone();
    let lease = |now: i64| (now, now + LEASE_SECONDS);
    let (now, until) = lease(core.now());
    if let Err(held) = core.store.take_lease(ROTATION_LEASE, &holder, now, until).await.map_err(ApiError::from)? {
        return Err(RotationError::AlreadyRunning { holder: held.holder, until: held.expires_at });
    }
    let incoming = MasterKey::incoming_path(&key_path);
    match MasterKey::load(&incoming) {
        Ok(pending) if pending.id() != new.id() => {
            core.store.release_lease(ROTATION_LEASE, &holder).await.map_err(ApiError::from)?;
            return Err(RotationError::OtherRotation { incoming: pending.id(), path: incoming.display().to_string() });
        }
        Ok(_) => {}
        Err(_) => {
            if incoming.exists() {
                std::fs::remove_file(&incoming)?;
            }
            MasterKey::copy_file(new_key_file, &incoming)?;
        }
    }
    let (old_id, new_id) = (i64::from(old.id()), i64::from(new.id()));
    let data_keys = core.store.data_keys().await.map_err(ApiError::from)?;
    let total = data_keys.len();
    let mut rewrapped = 0;
    for (done, key) in data_keys.iter().enumerate() {
        if key.kek_id == old_id {
            let wrapped = old.rewrap(key.id, &key.wrapped, &new).map_err(ApiError::from)?;
            if core.store.rewrap_data_key(key.id, old_id, new_id, wrapped).await.map_err(ApiError::from)? {
                rewrapped += 1;
            }
        } else if key.kek_id != new_id {
            return Err(RotationError::ForeignDataKey(key.id));
        }
        let (now, until) = lease(core.now());
        core.store
            .take_lease(ROTATION_LEASE, &holder, now, until)
            .await
            .map_err(ApiError::from)?
            .map_err(|held| RotationError::AlreadyRunning { holder: held.holder, until: held.expires_at })?;
        if progress(done + 1, total).is_break() {
            return Ok(Rotated { kek_id: new.id(), rewrapped, data_keys: total, complete: false, retired: None });
        }
    }
    // Every data key opens with the new key: check, then install it as the key file.
    for key in core.store.data_keys().await.map_err(ApiError::from)? {
        if key.kek_id != new_id {
            return Err(RotationError::ForeignDataKey(key.id));
        }
        new.unwrap(key.id, &key.wrapped).map_err(ApiError::from)?;
    }
    let retired = keep_retired(&key_path, &old)?;
    std::fs::rename(&incoming, &key_path)?;
    core.master_for(new_id)?;
    core.store.release_lease(ROTATION_LEASE, &holder).await.map_err(ApiError::from)?;
    Ok(Rotated { kek_id: new.id(), rewrapped, data_keys: total, complete: true, retired: Some((old.id(), retired)) })
}

/// Copies the outgoing key file to `<file>.retired-<id>` before the new key replaces it (a
/// resumed rotation finds the copy already there).
fn keep_retired(key_path: &Path, old: &MasterKey) -> Result<PathBuf, RotationError> {
    let retired = MasterKey::retired_path(key_path, old.id());
    match MasterKey::load(&retired) {
        Ok(kept) if kept.id() == old.id() => return Ok(retired),
        Ok(_) => {
            return Err(RotationError::NewKey(format!(
                "{} holds another key than the one it is named for: move it away, then run this again",
                retired.display()
            )));
        }
        Err(_) if retired.exists() => std::fs::remove_file(&retired)?,
        Err(_) => {}
    }
    MasterKey::copy_file(key_path, &retired)?;
    Ok(retired)
}

/// Progress of a reseal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealProgress {
    pub moved: u64,
    pub active_key: u32,
}

/// Moves every value sealed under an older data key to the active one, at most `per_second`
/// values a second; `report` sees the running total after each batch.
pub async fn reseal(
    core: &Core,
    per_second: u64,
    mut report: impl FnMut(&ResealProgress),
) -> ApiResult<ResealProgress> {
    let per_second = per_second.max(1);
    let batch = per_second.min(500);
    let pause = Duration::from_secs_f64(batch as f64 / per_second as f64);
    let mut progress = ResealProgress { moved: 0, active_key: core.active_data_key_id() };
    loop {
        let moved = sealed::reseal_batch(core, batch).await?;
        if moved == 0 {
            return Ok(progress);
        }
        progress.moved += moved;
        report(&progress);
        tokio::time::sleep(pause).await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    #[error("data key {0} does not exist")]
    Unknown(i64),
    #[error("data key {0} is the one new values are sealed with: make another first (cofre key new-data-key)")]
    Active(i64),
    #[error("{count} values are still sealed under data key {id}: run cofre key reseal first")]
    InUse { id: i64, count: u64 },
    #[error("{0}")]
    Api(#[from] ApiError),
}

/// Deletes data key `id` once nothing is sealed under it.
pub async fn retire_data_key(core: &Core, id: i64) -> Result<(), RetireError> {
    core.refresh_data_keys().await?;
    if i64::from(core.active_data_key_id()) == id {
        return Err(RetireError::Active(id));
    }
    let key_id = u32::try_from(id).map_err(|_| RetireError::Unknown(id))?;
    let count = sealed::count_under_key(core, key_id).await?;
    if count > 0 {
        return Err(RetireError::InUse { id, count });
    }
    if !core.store.delete_data_key(id).await.map_err(ApiError::from)? {
        return Err(RetireError::Unknown(id));
    }
    Ok(())
}
