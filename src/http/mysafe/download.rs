//! A MySafe file's content, streamed inside the usual envelope: the envelope is cut around its
//! `content` value, and the content is opened, base64-encoded and sent one chunk at a time, so
//! memory holds a few chunks whatever the file's size. The exact length is announced, and a
//! failure after the headers breaks the response (and is audited) rather than ending it short.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::body::{Frame, SizeHint};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::domain::audit::AuditRecord;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::presentation;
use crate::http::middleware::RequestContext;
use crate::service::mysafe::files::FileReader;
use crate::state::AppState;

/// Chunks opened ahead of what the client has taken.
const AHEAD: usize = 2;
const MAX_ROUTE_CHARS: usize = 512;

/// What the audit record of a download that fails mid-body needs to name the request.
pub struct Origin {
    pub context: RequestContext,
    pub caller: (i64, i64),
    pub method: String,
    pub route: String,
}

/// Turns `envelope`, whose content is the string `marker`, into the same envelope with the
/// file's content, base64, in its place.
pub async fn stream(
    state: AppState,
    origin: Origin,
    envelope: Response,
    marker: &str,
    reader: FileReader,
) -> ApiResult<Response> {
    let (mut parts, body) = envelope.into_parts();
    let json = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| ApiError::internal(&e))?;
    let quoted = format!("\"{marker}\"");
    let at = json
        .windows(quoted.len())
        .position(|w| w == quoted.as_bytes())
        .ok_or_else(|| ApiError::internal(&"the download envelope lost its marker"))?;
    let (prefix, suffix) = (json.slice(..=at), json.slice(at + quoted.len() - 1..));
    let encoded = reader.size().div_ceil(3) * 4;
    let length = u64::try_from(prefix.len() + encoded + suffix.len()).unwrap_or(u64::MAX);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));

    let (tx, rx) = mpsc::channel(AHEAD);
    tx.try_send(Ok(prefix)).map_err(|_| ApiError::internal(&"the download channel is full"))?;
    tokio::spawn(produce(state, origin, reader, tx, suffix));
    Ok(Response::from_parts(parts, Body::new(ChannelBody { rx, left: length })))
}

/// Opens, encodes and sends each chunk in turn; stops when the client goes away.
async fn produce(
    state: AppState,
    origin: Origin,
    mut reader: FileReader,
    tx: mpsc::Sender<io::Result<Bytes>>,
    suffix: Bytes,
) {
    let mut encoder = Encoder::default();
    loop {
        let text = match reader.next(&state.core).await {
            // The clear chunk is zeroized as this arm ends, once encoded.
            Ok(Some(plain)) => encoder.push(&plain),
            Ok(None) => break,
            Err(e) => {
                audit_abort(&state, origin, &e).await;
                let _ = tx.send(Err(io::Error::other("the file could not be read to the end"))).await;
                return;
            }
        };
        if !text.is_empty() && tx.send(Ok(Bytes::from_owner(text))).await.is_err() {
            return;
        }
    }
    let tail = encoder.finish();
    if !tail.is_empty() && tx.send(Ok(Bytes::from_owner(tail))).await.is_err() {
        return;
    }
    let _ = tx.send(Ok(suffix)).await;
}

/// The request was audited as answered when its headers left; this records that it was not.
async fn audit_abort(state: &AppState, origin: Origin, error: &ApiError) {
    let status = presentation(error.kind).status;
    tracing::warn!(request.id = %origin.context.request_id, status, "a file download broke off mid-body");
    let mut detail = serde_json::json!({"reason": "file download broken off", "error": error.message});
    if let Some(id) = &error.error_id {
        detail["error_id"] = id.as_str().into();
    }
    let record = AuditRecord {
        at_ms: state.core.clock.now_ms(),
        request_id: origin.context.request_id.to_string(),
        client_ip: origin.context.client_ip.to_string(),
        application_id: Some(origin.caller.0),
        authorization_id: Some(origin.caller.1),
        method: origin.method,
        route: origin.route.chars().take(MAX_ROUTE_CHARS).collect(),
        status: i64::from(status),
        outcome: if status >= 500 { "error" } else { "rejected" }.to_owned(),
        detail: detail.to_string(),
    };
    if state.audit.record(record).await.is_err() {
        tracing::error!(request.id = %origin.context.request_id, "the broken-off download could not be audited");
    }
}

/// Base64 across chunk boundaries: up to two bytes wait for the next chunk, so the text is
/// exactly the one-shot encoding's. Every buffer is sized up front, so none is reallocated
/// (which would leave a copy behind) and all are zeroized when dropped.
struct Encoder {
    carry: Zeroizing<Vec<u8>>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self { carry: Zeroizing::new(Vec::with_capacity(3)) }
    }
}

impl Encoder {
    fn push(&mut self, mut plain: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity((self.carry.len() + plain.len()) / 3 * 4));
        if !self.carry.is_empty() {
            let take = (3 - self.carry.len()).min(plain.len());
            self.carry.extend_from_slice(&plain[..take]);
            plain = &plain[take..];
            if self.carry.len() < 3 {
                return out;
            }
            append(&mut out, &self.carry);
            self.carry.clear();
        }
        let whole = plain.len() - plain.len() % 3;
        append(&mut out, &plain[..whole]);
        self.carry.extend_from_slice(&plain[whole..]);
        out
    }

    /// The last one or two bytes, padded.
    fn finish(self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(4));
        append(&mut out, &self.carry);
        out
    }
}

fn append(out: &mut Vec<u8>, input: &[u8]) {
    let start = out.len();
    out.resize(start + input.len().div_ceil(3) * 4, 0);
    // The room was just made to measure, so this cannot fail.
    let _ = STANDARD.encode_slice(input, &mut out[start..]);
}

/// The response body: what the producer sends, with the exact length still to come, so that
/// an early end is an error to the client and never a short envelope.
struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    left: u64,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = self.get_mut();
        this.rx.poll_recv(cx).map(|next| match next {
            Some(Ok(bytes)) => {
                this.left = this.left.saturating_sub(bytes.len() as u64);
                Some(Ok(Frame::data(bytes)))
            }
            Some(Err(e)) => Some(Err(e)),
            None if this.left > 0 => Some(Err(io::Error::other("the file download ended early"))),
            None => None,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_encoding_is_the_one_shot_encoding() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
        for split in [1, 2, 3, 4, 5, 64, 100, 999] {
            let mut encoder = Encoder::default();
            let mut text = Vec::new();
            for piece in data.chunks(split) {
                text.extend_from_slice(&encoder.push(piece));
            }
            text.extend_from_slice(&encoder.finish());
            assert_eq!(text, STANDARD.encode(&data).into_bytes(), "pieces of {split}");
        }
    }
}
