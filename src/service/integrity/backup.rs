//! Backups: one file holding every table as of one moment, sealed whole under a key derived
//! from the master key, so it is useless without that key and any change to it is detected.
//!
//! Layout: a JSON header line (format, schema, the master key's id, backup id), then frames of
//! `u32 length ‖ AES-256-GCM blob`. Each frame's associated data names the backup (a digest of
//! the header), its index, and whether it is the last, so frames cannot be edited, dropped,
//! reordered or cut off unnoticed. Frames hold JSON lines: `{"table","columns"}` then one
//! array per row; the last holds the row count of every table.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::crypto::cipher::{Aad, SealingKey};
use crate::crypto::keyring::MasterKey;
use crate::store::Store;
use crate::store::integrity::loading::Loader;
use crate::store::integrity::snapshot::{Cell, Column, SnapshotError, SnapshotItem};

const FORMAT: &str = "cofre-backup";
const VERSION: u32 = 1;
const FRAME_TARGET: usize = 1 << 20;
const FRAME_LIMIT: usize = 64 << 20;
const ROWS_PER_INSERT: usize = 500;

#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The newest migration of the store it was taken from.
    pub schema: i64,
    pub source: String,
    /// The id of the master key it needs, as `cofre key list` shows it.
    pub master_key: String,
    pub backup_id: String,
    pub created_at_ms: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Table { table: String, columns: Vec<String> },
    End { counts: BTreeMap<String, i64> },
    Row(Vec<Cell>),
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<SnapshotError> for BackupError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Store(e) => Self::Store(e),
            SnapshotError::Sink(e) => Self::Io(e),
        }
    }
}

fn refused(message: impl Into<String>) -> BackupError {
    BackupError::Refused(message.into())
}

/// What a backup holds.
#[derive(Debug, Default)]
pub struct Summary {
    pub counts: BTreeMap<String, i64>,
}

impl Summary {
    pub fn rows(&self) -> i64 {
        self.counts.values().sum()
    }
}

/// Writes a backup of `store` to `path` (through a temporary file, so a failed backup leaves
/// nothing under that name). Writes go on meanwhile; the backup is one moment of the store.
pub async fn backup(store: &Store, master: &MasterKey, path: &Path, now_ms: i64) -> Result<Summary, BackupError> {
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        schema: store.schema_version().await?,
        source: format!("{:?}", store.backend()).to_ascii_lowercase(),
        master_key: format!("{:08x}", master.id()),
        backup_id: uuid::Uuid::new_v4().to_string(),
        created_at_ms: now_ms,
    };
    let temporary = path.with_extension("partial");
    let file = private_file(&temporary)?;
    let mut writer = FrameWriter::new(BufWriter::new(file), master, &header)?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut current = String::new();
    store
        .snapshot(|item| {
            let line = match item {
                SnapshotItem::Table { name, columns } => {
                    current = name.to_owned();
                    counts.insert(current.clone(), 0);
                    Line::Table { table: name.to_owned(), columns: columns.iter().map(|c| c.name.clone()).collect() }
                }
                SnapshotItem::Row(cells) => {
                    *counts.entry(current.clone()).or_default() += 1;
                    Line::Row(cells)
                }
            };
            writer.line(&line)
        })
        .await?;
    writer.finish(&Line::End { counts: counts.clone() })?;
    std::fs::rename(&temporary, path)?;
    Ok(Summary { counts })
}

/// Reads `path`'s header, checking it is a cofre backup this build can restore.
pub fn read_header(path: &Path) -> Result<Header, BackupError> {
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let (header, _) = header_of(&mut reader, i64::MAX)?;
    Ok(header)
}

