//! Byte counting, cancellation and the end-of-exchange report, shared by bodies and WebSockets.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::http::StatusCode;
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::Forwarded;

/// The callback that receives an exchange's [`Forwarded`] summary.
pub(super) type Report = Box<dyn FnOnce(Forwarded) + Send>;

/// Counts of one exchange; reports them once, when the last holder drops it (the response body
/// finished or was abandoned, the relay ended).
pub(super) struct Meter {
    pub status: StatusCode,
    pub up: Arc<AtomicU64>,
    pub down: Arc<AtomicU64>,
    /// In a mutex only so the meter is `Sync`, as streamed bodies must be; never contended.
    report: Mutex<Option<Report>>,
}

impl Meter {
    pub fn new(status: StatusCode, up: Arc<AtomicU64>, down: Arc<AtomicU64>, report: Report) -> Self {
        Self { status, up, down, report: Mutex::new(Some(report)) }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let report = self.report.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(report) = report {
            let bytes_up = self.up.load(Ordering::Relaxed);
            let bytes_down = self.down.load(Ordering::Relaxed);
            report(Forwarded { status: self.status, bytes_up, bytes_down });
        }
    }
}

/// A body stream that adds its chunk sizes to a counter and, when the session is dropped, ends
/// with an error: hyper then aborts the connection rather than pretend the body was complete.
pub(super) struct MeteredStream<S> {
    inner: S,
    counter: Arc<AtomicU64>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    done: bool,
    /// Held so the report waits for the body's end.
    _meter: Option<Arc<Meter>>,
}

impl<S> MeteredStream<S> {
    pub fn new(inner: S, counter: Arc<AtomicU64>, cancel: CancellationToken, meter: Option<Arc<Meter>>) -> Self {
        Self { inner, counter, cancelled: Box::pin(cancel.cancelled_owned()), done: false, _meter: meter }
    }
}

impl<S, E> Stream for MeteredStream<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.cancelled.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "session ended"))));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => {
                self.done = true;
                Poll::Ready(Some(Err(io::Error::other(error))))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An upgraded connection whose reads are counted: relaying reads from one side is what the
/// other side receives.
pub(super) struct CountingIo<T> {
    inner: T,
    read: Arc<AtomicU64>,
}

impl<T> CountingIo<T> {
    pub fn new(inner: T, read: Arc<AtomicU64>) -> Self {
        Self { inner, read }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.read.fetch_add(read as u64, Ordering::Relaxed);
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
