//! Remote sessions end to end (issue 14): a ticket's URL, redeemed at the vault, leads through
//! the proxy origin into a local target web application that demands the credential — which
//! the browser never sees — and a drop through another process ends the session within a
//! second; a device that refuses ends it as failed.

use std::time::{Duration, Instant};

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::proxy_engine::{PASSWORD, USER, assert_no_credential, shown, start_target};
use crate::session_tickets::browser;
use crate::write_races::count;

on_both_stores!(
    a_session_url_leads_into_the_target_without_showing_the_password,
    a_drop_through_another_process_ends_the_session_within_a_second,
    a_device_that_refuses_ends_the_session_as_failed,
    idle_sessions_are_ended_by_the_sweep,
    a_websocket_relays_through_the_session_until_it_is_dropped,
);

/// A session-capable client, the user `alice`, and the credential `operator` on the device
/// 127.0.0.1 whose web application listens on `port`.
pub async fn fixture(app: &TestApp) -> Client {
    let client = app.client(&[Resource::Sessions, Resource::Pam]).await;
    app.create_user("alice").await;
    let device = json!({"hostname": "127.0.0.1", "ip": "127.0.0.1", "model": "web", "type": "Server",
                        "vendor": "test", "site": "lab"});
    assert_eq!(app.post_json(&client, "/iso/pam/device", device).await.status, StatusCode::CREATED);
    let credential = json!({"username": USER, "hostname": "127.0.0.1", "ip": "127.0.0.1", "content": PASSWORD});
    assert_eq!(app.post_json(&client, "/iso/pam/credential", credential).await.status, StatusCode::CREATED);
    client
}

/// Asks for a ticket, redeems it and enters the proxy: the proxy origin and the cookie line.
pub async fn enter(app: &TestApp, client: &Client, port: u16, seen: &mut String) -> (String, String) {
    let ticket = json!({"user": "alice", "credential": USER, "device": "127.0.0.1", "protocol": "HTTP", "port": port});
    let created = app.post_json(client, "/iso/remote/session", ticket).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let url = created.body["session"]["session_url"].as_str().expect("url").to_owned();
    let browser = browser();
    let redeemed = browser.get(&url).send().await.expect("redeemed");
    assert_eq!(redeemed.status(), StatusCode::SEE_OTHER);
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();
    seen.push_str(&entry);
    let origin = entry.split("/_cofre/enter?code=").next().expect("origin").to_owned();
    assert!(
        origin.starts_with("http://s-") && origin.ends_with(&format!(".sessions.localhost:{}", app.proxy.port())),
        "{entry}"
    );
    let entered = browser.get(&entry).send().await.expect("entered");
    assert_eq!(entered.status(), StatusCode::SEE_OTHER);
    let set_cookie = entered.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    seen.push_str(&set_cookie);
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    assert_eq!(browser.get(&url).send().await.expect("again").status(), StatusCode::GONE, "single use");
    (origin, cookie)
}

async fn get(origin: &str, cookie: &str, path: &str, seen: &mut String) -> (StatusCode, reqwest::header::HeaderMap) {
    let response = browser().get(format!("{origin}{path}")).header("cookie", cookie).send().await.expect("sent");
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.bytes().await.expect("body");
    seen.push_str(&shown(status, &headers, &body));
    (status, headers)
}

async fn a_session_url_leads_into_the_target_without_showing_the_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let target = start_target().await;
    let client = fixture(&app).await;
    let mut seen = String::new();
    let (origin, cookie) = enter(&app, &client, target.port, &mut seen).await;

    let (status, headers) = get(&origin, &cookie, "/login", &mut seen).await;
    assert_eq!(status, StatusCode::FOUND, "{seen}");
    assert_eq!(headers["location"], format!("{origin}/next").as_str(), "the browser stays on the proxy");
    let (status, _) = get(&origin, &cookie, "/next", &mut seen).await;
    assert_eq!(status, StatusCode::OK, "the target took the injected credential: {seen}");
    assert!(seen.contains("welcome"));
    assert_no_credential(&seen);
    let (status, _) = get(&origin, "cofre_proxy=forged", "/next", &mut seen).await;
    assert_eq!(status, StatusCode::GONE, "a cookie of no session");

    // Each request is recorded, sealed, without bodies or credentials.
    let mut waited = 0;
    while count(&app, "SELECT COUNT(*) AS n FROM session_requests").await < 2 && waited < 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM session_requests").await, 2);
}

