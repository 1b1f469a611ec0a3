//! One browser request forwarded to the device and its answer streamed back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::Uri;
use axum::response::Response;
use reqwest::Url;
use tokio_util::sync::CancellationToken;

use super::echo::{EchoGuard, Needles};
use super::failure::UpstreamError;
use super::headers::upstream_request_headers;
use super::metered::{Meter, MeteredStream, Report};
use super::rewrite::browser_response_headers;
use super::upstream_tls::UpstreamClients;
use super::{Forwarded, Upstream, websocket};

/// Forwards `request` to `upstream` and returns the response for the browser.
///
/// Bodies stream both ways, never held whole. A WebSocket upgrade is relayed until either side
/// closes or `cancel` fires; firing `cancel` (a dropped session) also cuts any body in flight.
/// `report` is called exactly once, when the exchange ends: after the response body has been
/// sent or abandoned, after a relay closes, or at once on failure.
///
/// `Err` means the device could not be reached (refused, unreachable, certificate rejected, or the
/// session ended before it answered); its `IntoResponse` is the page for the browser, and the
/// caller records the session as failed unless the error [`is_session_end`](UpstreamError::is_session_end).
pub async fn forward(
    clients: &UpstreamClients,
    upstream: &Upstream,
    request: Request,
    cancel: CancellationToken,
    report: impl FnOnce(Forwarded) + Send + 'static,
) -> Result<Response, UpstreamError> {
    let report: Report = Box::new(report);
    let up = Arc::new(AtomicU64::new(0));
    let needles = Needles::of(upstream);
    let outcome = match clients.route(upstream).await {
        Ok(route) if websocket::is_upgrade(&request) => {
            return websocket::relay(clients, &route, upstream, request, cancel, report, needles).await;
        }
        Ok(route) => exchange(&route.trusted.http, upstream, request, up.clone(), cancel.clone()).await,
        Err(error) => Err(error),
    };
    let outcome = outcome.and_then(|r| needles.admit(r.headers()).map(|()| r));
    match outcome {
        Ok(response) => Ok(metered_response(upstream, response, up, cancel, report, needles)),
        Err(error) => {
            // Part of a request body may have gone before the device failed.
            report(Forwarded { status: error.status(), bytes_up: up.load(Ordering::Relaxed), bytes_down: 0 });
            Err(error)
        }
    }
}

/// Sends the request, its body (if any) streamed and counted into `up`; returns at the device's
/// response headers.
async fn exchange(
    client: &reqwest::Client,
    upstream: &Upstream,
    request: Request,
    up: Arc<AtomicU64>,
    cancel: CancellationToken,
) -> Result<reqwest::Response, UpstreamError> {
    let url = device_url(&upstream.base, request.uri());
    let headers = upstream_request_headers(request.headers(), upstream);
    let method = request.method().clone();
    let mut outgoing = client.request(method, url).headers(headers);
    // A bodiless request stays bodiless: a streamed body would turn a GET into a chunked one.
    if !request.body().is_end_stream() {
        let body = Box::pin(request.into_body().into_data_stream());
        outgoing = outgoing.body(reqwest::Body::wrap_stream(MeteredStream::new(body, up, cancel.clone(), None)));
    }
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(UpstreamError::SessionEnded),
        sent = outgoing.send() => sent.map_err(|e| UpstreamError::from_reqwest(&e)),
    }
}

/// The device's response with rewritten headers and a counted body that ends with the session.
fn metered_response(
    upstream: &Upstream,
    response: reqwest::Response,
    up: Arc<AtomicU64>,
    cancel: CancellationToken,
    report: Report,
    needles: Arc<Needles>,
) -> Response {
    let down = Arc::new(AtomicU64::new(0));
    let status = response.status();
    let headers = browser_response_headers(response.headers(), upstream);
    let meter = Arc::new(Meter::new(status, up, down.clone(), report));
    let body = MeteredStream::new(Box::pin(response.bytes_stream()), down, cancel, Some(meter));
    let mut browser = Response::new(guarded_body(body, needles));
    *browser.status_mut() = status;
    *browser.headers_mut() = headers;
    browser
}

/// A device's body for the browser, cut before any copy of the injected credential.
pub(super) fn guarded_body<S>(body: S, needles: Arc<Needles>) -> Body
where
    S: futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> + Send + Unpin + 'static,
{
    if needles.is_empty() { Body::from_stream(body) } else { Body::from_stream(EchoGuard::new(body, needles)) }
}

/// The device URL for a browser request: the device's origin with the browser's path and query.
pub(super) fn device_url(base: &Url, uri: &Uri) -> Url {
    let mut url = base.clone();
    url.set_path(uri.path());
    url.set_query(uri.query());
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_urls_keep_path_and_query_on_the_device_origin() {
        let base = Url::parse("https://10.0.0.5:8443/ignored").expect("url");
        let uri: Uri = "/app/page?x=1&y=%20".parse().expect("uri");
        assert_eq!(device_url(&base, &uri).as_str(), "https://10.0.0.5:8443/app/page?x=1&y=%20");
        let root: Uri = "/".parse().expect("uri");
        assert_eq!(device_url(&base, &root).as_str(), "https://10.0.0.5:8443/");
    }
}
