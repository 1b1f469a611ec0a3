//! OAuth 1.0a through HTTP, signed by oauthlib: carriers, replay (also across processes),
//! timestamp window, bad input, and the unsigned mode.

use cofre::domain::authorization::Resource;
use cofre::service::admin::apps::{AuthMethods, CreatedApplication, NewApplication};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::signing::{assert_status, python, send_signed, sign};

on_both_stores!(python: oauthlib_signatures_are_accepted_on_every_carrier, replays_stale_and_malformed_requests_are_refused);
on_both_stores!(extreme_timestamps_are_refused_not_overflowed);

pub(crate) async fn oauth1_app(app: &TestApp, unsigned: bool) -> CreatedApplication {
    app.create_app_with(NewApplication {
        methods: AuthMethods { oauth1: true, ..AuthMethods::default() },
        oauth1_unsigned: unsigned,
        ..NewApplication::oauth2("legacy client", [Resource::Info].into_iter().collect())
    })
    .await
}

fn job(
    app: &TestApp,
    created: &CreatedApplication,
    method: &str,
    path: &str,
    carrier: &str,
    body: Option<&str>,
) -> Value {
    let o = created.oauth1.as_ref().expect("oauth1 credentials");
    json!({
        "kind": "oauth1", "method": method, "url": app.url(path), "carrier": carrier, "body": body,
        "consumer_key": o.consumer_key, "consumer_secret": o.consumer_secret.as_str(),
        "token": o.token, "token_secret": o.token_secret.as_str(),
    })
}

async fn oauthlib_signatures_are_accepted_on_every_carrier(backend: Backend) {
    let py = python();
    let app = TestApp::spawn(backend).await;
    let created = oauth1_app(&app, false).await;
    // Form carrier, with body parameters in the signature.
    let signed =
        sign(&py, job(&app, &created, "POST", "/iso/pam/info", "body", Some("identifier=o1&content=hello+world%21")));
    let reply = send_signed(&app, Method::POST, &signed).await;
    assert_status(&reply, StatusCode::CREATED, "form carrier");
    assert_eq!(reply.body["info"]["content"], "hello world!");
    // Header carrier with a query string, and the /api prefix.
    let signed = sign(&py, job(&app, &created, "GET", "/api/pam/info/o1?extra=a%20b&z=1", "header", None));
    let reply = send_signed(&app, Method::GET, &signed).await;
    assert_status(&reply, StatusCode::OK, "header carrier");
    assert_eq!(reply.body["info"]["content"], "hello world!");
    // Query carrier, on a DELETE.
    let signed = sign(&py, job(&app, &created, "DELETE", "/iso/pam/info/o1", "query", None));
    assert_status(&send_signed(&app, Method::DELETE, &signed).await, StatusCode::OK, "query carrier");
    // HMAC-SHA256 too.
    let mut sha256 = job(&app, &created, "GET", "/iso/pam/info/o1", "header", None);
    sha256["signature_method"] = "HMAC-SHA256".into();
    let reply = send_signed(&app, Method::GET, &sign(&py, sha256)).await;
    assert_eq!(reply.body["exception"]["code"], 1024, "authenticated, and the item is inactive");
    // The audit names the scheme and the caller.
    let records = app.state.core.store.recent_audit(5).await.expect("audit");
    let last = records.last().expect("record");
    assert_eq!(last.authorization_id, Some(created.authorization_id));
    assert!(last.detail.contains("OAuth1"), "{}", last.detail);
}

