//! Answering 413 to clients that send the whole body first. Python `requests` and Java's
//! `HttpURLConnection` write an entire oversized body before they read a byte of the answer;
//! if the server closes the connection with their bytes unread, they see a reset instead of
//! the 413. So the request body is shared between the handler and the audit middleware: when
//! the answer is 413, the middleware reads and discards what is left — up to a bound, within
//! a time limit — before the answer goes out.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use hyper::body::{Body as _, Frame, SizeHint};

/// At most this much of an oversized body is read and thrown away before the 413 goes out.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The request body, readable by the handler and, afterwards, drainable by the middleware.
#[derive(Clone)]
pub struct SharedBody(Arc<Mutex<Body>>);

impl SharedBody {
    pub fn new(body: Body) -> Self {
        Self(Arc::new(Mutex::new(body)))
    }

    /// Reads and discards what the handler left unread, within the bounds above.
    pub async fn drain(self) {
        let drained = async {
            let mut read = 0u64;
            while read <= DRAIN_LIMIT {
                let mut body = &self;
                match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
                    _ => break,
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIME, drained).await;
    }
}

impl hyper::body::Body for &SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.0.lock() {
            Ok(mut body) => Pin::new(&mut *body).poll_frame(cx),
            Err(_) => Poll::Ready(None),
        }
    }
}

impl hyper::body::Body for SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut this = &*self;
        Pin::new(&mut this).poll_frame(cx)
    }

    fn size_hint(&self) -> SizeHint {
        self.0.lock().map(|b| hyper::body::Body::size_hint(&*b)).unwrap_or_default()
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().map(|b| hyper::body::Body::is_end_stream(&*b)).unwrap_or(true)
    }
}
