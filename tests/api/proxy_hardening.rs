//! What the web proxy must never pass (issue 31, items 2, 9 and 10): the credential it injected,
//! echoed back by the device (TRACE, as Apache answers by default, or a page that prints its
//! request); single-use session links spent by a `HEAD` from a link preview; and the browser's
//! own claims of where it comes from.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde_json::json;
use tokio::net::TcpListener;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::proxy_engine::{USER, assert_no_credential, shown};
use crate::session_tickets::browser;
use crate::web_proxy::{enter, fixture};
use crate::write_races::count;

on_both_stores!(
    the_injected_credential_never_comes_back_to_the_browser,
    a_head_request_leaves_session_links_unused,
    the_device_hears_only_cofres_account_of_the_client,
);

/// The request as text, the way TRACE answers it (RFC 9110 §9.3.8).
fn as_message(method: &str, path: &str, headers: &HeaderMap) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {}\r\n", String::from_utf8_lossy(value.as_bytes())));
    }
    text
}

/// A device that echoes: TRACE on any path, `/headers` in a page, `/header` in a response header,
/// `/password` the decoded password (as phpinfo's `PHP_AUTH_PW` would), `/json` it JSON-escaped,
/// `/gzip` an echo it compresses although asked not to, `/forwarded` the forwarding headers.
async fn start_echoing_device() -> u16 {
    async fn any(request: Request) -> Response {
        let (method, path) = (request.method().as_str().to_owned(), request.uri().path().to_owned());
        match (method.as_str(), path.as_str()) {
            ("TRACE", _) | (_, "/headers") => {
                ([("content-type", "message/http")], as_message(&method, &path, request.headers())).into_response()
            }
            (_, "/header") => {
                let seen = request.headers().get("authorization").cloned().unwrap_or(HeaderValue::from_static(""));
                ([("x-seen-authorization", seen)], "see the header").into_response()
            }
            (_, "/password" | "/json" | "/gzip") => {
                use base64::Engine as _;
                let basic = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(basic.trim_start_matches("Basic "))
                    .unwrap_or_default();
                let decoded = String::from_utf8(decoded).unwrap_or_default();
                let password = decoded.split_once(':').map(|(_, p)| p.to_owned()).unwrap_or_default();
                match path.as_str() {
                    "/password" => format!("<p>PHP_AUTH_PW = {password}</p>").into_response(),
                    "/json" => axum::Json(json!({"auth_pw": password})).into_response(),
                    // Not really gzip: a device that says so anyway hides what the guard reads.
                    _ => ([("content-encoding", "gzip")], "compressed bytes").into_response(),
                }
            }
            (_, "/forwarded") => {
                let get = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                axum::Json(json!({"x-forwarded-for": get("x-forwarded-for"), "forwarded": get("forwarded"),
                                  "x-real-ip": get("x-real-ip"), "x-forwarded-host": get("x-forwarded-host"),
                                  "x-forwarded-proto": get("x-forwarded-proto")}))
                .into_response()
            }
            _ => "device home".into_response(),
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind device");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(axum::serve(listener, Router::new().fallback(any)).into_future());
    port
}

async fn through(origin: &str, cookie: &str, method: &str, path: &str) -> (StatusCode, String) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let sent = browser().request(method, format!("{origin}{path}")).header("cookie", cookie).send().await;
    // A connection cut before the headers went out: the browser saw nothing at all.
    let Ok(response) = sent else { return (StatusCode::BAD_GATEWAY, String::new()) };
    let (status, headers) = (response.status(), response.headers().clone());
    // A body cut short is an error here: what arrived before the cut is all the browser saw.
    let body = response.bytes().await.unwrap_or_default();
    (status, shown(status, &headers, &body))
}

async fn the_injected_credential_never_comes_back_to_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    let device = start_echoing_device().await;
    let mut seen = String::new();
    let (origin, cookie) = enter(&app, &client, device, &mut seen).await;

    for method in ["TRACE", "TRACK", "CONNECT"] {
        let (status, shown) = through(&origin, &cookie, method, "/").await;
        assert_no_credential(&shown);
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}: {shown}");
    }
    let (status, shown) = through(&origin, &cookie, "GET", "/").await;
    assert_eq!((status, shown.ends_with("device home")), (StatusCode::OK, true), "the session still works: {shown}");

    // A page that prints its request is cut before the credential.
    let (_, shown) = through(&origin, &cookie, "GET", "/headers").await;
    assert_no_credential(&shown);
    assert!(!shown.contains("authorization: Basic"), "{shown}");
    // The password itself, as a page prints it, escaped or not.
    for path in ["/password", "/json"] {
        let (_, shown) = through(&origin, &cookie, "GET", path).await;
        assert_no_credential(&shown);
    }
    // A header that carries it refuses the whole answer, and the session ends as failed.
    let (status, shown) = through(&origin, &cookie, "GET", "/header").await;
    assert_no_credential(&shown);
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{shown}");
    let failed = "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'failed'";
    assert_eq!(count(&app, failed).await, 1);

    // An answer in an encoding the guard cannot read is refused too (in a new session).
    let (origin, cookie) = enter(&app, &client, device, &mut seen).await;
    let (status, shown) = through(&origin, &cookie, "GET", "/gzip").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{shown}");
    assert!(!shown.contains("compressed bytes"), "{shown}");
    assert_eq!(count(&app, failed).await, 2);
}

async fn a_head_request_leaves_session_links_unused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    let device = start_echoing_device().await;
    let ticket =
        json!({"user": "alice", "credential": USER, "device": "127.0.0.1", "protocol": "HTTP", "port": device});
    let created = app.post_json(&client, "/iso/remote/session", ticket).await;
    let url = created.body["session"]["session_url"].as_str().expect("url").to_owned();

    // A chat's link preview looks first.
    let previewed = browser().head(&url).send().await.expect("head");
    assert!(previewed.status().is_success(), "{}", previewed.status());
    let redeemed = browser().get(&url).send().await.expect("redeemed");
    assert_eq!(redeemed.status(), StatusCode::SEE_OTHER, "the preview spent the link");
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();

    // The same for the entry link on the session's host.
    let previewed = browser().head(&entry).send().await.expect("head");
    assert!(previewed.status().is_success(), "{}", previewed.status());
    assert!(!previewed.headers().contains_key("set-cookie"));
    let entered = browser().get(&entry).send().await.expect("entered");
    assert_eq!(entered.status(), StatusCode::SEE_OTHER, "the preview spent the entry code");
    assert!(entered.headers().contains_key("set-cookie"));
    assert_eq!(browser().get(&url).send().await.expect("again").status(), StatusCode::GONE, "a GET still spends it");
}

async fn the_device_hears_only_cofres_account_of_the_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    let device = start_echoing_device().await;
    let mut seen = String::new();
    let (origin, cookie) = enter(&app, &client, device, &mut seen).await;

    let response = browser()
        .get(format!("{origin}/forwarded"))
        .header("cookie", &cookie)
        .header("x-forwarded-for", "203.0.113.66")
        .header("forwarded", "for=203.0.113.66;host=evil.example")
        .header("x-real-ip", "203.0.113.66")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "gopher")
        .send()
        .await
        .expect("sent");
    let heard: serde_json::Value = response.json().await.expect("json");
    let host = origin.trim_start_matches("http://");
    assert_eq!(
        heard,
        json!({"x-forwarded-for": "127.0.0.1", "forwarded": format!("for=127.0.0.1;proto=http;host=\"{host}\""),
               "x-real-ip": null, "x-forwarded-host": host, "x-forwarded-proto": "http"})
    );
}
