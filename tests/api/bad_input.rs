//! Hostile and malformed requests get a clear 4xx in the envelope, and the server keeps serving.

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, canary};
use crate::on_both_stores;

on_both_stores!(
    malformed_bodies_get_a_named_4xx_and_nothing_is_written,
    malformed_paths_and_uploads_are_answered_in_the_envelope,
    nul_characters_are_refused_not_a_server_error,
);

async fn malformed_bodies_get_a_named_4xx_and_nothing_is_written(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.body_limit = 64 * 1024).await;
    let client = app.client(&[Resource::Info]).await;
    let secret = canary();
    let post = |ctype: &'static str, body: Vec<u8>| {
        app.authed(&client, Method::POST, "/iso/pam/info").header("content-type", ctype).body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            post("application/json", format!("{{\"content\": \"{secret}\"").into_bytes()),
            StatusCode::BAD_REQUEST,
            "Malformed JSON",
        ),
        (
            post("application/json", format!("[\"{secret}\"]").into_bytes()),
            StatusCode::BAD_REQUEST,
            "must be an object",
        ),
        (
            post("application/json", format!("{{\"content\": 1e400, \"x\": \"{secret}\"}}").into_bytes()),
            StatusCode::BAD_REQUEST,
            "Malformed JSON",
        ),
        (post("application/json", b"{\"content\": \"\xff\xfe\"}".to_vec()), StatusCode::BAD_REQUEST, "Malformed JSON"),
        (
            post("application/json", json!({"content": {"nested": secret}}).to_string().into_bytes()),
            StatusCode::BAD_REQUEST,
            "'content' must be a string",
        ),
        (
            post("application/x-www-form-urlencoded", b"content=%FF%FE".to_vec()),
            StatusCode::BAD_REQUEST,
            "not valid UTF-8",
        ),
        (
            post("text/plain", secret.clone().into_bytes()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Content-Type",
        ),
        (post("application/json", vec![b' '; 70 * 1024]), StatusCode::PAYLOAD_TOO_LARGE, "larger than the limit"),
        (
            post("multipart/form-data; boundary=x", b"--x\r\nbroken".to_vec()),
            StatusCode::BAD_REQUEST,
            "Malformed multipart",
        ),
        (
            post("application/json", json!({"content": "x".repeat(65 * 1024 - 100)}).to_string().into_bytes()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than the limit",
        ),
    ];
    for (request, status, needle) in cases {
        let reply = app.send(request).await;
        assert_eq!(reply.status, status, "{needle}: {}", reply.body);
        let message = reply.body["response"]["message"].as_str().expect("envelope message");
        assert!(message.contains(needle), "{message:?} should mention {needle:?}");
        assert_eq!(reply.body["response"]["error"], true);
        assert!(!reply.body.to_string().contains(&secret), "the body echoes the input");
    }
    let too_long_name = app.post_json(&client, "/iso/pam/info", json!({"content": "x", "name": "n".repeat(256)})).await;
    assert_eq!(too_long_name.status, StatusCode::BAD_REQUEST);
    let long_key = app.call(&client, Method::GET, &format!("/iso/pam/info/{}", "k".repeat(300))).await;
    assert_eq!(long_key.status, StatusCode::BAD_REQUEST);
    let odd_key = app.call(&client, Method::GET, "/iso/pam/info/%27%20OR%201=1--").await;
    assert_eq!(odd_key.body["exception"]["code"], 1023);
    let bad_xff =
        app.send(app.authed(&client, Method::GET, "/iso/pam/info/1").header("X-Forwarded-For", "not-an-ip")).await;
    assert_eq!(bad_xff.body["exception"]["code"], 1023, "untrusted peers' forwarding headers are ignored");

    // Nothing was half-written, and the server still serves.
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM protected_info")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("count");
    assert_eq!(rows, 0);
    let ok = app.post_json(&client, "/iso/pam/info", json!({"content": "fine"})).await;
    assert_eq!(ok.status, StatusCode::CREATED);
}

on_both_stores!(forwarded_for_counts_only_from_trusted_proxies);

async fn forwarded_for_counts_only_from_trusted_proxies(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.trusted_proxies = vec!["127.0.0.1".parse().expect("rule")]).await;
    let created = app.create_app(&[Resource::Info], false, &["203.0.113.0/24"]).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", created.client_id.as_str()),
        ("client_secret", created.client_secret.as_str()),
    ];
    let token_from =
        |xff: &'static str| app.client.post(app.url("/iso/oauth2/token")).header("X-Forwarded-For", xff).form(&form);
    assert_eq!(app.send(token_from("198.51.100.7")).await.status, StatusCode::UNAUTHORIZED);
    let issued = app.send(token_from("198.51.100.7, 203.0.113.5")).await;
    assert_eq!(issued.status, StatusCode::OK, "the right-most untrusted hop is the client");
    let malformed = app.send(token_from("203.0.113.5, garbage")).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["response"]["message"], "Malformed X-Forwarded-For header.");
}

/// Found by schemathesis: axum's own rejections (a path segment that is not UTF-8 or not a
/// number, an upload that is not multipart) were plain text, not the envelope.
async fn malformed_paths_and_uploads_are_answered_in_the_envelope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.client(&[Resource::Admin, Resource::MySafe]).await;
    let cases = [
        (Method::POST, "/api/admin/credentials/1/versions/two/restore", StatusCode::BAD_REQUEST),
        (Method::GET, "/api/admin/applications/%FF", StatusCode::BAD_REQUEST),
        (Method::GET, "/iso/certificate/list/%C3", StatusCode::BAD_REQUEST),
        (Method::POST, "/api/mysafe/file", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (Method::PUT, "/api/mysafe/file/update/1", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ];
    for (method, path, status) in cases {
        let reply =
            app.send(app.authed(&admin, method.clone(), path).header("content-type", "text/plain").body("x")).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/json", "{method} {path}");
        assert_eq!(reply.body["code"], status.as_u16(), "{method} {path}: {}", reply.body);
        assert!(reply.body["exception"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

/// Found by schemathesis on PostgreSQL: a NUL (U+0000) in a parameter reached the store, whose
/// text cannot hold it, and came back as a 500. It is a 400 on both stores, wherever it is sent.
async fn nul_characters_are_refused_not_a_server_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info, Resource::Certificates, Resource::Scim]).await;
    let requests = [
        app.client.get(app.url("/api/get_auth_token?login_name=a%00b&password=x")),
        app.authed(&client, Method::GET, "/api/certificado/request/list?nome%00=1"),
        app.authed(&client, Method::GET, "/iso/pam/info/a%00b"),
        app.authed(&client, Method::POST, "/iso/pam/info").json(&json!({"identifier": "a\u{0}b", "content": "x"})),
        app.authed(&client, Method::POST, "/iso/pam/info").form(&[("identifier", "ok"), ("content", "a\u{0}")]),
        app.authed(&client, Method::POST, "/scim/v2/Users")
            .header("content-type", "application/scim+json")
            .body(json!({"userName": "nul\u{0}user"}).to_string()),
        app.authed(&client, Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22a%00%22"),
        app.authed(&client, Method::GET, "/scim/v2/Users/a%00"),
    ];
    for request in requests {
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    }
    assert!(app.state.core.store.recent_audit(50).await.expect("audit").len() >= 8, "every refusal is audited");
    let listed = app.call(&client, Method::GET, "/iso/pam/info/ok").await;
    assert_eq!(listed.body["exception"]["code"], 1023, "nothing was written: {}", listed.body);
}