/// Loads the backup at `path` into `target`, which must be empty (fresh from `migrate`), in one
/// transaction: a damaged, cut or tampered file, or one for another key, changes nothing.
/// `master` opens the backup; with `rewrap_to` (the current master key, when `master` is one a
/// rotation retired) the loaded data keys are re-wrapped under it in the same transaction.
pub async fn restore(
    target: &Store,
    master: &MasterKey,
    rewrap_to: Option<&MasterKey>,
    path: &Path,
) -> Result<Summary, BackupError> {
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let (header, digest) = header_of(&mut reader, target.known_schema_version())?;
    if header.master_key != format!("{:08x}", master.id()) {
        return Err(refused(format!(
            "this backup needs master key {}, and the master key file holds {:08x}: point COFRE_MASTER_KEY_FILE at the key the backup was made with",
            header.master_key,
            master.id()
        )));
    }
    if let Some(table) = target.is_empty().await? {
        return Err(refused(format!(
            "the target store is not empty (table {table} has rows): restore only into a new, empty store"
        )));
    }
    let catalog: BTreeMap<String, Vec<Column>> = {
        let mut catalog = BTreeMap::new();
        for table in target.tables().await? {
            let columns = target.columns(&table).await?;
            catalog.insert(table, columns);
        }
        catalog
    };
    let key = master.backup_key(&header.backup_id);
    let mut loader = target.begin_load().await?;
    let mut loaded: Vec<(String, Vec<Column>)> = Vec::new();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut pending: Vec<Vec<Cell>> = Vec::new();
    let mut index = 0u64;
    let mut ended = None;
    while ended.is_none() {
        let Some((last, plaintext)) = read_frame(&mut reader, &key, &digest, index)? else {
            return Err(refused(format!(
                "the backup is truncated: it ends after {index} frames, without its final one"
            )));
        };
        index += 1;
        for text in plaintext.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let line: Line = serde_json::from_slice(text).map_err(|e| {
                refused(format!("the backup holds a malformed line ({e}): it was not written by cofre"))
            })?;
            match line {
                Line::Table { table, columns } => {
                    flush(&mut loader, loaded.last(), &mut pending).await?;
                    let known = catalog.get(&table).ok_or_else(|| {
                        refused(format!("the backup has a table {table:?} this store's schema does not have"))
                    })?;
                    let mut picked = Vec::with_capacity(columns.len());
                    for name in &columns {
                        let column = known.iter().find(|c| &c.name == name).ok_or_else(|| {
                            refused(format!("the backup has a column {table}.{name} this store's schema does not have"))
                        })?;
                        picked.push(column.clone());
                    }
                    counts.insert(table.clone(), 0);
                    loader.start_table(&table, &picked);
                    loaded.push((table, picked));
                }
                Line::Row(cells) => {
                    let Some((table, columns)) = loaded.last() else {
                        return Err(refused("the backup has a row before any table"));
                    };
                    if cells.len() != columns.len() {
                        return Err(refused(format!(
                            "a row of {table} has {} values for {} columns",
                            cells.len(),
                            columns.len()
                        )));
                    }
                    *counts.entry(table.clone()).or_default() += 1;
                    pending.push(cells);
                    if pending.len() >= ROWS_PER_INSERT {
                        flush(&mut loader, loaded.last(), &mut pending).await?;
                    }
                }
                Line::End { counts } => ended = Some(counts),
            }
        }
        if last != ended.is_some() {
            return Err(refused("the backup's final frame is out of place: it was tampered with"));
        }
    }
    flush(&mut loader, loaded.last(), &mut pending).await?;
    if reader.fill_buf()?.iter().any(|_| true) {
        return Err(refused("the backup has data after its final frame: it was tampered with"));
    }
    let expected = ended.unwrap_or_default();
    if expected != counts {
        return Err(refused("the backup's row counts do not match its rows: it is damaged"));
    }
    if let Some(current) = rewrap_to {
        rewrap_loaded(&mut loader, master, current).await?;
    }
    loader.finish(&loaded).await?;
    Ok(Summary { counts })
}

/// Re-wraps the loaded data keys that `from` wraps under `to`.
async fn rewrap_loaded(loader: &mut Loader, from: &MasterKey, to: &MasterKey) -> Result<(), BackupError> {
    for key in loader.data_keys().await? {
        if key.kek_id == i64::from(from.id()) {
            let wrapped = from.rewrap(key.id, &key.wrapped, to).map_err(|_| {
                refused(format!(
                    "data key {} does not open with master key {:08x}: the backup is damaged",
                    key.id,
                    from.id()
                ))
            })?;
            loader.rewrap_data_key(key.id, i64::from(to.id()), &wrapped).await?;
        }
    }
    Ok(())
}

async fn flush(
    loader: &mut Loader,
    table: Option<&(String, Vec<Column>)>,
    pending: &mut Vec<Vec<Cell>>,
) -> Result<(), BackupError> {
    if let Some((name, columns)) = table
        && !pending.is_empty()
    {
        loader.insert(name, columns, pending).await?;
    }
    pending.clear();
    Ok(())
}

