//! One origin per session (issue 31, items 1 and 4). A device's web application is hostile: it
//! registers a Service Worker and sets cookies. Neither may reach another session — not the
//! terminal page of a later SSH session (where a worker once served its own page, opened the
//! terminal's WebSocket and typed as the vaulted account), nor another device's application.
//! Checked in headless Chromium, and over plain HTTP for the host binding underneath.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use crate::browser::Browser;
use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::session_tickets::browser;
use crate::ssh_sessions::{fixture, ssh_app, ticket};
use crate::ssh_target::{Accepts, SshTarget};

on_both_stores!(a_session_host_takes_only_its_own_code_and_cookie, device_headers_cannot_widen_their_reach);

on_both_stores!(
    browser: a_device_service_worker_never_reaches_a_later_terminal,
    a_cookie_one_device_set_never_reaches_another,
);

/// The page a hostile device serves at `/`: it installs a worker for its whole origin.
const REGISTERING_PAGE: &str = "<!doctype html><title>device</title><script>\
    navigator.serviceWorker.register('/sw.js', {scope: '/'})\
      .then(() => navigator.serviceWorker.ready)\
      .then(() => { document.title = 'worker-ready'; });\
    </script>";

/// The worker: every later navigation on its origin gets the attacker's page, which opens the
/// terminal's WebSocket and types into it.
const WORKER: &str = "self.addEventListener('install', () => self.skipWaiting());\n\
    self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));\n\
    self.addEventListener('fetch', (e) => {\n\
      if (e.request.mode !== 'navigate') return;\n\
      const page = '<!doctype html><title>hijacked</title><script>' +\n\
        'const ws = new WebSocket(location.origin.replace(\"http\", \"ws\") + \"/_cofre/terminal?cols=80&rows=24\");' +\n\
        'ws.onopen = () => ws.send(new TextEncoder().encode(\"echo hijacked-by-a-worker\\\\r\"));' +\n\
        '</script>';\n\
      e.respondWith(new Response(page, {headers: {'content-type': 'text/html'}}));\n\
    });\n";

/// A hostile device's web application: cookies, a page that shows the cookies it got, and (with
/// `worker`) a home page that installs a worker for the whole origin.
pub async fn start_device(worker: bool) -> u16 {
    async fn worker_script() -> Response {
        let mut response = ([(header::CONTENT_TYPE, "text/javascript")], WORKER).into_response();
        response.headers_mut().insert("service-worker-allowed", HeaderValue::from_static("/"));
        response
    }
    async fn set_cookie() -> Response {
        let mut response = Html("<title>cookie set</title>").into_response();
        let headers = response.headers_mut();
        headers.append(header::SET_COOKIE, HeaderValue::from_static("device_a_secret=s3; Path=/; Domain=127.0.0.1"));
        headers.append(header::SET_COOKIE, HeaderValue::from_static("device_a_other=s4; Path=/"));
        // Wider than its own pages: every session host would lose its data.
        headers.insert("clear-site-data", HeaderValue::from_static("\"cookies\", \"storage\""));
        response
    }
    async fn cookies(request: Request) -> Html<String> {
        let cookies = request.headers().get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("");
        Html(format!("<title>cookies</title><pre id=\"cookies\">[{cookies}]</pre>"))
    }
    let app = Router::new()
        .route("/", get(move || async move { Html(if worker { REGISTERING_PAGE } else { "<title>device</title>" }) }))
        .route("/sw.js", get(worker_script))
        .route("/set-cookie", get(set_cookie))
        .route("/cookies", get(cookies));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind device");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(axum::serve(listener, app).into_future());
    port
}

