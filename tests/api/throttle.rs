//! Brute-force defence: lockouts per client id and per login (shared by case variants), 429 with
//! Retry-After, flat answers, and recovery when the lock expires.

use cofre::domain::authorization::Resource;
use cofre::service::users::{self, NewUser};
use reqwest::StatusCode;
use zeroize::Zeroizing;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(failed_client_secrets_lock_the_client_id, login_variants_share_one_counter);

async fn failed_client_secrets_lock_the_client_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_app(&[Resource::Info], false, &["*"]).await;
    let attempt = |secret: &str| {
        app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", created.client_id.as_str()),
            ("client_secret", secret),
        ])
    };
    for _ in 0..5 {
        assert_eq!(app.send(attempt("wrong")).await.status, StatusCode::UNAUTHORIZED);
    }
    let locked = app.send(attempt(created.client_secret.as_str())).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "the right secret waits out the lock");
    let retry: i64 = locked.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=300).contains(&retry));
    // Upper-case spelling of the client id counts against the same subject.
    let shouted = app
        .send(app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", created.client_id.to_uppercase().as_str()),
            ("client_secret", "wrong"),
        ]))
        .await;
    assert_eq!(shouted.status, StatusCode::TOO_MANY_REQUESTS);
    let records = app.state.core.store.recent_audit(3).await.expect("audit");
    assert!(records.iter().any(|r| r.status == 429 && r.outcome == "denied" && r.detail.contains("throttled")));

    app.clock.advance_secs(301);
    assert_eq!(app.send(attempt(created.client_secret.as_str())).await.status, StatusCode::OK);
}

async fn login_variants_share_one_counter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = NewUser {
        username: "alice".into(),
        display_name: String::new(),
        email: String::new(),
        password: Some(Zeroizing::new("the right password".into())),
        groups: vec![],
    };
    users::create_user(&app.state.core, user).await.expect("user");
    let login = |name: &str, password: &str| {
        app.client.post(app.url("/api/get_auth_token")).form(&[("login_name", name), ("password", password)])
    };
    // Five failures spread over spellings of one login (NFC folding is covered by a unit test).
    for name in ["alice", "Alice", " alice", "ALICE", "alice\t"] {
        assert_eq!(app.send(login(name, "wrong")).await.status, StatusCode::UNAUTHORIZED, "{name:?}");
    }
    let locked = app.send(login("alice", "the right password")).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers.contains_key("retry-after"));
}
