//! Terminal recordings as asciicast v2 (what asciinema plays): a header line
//! `{"version": 2, "width": W, "height": H, "timestamp": T}`, then one JSON array a line,
//! `[seconds, "o", "output"]` for what the device printed and `[seconds, "r", "COLSxROWS"]` for a
//! window change; `[seconds, "m", "label"]` marks a command line (`exec: …`) and how the device
//! said it ended (`exit status N`, `exit signal NAME`). Input is never recorded, so a password typed at a prompt
//! is not captured.

use serde_json::{Value, json};

/// The header line (with its newline).
pub fn header(width: u32, height: u32, timestamp: i64) -> String {
    format!("{}\n", json!({"version": 2, "width": width, "height": height, "timestamp": timestamp}))
}

/// One event line (with its newline). `at_ms` is the time since the recording began.
pub fn event(at_ms: i64, kind: &str, data: &str) -> String {
    let secs = at_ms.max(0) as f64 / 1000.0;
    format!("{}\n", json!([secs, kind, data]))
}

/// A resize's data: `COLSxROWS`.
pub fn size(cols: u32, rows: u32) -> String {
    format!("{cols}x{rows}")
}

/// Turns terminal output, which may split a UTF-8 sequence between reads, into text: an
/// incomplete sequence at the end waits for the next read; invalid bytes become U+FFFD.
#[derive(Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let keep = incomplete_tail(&self.pending);
        let complete = self.pending.len() - keep;
        let text = String::from_utf8_lossy(&self.pending[..complete]).into_owned();
        self.pending.drain(..complete);
        text
    }

    /// What is left at the end, as text (an unfinished sequence becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

/// How many bytes at the end of `bytes` begin a UTF-8 sequence that is not complete yet.
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back for the lead
        }
        let needs = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0,
        };
        return if needs > back { back } else { 0 };
    }
    0
}

/// A recording read back, for replay.
#[derive(Debug, PartialEq)]
pub struct Cast {
    pub width: u32,
    pub height: u32,
    /// (seconds since the start, kind, data), in order.
    pub events: Vec<(f64, String, String)>,
}

/// Parses an asciicast v2 recording; None when it is not one.
pub fn parse(text: &str) -> Option<Cast> {
    let mut lines = text.lines();
    let head: Value = serde_json::from_str(lines.next()?).ok()?;
    if head["version"] != 2 {
        return None;
    }
    let dim = |key: &str| head[key].as_u64().and_then(|v| u32::try_from(v).ok());
    let mut events = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let Value::Array(e) = serde_json::from_str::<Value>(line).ok()? else { return None };
        let (at, kind, data) = (e.first()?.as_f64()?, e.get(1)?.as_str()?, e.get(2)?.as_str()?);
        events.push((at, kind.to_owned(), data.to_owned()));
    }
    Some(Cast { width: dim("width")?, height: dim("height")?, events })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sequences_wait_for_their_end() {
        let mut s = Utf8Stream::default();
        let word = "ação ✓".as_bytes();
        let (a, b) = word.split_at(2); // inside "ç"
        assert_eq!(s.push(a), "a");
        assert_eq!(s.push(b), "ção ✓");
        assert_eq!(s.push(&[0xE2, 0x9C]), "");
        assert_eq!(s.finish(), "\u{FFFD}");
        assert_eq!(s.push(&[0xFF, b'x']), "\u{FFFD}x");
    }

    #[test]
    fn casts_round_trip() {
        let text = format!(
            "{}{}{}",
            header(80, 24, 1_700_000_000),
            event(1500, "o", "hi\r\n"),
            event(2000, "r", &size(100, 30))
        );
        let cast = parse(&text).expect("a cast");
        assert_eq!((cast.width, cast.height), (80, 24));
        assert_eq!(cast.events, vec![(1.5, "o".into(), "hi\r\n".into()), (2.0, "r".into(), "100x30".into())]);
        assert!(parse("not json\n").is_none());
    }
}
