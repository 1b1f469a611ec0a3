//! WebSockets, relayed as raw bytes between the browser's upgraded connection and the device's.
//!
//! reqwest 0.12 cannot upgrade a connection, so the device side is hyper's own HTTP/1.1 client
//! connection over a TCP (or tokio-rustls) stream built here: the upgrade request is an ordinary
//! request with the same stripped-then-injected headers, and both upgrades are hyper's. Relaying
//! bytes rather than frames means no WebSocket library and no second handshake: the browser's
//! `Sec-WebSocket-Key` reaches the device and the device's `Sec-WebSocket-Accept` comes back, so
//! extensions and subprotocols work as negotiated. A dropped session closes both connections.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use reqwest::Url;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use super::echo::Needles;
use super::failure::UpstreamError;
use super::forward::guarded_body;
use super::headers::upstream_request_headers;
use super::metered::{CountingIo, Meter, MeteredStream, Report};
use super::rewrite::browser_response_headers;
use super::upstream_tls::{CONNECT_TIMEOUT, Route, UpstreamClients};
use super::{Forwarded, Upstream};
use crate::domain::sessions::failure::FailureCause;

/// A `GET` with `Connection: upgrade` and `Upgrade: websocket` on a connection that can be
/// upgraded (HTTP/1.1 served with upgrades; an HTTP/2 request is forwarded as plain HTTP).
pub(super) fn is_upgrade(request: &Request) -> bool {
    let has_token = |name, token: &str| {
        request
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    request.method() == Method::GET
        && has_token(header::CONNECTION, "upgrade")
        && has_token(header::UPGRADE, "websocket")
        && request.extensions().get::<OnUpgrade>().is_some()
}

/// Sends the upgrade to the device; on its 101, answers the browser 101 and relays in the
/// background until either side closes or `cancel` fires. Any other answer is passed on.
pub(super) async fn relay(
    clients: &UpstreamClients,
    route: &Route,
    upstream: &Upstream,
    mut request: Request,
    cancel: CancellationToken,
    report: Report,
    needles: Arc<Needles>,
) -> Result<Response, UpstreamError> {
    let fail = |error: UpstreamError, report: Report| {
        report(Forwarded { status: error.status(), bytes_up: 0, bytes_down: 0 });
        Err(error)
    };
    let browser_side = hyper::upgrade::on(&mut request);
    let upgrade = match upgrade_request(upstream, &request) {
        Ok(upgrade) => upgrade,
        Err(error) => return fail(error, report),
    };
    let answered = tokio::select! {
        biased;
        () = cancel.cancelled() => Err(UpstreamError::SessionEnded),
        answered = send_upgrade(clients, route, &upstream.base, upgrade) => answered,
    };
    let checked = answered.and_then(|response| needles.admit(response.headers()).map(|()| response));
    let mut response = match checked {
        Ok(response) => response,
        Err(error) => return fail(error, report),
    };
    let up = Arc::new(AtomicU64::new(0));
    let down = Arc::new(AtomicU64::new(0));
    let mut headers = browser_response_headers(response.headers(), upstream);
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        // The device declined (401, 403, 404…): the browser sees its answer, counted as usual.
        let status = response.status();
        let meter = Arc::new(Meter::new(status, up, down.clone(), report));
        let body = Body::new(response.into_body()).into_data_stream();
        let metered = MeteredStream::new(body, down, cancel, Some(meter));
        let mut declined = Response::new(guarded_body(metered, needles));
        *declined.status_mut() = status;
        *declined.headers_mut() = headers;
        return Ok(declined);
    }
    let device_side = hyper::upgrade::on(&mut response);
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let meter = Meter::new(StatusCode::SWITCHING_PROTOCOLS, up, down, report);
    tokio::spawn(async move {
        let relayed = async {
            // The browser's side upgrades once the 101 below has been written to it.
            let (Ok(browser), Ok(device)) = tokio::join!(browser_side, device_side) else { return };
            let mut browser = CountingIo::new(TokioIo::new(browser), meter.up.clone());
            let mut device = CountingIo::new(TokioIo::new(device), meter.down.clone());
            let _ = tokio::io::copy_bidirectional(&mut browser, &mut device).await;
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => {}
            () = relayed => {}
        }
        // Both connections are dropped (closed) here, and the meter reports.
        drop(meter);
    });
    let mut switching = Response::new(Body::empty());
    *switching.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *switching.headers_mut() = headers;
    Ok(switching)
}

/// The upgrade request as the device sees it: path and query, stripped-then-injected headers,
/// the device's `Host`, and the upgrade headers put back after hop-by-hop stripping.
fn upgrade_request(upstream: &Upstream, browser: &Request) -> Result<hyper::Request<Body>, UpstreamError> {
    let mut headers = upstream_request_headers(browser.headers(), upstream);
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let host = HeaderValue::from_str(&authority(&upstream.base)?)
        .map_err(|_| unusable("the device name is not a valid host"))?;
    headers.insert(header::HOST, host);
    let path = browser.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut request = hyper::Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Body::empty())
        .map_err(|e| UpstreamError::Exchange(e.to_string()))?;
    *request.headers_mut() = headers;
    Ok(request)
}

async fn send_upgrade(
    clients: &UpstreamClients,
    route: &Route,
    base: &Url,
    request: hyper::Request<Body>,
) -> Result<hyper::Response<hyper::body::Incoming>, UpstreamError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect(clients, route, base)).await.map_err(|_| {
        UpstreamError::Connect { cause: FailureCause::Timeout, detail: "no connection within the timeout".into() }
    })??;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| UpstreamError::Exchange(e.to_string()))?;
    // Drives the connection until the upgrade hands it over (or it fails).
    tokio::spawn(connection.with_upgrades());
    sender.send_request(request).await.map_err(|e| UpstreamError::Exchange(e.to_string()))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A TCP connection to the device (at an address the target policy allows: the route's, or
/// those of `base`'s host), wrapped in verified TLS for `https`/`wss` under `base`'s host.
async fn connect(clients: &UpstreamClients, route: &Route, base: &Url) -> Result<Box<dyn Io>, UpstreamError> {
    let host = base.host_str().ok_or_else(|| unusable("no host"))?;
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses = match &route.addresses {
        Some(pinned) => pinned.clone(),
        None => clients.addresses(base).await?,
    };
    let tcp = TcpStream::connect(&addresses[..]).await.map_err(|e| UpstreamError::from_io(&e))?;
    match base.scheme() {
        "https" | "wss" => {
            let name = ServerName::try_from(bare_host.to_owned())
                .map_err(|_| unusable("the device name is not a valid TLS name"))?;
            let tls = TlsConnector::from(Arc::clone(&route.trusted.tls))
                .connect(name, tcp)
                .await
                .map_err(|e| UpstreamError::from_io(&e))?;
            Ok(Box::new(tls))
        }
        _ => Ok(Box::new(tcp)),
    }
}

fn unusable(detail: &str) -> UpstreamError {
    UpstreamError::Connect { cause: FailureCause::Unreachable, detail: detail.to_owned() }
}

/// `host[:port]` for the `Host` header (the port only when not the scheme's default).
fn authority(base: &Url) -> Result<String, UpstreamError> {
    let host = base.host_str().ok_or_else(|| unusable("no host"))?;
    Ok(match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}
