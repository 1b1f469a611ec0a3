//! Request signatures over HTTP/2, where the host arrives as `:authority` and no `Host` header
//! is sent: OAuth 1.0a and SigV4 must verify exactly as over HTTP/1.1.

use reqwest::{Method, StatusCode, Version};
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestApp};
use crate::on_both_stores;
use crate::signing::{python, sign};

on_both_stores!(python: signed_requests_verify_over_http2);

/// Sends a signed request over HTTP/2 (prior knowledge, no `Host` header).
async fn send_h2(method: Method, signed: &Value) -> Reply {
    let client = reqwest::Client::builder().http2_prior_knowledge().build().expect("h2 client");
    let mut request = client.request(method, signed["url"].as_str().expect("url")).version(Version::HTTP_2);
    for (name, value) in signed["headers"].as_object().expect("headers") {
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name.as_str(), value.as_str().expect("header value"));
        }
    }
    if let Some(body) = signed["body"].as_str() {
        request = request.body(body.to_owned());
    }
    let response = request.send().await.expect("request sent");
    assert_eq!(response.version(), Version::HTTP_2, "the request went over HTTP/2");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

async fn signed_requests_verify_over_http2(backend: Backend) {
    let py = python();
    let app = TestApp::spawn(backend).await;
    let created = app.signing_app("h2 client").await;
    let aws = created.aws.as_ref().expect("aws");
    let body = r#"{"identifier":"h2","content":"over h2"}"#;
    let sigv4 = sign(
        &py,
        json!({
            "kind": "sigv4", "method": "POST", "url": app.url("/iso/pam/info"), "body": body,
            "headers": {"Content-Type": "application/json"},
            "access_key_id": aws.access_key_id, "secret_access_key": aws.secret_access_key.as_str(),
        }),
    );
    let reply = send_h2(Method::POST, &sigv4).await;
    assert_eq!(reply.status, StatusCode::CREATED, "SigV4 over HTTP/2: {}", reply.body);

    let o = created.oauth1.as_ref().expect("oauth1");
    let oauth = sign(
        &py,
        json!({
            "kind": "oauth1", "method": "GET", "url": app.url("/iso/pam/info/h2?x=1"), "carrier": "header",
            "consumer_key": o.consumer_key, "consumer_secret": o.consumer_secret.as_str(),
            "token": o.token, "token_secret": o.token_secret.as_str(),
        }),
    );
    let reply = send_h2(Method::GET, &oauth).await;
    assert_eq!(reply.status, StatusCode::OK, "OAuth 1.0a over HTTP/2: {}", reply.body);
    assert_eq!(reply.body["info"]["content"], "over h2");
}
