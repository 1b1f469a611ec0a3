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

on_both_stores!(expired_authentication_rows_are_purged_and_live_ones_kept);

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
