//! The purge job keeps the authentication tables (replay guard, attempt counters, dynamic token
//! values) as large as one window's traffic: expired rows go, live ones stay.

use cofre::clock::Clock;
use cofre::domain::authorization::{Resource, Scopes};
use cofre::domain::network::IpAllowList;
use cofre::service::admin::users::{self, NewUser};
use cofre::service::auth::api_tokens::{self, NewToken, TokenKind};
use cofre::service::auth::purge::purge_expired;
use reqwest::StatusCode;
use sqlx::Row;
use zeroize::Zeroizing;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    expired_authentication_rows_are_purged_and_live_ones_kept,
    reveals_and_request_records_are_kept_for_their_retention_only
);

async fn count(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    sqlx::query(&sql).fetch_one(app.state.core.store.pool()).await.expect("count").get::<i64, _>("n")
}

/// One round of authentication load: failed client secrets for `subjects` client ids, a good
/// token, a dynamic token value, and seen nonces.
async fn load(app: &TestApp, round: usize, subjects: usize) {
    let good = app.create_app(&[Resource::Info], false, &["*"]).await;
    app.token_for(&good).await;
    for i in 0..subjects {
        let reply = app
            .send(app.client.post(app.url("/iso/oauth2/token")).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &format!("probe-{round}-{i}")),
                ("client_secret", "wrong"),
            ]))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let drawn = app
        .send(
            app.client
                .post(app.url("/api/get_auth_token"))
                .form(&[("login_name", "loader"), ("password", "a long password")]),
        )
        .await;
    assert_eq!(drawn.status, StatusCode::OK, "{}", drawn.body);
    let now = app.clock.now();
    for i in 0..subjects {
        let fresh = app.state.core.store.consume_once(&format!("nonce-{round}-{i}"), now + 600, now).await;
        assert!(fresh.expect("stored"));
    }
}

async fn expired_authentication_rows_are_purged_and_live_ones_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let user = NewUser {
        username: "loader".into(),
        display_name: String::new(),
        email: String::new(),
        password: Some(Zeroizing::new("a long password".into())),
        groups: vec![],
    };
    users::create_user(core, user).await.expect("user");
    let definition = NewToken {
        name: "loader-ci".into(),
        description: String::new(),
        kind: TokenKind::Dynamic,
        scopes: Scopes::parse_list("info:read").expect("scope"),
        allowed_ips: IpAllowList::Any,
        expires_at: None,
        user: Some("loader".into()),
    };
    api_tokens::create(core, definition).await.expect("definition");

    load(&app, 0, 20).await;
    let before =
        (count(&app, "replay_guard").await, count(&app, "auth_failures").await, count(&app, "issued_tokens").await);
    assert!(before.0 >= 20 && before.1 >= 20 && before.2 >= 1, "{before:?}");
    // Nothing is purged while it still decides something.
    assert_eq!(purge_expired(core).await.expect("purge"), Default::default());

    // Long load: every round is an hour later; the tables hold about one round, not all of them.
    for round in 1..=6 {
        app.clock.advance_secs(3600);
        purge_expired(core).await.expect("purge");
        load(&app, round, 20).await;
        let sizes =
            (count(&app, "replay_guard").await, count(&app, "auth_failures").await, count(&app, "issued_tokens").await);
        assert!(sizes.0 <= 20 && sizes.1 <= 25 && sizes.2 <= 1, "round {round}: {sizes:?}");
    }
    // Past every window and lifetime, nothing is left.
    app.clock.advance_secs(3600);
    let purged = purge_expired(core).await.expect("purge");
    assert!(purged.replay_guard == 20 && purged.issued_tokens == 1 && purged.attempts >= 20, "{purged:?}");
    for table in ["replay_guard", "auth_failures", "issued_tokens"] {
        assert_eq!(count(&app, table).await, 0, "{table}");
    }
}

/// Credential reveals and proxied-request records are kept `record_retention_days` (365), then
/// purged; younger ones stay.
async fn reveals_and_request_records_are_kept_for_their_retention_only(backend: Backend) {
    use crate::session_tickets::{entry_code, fixture, redeem, token};
    use cofre::domain::sessions::RequestNote;
    use cofre::service::sessions::proxy;

    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let now = core.now();
    for at in [now - 400 * 86_400, now - 86_400] {
        sqlx::query(
            "INSERT INTO credential_reveals (at, application_id, authorization_id, credential_id, credential_label, \
             hostname, client_ip) VALUES ($1, 1, 1, 1, 'root', 'web01', '10.0.0.9')",
        )
        .bind(at)
        .execute(core.store.pool())
        .await
        .expect("reveal");
    }
    let client = fixture(&app).await;
    let redeemed = redeem(&app, &token(&app, &client).await).await;
    let (id, code) = entry_code(&app, &redeemed);
    let ip = "127.0.0.1".parse().expect("ip");
    let (session, _) = proxy::enter(core, &app.state.audit, &code, &id, ip).await.expect("entered");
    let note = RequestNote { method: "GET".into(), path: "/".into(), status: 200, bytes_up: 0, bytes_down: 10 };
    for _ in 0..2 {
        proxy::note_request(core, &session, &note).await.expect("noted");
    }
    sqlx::query("UPDATE session_requests SET at_ms = at_ms - $1 WHERE id = (SELECT MIN(id) FROM session_requests)")
        .bind(400_i64 * 86_400_000)
        .execute(core.store.pool())
        .await
        .expect("aged");

    // The server's own purge job may get there first: what counts is what is left.
    purge_expired(core).await.expect("purge");
    assert_eq!(count(&app, "credential_reveals").await, 1);
    assert_eq!(count(&app, "session_requests").await, 1);
}
