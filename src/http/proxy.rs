//! The web-proxy forwarding engine (issue 14): one call per request the browser sends to the
//! proxy origin. It knows nothing of tickets, sessions or the store; the session core hands it an
//! [`Upstream`] (where to go, what to inject, how to trust the device) and a cancellation token
//! (fired on a drop), and records the [`Forwarded`] summary it reports when the exchange ends.
//!
//! - `headers`: what is stripped from the browser's request before the credential is injected.
//! - `inject`: the credential as headers (HTTP Basic, or a `session_settings` header template).
//! - `rewrite`: `Location` and `Set-Cookie` from the device, so the browser stays on the session's
//!   host; headers that reach beyond that host are dropped.
//! - `echo`: the injected credential never comes back to the browser, in headers or bodies.
//! - `forward`: plain HTTP exchanges, bodies streamed and counted both ways.
//! - `websocket`: upgrades relayed as raw bytes between the two upgraded connections.
//! - `upstream_tls`: verified TLS to the device, one client per distinct trust setting (and per
//!   device reached at its address).
//! - `device_names`: the names a device's certificate may carry when it is reached at its address.
//! - `metered`: byte counting, cancellation and the end-of-exchange report.
//! - `failure`: the 502 page and the error the caller records as a failed session.

mod device_names;
mod echo;
mod failure;
mod forward;
pub mod front;
mod headers;
mod inject;
mod metered;
mod rewrite;
mod terminal;
mod upstream_tls;
mod websocket;

use std::net::IpAddr;

use axum::http::{HeaderName, HeaderValue, StatusCode};
use reqwest::Url;

pub use failure::UpstreamError;
pub use forward::forward;
pub use inject::{TemplateError, basic_auth, credential_headers, header_template};
pub use upstream_tls::{UpstreamClients, UpstreamTls};

/// Everything the engine needs to forward one request to a device's web application.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// Scheme, host and port of the device's web application, e.g. `https://web01:8443`. Only
    /// the origin is used: the browser's path and query are forwarded as they are. The host is
    /// the device's name: what `Host` says, what SNI carries and what its certificate must name.
    pub base: Url,
    /// Where to connect when it is not `base`'s host: the device's address (its `ip`, an address
    /// literal or a name), checked against `target_networks` like any. `base`'s host is then
    /// never looked up, and the certificate may name this address instead of the name.
    pub address: Option<String>,
    /// Headers added after the browser's own `Authorization` and cofre's cookie are stripped;
    /// values are marked sensitive. See [`basic_auth`] and [`header_template`].
    pub inject: Vec<(HeaderName, HeaderValue)>,
    /// The origin the browser sees, e.g. `https://proxy.vault.example:8444`: `Location` headers
    /// that point at the device are rewritten onto it.
    pub public_origin: Url,
    /// Name of cofre's own session cookie: removed from the forwarded `Cookie` header, and a
    /// device's `Set-Cookie` of that name is dropped so it cannot replace the session cookie.
    pub own_cookie: &'static str,
    /// How the device's certificate is verified.
    pub tls: UpstreamTls,
    /// The browser as cofre tells the device.
    pub client: ClientHop,
    /// The credential itself (the password, `user:password`): like the injected headers, never
    /// passed back to the browser in any form the engine can see.
    pub secrets: Vec<zeroize::Zeroizing<String>>,
}

/// What the device is told of the browser's hop, in `X-Forwarded-*` and `Forwarded` (RFC 7239):
/// the browser's own copies of those headers are dropped, since it could claim any address.
#[derive(Clone, Debug)]
pub struct ClientHop {
    pub ip: IpAddr,
    /// `http` or `https`: how the browser reached the proxy.
    pub proto: &'static str,
    /// The session's host as the browser named it.
    pub host: String,
}

/// What one exchange did, reported once when it ends: when the response body has been sent (or
/// abandoned), when a WebSocket relay closes, or at once when the device could not be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forwarded {
    /// The status the browser got: the device's, 101 for a relayed WebSocket, 502 on failure.
    pub status: StatusCode,
    /// Body bytes (or WebSocket bytes) from the browser to the device.
    pub bytes_up: u64,
    /// Body bytes (or WebSocket bytes) from the device to the browser.
    pub bytes_down: u64,
}
