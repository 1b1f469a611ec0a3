//! Recording an SSH session's terminal as asciicast v2, sealed at rest in chunks bound to the
//! session and their position. The relay calls [`Recorder`] for every output and resize, and
//! `flush` about every second; an error from any of them ends the session (fail closed).

use zeroize::Zeroizing;

use crate::crypto::cipher::Aad;
use crate::domain::sessions::recording::{self, Utf8Stream};
use crate::error::ApiResult;
use crate::service::Core;

/// A chunk is written once this much is buffered (and at every flush).
const CHUNK_BYTES: usize = 32 * 1024;
/// Chunks read from the store at a time.
const READ_PAGE: i64 = 64;

fn chunk_aad(session_id: &str, seq: i64) -> (String, &'static str) {
    (format!("{session_id}:{seq}"), "chunk")
}

pub struct Recorder {
    session_row: i64,
    session_id: String,
    started_ms: i64,
    next_seq: i64,
    buffer: Zeroizing<String>,
    text: Utf8Stream,
}

impl Recorder {
    /// Begins the recording of session row `session_row` (whose 40-hex id is `session_id`):
    /// the header is written at once, so a store that cannot record refuses the session.
    pub async fn start(core: &Core, session_row: i64, session_id: &str, width: u32, height: u32) -> ApiResult<Self> {
        let started_ms = core.clock.now_ms();
        let mut recorder = Self {
            session_row,
            session_id: session_id.to_owned(),
            started_ms,
            next_seq: 0,
            buffer: Zeroizing::new(recording::header(width, height, started_ms.div_euclid(1000))),
            text: Utf8Stream::default(),
        };
        recorder.flush(core).await?;
        Ok(recorder)
    }

    fn since_start(&self, core: &Core) -> i64 {
        core.clock.now_ms() - self.started_ms
    }

    /// What the device printed.
    pub async fn output(&mut self, core: &Core, data: &[u8]) -> ApiResult<()> {
        let text = Zeroizing::new(self.text.push(data));
        if !text.is_empty() {
            let line = Zeroizing::new(recording::event(self.since_start(core), "o", &text));
            self.buffer.push_str(&line);
        }
        if self.buffer.len() >= CHUNK_BYTES { self.flush(core).await } else { Ok(()) }
    }

    /// A marker (asciicast `m`): a command line, or the exit status the device reported.
    pub async fn marker(&mut self, core: &Core, label: &str) -> ApiResult<()> {
        let line = Zeroizing::new(recording::event(self.since_start(core), "m", label));
        self.buffer.push_str(&line);
        if self.buffer.len() >= CHUNK_BYTES { self.flush(core).await } else { Ok(()) }
    }

    /// A window change.
    pub async fn resize(&mut self, core: &Core, cols: u32, rows: u32) -> ApiResult<()> {
        let line = recording::event(self.since_start(core), "r", &recording::size(cols, rows));
        self.buffer.push_str(&line);
        Ok(())
    }

    /// Writes what is buffered as one sealed chunk; nothing when nothing is.
    pub async fn flush(&mut self, core: &Core) -> ApiResult<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let (row, field) = chunk_aad(&self.session_id, self.next_seq);
        let sealed = core.seal(&Aad::new("session_recordings", &row, field), self.buffer.as_bytes());
        core.store.insert_recording_chunk(self.session_row, self.next_seq, &sealed, core.now()).await?;
        self.next_seq += 1;
        self.buffer.clear();
        Ok(())
    }

    /// Flushes the rest, including an unfinished UTF-8 sequence, and ends the recording.
    pub async fn finish(mut self, core: &Core) -> ApiResult<()> {
        let rest = self.text.finish();
        if !rest.is_empty() {
            let line = recording::event(self.since_start(core), "o", &rest);
            self.buffer.push_str(&line);
        }
        self.flush(core).await
    }
}

/// A session's whole recording, opened, or None when it has none (a web session, or one that
/// never reached its device).
pub async fn read(core: &Core, session_row: i64, session_id: &str) -> ApiResult<Option<Zeroizing<Vec<u8>>>> {
    let mut cast = Zeroizing::new(Vec::new());
    let mut from = 0;
    loop {
        let page = core.store.recording_chunks(session_row, from, READ_PAGE).await?;
        let Some(&(last, _)) = page.last() else { break };
        for (seq, sealed) in &page {
            let (row, field) = chunk_aad(session_id, *seq);
            cast.extend_from_slice(&core.unseal(&Aad::new("session_recordings", &row, field), sealed).await?);
        }
        from = last + 1;
    }
    Ok((!cast.is_empty()).then_some(cast))
}
