//! MySafe file content: sealed in chunks, each bound to its item and position, and read back
//! one chunk at a time so a file is never whole in memory.

use zeroize::Zeroizing;

use crate::crypto::cipher::Aad;
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::service::Core;
use crate::service::mysafe::items::{ItemView, SafeItemKind, not_found};

/// Files are sealed in chunks of this many bytes; only the last may be shorter.
pub const FILE_CHUNK: usize = 64 * 1024;

pub fn chunk_aad(row: &str) -> Aad<'_> {
    Aad::new("mysafe_file_chunks", row, "data")
}

/// A file's content, opened one chunk at a time as it is read, so it is never whole in memory.
/// It is the version the access check read: if the item changes meanwhile, the next read fails
/// (`Stale`) instead of mixing two contents.
pub struct FileReader {
    item_id: i64,
    uid: String,
    revision: i64,
    chunks: i64,
    next: i64,
    size: usize,
    remaining: usize,
    first: Option<Zeroizing<Vec<u8>>>,
}

/// Checks that every chunk is there and opens the first, so that the likeliest failures (a
/// missing chunk, a key that cannot be had) are answered before any of the content is sent.
pub async fn open_file(core: &Core, view: &ItemView) -> ApiResult<FileReader> {
    let row = &view.row;
    let size = usize::try_from(row.file_size).map_err(|_| ApiError::internal(&"a negative file size"))?;
    let chunks = core
        .store
        .mysafe_file_chunk_count(row.id, row.revision)
        .await
        .or_not_found(|| not_found(SafeItemKind::File))?;
    if usize::try_from(chunks).ok() != Some(size.div_ceil(FILE_CHUNK)) {
        let cause = format!("MySafe file {} has {chunks} chunks for {size} bytes", row.id);
        return Err(ApiError::internal(&cause));
    }
    let mut reader = FileReader {
        item_id: row.id,
        uid: row.uid.clone(),
        revision: row.revision,
        chunks,
        next: 0,
        size,
        remaining: size,
        first: None,
    };
    reader.first = reader.read(core).await?;
    Ok(reader)
}

impl FileReader {
    /// The content's length in bytes, checked against the chunks as they are read.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The next chunk in clear; `None` after the last.
    pub async fn next(&mut self, core: &Core) -> ApiResult<Option<Zeroizing<Vec<u8>>>> {
        match self.first.take() {
            Some(first) => Ok(Some(first)),
            None => self.read(core).await,
        }
    }

    async fn read(&mut self, core: &Core) -> ApiResult<Option<Zeroizing<Vec<u8>>>> {
        if self.next == self.chunks {
            return Ok(None);
        }
        let sealed = core.store.mysafe_file_chunk(self.item_id, self.revision, self.next).await?;
        let plain = core.unseal(&chunk_aad(&format!("{}:{}", self.uid, self.next)), &sealed).await?;
        // Every chunk but the last is full: the size announced before the content stays true.
        let expected = self.remaining.min(FILE_CHUNK);
        if plain.len() != expected {
            let cause =
                format!("MySafe file {} chunk {} has {} bytes, not {expected}", self.item_id, self.next, plain.len());
            return Err(ApiError::internal(&cause));
        }
        self.remaining -= expected;
        self.next += 1;
        Ok(Some(plain))
    }
}
