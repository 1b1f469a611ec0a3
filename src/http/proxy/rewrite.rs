//! The device's response headers as the browser sees them: the browser must stay on the proxy
//! origin, and nothing the device says may replace cofre's session cookie.

use axum::http::header::{self, HeaderMap, HeaderValue};
use reqwest::Url;

use super::Upstream;
use super::headers::strip_hop_by_hop;

/// Response headers whose reach is wider than the session's own pages: a Service Worker scope
/// beyond its script's path, and clearing data for the whole site (every session's host).
const TOO_WIDE: [&str; 2] = ["service-worker-allowed", "clear-site-data"];

/// Hop-by-hop headers and [`TOO_WIDE`] ones removed, `Location` and `Set-Cookie` rewritten.
pub(super) fn browser_response_headers(device: &HeaderMap, upstream: &Upstream) -> HeaderMap {
    let mut headers = device.clone();
    strip_hop_by_hop(&mut headers);
    for name in TOO_WIDE {
        headers.remove(name);
    }
    if let Some(location) = headers.get(header::LOCATION) {
        let rewritten = location_for_browser(location, &upstream.base, &upstream.public_origin);
        headers.insert(header::LOCATION, rewritten);
    }
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|cookie| set_cookie_for_browser(cookie, upstream.own_cookie))
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    headers
}

/// A `Location` on the device's origin moves to the same path on the proxy; a relative one is
/// already right. One to another origin is passed on (the browser leaves the proxy, as the
/// application asked), but without any user and password in it.
fn location_for_browser(value: &HeaderValue, device: &Url, public: &Url) -> HeaderValue {
    let Ok(text) = value.to_str() else { return value.clone() };
    // `//host/path` is absolute too: it keeps the device's scheme.
    let absolute = if text.starts_with("//") { device.join(text) } else { Url::parse(text) };
    let Ok(mut target) = absolute else { return value.clone() };
    if target.origin() == device.origin() {
        let mut on_proxy = public.clone();
        on_proxy.set_path(target.path());
        on_proxy.set_query(target.query());
        on_proxy.set_fragment(target.fragment());
        target = on_proxy;
    } else {
        // Both fail only for URLs that cannot have credentials, which is fine.
        let _ = target.set_username("");
        let _ = target.set_password(None);
    }
    HeaderValue::from_str(target.as_str()).unwrap_or_else(|_| value.clone())
}

/// The cookie without its `Domain` attribute, so it belongs to the proxy host alone; `None` for
/// a cookie named like cofre's own. Path, Secure, HttpOnly, SameSite and the rest are kept.
fn set_cookie_for_browser(value: &HeaderValue, own_cookie: &str) -> Option<HeaderValue> {
    let mut parts = value.as_bytes().split(|b| *b == b';');
    let pair = parts.next()?;
    let name = pair.split(|b| *b == b'=').next().unwrap_or_default().trim_ascii();
    if name == own_cookie.as_bytes() {
        return None;
    }
    let mut kept = pair.to_vec();
    for attribute in parts {
        let key = attribute.split(|b| *b == b'=').next().unwrap_or_default().trim_ascii();
        if !key.eq_ignore_ascii_case(b"domain") {
            kept.push(b';');
            kept.extend_from_slice(attribute);
        }
    }
    HeaderValue::from_bytes(&kept).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> (Url, Url) {
        (Url::parse("http://10.0.0.5:8080").expect("url"), Url::parse("https://proxy.example:8444").expect("url"))
    }

    fn location(value: &'static str) -> String {
        let (device, public) = urls();
        location_for_browser(&HeaderValue::from_static(value), &device, &public).to_str().expect("ascii").to_owned()
    }

    #[test]
    fn locations_on_the_device_move_to_the_proxy() {
        assert_eq!(location("http://10.0.0.5:8080/next?a=1#top"), "https://proxy.example:8444/next?a=1#top");
        assert_eq!(location("//10.0.0.5:8080/x"), "https://proxy.example:8444/x");
        assert_eq!(location("/relative/path"), "/relative/path");
        assert_eq!(location("other"), "other");
        assert_eq!(location("https://sso.example/login"), "https://sso.example/login");
        assert_eq!(location("https://ana:pw@sso.example/login"), "https://sso.example/login");
        // Another port or scheme is another origin.
        assert_eq!(location("http://10.0.0.5:9090/"), "http://10.0.0.5:9090/");
    }

    fn cookie(value: &'static str) -> Option<String> {
        set_cookie_for_browser(&HeaderValue::from_static(value), "cofre_proxy")
            .map(|v| v.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn cookies_lose_their_domain_and_never_replace_cofres() {
        assert_eq!(
            cookie("sid=abc; Domain=target.example; Path=/app; Secure; HttpOnly; SameSite=Lax").as_deref(),
            Some("sid=abc; Path=/app; Secure; HttpOnly; SameSite=Lax")
        );
        assert_eq!(cookie("sid=abc;domain = .target.example").as_deref(), Some("sid=abc"));
        assert_eq!(cookie("plain=1").as_deref(), Some("plain=1"));
        assert_eq!(cookie("cofre_proxy=evil; Path=/"), None);
        assert_eq!(cookie(" cofre_proxy =evil"), None);
    }
}
