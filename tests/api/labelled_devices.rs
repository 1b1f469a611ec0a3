//! Sessions to devices whose hostname is a label (issue 32, item 1). In PAM a hostname is usually
//! a name such as `web01` that resolves nowhere; before this, the web proxy and the SSH gateway
//! connected to it and never to the device's `ip`, so the session answered 502 and ended "failed"
//! with the cause logged nowhere. Now both connect to the address (the `ip`; the hostname only
//! when no ip is set), TLS still checks the certificate (under the device's name, or the address
//! connected to), and a session that fails says why: in its row, its record through the API,
//! the audit record of its end, and the browser's page.

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp, canary};
use crate::on_both_stores;
use crate::proxy_engine::{PASSWORD, USER, assert_no_credential, start_target, start_tls_target_named};
use crate::session_tickets::browser;
use crate::ssh_sessions::{eventually, gateway, ssh_app};
use crate::ssh_target::{self, Accepts, SshTarget};
use crate::ssh_user::{Terminal, login};

on_both_stores!(
    a_labelled_device_is_reached_at_its_ip,
    a_labelled_https_device_is_checked_under_its_name_or_its_address,
    a_refusing_address_ends_the_session_with_its_cause,
    untrusted_certificates_end_the_session_as_tls,
    a_name_that_does_not_resolve_ends_the_session_with_its_cause,
    an_ssh_session_reaches_a_labelled_device_at_its_ip,
);

const LOOPBACK: &str = "127.0.0.1";
const SHORT: std::time::Duration = std::time::Duration::from_secs(5);

/// A session-capable client and the user `alice`.
async fn client(app: &TestApp) -> Client {
    let client = app.client(&[Resource::Sessions, Resource::Pam]).await;
    app.create_user("alice").await;
    client
}

/// The device `hostname` at `ip`, and the credential `operator` on it with `settings`.
async fn device(app: &TestApp, client: &Client, hostname: &str, ip: &str, settings: Value) {
    let device = json!({"hostname": hostname, "ip": ip, "model": "web", "type": "Server", "vendor": "test",
                        "site": "lab"});
    let created = app.post_json(client, "/iso/pam/device", device).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let mut credential = json!({"username": USER, "hostname": hostname, "ip": ip, "content": PASSWORD});
    if !settings.is_null() {
        credential["session_settings"] = settings;
    }
    let created = app.post_json(client, "/iso/pam/credential", credential).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

/// The label resolves nowhere here, which is the point of these tests.
async fn assert_unresolvable(name: &str) {
    assert!(tokio::net::lookup_host((name, 80)).await.is_err(), "{name} resolves on this machine");
}

/// A web session entered through the browser.
struct Session {
    id: String,
    origin: String,
    cookie: String,
}

/// A ticket for `device`'s credential on `port`, redeemed and entered as the browser does.
async fn session(app: &TestApp, client: &Client, device: &str, protocol: &str, port: u16) -> Session {
    let ticket = json!({"user": "alice", "credential": USER, "device": device, "protocol": protocol, "port": port});
    let created = app.post_json(client, "/iso/remote/session", ticket).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let url = created.body["session"]["session_url"].as_str().expect("url").to_owned();
    let redeemed = browser().get(&url).send().await.expect("redeemed");
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();
    let entered = browser().get(&entry).send().await.expect("entered");
    assert_eq!(entered.status(), StatusCode::SEE_OTHER);
    let cookie = entered.headers()["set-cookie"].to_str().expect("ascii").split(';').next().expect("pair").to_owned();
    let origin = entry.split("/_cofre/enter").next().expect("origin").to_owned();
    let id = origin.strip_prefix("http://s-").and_then(|h| h.split('.').next()).expect("session host").to_owned();
    Session { id, origin, cookie }
}

async fn get(session: &Session, path: &str) -> (StatusCode, String) {
    let response = browser()
        .get(format!("{}{path}", session.origin))
        .header("cookie", &session.cookie)
        .send()
        .await
        .expect("sent");
    (response.status(), response.text().await.expect("body"))
}

/// Why the session failed, as its row, its record through the API (list and show) and the audit
/// record of its end all say it: they must agree.
async fn failure_shown(app: &TestApp, client: &Client, session_id: &str) -> String {
    let core = &app.state.core;
    let row = core.store.remote_session_by_session_id(session_id).await.expect("read").expect("row");
    assert_eq!(row.end_reason.as_deref(), Some("failed"));
    let stored = row.failure.expect("the row names the cause");

    let listed = app.call(client, Method::GET, "/iso/session/remotesessions").await;
    let items = listed.body["remote_sessions"].as_array().expect("list").clone();
    let item = items.iter().find(|i| i["session_id"] == session_id).expect("listed");
    assert_eq!(item["failure"], stored.as_str(), "{item}");
    let shown = app.call(client, Method::GET, &format!("/iso/session/remotesessions/{}", row.id)).await;
    assert_eq!(shown.body["remote_sessions"][0]["failure"], stored.as_str(), "{}", shown.body);

    let records = core.recent_audit(50).await.expect("audit");
    let end = records
        .iter()
        .find(|r| r.method == "SESSION" && r.detail.contains(session_id) && r.detail.contains("\"end\""))
        .expect("the end is audited");
    let detail: Value = serde_json::from_str(&end.detail).expect("json");
    assert_eq!(detail["end_reason"], "failed");
    assert_eq!(detail["failure"], stored.as_str(), "{detail}");
    stored
}

/// `web01` resolves nowhere; its `ip` is a loopback web application: the session works, plain
/// requests and a WebSocket alike, and the credential is injected as ever.
async fn a_labelled_device_is_reached_at_its_ip(backend: Backend) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    assert_unresolvable("web01").await;
    let app = TestApp::spawn(backend).await;
    let target = start_target().await;
    let client = client(&app).await;
    device(&app, &client, "web01", LOOPBACK, Value::Null).await;
    let session = session(&app, &client, "web01", "HTTP", target.port).await;

    let (status, body) = get(&session, "/next").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "welcome"), "the device was reached at its ip");
    assert_no_credential(&body);
    // The device is told its own name, as it was before: only where the connection goes changed.
    let host = target.seen().last().expect("seen")["host"].to_str().expect("ascii").to_owned();
    assert_eq!(host, format!("web01:{}", target.port));

    let mut request = format!("{}/ws", session.origin.replacen("http", "ws", 1)).into_client_request().expect("ws");
    request.headers_mut().insert("cookie", session.cookie.parse().expect("header"));
    let stream = tokio::net::TcpStream::connect(app.proxy).await.expect("connect");
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream).await.expect("upgraded");
    socket.send(Message::text("to web01")).await.expect("send");
    assert_eq!(socket.next().await.expect("message").expect("ok"), Message::text("to web01"));

    let row = app.state.core.store.remote_session_by_session_id(&session.id).await.expect("read").expect("row");
    assert!(row.ended_at.is_none() && row.failure.is_none());
    assert_eq!(row.device_label, format!("web01:{}", target.port), "the session keeps the device's name");
}

