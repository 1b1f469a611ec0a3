//! Session tickets (§8, issue 14): creating single-use session URLs, every refusal, and their
//! redemption at `/modulos/auth` — once, in time, from the bound address, one of two racing.

use cofre::domain::authorization::Resource;
use cofre::service::admin::users;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, Reply, TestApp, error_envelope, success_block};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    tickets_are_created_with_the_contract_shape,
    ticket_errors_follow_the_contract,
    a_ticket_is_redeemed_once_in_time_from_its_address,
    of_two_concurrent_redemptions_exactly_one_wins,
    a_user_disabled_after_the_ticket_does_not_get_in,
);

pub const PASSWORD: &str = "web-admin-password-7f3a";

/// A session-capable client, the user `alice`, device `web01` (10.0.0.5, HTTPS:443) and its
/// credential `admin`.
pub async fn fixture(app: &TestApp) -> Client {
    let client = app.client(&[Resource::Sessions, Resource::Pam]).await;
    app.create_user("alice").await;
    device(app, &client, "web01").await;
    let reply = app
        .post_json(
            &client,
            "/api/pam/credential",
            json!({"username": "admin", "hostname": "web01", "ip": "10.0.0.5", "content": PASSWORD, "identifier": "web01-admin"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    client
}

pub async fn ticket(app: &TestApp, client: &Client, extra: Value) -> Reply {
    let mut body = json!({"user": "alice", "credential": "admin", "device": "web01", "protocol": "HTTPS"});
    if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
        map.extend(extra);
    }
    app.post_json(client, "/iso/remote/session", body).await
}

pub async fn token(app: &TestApp, client: &Client) -> String {
    let reply = ticket(app, client, json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["session"]["token"].as_str().expect("token").to_owned()
}

/// A client that does not follow redirects, as a test of where they point.
/// A client that follows no redirect and, as browsers do, finds every `*.localhost` name (each
/// session's own host) on loopback.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(crate::helpers::Loopback))
        .build()
        .expect("client")
}

pub async fn redeem(app: &TestApp, token: &str) -> reqwest::Response {
    browser().get(app.url(&format!("/modulos/auth?_sr={token}"))).send().await.expect("sent")
}

/// The entry code a successful redemption's `Location` carries, and the session id its host names.
pub fn entry_code(app: &TestApp, response: &reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().expect("ascii");
    let (origin, code) = location.split_once("/_cofre/enter?code=").unwrap_or_else(|| panic!("{location}"));
    let host = origin.strip_prefix("http://s-").unwrap_or_else(|| panic!("{origin} is a session's own host"));
    let (session_id, domain) = host.split_once('.').expect("a label");
    assert_eq!(domain, format!("sessions.localhost:{}", app.proxy.port()));
    assert_eq!(code.len(), 64);
    (session_id.to_owned(), code.to_owned())
}

async fn tickets_are_created_with_the_contract_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    for send in ["json", "form", "multipart"] {
        let fields = [("user", "alice"), ("credential", "admin"), ("device", "web01"), ("protocol", "HTTPS")];
        let request = app.authed(&client, Method::POST, "/api/remote/session");
        let request = match send {
            "json" => {
                request.json(&json!({"user": "alice", "credential": "admin", "device": "web01", "protocol": "HTTPS"}))
            }
            "form" => request.form(&fields),
            _ => {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in fields {
                    form = form.text(k, v);
                }
                request.multipart(form)
            }
        };
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{send}: {}", reply.body);
        assert_eq!(reply.body["response"], success_block(200, "Session created successfully"));
        let token = reply.body["session"]["token"].as_str().expect("token");
        assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
        assert_eq!(reply.body["session"]["session_url"], format!("{}/modulos/auth?_sr={token}", app.base));
        // Only the hash is stored.
        let raw: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT token_hash FROM session_tickets")
            .fetch_all(app.state.core.store.pool())
            .await
            .expect("rows");
        let hash = cofre::crypto::sha256(token.as_bytes()).to_vec();
        assert!(raw.iter().any(|(h,)| *h == hash) && raw.iter().all(|(h,)| h.len() == 32));
    }
    // The port comes from the device's connectivities, then the protocol; the screen size defaults.
    let row = |token: String| {
        let pool = app.state.core.store.pool().clone();
        async move {
            let hash = cofre::crypto::sha256(token.as_bytes()).to_vec();
            sqlx::query_as::<_, (i64, String, String)>(
                "SELECT port, protocol, screensize FROM session_tickets WHERE token_hash = $1",
            )
            .bind(hash)
            .fetch_one(&pool)
            .await
            .expect("ticket")
        }
    };
    assert_eq!(row(token(&app, &client).await).await, (443, "HTTPS".into(), "1920x1080".into()));
    let http = ticket(&app, &client, json!({"protocol": "http", "screensize": "1280x720", "device": "10.0.0.5"})).await;
    assert_eq!(http.status, StatusCode::OK, "{}", http.body);
    let t = http.body["session"]["token"].as_str().expect("token").to_owned();
    assert_eq!(row(t).await, (80, "HTTP".into(), "1280x720".into()));
    let by_id = ticket(&app, &client, json!({"credential": "web01-admin", "port": "8443"})).await;
    let t = by_id.body["session"]["token"].as_str().expect("token").to_owned();
    assert_eq!(row(t).await.0, 8443);
    // `session` names the resource as `sessions` does.
    assert_eq!("session".parse::<Resource>(), Ok(Resource::Sessions));
}

fn legacy(message: &str) -> Value {
    json!({"response": {"status": 400, "mensagem": message, "erro": true, "message": message, "error": true}})
}

async fn ticket_errors_follow_the_contract(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    for (missing, message) in [
        ("user", "User not specified"),
        ("credential", "Credential not specified"),
        ("device", "Credential device not specified"),
        ("protocol", "Invalid protocol"),
    ] {
        let mut body = json!({"user": "alice", "credential": "admin", "device": "web01", "protocol": "HTTPS"});
        body.as_object_mut().expect("object").remove(missing);
        let reply = app.post_json(&client, "/iso/remote/session", body).await;
        assert_eq!((reply.status, &reply.body), (StatusCode::BAD_REQUEST, &legacy(message)), "{missing}");
    }
    for (extra, message) in [
        (json!({"protocol": "RDP"}), "Invalid protocol"),
        (json!({"remoteAddr": "not-an-ip"}), "Invalid remoteAddr: not an IP address"),
        (json!({"port": "70000"}), "Invalid port"),
        (json!({"user": "nobody"}), "User not found or inactive"),
        (json!({"screensize": "big"}), "Invalid screensize: expected WIDTHxHEIGHT"),
    ] {
        let reply = ticket(&app, &client, extra.clone()).await;
        assert_eq!((reply.status, &reply.body), (StatusCode::BAD_REQUEST, &legacy(message)), "{extra}");
    }
    // Logins compare in their canonical form; a disabled user gets no session.
    let reply = ticket(&app, &client, json!({"user": " Alice"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let disable = users::UserChanges { enabled: Some(false), ..users::UserChanges::default() };
    users::update_user(&app.state.core, "alice", disable).await.expect("disabled");
    let reply = ticket(&app, &client, json!({})).await;
    assert_eq!(reply.body, legacy("User not found or inactive"));
    let enable = users::UserChanges { enabled: Some(true), ..users::UserChanges::default() };
    users::update_user(&app.state.core, "alice", enable).await.expect("enabled");
    // A credential on another device.
    device(&app, &client, "web02").await;
    let reply = ticket(&app, &client, json!({"credential": "web01-admin", "device": "web02"})).await;
    assert_eq!(reply.body, legacy("Credential is not registered on this device"));
    // Unknown, and not the caller's to read.
    let reply = ticket(&app, &client, json!({"credential": "ghost"})).await;
    assert_eq!(reply.body, error_envelope(400, 1007, "1007: Credential not found"));
    let stranger = app.client(&[Resource::Sessions]).await;
    let reply = ticket(&app, &stranger, json!({})).await;
    assert_eq!(reply.body, error_envelope(400, 1009, "1009: No access to credential"));
    // Read-only: 1039; without the module: 500, before any parameter is read.
    let read_only_app = app.create_app(&[Resource::Sessions, Resource::Pam], true, &["*"]).await;
    let read_only = Client { token: app.token_for(&read_only_app).await, app: read_only_app };
    let reply = app.post_json(&read_only, "/iso/remote/session", json!({})).await;
    assert_eq!(reply.body["exception"]["code"], 1039);
    let pam_only = app.client(&[Resource::Pam]).await;
    let reply = app.post_json(&pam_only, "/iso/remote/session", json!({})).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body["response"]["message"], "You are not authorized to access this resource.");
    // None of the refusals left a ticket behind (only the one accepted above is there).
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM session_tickets")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("count");
    assert_eq!(count.0, 1);
}

async fn refusals_audited(app: &TestApp) -> Vec<String> {
    let records = app.state.core.recent_audit(50).await.expect("audit");
    records.iter().filter(|r| r.route == "/modulos/auth").map(|r| format!("{} {}", r.status, r.detail)).collect()
}

async fn a_ticket_is_redeemed_once_in_time_from_its_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;

    let first = token(&app, &client).await;
    let response = redeem(&app, &first).await;
    entry_code(&app, &response);
    assert_eq!(response.headers()["cache-control"], "no-store");
    // Reused: refused with a page that says nothing of why.
    let again = redeem(&app, &first).await;
    assert_eq!(again.status(), StatusCode::GONE);
    let page = again.text().await.expect("page");
    assert!(!page.contains(&first) && page.contains("Ask for a new one"), "{page}");

    // Late, on the injected clock.
    let late = token(&app, &client).await;
    app.clock.advance_secs(31);
    assert_eq!(redeem(&app, &late).await.status(), StatusCode::GONE);
    // The purge removes it; the redeemed one stays, named by its session.
    let purged = cofre::service::auth::purge::purge_expired(&app.state.core).await.expect("purged");
    assert_eq!(purged.session_tickets, 1);

    // Forged, malformed, and bound to another address.
    assert_eq!(redeem(&app, &"ab".repeat(32)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(redeem(&app, "x").await.status(), StatusCode::FORBIDDEN);
    let elsewhere = ticket(&app, &client, json!({"remoteAddr": "10.9.9.9"})).await;
    let elsewhere = elsewhere.body["session"]["token"].as_str().expect("token").to_owned();
    assert_eq!(redeem(&app, &elsewhere).await.status(), StatusCode::FORBIDDEN);
    let here = ticket(&app, &client, json!({"remoteAddr": "127.0.0.1"})).await;
    let here = here.body["session"]["token"].as_str().expect("token").to_owned();
    entry_code(&app, &redeem(&app, &here).await);

    let audited = refusals_audited(&app).await;
    for reason in ["ticket already used", "ticket expired", "unknown ticket", "ticket bound to another address"] {
        assert!(audited.iter().any(|r| r.contains(reason)), "{reason} in {audited:?}");
    }
    let success = audited.iter().find(|r| r.starts_with("303")).expect("a redemption audited");
    assert!(success.contains("alice") && success.contains("session_id"), "{success}");
    assert!(audited.iter().all(|r| !r.contains(&first)), "the token never reaches the audit trail");
}

async fn of_two_concurrent_redemptions_exactly_one_wins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    for _ in 0..5 {
        let token = token(&app, &client).await;
        let (a, b) = tokio::join!(
            tokio::spawn(redeem_status(app.url(&format!("/modulos/auth?_sr={token}")))),
            tokio::spawn(redeem_status(app.url(&format!("/modulos/auth?_sr={token}")))),
        );
        let mut statuses = [a.expect("joined"), b.expect("joined")];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::GONE]);
    }
    // Across two processes on one store, too.
    let other = app.sibling(0).await;
    for _ in 0..5 {
        let token = token(&app, &client).await;
        let (a, b) = tokio::join!(
            tokio::spawn(redeem_status(app.url(&format!("/modulos/auth?_sr={token}")))),
            tokio::spawn(redeem_status(other.url(&format!("/modulos/auth?_sr={token}")))),
        );
        let mut statuses = [a.expect("joined"), b.expect("joined")];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::GONE]);
    }
    let sessions: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM remote_sessions")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("count");
    assert_eq!(sessions.0, 10);
}

async fn redeem_status(url: String) -> StatusCode {
    browser().get(url).send().await.expect("sent").status()
}

/// The ticket's user is checked again at redemption: one disabled in between is refused.
async fn a_user_disabled_after_the_ticket_does_not_get_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    let token = token(&app, &client).await;
    let admin = app.client(&[Resource::Admin]).await;
    let disabled = app.call(&admin, Method::POST, "/api/admin/users/alice/disable").await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    let refused = redeem(&app, &token).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let sessions = sqlx::query("SELECT COUNT(*) AS n FROM remote_sessions")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("count");
    assert_eq!(sqlx::Row::get::<i64, _>(&sessions, "n"), 0, "no session was opened");
}
