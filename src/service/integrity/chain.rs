//! The tamper-evident audit chain. Record `n`'s MAC is HMAC-SHA256, under a key held sealed
//! like the other server secrets, over record `n-1`'s MAC, `n` and every stored field, so an
//! edit, deletion, insertion or reordering breaks the chain at the first record it touches.
//! Every row of the trail must have its place in the chain. Cutting off the tail leaves a valid
//! chain; the head row and the checkpoints written outside the database (by default
//! `<data_dir>/audit.checkpoint`, or `audit_checkpoint_file`) catch that.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use futures_util::StreamExt;
use zeroize::Zeroizing;

use crate::crypto::{ct_eq, hmac_sha256};
use crate::domain::audit::{AuditRecord, ChainHead, ChainedRecord};
use crate::error::ApiResult;
use crate::service::Core;

/// Computes the links of the chain.
#[derive(Clone)]
pub struct ChainKey(Zeroizing<Vec<u8>>);

impl ChainKey {
    pub fn new(key: Zeroizing<Vec<u8>>) -> Self {
        Self(key)
    }

    /// The MAC of record `seq` with `record`'s content, following `prev`.
    pub fn link(&self, prev: &[u8], seq: i64, record: &AuditRecord) -> [u8; 32] {
        let mut m = Vec::with_capacity(128 + record.detail.len() + record.route.len());
        m.extend_from_slice(b"cofre audit chain v1");
        put_bytes(&mut m, prev);
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&record.at_ms.to_be_bytes());
        put_bytes(&mut m, record.request_id.as_bytes());
        put_bytes(&mut m, record.client_ip.as_bytes());
        for id in [record.application_id, record.authorization_id] {
            match id {
                None => m.push(0),
                Some(id) => {
                    m.push(1);
                    m.extend_from_slice(&id.to_be_bytes());
                }
            }
        }
        put_bytes(&mut m, record.method.as_bytes());
        put_bytes(&mut m, record.route.as_bytes());
        m.extend_from_slice(&record.status.to_be_bytes());
        put_bytes(&mut m, record.outcome.as_bytes());
        put_bytes(&mut m, record.detail.as_bytes());
        hmac_sha256(&self.0, &m)
    }

    fn holds(&self, prev: &[u8], seq: i64, r: &ChainedRecord) -> bool {
        ct_eq(&self.link(prev, seq, &r.record), &r.mac)
    }
}

/// Length-prefixed, so no two field sequences encode alike.
fn put_bytes(m: &mut Vec<u8>, bytes: &[u8]) {
    m.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    m.extend_from_slice(bytes);
}

/// A point of the chain written down outside the database.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    /// Hex.
    pub mac: String,
    /// Unix milliseconds when written.
    pub at_ms: i64,
    /// Records in the chain up to `seq`.
    pub count: i64,
}

impl Checkpoint {
    pub fn of(head: &ChainHead, now_ms: i64) -> Self {
        Self { seq: head.seq, mac: hex::encode(&head.mac), at_ms: now_ms, count: head.seq }
    }
}

/// Appends one checkpoint line (JSON) to `path` and flushes it to disk.
pub fn append_checkpoint(path: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let mut line = serde_json::to_string(checkpoint).map_err(std::io::Error::other)?;
    line.push('\n');
    file.write_all(line.as_bytes())?;
    file.sync_data()
}

/// Every checkpoint in `path`; a missing file holds none, a malformed line is an error.
pub fn read_checkpoints(path: &Path) -> Result<Vec<Checkpoint>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .map_err(|e| format!("{} line {}: not a checkpoint ({e})", path.display(), n + 1))?,
        );
    }
    Ok(out)
}

/// Writes a checkpoint of the current head.
pub async fn checkpoint(core: &Core, path: &Path) -> ApiResult<Checkpoint> {
    let head = core.store.audit_head().await?;
    let checkpoint = Checkpoint::of(&head, core.now().saturating_mul(1000));
    let written = checkpoint.clone();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || append_checkpoint(&path, &written))
        .await
        .map_err(|e| crate::error::ApiError::internal(&format!("checkpoint writer: {e}")))?
        .map_err(|e| crate::error::ApiError::internal(&format!("cannot write the checkpoint file: {e}")))?;
    Ok(checkpoint)
}

/// What `verify` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every record from `from` to `to` links to the one before; `count` of them.
    Intact { from: i64, to: i64, count: u64 },
    /// The first problem, located: `seq` names the record, `problem` says what happened.
    Broken { seq: i64, problem: String },
}