/// The session is held by process A; the drop arrives at process B on the same store.
async fn a_drop_through_another_process_ends_the_session_within_a_second(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let target = start_target().await;
    let client = fixture(&a).await;
    let mut seen = String::new();
    let (origin, cookie) = enter(&a, &client, target.port, &mut seen).await;
    assert_eq!(get(&origin, &cookie, "/next", &mut seen).await.0, StatusCode::OK);
    let listed = a.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let session_id = listed.body["remote_sessions"][0]["session_id"].as_str().expect("session id").to_owned();

    let b = a.sibling(0).await;
    let token = b.token_for(&client.app).await;
    let dropped = b.send(b.client.delete(b.url(&format!("/iso/session/drop/{session_id}"))).bearer_auth(token)).await;
    assert_eq!(dropped.body["response"]["message"], "Sessão interrompida com sucesso", "{}", dropped.body);
    let since = Instant::now();
    while get(&origin, &cookie, "/next", &mut seen).await.0 == StatusCode::OK {
        assert!(since.elapsed() < Duration::from_secs(1), "the session still works after a second");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut waited = 0;
    while count(&a, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'dropped'").await == 0 && waited < 40
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(count(&a, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'dropped'").await, 1);
    assert_no_credential(&seen);
}

async fn a_device_that_refuses_ends_the_session_as_failed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let client = fixture(&app).await;
    let mut seen = String::new();
    let (origin, cookie) = enter(&app, &client, closed, &mut seen).await;
    let (status, _) = get(&origin, &cookie, "/", &mut seen).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{seen}");
    assert_no_credential(&seen);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'failed'").await, 1);
    assert_eq!(get(&origin, &cookie, "/", &mut seen).await.0, StatusCode::GONE);
}

/// An idle session is ended by the holder's sweep, not only when its cookie comes back.
async fn idle_sessions_are_ended_by_the_sweep(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let target = start_target().await;
    let client = fixture(&app).await;
    let mut seen = String::new();
    let (origin, cookie) = enter(&app, &client, target.port, &mut seen).await;
    assert_eq!(get(&origin, &cookie, "/next", &mut seen).await.0, StatusCode::OK);
    let (core, audit) = (&app.state.core, &app.state.audit);
    assert!(cofre::service::sessions::proxy::end_overdue(core, audit).await.expect("sweep").is_empty());
    app.clock.advance_secs(i64::try_from(core.config.session_idle_timeout).expect("secs") + 1);
    let ended = cofre::service::sessions::proxy::end_overdue(core, audit).await.expect("sweep");
    assert_eq!(ended.len(), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'expired'").await, 1);
    assert_eq!(get(&origin, &cookie, "/next", &mut seen).await.0, StatusCode::GONE);
}

/// A WebSocket of the device's application works through the session, and a drop closes it
/// within a second.
async fn a_websocket_relays_through_the_session_until_it_is_dropped(backend: Backend) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = TestApp::spawn(backend).await;
    let target = start_target().await;
    let client = fixture(&app).await;
    let mut seen = String::new();
    let (origin, cookie) = enter(&app, &client, target.port, &mut seen).await;
    let mut request = format!("{}/ws", origin.replacen("http", "ws", 1)).into_client_request().expect("request");
    request.headers_mut().insert("cookie", cookie.parse().expect("header"));
    let stream = tokio::net::TcpStream::connect(app.proxy).await.expect("connect");
    let (mut socket, handshake) = tokio_tungstenite::client_async(request, stream).await.expect("upgraded");
    assert_no_credential(&format!("{:?}", handshake.headers()));
    socket.send(Message::text("ping through the vault")).await.expect("send");
    assert_eq!(socket.next().await.expect("message").expect("ok"), Message::text("ping through the vault"));

    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let session_id = listed.body["remote_sessions"][0]["session_id"].as_str().expect("session id").to_owned();
    let dropped = app.call(&client, Method::DELETE, &format!("/iso/session/drop/{session_id}")).await;
    assert_eq!(dropped.status, StatusCode::OK, "{}", dropped.body);
    let closed =
        tokio::time::timeout(Duration::from_secs(1), async { while let Some(Ok(_)) = socket.next().await {} }).await;
    assert!(closed.is_ok(), "the relay closed within a second of the drop");
}