/// Checks the counts in a restored store against the backup's.
pub async fn check_counts(store: &Store, summary: &Summary) -> Result<(), BackupError> {
    for (table, expected) in &summary.counts {
        let found = store.count_rows(table).await?;
        let expected = if table == "audit_chain" { (*expected).min(1) } else { *expected };
        if found != expected && !(table == "audit_chain" && found <= expected) {
            return Err(refused(format!("table {table} has {found} rows after the restore, the backup {expected}")));
        }
    }
    Ok(())
}

/// The config a restore or a move runs with: `config` pointed at `url`.
pub fn targeting(config: &Config, url: &str) -> Config {
    Config { database_url: url.to_owned(), ..config.clone() }
}

fn header_of(reader: &mut impl BufRead, known_schema: i64) -> Result<(Header, String), BackupError> {
    let mut line = Vec::new();
    reader.by_ref().take(64 * 1024).read_until(b'\n', &mut line)?;
    let not_backup = || refused("this file is not a cofre backup");
    if !line.ends_with(b"\n") {
        return Err(not_backup());
    }
    let header: Header = serde_json::from_slice(&line).map_err(|_| not_backup())?;
    if header.format != FORMAT {
        return Err(not_backup());
    }
    if header.version != VERSION {
        return Err(refused(format!("backup format {} is not one this cofre reads ({VERSION})", header.version)));
    }
    if header.schema > known_schema {
        return Err(refused(format!(
            "the backup is from a newer cofre (schema {}; this one knows up to {known_schema}): restore it with that version",
            header.schema
        )));
    }
    let digest = hex::encode(crate::crypto::sha256(&line));
    Ok((header, digest))
}

fn frame_aad<'a>(row: &'a str, last: bool) -> Aad<'a> {
    Aad::new(FORMAT, row, if last { "last" } else { "frame" })
}

/// One frame: whether it is the last, and its plaintext. `None` at the end of the file.
fn read_frame(
    reader: &mut impl Read,
    key: &SealingKey,
    digest: &str,
    index: u64,
) -> Result<Option<(bool, Vec<u8>)>, BackupError> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > FRAME_LIMIT {
        return Err(refused(format!("frame {index} claims {len} bytes: the backup is damaged or tampered with")));
    }
    let mut blob = vec![0u8; len];
    reader.read_exact(&mut blob).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => refused(format!("the backup is truncated inside frame {index}")),
        _ => e.into(),
    })?;
    let row = format!("{digest}/{index}");
    for last in [false, true] {
        if let Ok(plain) = key.open(&frame_aad(&row, last), &blob) {
            return Ok(Some((last, plain.to_vec())));
        }
    }
    Err(refused(format!(
        "frame {index} of the backup fails its integrity check: the backup was tampered with or damaged"
    )))
}

struct FrameWriter<W: Write> {
    out: W,
    key: SealingKey,
    digest: String,
    index: u64,
    buffer: Vec<u8>,
}

impl<W: Write> FrameWriter<W> {
    fn new(mut out: W, master: &MasterKey, header: &Header) -> std::io::Result<Self> {
        let mut line = serde_json::to_vec(header).map_err(std::io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
        let digest = hex::encode(crate::crypto::sha256(&line));
        Ok(Self {
            out,
            key: master.backup_key(&header.backup_id),
            digest,
            index: 0,
            buffer: Vec::with_capacity(FRAME_TARGET),
        })
    }

    fn line(&mut self, line: &Line) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.buffer, line).map_err(std::io::Error::other)?;
        self.buffer.push(b'\n');
        if self.buffer.len() >= FRAME_TARGET {
            self.frame(false)?;
        }
        Ok(())
    }

    fn frame(&mut self, last: bool) -> std::io::Result<()> {
        let row = format!("{}/{}", self.digest, self.index);
        let blob = self.key.seal(&frame_aad(&row, last), &self.buffer);
        self.out.write_all(&u32::try_from(blob.len()).map_err(std::io::Error::other)?.to_be_bytes())?;
        self.out.write_all(&blob)?;
        self.buffer.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals the trailer into the last frame, with whatever rows are still buffered.
    fn finish(mut self, end: &Line) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.buffer, end).map_err(std::io::Error::other)?;
        self.buffer.push(b'\n');
        self.frame(true)?;
        self.out.flush()
    }
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