/// Reached at its ip, an HTTPS device is still checked: its certificate must chain to its trust
/// and name the device's hostname (sent as SNI), the name its credential configures
/// (`tls_server_name`), or the address connected to.
async fn a_labelled_https_device_is_checked_under_its_name_or_its_address(backend: Backend) {
    assert_unresolvable("web01").await;
    let app = TestApp::spawn(backend).await;
    let client = client(&app).await;
    for (hostname, names, tls_name) in
        [("web01", ["web01"], None), ("web02", [LOOPBACK], None), ("web03", ["portal.example"], Some("portal.example"))]
    {
        let (target, ca) = start_tls_target_named(&names).await;
        let mut settings = json!({"tls_ca_pem": String::from_utf8(ca).expect("pem")});
        if let Some(name) = tls_name {
            settings["tls_server_name"] = name.into();
        }
        device(&app, &client, hostname, LOOPBACK, settings).await;
        let session = session(&app, &client, hostname, "HTTPS", target.port).await;
        let (status, body) = get(&session, "/next").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "welcome"), "{hostname}");
        // WebSockets take the same route and the same check.
        let stream = tokio::net::TcpStream::connect(app.proxy).await.expect("connect");
        let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "{}/ws",
            session.origin.replacen("http", "ws", 1)
        ))
        .expect("ws");
        request.headers_mut().insert("cookie", session.cookie.parse().expect("header"));
        assert!(tokio_tungstenite::client_async(request, stream).await.is_ok(), "{hostname}: upgraded over TLS");
    }
}