async fn wait_for(browser: &Browser, script: &str, expected: &str, within: Duration) -> String {
    let since = Instant::now();
    loop {
        let value = browser.execute(script).await.as_str().unwrap_or_default().to_owned();
        if value == expected || since.elapsed() > within {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn session_url(app: &TestApp, token: &str) -> String {
    app.url(&format!("/modulos/auth?_sr={token}"))
}

/// A device's worker is installed in one session; the same browser then opens an SSH session.
/// The terminal page must be cofre's, uncontrolled by any worker, on another origin.
async fn a_device_service_worker_never_reaches_a_later_terminal(backend: Backend) {
    let app = ssh_app(backend).await;
    let ssh_device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let web_device = start_device(true).await;

    let browser = Browser::start().await;
    browser.goto(&session_url(&app, &ticket(&app, &client, "HTTP", web_device).await)).await;
    let title = wait_for(&browser, "return document.title;", "worker-ready", Duration::from_secs(10)).await;
    assert_eq!(title, "worker-ready", "the device's worker was installed");
    let web_origin = browser.execute("return location.origin;").await.as_str().expect("origin").to_owned();

    browser.goto(&session_url(&app, &ticket(&app, &client, "SSH", ssh_device.port).await)).await;
    let title = wait_for(&browser, "return document.title;", "cofre session", Duration::from_secs(10)).await;
    assert_eq!(title, "cofre session", "the terminal page is cofre's, not the worker's");
    let controlled = browser.execute("return String(!!navigator.serviceWorker.controller);").await;
    assert_eq!(controlled, "false", "no worker controls the terminal page");
    let ssh_origin = browser.execute("return location.origin;").await.as_str().expect("origin").to_owned();
    assert_ne!(web_origin, ssh_origin, "each session has its own origin");
    for origin in [&web_origin, &ssh_origin] {
        assert!(origin.starts_with("http://s-") && origin.contains(".sessions.localhost:"), "{origin}");
    }
}

/// Device A sets cookies in its session; device B, in a later session in the same browser, must
/// not receive them. A's own pages still do.
async fn a_cookie_one_device_set_never_reaches_another(backend: Backend) {
    let app = ssh_app(backend).await;
    let client = fixture(&app, None).await;
    let (device_a, device_b) = (start_device(false).await, start_device(false).await);
    let shown = "const e = document.getElementById('cookies'); return e ? e.innerText : '';";

    let browser = Browser::start().await;
    browser.goto(&session_url(&app, &ticket(&app, &client, "HTTP", device_a).await)).await;
    let origin_a = browser.execute("return location.origin;").await.as_str().expect("origin").to_owned();
    browser.goto(&format!("{origin_a}/set-cookie")).await;
    browser.goto(&format!("{origin_a}/cookies")).await;
    let cookies_a = wait_for(&browser, shown, "[device_a_secret=s3; device_a_other=s4]", Duration::from_secs(5)).await;
    assert!(cookies_a.contains("device_a_secret=s3"), "A's own pages get A's cookies: {cookies_a}");

    browser.goto(&session_url(&app, &ticket(&app, &client, "HTTP", device_b).await)).await;
    let origin_b = browser.execute("return location.origin;").await.as_str().expect("origin").to_owned();
    browser.goto(&format!("{origin_b}/cookies")).await;
    let cookies_b = wait_for(&browser, shown, "[]", Duration::from_secs(5)).await;
    assert_eq!(cookies_b, "[]", "device B received cookies of device A's session");
    assert_ne!(origin_a, origin_b);
}

/// Underneath: a session's entry code works only on its own host, and its cookie too; the
/// entry clears what a browser may hold for the host.
async fn a_session_host_takes_only_its_own_code_and_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = crate::web_proxy::fixture(&app).await;
    let device = start_device(true).await;
    let mut seen = String::new();
    let (origin_a, cookie_a) = crate::web_proxy::enter(&app, &client, device, &mut seen).await;

    // A second session: its code is tried on A's host first, then on its own.
    let ticket = json!({"user": "alice", "credential": crate::proxy_engine::USER, "device": "127.0.0.1",
                        "protocol": "HTTP", "port": device});
    let created = app.post_json(&client, "/iso/remote/session", ticket).await;
    let url = created.body["session"]["session_url"].as_str().expect("url").to_owned();
    let redeemed = browser().get(&url).send().await.expect("redeemed");
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();
    let (origin_b, code) = entry.split_once("/_cofre/enter?code=").expect("entry");
    assert_ne!(origin_a, origin_b, "each session has its own host");
    let on_a = browser().get(format!("{origin_a}/_cofre/enter?code={code}")).send().await.expect("sent");
    assert_eq!(on_a.status(), StatusCode::FORBIDDEN, "a code on another session's host");
    let entered = browser().get(&entry).send().await.expect("entered");
    assert_eq!(entered.status(), StatusCode::SEE_OTHER, "the code was left unused");
    let clear = entered.headers().get("clear-site-data").and_then(|v| v.to_str().ok());
    assert_eq!(clear, Some("\"cache\", \"storage\""));
    let cookie_b = entered.headers()["set-cookie"].to_str().expect("ascii").split(';').next().expect("pair").to_owned();

    let get = |origin: String, cookie: String| async move {
        browser().get(format!("{origin}/cookies")).header("cookie", cookie).send().await.expect("sent").status()
    };
    assert_eq!(get(origin_a.clone(), cookie_a.clone()).await, StatusCode::OK);
    assert_eq!(get(origin_b.to_owned(), cookie_b.clone()).await, StatusCode::OK);
    assert_eq!(get(origin_b.to_owned(), cookie_a).await, StatusCode::UNAUTHORIZED, "A's cookie on B's host");
    assert_eq!(get(origin_a, cookie_b.clone()).await, StatusCode::UNAUTHORIZED, "B's cookie on A's host");
    let bare = format!("http://{}", app.proxy);
    assert_eq!(get(bare, cookie_b).await, StatusCode::NOT_FOUND, "the proxy's bare address is no session's");
}

/// A device may not let its worker claim more than its path, nor clear data beyond its host.
async fn device_headers_cannot_widen_their_reach(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = crate::web_proxy::fixture(&app).await;
    let device = start_device(true).await;
    let mut seen = String::new();
    let (origin, cookie) = crate::web_proxy::enter(&app, &client, device, &mut seen).await;
    for path in ["/sw.js", "/set-cookie"] {
        let response = browser()
            .request(Method::GET, format!("{origin}{path}"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        for gone in ["service-worker-allowed", "clear-site-data"] {
            assert!(!response.headers().contains_key(gone), "{path} passed {gone} on");
        }
    }
}
