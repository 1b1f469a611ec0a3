//! The credential cofre injects must never come back to the browser. A device can echo what it was
//! sent (TRACE does, and so do debugging pages), so the values injected are known and every answer
//! is searched for them: a response header holding one refuses the whole response, and a body that
//! holds one is cut before the first byte of it is sent. Bodies are scanned as they stream; a chunk
//! that ends with the beginning of a value keeps that tail until the next chunk, so a value split
//! across two chunks is still found.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::http::HeaderMap;
use futures_util::Stream;
use memchr::memmem;

use zeroize::Zeroizing;

use super::Upstream;
use super::failure::UpstreamError;

/// Shorter values would match ordinary bytes by chance (`Basic` alone, a two-letter password).
const MIN_NEEDLE: usize = 6;

/// The byte strings that must not reach the browser: each injected header value and its
/// credential part after an auth scheme (`Basic …`, `Bearer …`), and the credential itself (the
/// password, `user:password`) as it is and as a page would escape it (URL, JSON, HTML).
pub(super) struct Needles(Vec<Zeroizing<Vec<u8>>>);

impl Needles {
    pub fn of(upstream: &Upstream) -> Arc<Self> {
        let mut plain: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        for (_, value) in &upstream.inject {
            let bytes = value.as_bytes();
            plain.push(Zeroizing::new(bytes.to_vec()));
            if let Some(space) = bytes.iter().position(|b| *b == b' ') {
                plain.push(Zeroizing::new(bytes[space + 1..].trim_ascii().to_vec()));
            }
        }
        for secret in &upstream.secrets {
            plain.push(Zeroizing::new(secret.as_bytes().to_vec()));
            for escaped in escapes(secret) {
                plain.push(Zeroizing::new(escaped.as_bytes().to_vec()));
            }
        }
        plain.retain(|n| n.len() >= MIN_NEEDLE);
        plain.sort_by(|a, b| a.as_slice().cmp(b.as_slice()));
        plain.dedup_by(|a, b| a.as_slice() == b.as_slice());
        Arc::new(Self(plain))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn found_in(&self, haystack: &[u8]) -> bool {
        self.0.iter().any(|needle| memmem::find(haystack, needle).is_some())
    }

    /// Whether a device's answer may go on: no header holds a needle, and the body is in an
    /// encoding the guard can read (devices are asked for `identity`; one that compresses anyway
    /// could hide an echo).
    pub fn admit(&self, headers: &HeaderMap) -> Result<(), UpstreamError> {
        if headers.values().any(|value| self.found_in(value.as_bytes())) {
            return Err(UpstreamError::Echoed);
        }
        let encoded = headers
            .get_all(axum::http::header::CONTENT_ENCODING)
            .iter()
            .any(|v| !v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"identity"));
        if encoded && !self.is_empty() { Err(UpstreamError::Encoded) } else { Ok(()) }
    }

    /// How many bytes at the end of `window` to hold back: the longest tail that begins a needle
    /// (the rest of it may come in the next chunk). Any other tail passes at once, so streamed
    /// answers (server-sent events, long polls) are not delayed.
    fn held_tail(&self, window: &[u8]) -> usize {
        self.0
            .iter()
            .filter_map(|needle| {
                let longest = (needle.len() - 1).min(window.len());
                (1..=longest).rev().find(|&k| window.ends_with(&needle[..k]))
            })
            .max()
            .unwrap_or(0)
    }
}

/// A body stream that ends with an error (hyper then aborts the connection) instead of
/// passing on a needle.
pub(super) struct EchoGuard<S> {
    inner: S,
    needles: Arc<Needles>,
    held: Vec<u8>,
    done: bool,
}

impl<S> EchoGuard<S> {
    pub fn new(inner: S, needles: Arc<Needles>) -> Self {
        Self { inner, needles, held: Vec::new(), done: false }
    }
}

impl<S> Stream for EchoGuard<S>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let mut window = std::mem::take(&mut self.held);
                    window.extend_from_slice(&chunk);
                    if self.needles.found_in(&window) {
                        self.done = true;
                        tracing::warn!("a device's answer held the injected credential; the body was cut");
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            "the device echoed the injected credential",
                        ))));
                    }
                    let keep = self.needles.held_tail(&window);
                    self.held = window.split_off(window.len() - keep);
                    if !window.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(window))));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(None) => {
                    self.done = true;
                    let rest = std::mem::take(&mut self.held);
                    return Poll::Ready((!rest.is_empty()).then(|| Ok(Bytes::from(rest))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// How a page would print `secret` in a URL, a JSON string or HTML, where that differs.
fn escapes(secret: &str) -> Vec<Zeroizing<String>> {
    let url = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string();
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.get(1..json.len().saturating_sub(1)).unwrap_or_default().to_owned();
    let html = secret.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    [url, json, html].into_iter().filter(|e| e != secret).map(Zeroizing::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn needles(values: &[&[u8]]) -> Arc<Needles> {
        Arc::new(Needles(values.iter().map(|v| Zeroizing::new(v.to_vec())).collect()))
    }

    #[test]
    fn the_password_and_its_escapes_are_needles() {
        let escaped = escapes("p&ss w\"rd");
        let texts: Vec<&str> = escaped.iter().map(|e| e.as_str()).collect();
        assert_eq!(texts, ["p%26ss%20w%22rd", "p&ss w\\\"rd", "p&amp;ss w&quot;rd"]);
        assert!(escapes("plainpassword").is_empty());
    }

    async fn run(chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let items: Vec<io::Result<Bytes>> = chunks.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let mut guard = EchoGuard::new(futures_util::stream::iter(items), needles(&[b"c2VjcmV0"]));
        let (mut passed, mut cut) = (Vec::new(), false);
        while let Some(item) = guard.next().await {
            match item {
                Ok(bytes) => passed.extend_from_slice(&bytes),
                Err(_) => cut = true,
            }
        }
        (passed, cut)
    }

    #[tokio::test]
    async fn a_needle_split_across_chunks_is_cut_before_any_of_it_passes() {
        let (passed, cut) = run(&[b"Authorization: Basic c2Vj", b"cmV0\r\n"]).await;
        assert!(cut);
        assert!(!passed.windows(3).any(|w| w == b"c2V"), "{}", String::from_utf8_lossy(&passed));
    }

    #[tokio::test]
    async fn other_bodies_pass_whole() {
        let (passed, cut) = run(&[b"hello ", b"c2Vj", b"", b" world"]).await;
        assert!(!cut);
        assert_eq!(passed, b"hello c2Vj world");
    }
}