/// Walks the chain from `since` (1: the beginning), checking each link, the head and every
/// checkpoint; stops at the first problem.
pub async fn verify(core: &Core, key: &ChainKey, since: i64, checkpoints: &[Checkpoint]) -> ApiResult<Verdict> {
    let since = since.max(1);
    let broken = |seq: i64, problem: String| Ok(Verdict::Broken { seq, problem });
    if let Some((id, seq)) = core.store.first_row_outside_the_chain().await? {
        let seq = seq.map_or_else(|| "NULL".to_owned(), |s| s.to_string());
        return broken(0, format!("row id {id} (seq {seq}) has no place in the chain: it was inserted"));
    }
    let mut prev = if since == 1 {
        Vec::new()
    } else {
        match core.store.audit_mac(since - 1).await? {
            Some(mac) => mac,
            None => return broken(since - 1, format!("record {} is missing: deleted", since - 1)),
        }
    };
    let marks: HashMap<i64, &Checkpoint> = checkpoints.iter().map(|c| (c.seq, c)).collect();
    let mut expected = since;
    let mut count = 0u64;
    let mut rows = std::pin::pin!(core.store.chained_audit(since));
    while let Some(row) = rows.next().await {
        let row = row?;
        if row.seq > expected {
            let gap = if row.seq == expected + 1 {
                format!("record {expected} is missing: deleted")
            } else {
                format!("records {expected} to {} are missing: deleted", row.seq - 1)
            };
            return broken(expected, gap);
        }
        if row.seq < expected {
            return broken(row.seq, format!("record {} appears twice: one was inserted", row.seq));
        }
        if !key.holds(&prev, expected, &row) {
            let next = match rows.next().await {
                Some(next) => Some(next?),
                None => None,
            };
            return broken(expected, diagnose(key, &prev, &row, next.as_ref()));
        }
        if let Some(mark) = marks.get(&expected)
            && !ct_eq(hex::encode(&row.mac).as_bytes(), mark.mac.as_bytes())
        {
            return broken(
                expected,
                format!(
                    "record {expected} differs from the checkpoint of {}: the trail was rewritten",
                    when(mark.at_ms)
                ),
            );
        }
        prev = row.mac;
        expected += 1;
        count += 1;
    }
    let last = expected - 1;
    let head = core.store.audit_head().await?;
    if head.seq > last {
        return broken(last + 1, cut(last, head.seq, "the chain's head"));
    }
    // The head moves in the transaction that appends, and is read after the walk: records past
    // it were never appended through it, or it was moved back.
    if head.seq < last && count > 0 {
        return broken(
            head.seq + 1,
            format!(
                "the chain's head is at record {} but the trail goes on to record {last}: the head was rewound",
                head.seq
            ),
        );
    }
    if head.seq == last && last >= since && !ct_eq(&head.mac, &prev) {
        return broken(last, format!("record {last} does not match the chain's head: one of them was altered"));
    }
    if let Some(mark) = checkpoints.iter().filter(|c| c.seq > last).max_by_key(|c| c.seq) {
        return broken(last + 1, cut(last, mark.seq, &format!("the checkpoint of {}", when(mark.at_ms))));
    }
    Ok(Verdict::Intact { from: since, to: last, count })
}

fn cut(last: i64, recorded: i64, witness: &str) -> String {
    let missing = recorded - last;
    let records = if missing == 1 { "record was".to_owned() } else { format!("{missing} records were") };
    format!("the trail ends at record {last} but {witness} is at record {recorded}: the last {records} removed")
}

/// Says what most likely happened at a record whose MAC does not hold, from its neighbour.
fn diagnose(key: &ChainKey, prev: &[u8], row: &ChainedRecord, next: Option<&ChainedRecord>) -> String {
    let seq = row.seq;
    let Some(next) = next else {
        return format!("record {seq}, the last, does not match its MAC: it was altered or forged");
    };
    if key.holds(&row.mac, next.seq, next) {
        return format!("record {seq} was altered in place");
    }
    if key.holds(prev, seq, next) {
        if key.holds(&next.mac, seq + 1, row) {
            return format!("records {seq} and {} were swapped", seq + 1);
        }
        return format!("a record was inserted at {seq}, and the ones after it renumbered");
    }
    if key.holds(&row.mac, next.seq + 1, next) {
        return format!("record {seq} was deleted, and the ones after it renumbered");
    }
    format!("record {seq} does not match its MAC: the trail was altered from here")
}

/// RFC 3339, UTC.
fn when(at_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at_ms / 1000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| at_ms.to_string())
}
