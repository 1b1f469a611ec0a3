//! The browser terminal's WebSocket (issue 15): an SSH ticket redeemed by a browser enters the
//! proxy origin, and `/_cofre/terminal` relays to the device — from the proxy's own origin only,
//! one terminal a session, resizes passed on, and a drop says why before the close.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::session_tickets::browser;
use crate::ssh_sessions::{eventually, fixture, ssh_app, ticket};
use crate::ssh_target::{Accepts, PASSWORD, SshTarget};

on_both_stores!(the_browser_terminal_relays_to_the_device_until_it_is_dropped);

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Redeems `token` as a browser does and enters the proxy: the session cookie.
pub async fn browser_cookie(app: &TestApp, token: &str) -> String {
    let browser = browser();
    let redeemed = browser.get(app.url(&format!("/modulos/auth?_sr={token}"))).send().await.expect("redeemed");
    assert_eq!(redeemed.status(), StatusCode::SEE_OTHER);
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();
    let entered = browser.get(&entry).send().await.expect("entered");
    assert_eq!(entered.status(), StatusCode::SEE_OTHER);
    let set_cookie = entered.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    set_cookie.split(';').next().expect("pair").to_owned()
}

async fn open(app: &TestApp, cookie: &str, origin: &str) -> Result<Socket, u16> {
    let mut request = format!("ws://{}/_cofre/terminal?cols=90&rows=20", app.proxy).into_client_request().expect("req");
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
    let cookie = browser_cookie(&app, &token).await;
    let origin = format!("http://{}", app.proxy);

    assert_eq!(open(&app, &cookie, "http://evil.example").await.err(), Some(403), "another origin is refused");
    assert_eq!(open(&app, "cofre_proxy=forged", &origin).await.err(), Some(410), "a cookie of no session");
    let mut socket = open(&app, &cookie, &origin).await.expect("the terminal opens");
    assert_eq!(open(&app, &cookie, &origin).await.err(), Some(409), "one terminal a session");

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
