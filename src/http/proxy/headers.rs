//! The browser's request headers as the device sees them: everything that belongs to the browser's
//! hop to the proxy or to cofre is stripped first, then the credential is injected. Stripping first
//! matters because adding a header appends: a browser's `Authorization` would otherwise travel too.

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;

use super::{ClientHop, Upstream};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the
/// non-standard ones proxies still see.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Hop-by-hop headers, `Proxy-*` headers, and those named in `Connection`.
pub(super) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&listed) {
        headers.remove(name);
    }
    let proxy: Vec<HeaderName> = headers.keys().filter(|n| n.as_str().starts_with("proxy-")).cloned().collect();
    for name in proxy {
        headers.remove(name);
    }
}

/// Headers that say who the client is and how it came; only cofre's own reach the device.
const FORWARDING: [&str; 9] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
];

/// Headers a credential template may not set: the engine decides them.
pub(super) fn is_engine_owned(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
        || name.as_str().starts_with("proxy-")
        || FORWARDING.contains(&name.as_str())
        || [header::HOST, header::COOKIE, header::CONTENT_LENGTH].contains(name)
}

/// The browser's forwarding headers replaced by cofre's account of the hop.
fn set_forwarding(headers: &mut HeaderMap, client: &ClientHop) {
    for name in FORWARDING {
        headers.remove(name);
    }
    let ip = client.ip.to_string();
    // RFC 7239 §6: an IPv6 node is quoted and bracketed.
    let node = if client.ip.is_ipv6() { format!("\"[{ip}]\"") } else { ip.clone() };
    let forwarded = format!("for={node};proto={};host=\"{}\"", client.proto, client.host);
    for (name, value) in [
        ("x-forwarded-for", ip.as_str()),
        ("x-forwarded-proto", client.proto),
        ("x-forwarded-host", client.host.as_str()),
        ("forwarded", forwarded.as_str()),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// The headers to send to the device for a browser request. `Host` is left out (each client
/// sets the device's); for a WebSocket the caller adds `Connection`/`Upgrade` back.
pub(super) fn upstream_request_headers(browser: &HeaderMap, upstream: &Upstream) -> HeaderMap {
    let mut headers = browser.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    headers.remove(header::AUTHORIZATION);
    strip_own_cookie(&mut headers, upstream.own_cookie);
    rewrite_origin_headers(&mut headers, &upstream.public_origin, &upstream.base);
    set_forwarding(&mut headers, &upstream.client);
    // The device answers uncompressed, so that `echo` can see any copy of the credential in it.
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    for (name, _) in &upstream.inject {
        headers.remove(name);
    }
    for (name, value) in &upstream.inject {
        let mut value = value.clone();
        value.set_sensitive(true);
        headers.append(name.clone(), value);
    }
    headers
}

/// Keeps every cookie but cofre's own (bytes, not text: cookie values need not be UTF-8); the
/// header goes when nothing is left. Several `Cookie` headers (HTTP/2) become one.
fn strip_own_cookie(headers: &mut HeaderMap, own_cookie: &str) {
    let mut kept: Vec<u8> = Vec::new();
    for pair in headers.get_all(header::COOKIE).iter().flat_map(|v| v.as_bytes().split(|b| *b == b';')) {
        let pair = pair.trim_ascii();
        let name = pair.split(|b| *b == b'=').next().unwrap_or_default().trim_ascii();
        if pair.is_empty() || name == own_cookie.as_bytes() {
            continue;
        }
        if !kept.is_empty() {
            kept.extend_from_slice(b"; ");
        }
        kept.extend_from_slice(pair);
    }
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_bytes(&kept) {
        if !kept.is_empty() {
            headers.insert(header::COOKIE, value);
        }
    }
}

/// `Origin` and `Referer` name the proxy; applications that check them (CSRF guards, WebSocket
/// servers) expect their own origin, so the proxy's is swapped for the device's.
fn rewrite_origin_headers(headers: &mut HeaderMap, public: &Url, device: &Url) {
    let public_origin = public.origin().ascii_serialization();
    let device_origin = device.origin().ascii_serialization();
    for name in [header::ORIGIN, header::REFERER] {
        let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) else { continue };
        let Some(rest) = value.strip_prefix(&public_origin) else { continue };
        if !(rest.is_empty() || rest.starts_with('/')) {
            continue;
        }
        if let Ok(rewritten) = HeaderValue::from_str(&format!("{device_origin}{rest}")) {
            headers.insert(name, rewritten);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::proxy::{UpstreamTls, basic_auth};

    fn upstream() -> Upstream {
        Upstream {
            base: Url::parse("https://10.0.0.5:8443").expect("url"),
            address: None,
            inject: vec![(header::AUTHORIZATION, basic_auth("ana", "pw"))],
            public_origin: Url::parse("https://proxy.example:8444").expect("url"),
            own_cookie: "cofre_proxy",
            tls: UpstreamTls::Default,
            client: ClientHop { ip: [192, 0, 2, 7].into(), proto: "https", host: "s-ab.proxy.example:8444".into() },
            secrets: Vec::new(),
        }
    }

    #[test]
    fn strips_before_injecting() {
        let mut browser = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Basic wrong"),
            ("proxy-authorization", "Basic proxy"),
            ("cookie", "a=1; cofre_proxy=secret; b=2"),
            ("cookie", "cofre_proxy=again"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "hop"),
            ("keep-alive", "timeout=5"),
            ("host", "proxy.example:8444"),
            ("origin", "https://proxy.example:8444"),
            ("referer", "https://proxy.example:8444/app?x=1"),
            ("accept", "text/html"),
            ("x-forwarded-for", "10.9.9.9"),
            ("forwarded", "for=10.9.9.9"),
            ("x-real-ip", "10.9.9.9"),
        ] {
            browser.append(name, HeaderValue::from_static(value));
        }
        let sent = upstream_request_headers(&browser, &upstream());
        let auth: Vec<_> = sent.get_all(header::AUTHORIZATION).iter().collect();
        assert_eq!(auth, vec![&basic_auth("ana", "pw")]);
        assert!(auth[0].is_sensitive());
        assert_eq!(sent[header::COOKIE], "a=1; b=2");
        assert_eq!(sent[header::ORIGIN], "https://10.0.0.5:8443");
        assert_eq!(sent[header::REFERER], "https://10.0.0.5:8443/app?x=1");
        assert_eq!(sent[header::ACCEPT], "text/html");
        assert_eq!(sent["x-forwarded-for"], "192.0.2.7");
        assert_eq!(sent["forwarded"], "for=192.0.2.7;proto=https;host=\"s-ab.proxy.example:8444\"");
        assert!(!sent.contains_key("x-real-ip"));
        for gone in ["proxy-authorization", "connection", "x-private", "keep-alive", "host"] {
            assert!(!sent.contains_key(gone), "{gone} was forwarded");
        }
    }

    #[test]
    fn only_own_cookie_means_no_cookie_header() {
        let mut browser = HeaderMap::new();
        browser.insert(header::COOKIE, HeaderValue::from_static("cofre_proxy=x"));
        assert!(!upstream_request_headers(&browser, &upstream()).contains_key(header::COOKIE));
    }
}
