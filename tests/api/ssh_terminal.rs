//! The browser terminal's WebSocket (issue 15): an SSH ticket redeemed by a browser enters the
//! proxy origin, and `/_cofre/terminal` relays to the device — from the proxy's own origin only,
//! one terminal a session, resizes passed on, and a drop says why before the close.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::browser::{Browser, ENTER};
use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::session_tickets::browser;
use crate::ssh_sessions::{eventually, fixture, ssh_app, ticket};
use crate::ssh_target::{Accepts, PASSWORD, SshTarget};

on_both_stores!(the_browser_terminal_relays_to_the_device_until_it_is_dropped);

mod a_browser_opens_the_session_url_and_works_in_the_terminal {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(cofre_test_browser), ignore = "needs COFRE_TEST_CHROMEDRIVER (Debian's chromium-driver)")]
    async fn sqlite() {
        super::a_browser_opens_the_session_url_and_works_in_the_terminal(crate::helpers::Backend::Sqlite).await;
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Redeems `token` as a browser does and enters the proxy: the session's origin and cookie.
pub async fn browser_cookie(app: &TestApp, token: &str) -> (String, String) {
    let browser = browser();
    let redeemed = browser.get(app.url(&format!("/modulos/auth?_sr={token}"))).send().await.expect("redeemed");
    assert_eq!(redeemed.status(), StatusCode::SEE_OTHER);
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();
    let entered = browser.get(&entry).send().await.expect("entered");
    assert_eq!(entered.status(), StatusCode::SEE_OTHER);
    let set_cookie = entered.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    let origin = entry.split("/_cofre/enter").next().expect("origin").to_owned();
    (origin, set_cookie.split(';').next().expect("pair").to_owned())
}

/// Opens the terminal socket on `host` (a session's origin) with `cookie`, sent from `origin`.
async fn open(app: &TestApp, host: &str, cookie: &str, origin: &str) -> Result<Socket, u16> {
    let url = format!("{}/_cofre/terminal?cols=90&rows=20", host.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("req");
    request.headers_mut().insert("cookie", cookie.parse().expect("header"));
    request.headers_mut().insert("origin", origin.parse().expect("header"));
    let stream = tokio::net::TcpStream::connect(app.proxy).await.expect("connect");
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("handshake: {e}"),
    }
}

/// Reads frames until the terminal bytes hold `needle` (or a text frame does); all text seen.
async fn read_until(socket: &mut Socket, seen: &mut String, needle: &str) -> bool {
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains(needle) {
            match socket.next().await {
                Some(Ok(Message::Binary(b))) => seen.push_str(&String::from_utf8_lossy(&b)),
                Some(Ok(Message::Text(t))) => seen.push_str(t.as_str()),
                Some(Ok(_)) => {}
                _ => return,
            }
        }
    });
    read.await.is_ok() && seen.contains(needle)
}

async fn the_browser_terminal_relays_to_the_device_until_it_is_dropped(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let token = ticket(&app, &client, "SSH", device.port).await;
    let (origin, cookie) = browser_cookie(&app, &token).await;

    assert_eq!(open(&app, &origin, &cookie, "http://evil.example").await.err(), Some(403), "another origin is refused");
    assert_eq!(open(&app, &origin, "cofre_proxy=forged", &origin).await.err(), Some(410), "a cookie of no session");
    let mut socket = open(&app, &origin, &cookie, &origin).await.expect("the terminal opens");
    assert_eq!(open(&app, &origin, &cookie, &origin).await.err(), Some(409), "one terminal a session");

    let mut seen = String::new();
    assert!(read_until(&mut socket, &mut seen, "device$ ").await, "{seen}");
    socket.send(Message::binary(b"echo typed-in-the-browser\r".to_vec())).await.expect("typed");
    assert!(read_until(&mut socket, &mut seen, "typed-in-the-browser\r\n").await, "{seen}");
    socket.send(Message::text(r#"{"resize":[132,43]}"#)).await.expect("resized");
    socket.send(Message::binary(b"size\r".to_vec())).await.expect("typed");
    assert!(read_until(&mut socket, &mut seen, "132x43").await, "{seen}");
    assert_eq!(device.seen.lock().expect("seen").pty.as_ref().map(|p| (p.1, p.2)), Some((90, 20)));

    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let session_id = listed.body["remote_sessions"][0]["session_id"].as_str().expect("session id").to_owned();
    let dropped = app.call(&client, Method::DELETE, &format!("/iso/session/drop/{session_id}")).await;
    assert_eq!(dropped.status, StatusCode::OK, "{}", dropped.body);
    assert!(read_until(&mut socket, &mut seen, "Session ended by an administrator.").await, "{seen}");
    assert!(seen.contains(r#"{"end":"Session ended by an administrator."}"#), "{seen}");
    assert!(!seen.contains(PASSWORD));
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'dropped'", 1).await;
}

/// Chromium opens the URL the ticket answered, and the person types in the terminal page.
async fn a_browser_opens_the_session_url_and_works_in_the_terminal(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let body = serde_json::json!({"user": "alice", "credential": crate::ssh_target::USER, "device": "127.0.0.1",
                                  "protocol": "SSH", "port": device.port});
    let created = app.post_json(&client, "/iso/remote/session", body).await;
    let url = created.body["session"]["session_url"].as_str().expect("session url").to_owned();

    let browser = Browser::start().await;
    browser.goto(&url).await;
    let shown = browser.wait_for_text(".xterm-rows", "device$", Duration::from_secs(15)).await;
    assert!(shown.contains("welcome to the device"), "{shown}");
    browser.type_into(".xterm-helper-textarea", &format!("echo typed-in-chromium{ENTER}")).await;
    let shown = browser.wait_for_text(".xterm-rows", "\ntyped-in-chromium", Duration::from_secs(10)).await;
    assert!(shown.contains("\ntyped-in-chromium"), "the device's answer on the page: {shown}");
    assert!(!shown.contains(PASSWORD));
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ssh-terminal.png");
    browser.screenshot(&shot).await;

    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let session_id = listed.body["remote_sessions"][0]["session_id"].as_str().expect("session id").to_owned();
    let dropped = app.call(&client, Method::DELETE, &format!("/iso/session/drop/{session_id}")).await;
    assert_eq!(dropped.status, StatusCode::OK);
    let status = browser.wait_for_text("#cofre-status", "administrator", Duration::from_secs(5)).await;
    assert_eq!(status, "Session ended by an administrator.");
    browser.screenshot(&shot.with_file_name("ssh-terminal-dropped.png")).await;
}
