//! Brute-force defence: lockouts per client id and per login (shared by case variants), 429 with
//! Retry-After, flat answers, and recovery when the lock expires.

use cofre::clock::Clock;
use cofre::domain::authorization::Resource;
use cofre::service::admin::users::{self, NewUser};
use reqwest::StatusCode;
use zeroize::Zeroizing;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    failed_client_secrets_lock_the_client_id,
    login_variants_share_one_counter,
    parallel_guesses_get_no_more_tries_than_the_limit,
    signed_schemes_hold_the_lock_in_parallel,
    honest_parallel_logins_are_not_throttled
);

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
    user_with_password(&app, "alice", "the right password").await;
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

async fn user_with_password(app: &TestApp, username: &str, password: &str) {
    let user = NewUser {
        username: username.into(),
        display_name: String::new(),
        email: String::new(),
        password: Some(Zeroizing::new(password.into())),
        groups: vec![],
    };
    users::create_user(&app.state.core, user).await.expect("user");
}

/// How many of `replies` were let through to verification (anything but 429).
fn verified(statuses: &[StatusCode]) -> usize {
    statuses.iter().filter(|s| **s != StatusCode::TOO_MANY_REQUESTS).count()
}

/// Sends every request at once and collects the statuses.
async fn all_at_once(requests: Vec<reqwest::RequestBuilder>) -> Vec<StatusCode> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|r| tokio::spawn(async move { r.send().await.expect("request sent").status() }))
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    statuses
}

/// 200 simultaneous wrong secrets: no more of them are checked than the limit allows one after
/// another (5), and then even the right secret is refused, so the lock holds against parallel
/// guessing. (Before, all 200 were checked before the first failure was counted.)
async fn parallel_guesses_get_no_more_tries_than_the_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_app(&[Resource::Info], false, &["*"]).await;
    let token = |secret: String| {
        app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", created.client_id.clone()),
            ("client_secret", secret),
        ])
    };
    let statuses = all_at_once((0..200).map(|i| token(format!("guess-{i}"))).collect()).await;
    assert!(verified(&statuses) <= 5, "{} attempts were checked: {statuses:?}", verified(&statuses));
    assert_eq!(app.send(token(created.client_secret.to_string())).await.status, StatusCode::TOO_MANY_REQUESTS);

    // Password logins (get_auth_token) hold the same way.
    user_with_password(&app, "bob", "the right password").await;
    let login = |password: String| {
        app.client
            .post(app.url("/api/get_auth_token"))
            .form(&[("login_name", "bob".to_owned()), ("password", password)])
    };
    let statuses = all_at_once((0..40).map(|i| login(format!("guess-{i}"))).collect()).await;
    assert!(verified(&statuses) <= 5, "{} logins were checked: {statuses:?}", verified(&statuses));
    assert_eq!(app.send(login("the right password".into())).await.status, StatusCode::TOO_MANY_REQUESTS);
}

/// OAuth 1.0a and SigV4 count their attempts the same way: parallel forged signatures are
/// checked no more often than the limit, then the subject is locked.
async fn signed_schemes_hold_the_lock_in_parallel(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.signing_app("signer").await;
    let consumer_key = created.oauth1.as_ref().expect("oauth1").consumer_key.clone();
    let now = app.clock.now();
    let oauth = |i: usize| {
        let header = format!(
            "OAuth oauth_consumer_key=\"{consumer_key}\", oauth_nonce=\"n{i}\", oauth_timestamp=\"{now}\", \
             oauth_signature_method=\"HMAC-SHA1\", oauth_version=\"1.0\", oauth_signature=\"forged{i}\""
        );
        app.client.get(app.url("/iso/pam/info/x")).header("authorization", header)
    };
    let statuses = all_at_once((0..60).map(oauth).collect()).await;
    assert!(verified(&statuses) <= 5, "{} OAuth 1.0a attempts were checked: {statuses:?}", verified(&statuses));
    assert_eq!(app.send(oauth(999)).await.status, StatusCode::TOO_MANY_REQUESTS);

    let access_key = created.aws.as_ref().expect("aws").access_key_id.clone();
    let stamp = time::OffsetDateTime::from_unix_timestamp(now).expect("time");
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    let sigv4 = |i: usize| {
        let header = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/{}/us-east-1/cofre/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={i:064x}",
            &amz_date[..8]
        );
        app.client.get(app.url("/iso/pam/info/x")).header("authorization", header).header("x-amz-date", &amz_date)
    };
    let statuses = all_at_once((0..60).map(sigv4).collect()).await;
    assert!(verified(&statuses) <= 5, "{} SigV4 attempts were checked: {statuses:?}", verified(&statuses));
    assert_eq!(app.send(sigv4(999)).await.status, StatusCode::TOO_MANY_REQUESTS);
}

/// Honest callers sending many requests at once are not mistaken for guessing: attempts that
/// find no room wait for it instead of being refused.
async fn honest_parallel_logins_are_not_throttled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_app(&[Resource::Info], false, &["*"]).await;
    let token = || {
        app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", created.client_id.as_str()),
            ("client_secret", created.client_secret.as_str()),
        ])
    };
    let statuses = all_at_once((0..32).map(|_| token()).collect()).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
}