/// An address where nothing listens: the browser's page says the connection was refused, in one
/// line; the row, the records and the audit say `connection_refused`; none of them holds the
/// path or query the browser asked for.
async fn a_refusing_address_ends_the_session_with_its_cause(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = client(&app).await;
    device(&app, &client, "web01", LOOPBACK, Value::Null).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let session = session(&app, &client, "web01", "HTTP", closed).await;
    let marker = canary();

    let (status, page) = get(&session, &format!("/reports/{marker}?token={marker}")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let line = page.lines().find(|l| l.contains("could not be reached")).expect("the page says why");
    assert!(line.contains("the connection was refused"), "{page}");
    assert!(!page.contains(&marker) && !page.contains(&closed.to_string()), "{page}");
    assert_eq!(failure_shown(&app, &client, &session.id).await, "connection_refused");

    let records = app.state.core.recent_audit(50).await.expect("audit");
    assert!(records.iter().all(|r| !r.detail.contains(&marker)), "the path and query stay out of the audit");
    assert_eq!(get(&session, "/").await.0, StatusCode::GONE, "the session ended");
}

/// A certificate for another name (its chain trusted), and one whose chain is not: both end the
/// session as `tls`.
async fn untrusted_certificates_end_the_session_as_tls(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = client(&app).await;
    let (other_name, ca) = start_tls_target_named(&["elsewhere.example"]).await;
    device(&app, &client, "web01", LOOPBACK, json!({"tls_ca_pem": String::from_utf8(ca).expect("pem")})).await;
    let (unknown_issuer, _) = start_tls_target_named(&["web02"]).await;
    device(&app, &client, "web02", LOOPBACK, Value::Null).await;

    for (hostname, target) in [("web01", &other_name), ("web02", &unknown_issuer)] {
        let session = session(&app, &client, hostname, "HTTPS", target.port).await;
        let (status, page) = get(&session, "/next").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{hostname}");
        assert!(page.contains("certificate that is not trusted"), "{hostname}: {page}");
        assert_eq!(failure_shown(&app, &client, &session.id).await, "tls", "{hostname}");
        assert!(target.seen().is_empty(), "{hostname}: no request reached the device");
    }
}

/// A device with only a hostname (no ip, as rows imported from elsewhere may be) whose name does
/// not resolve: `name_not_resolved`, and the page says so.
async fn a_name_that_does_not_resolve_ends_the_session_with_its_cause(backend: Backend) {
    let name = "nowhere.invalid";
    assert_unresolvable(name).await;
    let app = TestApp::spawn(backend).await;
    let client = client(&app).await;
    device(&app, &client, name, "192.0.2.1", Value::Null).await;
    sqlx::query("UPDATE devices SET ip = '' WHERE hostname = $1")
        .bind(name)
        .execute(app.state.core.store.pool())
        .await
        .expect("hostname only");
    let session = session(&app, &client, name, "HTTP", 8080).await;

    let (status, page) = get(&session, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(page.contains("the device's name could not be resolved"), "{page}");
    assert_eq!(failure_shown(&app, &client, &session.id).await, "name_not_resolved");
}

/// The SSH gateway had the same defect (it connected to the hostname): a labelled device is
/// reached at its ip, and a refusal there is recorded with its cause.
async fn an_ssh_session_reaches_a_labelled_device_at_its_ip(backend: Backend) {
    assert_unresolvable("shell01").await;
    let app = ssh_app(backend).await;
    let target = SshTarget::start(Accepts::Password).await;
    let client = client(&app).await;
    let device = json!({"hostname": "shell01", "ip": LOOPBACK, "model": "Linux", "type": "Server", "vendor": "test",
                        "site": "lab"});
    assert_eq!(app.post_json(&client, "/iso/pam/device", device).await.status, StatusCode::CREATED);
    let credential = json!({"username": ssh_target::USER, "hostname": "shell01", "ip": LOOPBACK,
                            "content": ssh_target::PASSWORD, "session_settings": {"ssh_exec": true}});
    assert_eq!(app.post_json(&client, "/iso/pam/credential", credential).await.status, StatusCode::CREATED);
    let ticket = |port: u16| {
        let body = json!({"user": "alice", "credential": ssh_target::USER, "device": "shell01", "protocol": "SSH",
                          "port": port});
        let (app, client) = (&app, &client);
        async move {
            let created = app.post_json(client, "/iso/remote/session", body).await;
            assert_eq!(created.status, StatusCode::OK, "{}", created.body);
            created.body["session"]["token"].as_str().expect("token").to_owned()
        }
    };

    let (handle, _) = login(gateway(&app), &ticket(target.port).await).await.expect("in");
    let mut command = Terminal::exec(&handle, "echo through").await;
    assert!(command.read_to_end(SHORT).await);
    assert_eq!(command.text(), "through\r\n");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let (handle, _) = login(gateway(&app), &ticket(closed).await).await.expect("in");
    let mut command = Terminal::exec(&handle, "echo through").await;
    assert!(command.read_to_end(SHORT).await);
    assert!(command.text().contains("the connection was refused"), "{}", command.text());
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE failure = 'connection_refused'", 1).await;
    let failed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let items = failed.body["remote_sessions"].as_array().expect("list").clone();
    let id = items.iter().find(|i| i["failure"] != "").expect("the failed one")["session_id"].clone();
    assert_eq!(failure_shown(&app, &client, id.as_str().expect("id")).await, "connection_refused");
}
