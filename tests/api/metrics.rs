//! `/metrics` after a load: the series are there with plausible values, no identifier or
//! secret is in a label, and only loopback or the metrics token may read it.

use reqwest::StatusCode;
use serde_json::json;

use cofre::domain::authorization::Resource;

use crate::helpers::{Backend, TestApp, token_request};
use crate::on_both_stores;

on_both_stores!(a_scrape_after_a_load_shows_the_series, metrics_are_for_loopback_or_the_token);

/// The value of the series whose name and labels are exactly `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/plain; version=0.0.4"));
    response.text().await.expect("text")
}

async fn a_scrape_after_a_load_shows_the_series(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info]).await;
    let before = scrape(&app).await;
    let created =
        |b: &str| value(b, r#"cofre_http_requests_total{family="pam",method="POST",status="201"}"#).unwrap_or(0.0);
    let failures = |b: &str| value(b, r#"cofre_auth_failures_total{scheme="oauth2"}"#).unwrap_or(0.0);
    for i in 0..5 {
        let body = json!({"identifier": format!("m{i}"), "content": "metric-secret-value"});
        assert_eq!(app.post_json(&client, "/iso/pam/info", body).await.status, StatusCode::CREATED);
    }
    let wrong = cofre::service::admin::apps::CreatedApplication {
        application_id: client.app.application_id,
        authorization_id: client.app.authorization_id,
        client_id: client.app.client_id.clone(),
        client_secret: zeroize::Zeroizing::new("not-the-secret".into()),
        oauth1: None,
        aws: None,
    };
    for _ in 0..2 {
        let refused = token_request(&app.client, &app.base, &wrong).send().await.expect("token");
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let after = scrape(&app).await;
    assert!(created(&after) - created(&before) >= 5.0, "{after}");
    assert!(failures(&after) - failures(&before) >= 2.0, "{after}");
    let observed =
        value(&after, r#"cofre_http_request_duration_seconds_count{family="pam",method="POST"}"#).expect("histogram");
    assert!(observed >= 5.0);
    let commits = value(&after, "cofre_audit_commit_duration_seconds_count").expect("audit commits");
    let records = value(&after, "cofre_audit_records_total").expect("audit records");
    assert!(commits >= 1.0 && records >= commits, "{records} records in {commits} commits");
    assert!(value(&after, "cofre_audit_queue_depth").is_some());
    assert!(value(&after, "cofre_sessions_live").is_some());
    assert!(after.contains(r#"cofre_store_connections{pool="read",state="idle"}"#), "{after}");
    for line in after.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap_or("");
        assert!(name.starts_with("cofre_"), "{line}");
    }
    for secret in [client.app.client_id.as_str(), "metric-secret-value", "m1", client.token.as_str()] {
        assert!(!after.contains(secret), "{secret} in the metrics");
    }
}

async fn metrics_are_for_loopback_or_the_token(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("rule")];
        c.metrics_token = "scrape-token-for-tests".into();
    })
    .await;
    let from_afar = |req: reqwest::RequestBuilder| req.header("X-Forwarded-For", "203.0.113.9");
    let refused = from_afar(app.client.get(app.url("/metrics"))).send().await.expect("get");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "a remote client behind the proxy is refused");
    let wrong = from_afar(app.client.get(app.url("/metrics"))).bearer_auth("guess").send().await.expect("get");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let allowed =
        from_afar(app.client.get(app.url("/metrics"))).bearer_auth("scrape-token-for-tests").send().await.expect("get");
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(allowed.text().await.expect("text").contains("cofre_http_requests_total"));
}
