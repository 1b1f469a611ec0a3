//! AWS SigV4 request signing, produced by botocore: accepted, a repeated write refused (a
//! repeated read let through), skew and tampering refused.

use cofre::domain::authorization::Resource;
use cofre::service::admin::apps::{AuthMethods, CreatedApplication, NewApplication};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::signing::{assert_status, python, send_signed, sign};

on_both_stores!(python: botocore_signed_requests_are_accepted_once, repeated_reads_pass_and_replays_never_lock_out);

fn job(app: &TestApp, created: &CreatedApplication, method: &str, path: &str, body: Option<&str>) -> Value {
    let aws = created.aws.as_ref().expect("aws credentials");
    let mut headers = serde_json::Map::new();
    if body.is_some() {
        headers.insert("Content-Type".into(), "application/json".into());
    }
    json!({
        "kind": "sigv4", "method": method, "url": app.url(path), "body": body, "headers": headers,
        "access_key_id": aws.access_key_id, "secret_access_key": aws.secret_access_key.as_str(),
    })
}

async fn botocore_signed_requests_are_accepted_once(backend: Backend) {
    let py = python();
    let app = TestApp::spawn(backend).await;
    let created = app
        .create_app_with(NewApplication {
            methods: AuthMethods { aws: true, ..AuthMethods::default() },
            ..NewApplication::oauth2("pipeline", [Resource::Info].into_iter().collect())
        })
        .await;
    let body = r#"{"identifier":"aws-1","content":"signed"}"#;
    let signed = sign(&py, job(&app, &created, "POST", "/iso/pam/info", Some(body)));
    let reply = send_signed(&app, Method::POST, &signed).await;
    assert_status(&reply, StatusCode::CREATED, "botocore POST");
    let replay = send_signed(&app, Method::POST, &signed).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "an identical signature is accepted once");

    let get = sign(&py, job(&app, &created, "GET", "/api/pam/info/aws-1?z=1&a=two%20words", None));
    let reply = send_signed(&app, Method::GET, &get).await;
    assert_status(&reply, StatusCode::OK, "botocore GET with a query");
    assert_eq!(reply.body["info"]["content"], "signed");

    // Tampering with the body, the path or the query breaks the signature.
    let mut tampered = sign(&py, job(&app, &created, "POST", "/iso/pam/info", Some(body)));
    tampered["body"] = body.replace("signed", "forged").into();
    assert_eq!(send_signed(&app, Method::POST, &tampered).await.status, StatusCode::UNAUTHORIZED);
    let mut moved = sign(&py, job(&app, &created, "GET", "/iso/pam/info/aws-1", None));
    moved["url"] = moved["url"].as_str().expect("url").replace("aws-1", "aws-2").into();
    assert_eq!(send_signed(&app, Method::GET, &moved).await.status, StatusCode::UNAUTHORIZED);

    // A wrong secret, and clock skew beyond 15 minutes.
    let mut wrong = job(&app, &created, "GET", "/iso/pam/info/aws-1", None);
    wrong["secret_access_key"] = "not-the-secret".into();
    assert_eq!(send_signed(&app, Method::GET, &sign(&py, wrong)).await.status, StatusCode::UNAUTHORIZED);
    let fresh = sign(&py, job(&app, &created, "GET", "/iso/pam/info/aws-1", None));
    app.clock.advance_secs(14 * 60);
    assert_eq!(send_signed(&app, Method::GET, &fresh).await.status, StatusCode::OK, "14 minutes of skew pass");
    let late = sign(&py, job(&app, &created, "GET", "/iso/pam/info/aws-1", None));
    app.clock.advance_secs(16 * 60 + 14 * 60);
    assert_eq!(send_signed(&app, Method::GET, &late).await.status, StatusCode::UNAUTHORIZED, "16 minutes do not");

    // Another region is another scope.
    app.clock.advance_secs(-(30 * 60));
    let mut elsewhere = job(&app, &created, "GET", "/iso/pam/info/aws-1", None);
    elsewhere["region"] = "eu-west-1".into();
    assert_eq!(send_signed(&app, Method::GET, &sign(&py, elsewhere)).await.status, StatusCode::UNAUTHORIZED);
}

/// Identical GETs signed within one second carry the same signature: a client repeating a read
/// is let through (as AWS does), and a replayed write is refused without counting as a failed
/// login, so a correct client never locks itself out.
async fn repeated_reads_pass_and_replays_never_lock_out(backend: Backend) {
    let py = python();
    let app = TestApp::spawn(backend).await;
    let created = app.signing_app("poller").await;
    let body = r#"{"identifier":"polled","content":"v1"}"#;
    let post = sign(&py, job(&app, &created, "POST", "/iso/pam/info", Some(body)));
    assert_status(&send_signed(&app, Method::POST, &post).await, StatusCode::CREATED, "first POST");
    let get = sign(&py, job(&app, &created, "GET", "/iso/pam/info/polled", None));
    for round in 0..8 {
        assert_status(&send_signed(&app, Method::GET, &get).await, StatusCode::OK, &format!("read {round}"));
    }
    for round in 0..8 {
        let replay = send_signed(&app, Method::POST, &post).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "replayed write {round}: {}", replay.body);
    }
    let fresh = sign(&py, job(&app, &created, "GET", "/iso/pam/info/polled", None));
    assert_status(&send_signed(&app, Method::GET, &fresh).await, StatusCode::OK, "not locked out by replays");
}
