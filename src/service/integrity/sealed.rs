//! Operations over every sealed value in the store (the registry and its SQL are in
//! `store/integrity/sealed.rs`): open them all (the check after `cofre restore` and `cofre
//! migrate-store`), move them to the active data key (`cofre key reseal`), and count them under
//! a data key (`cofre key list`, and before `cofre key retire-data-key`).

use crate::crypto::cipher::{Aad, blob_key_id};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
pub use crate::store::integrity::sealed::{Key, SEALED_COLUMNS, SealedColumn};
use crate::store::integrity::sealed::{KeyValue, SealedRow, Under};

/// Rows read at a time (sealed values are at most a 64 KiB file chunk each).
const PAGE: u64 = 64;
/// How many times a reseal looks again when every value it tried was rewritten meanwhile.
const LOST_RACE_ROUNDS: u32 = 5;

fn name(column: &SealedColumn, key: &KeyValue) -> String {
    format!("{}.{} row {key}", column.table, column.column)
}

/// Opens one value; the reason it does not open, otherwise (never its content).
async fn open(core: &Core, column: &SealedColumn, row: &SealedRow) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
    let Some(aad_row) = &row.aad_row else {
        return Err("the row its associated data names is gone".into());
    };
    let key_id = blob_key_id(&row.blob).map_err(|e| e.to_string())?;
    core.unseal(&Aad::new(column.table, aad_row, column.aad_field), &row.blob).await.map_err(|e| {
        let why = e.audit_reason.map_or_else(|| e.message.to_string(), str::to_owned);
        format!("sealed under data key {key_id}: {why}")
    })
}

/// What opening every sealed value found.
#[derive(Debug, Default)]
pub struct SealedCheck {
    pub opened: u64,
    /// "table.column row KEY: reason", one per value that did not open.
    pub failures: Vec<String>,
}

/// Opens every sealed value in the store, a page at a time, counting them.
pub async fn check_all(core: &Core) -> ApiResult<SealedCheck> {
    let mut check = SealedCheck::default();
    for column in SEALED_COLUMNS {
        let mut after = None;
        loop {
            let page = core.store.sealed_page(column, after.as_ref(), Under::Any, PAGE).await?;
            for row in &page {
                match open(core, column, row).await {
                    Ok(_) => check.opened += 1,
                    Err(reason) => check.failures.push(format!("{}: {reason}", name(column, &row.key))),
                }
            }
            if (page.len() as u64) < PAGE {
                break;
            }
            after = page.last().map(|r| r.key.clone());
        }
    }
    Ok(check)
}

/// Moves up to `limit` values sealed under a data key other than the active one to the active
/// one, each with a compare-and-set update (`WHERE key = $k AND column = $old_blob`), so a
/// concurrent write of the same value wins and nothing is lost. Returns how many were moved
/// (0 = nothing left). The moves are on disk when it returns. A value that does not open is an
/// error naming it: it cannot be moved, and the key it is under must not be retired.
pub async fn reseal_batch(core: &Core, limit: u64) -> ApiResult<u64> {
    if limit == 0 {
        return Ok(0);
    }
    // Seal under the newest data key, even one another process made.
    core.refresh_data_keys().await?;
    for _ in 0..LOST_RACE_ROUNDS {
        let (moved, lost) = reseal_round(core, limit).await?;
        if moved > 0 {
            core.store.sync().await?;
        }
        if moved > 0 || lost == 0 {
            return Ok(moved);
        }
    }
    Err(ApiError::internal(
        &"values sealed under an older data key keep being rewritten under one: is a process still sealing with an old key?",
    ))
}

/// One pass: (values moved, values another write changed first).
async fn reseal_round(core: &Core, limit: u64) -> ApiResult<(u64, u64)> {
    let active = core.active_data_key_id();
    let (mut moved, mut lost) = (0u64, 0u64);
    for column in SEALED_COLUMNS {
        let mut after = None;
        while moved < limit {
            let want = PAGE.min(limit - moved);
            let page = core.store.sealed_page(column, after.as_ref(), Under::NotKey(active), want).await?;
            for row in &page {
                if blob_key_id(&row.blob).is_ok_and(|id| id == active) {
                    continue;
                }
                let plain = open(core, column, row).await.map_err(|reason| {
                    ApiError::internal(&format!("cannot reseal {}: {reason}", name(column, &row.key)))
                })?;
                let Some(aad_row) = &row.aad_row else { continue };
                let fresh = core.seal(&Aad::new(column.table, aad_row, column.aad_field), &plain);
                if core.store.sealed_compare_and_set(column, &row.key, &row.blob, fresh).await? {
                    moved += 1;
                } else {
                    lost += 1;
                }
            }
            if (page.len() as u64) < want {
                break;
            }
            after = page.last().map(|r| r.key.clone());
        }
        if moved >= limit {
            break;
        }
    }
    Ok((moved, lost))
}

/// How many values are sealed under data key `key_id` (for progress, and to know a retired
/// key is unused). The key id (bytes 1..5 of the blob) is compared in SQL, with each
/// dialect's substring of a blob, and checked again on every matching row's bytes.
pub async fn count_under_key(core: &Core, key_id: u32) -> ApiResult<u64> {
    let mut count = 0u64;
    for column in SEALED_COLUMNS {
        let mut after = None;
        loop {
            let page = core.store.sealed_page(column, after.as_ref(), Under::Key(key_id), PAGE).await?;
            let wanted = key_id.to_be_bytes();
            count += page.iter().filter(|r| r.blob.get(1..5) == Some(&wanted[..])).count() as u64;
            if (page.len() as u64) < PAGE {
                break;
            }
            after = page.last().map(|r| r.key.clone());
        }
    }
    Ok(count)
}