async fn replays_stale_and_malformed_requests_are_refused(backend: Backend) {
    let py = python();
    let is_postgres = matches!(backend, Backend::Postgres(_));
    let app = TestApp::spawn(backend).await;
    let created = oauth1_app(&app, false).await;
    let probe = "/iso/pam/info/none";
    let authenticated = |status: StatusCode| status == StatusCode::BAD_REQUEST; // 1023 past the gate

    // The same signed request twice: the second is a replay.
    let mut fixed = job(&app, &created, "GET", probe, "header", None);
    fixed["nonce"] = "n1".into();
    let signed = sign(&py, fixed.clone());
    assert!(authenticated(send_signed(&app, Method::GET, &signed).await.status));
    let replay = send_signed(&app, Method::GET, &signed).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.body["response"]["message"], "Invalid signature");

    // The nonce consumed only after the signature verified: a forged request cannot burn it.
    let mut burn = job(&app, &created, "GET", probe, "header", None);
    burn["nonce"] = "n2".into();
    burn["consumer_secret"] = "not-the-secret".into();
    assert_eq!(send_signed(&app, Method::GET, &sign(&py, burn)).await.status, StatusCode::UNAUTHORIZED);
    let mut real = job(&app, &created, "GET", probe, "header", None);
    real["nonce"] = "n2".into();
    assert!(authenticated(send_signed(&app, Method::GET, &sign(&py, real)).await.status));

    // A percent-encoded nonce is the same nonce.
    let mut encoded = job(&app, &created, "GET", probe, "query", None);
    encoded["nonce"] = "n3".into();
    let signed = sign(&py, encoded);
    assert!(authenticated(send_signed(&app, Method::GET, &signed).await.status));
    let url = signed["url"].as_str().expect("url").replace("oauth_nonce=n3", "oauth_nonce=%6E3");
    let replayed = app.send(app.client.get(url)).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);

    // Timestamps: ±299 s pass, ±301 s fail.
    let now = app.state.core.now();
    for (offset, ok) in [(-299i64, true), (299, true), (-301, false), (301, false)] {
        let mut timed = job(&app, &created, "GET", probe, "header", None);
        timed["timestamp"] = (now + offset).to_string().into();
        let status = send_signed(&app, Method::GET, &sign(&py, timed)).await.status;
        assert_eq!(authenticated(status), ok, "offset {offset}: {status}");
    }

    // Malformed: duplicate protocol parameter, unknown method, PLAINTEXT over HTTP, bad timestamp.
    let signed = sign(&py, job(&app, &created, "GET", probe, "query", None));
    let url = signed["url"].as_str().expect("url");
    let duplicated = app.send(app.client.get(format!("{url}&oauth_nonce=again"))).await;
    assert_eq!(duplicated.status, StatusCode::BAD_REQUEST);
    let rsa = app.send(app.client.get(url.replace("HMAC-SHA1", "RSA-SHA1"))).await;
    assert_eq!(rsa.status, StatusCode::BAD_REQUEST);
    let mut plaintext = job(&app, &created, "GET", probe, "header", None);
    plaintext["signature_method"] = "PLAINTEXT".into();
    assert_eq!(send_signed(&app, Method::GET, &sign(&py, plaintext)).await.status, StatusCode::BAD_REQUEST);
    let bad_header =
        app.send(app.client.get(app.url(probe)).header("Authorization", "OAuth oauth_nonce=unquoted")).await;
    assert_eq!(bad_header.status, StatusCode::BAD_REQUEST);
    let o = created.oauth1.as_ref().expect("oauth1");
    let garbled = format!(
        "{}?oauth_consumer_key={}&oauth_token={}&oauth_signature_method=HMAC-SHA1&oauth_timestamp=soon&oauth_nonce=x&oauth_signature=y",
        app.url(probe),
        o.consumer_key,
        o.token
    );
    assert_eq!(app.send(app.client.get(garbled)).await.status, StatusCode::BAD_REQUEST);

    // Unsigned mode only for applications set up for it.
    let unsigned_url = |c: &CreatedApplication| {
        let o = c.oauth1.as_ref().expect("oauth1");
        format!("{}?oauth_consumer_key={}&oauth_token={}&oauth_signature=-", app.url(probe), o.consumer_key, o.token)
    };
    assert_eq!(app.send(app.client.get(unsigned_url(&created))).await.status, StatusCode::UNAUTHORIZED);
    let lenient = oauth1_app(&app, true).await;
    assert!(authenticated(app.send(app.client.get(unsigned_url(&lenient))).await.status));

    // A second cofre process on the same PostgreSQL database sees the consumed nonce.
    if is_postgres {
        let second = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| {
            c.database_url = app.config.database_url.clone();
            c.master_key_file = Some(app.data_dir.path().join("master.key"));
        })
        .await;
        let mut once = job(&app, &created, "GET", probe, "header", None);
        once["nonce"] = "shared".into();
        let signed = sign(&py, once);
        assert!(authenticated(send_signed(&app, Method::GET, &signed).await.status));
        // Signed for the second process's address, with the same nonce and timestamp.
        let mut same = job(&second, &created, "GET", probe, "header", None);
        same["nonce"] = "shared".into();
        let header = signed["headers"]["Authorization"].as_str().expect("header");
        let ts = header.split("oauth_timestamp=\"").nth(1).and_then(|s| s.split('"').next()).expect("timestamp");
        same["timestamp"] = ts.into();
        let replay = send_signed(&second, Method::GET, &sign(&py, same)).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "the replay reached another process");
    }
}

/// A timestamp at the ends of the integer range is outside the window, not an overflow (a
/// panic in a debug build, a wrapped comparison in a release build).
async fn extreme_timestamps_are_refused_not_overflowed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = oauth1_app(&app, false).await;
    let key = &created.oauth1.as_ref().expect("oauth1").consumer_key;
    for timestamp in ["-9223372036854775808", "9223372036854775807"] {
        let header = format!(
            "OAuth oauth_consumer_key=\"{key}\", oauth_nonce=\"n-{timestamp}\", oauth_timestamp=\"{timestamp}\", \
             oauth_signature_method=\"HMAC-SHA1\", oauth_version=\"1.0\", oauth_signature=\"x\""
        );
        let reply = app.send(app.client.get(app.url("/iso/pam/info/x")).header("authorization", header)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{timestamp}: {}", reply.body);
    }
}
