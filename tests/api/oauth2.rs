//! The token endpoint and bearer-token checks.

use base64::Engine;
use cofre::domain::authorization::Resource;
use cofre::service::admin::apps::{NewApplication, set_application_enabled};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, error_envelope};
use crate::on_both_stores;

on_both_stores!(
    token_by_form_body_and_by_basic,
    token_failures_follow_rfc_6749,
    expired_tampered_and_disabled_tokens_are_refused,
    client_ip_outside_the_allow_list_is_refused_and_audited,
    requests_without_credentials_or_route_get_the_gateway_answer,
    a_non_basic_authorization_header_beside_body_credentials_is_ignored,
);

async fn token_by_form_body_and_by_basic(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_app(&[Resource::Info], false, &["*"]).await;
    for prefix in ["/iso", "/api"] {
        let reply = app
            .send(app.client.post(app.url(&format!("{prefix}/oauth2/token"))).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &created.client_id),
                ("client_secret", &created.client_secret),
            ]))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["content-type"], "application/json");
        assert_eq!(reply.headers["cache-control"], "no-store");
        assert_eq!(reply.body["token_type"], "Bearer");
        assert_eq!(reply.body["expires_in"], 3600);
        assert!(reply.body["access_token"].as_str().is_some_and(|t| t.len() > 20));
    }
    // HTTP Basic with only grant_type in the body, and GET with the parameters in the query.
    let basic = app
        .send(
            app.client
                .post(app.url("/api/oauth2/token"))
                .basic_auth(&created.client_id, Some(created.client_secret.as_str()))
                .form(&[("grant_type", "client_credentials"), ("tenant", "Segura")]),
        )
        .await;
    assert_eq!(basic.status, StatusCode::OK, "{}", basic.body);
    let get = app
        .send(app.client.get(app.url("/iso/oauth2/token")).query(&[
            ("grant_type", "client_credentials"),
            ("client_id", &created.client_id),
            ("client_secret", &created.client_secret),
        ]))
        .await;
    assert_eq!(get.status, StatusCode::OK);

    // The token works with the scheme in any letter case.
    let token = basic.body["access_token"].as_str().expect("token");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let reply = app
            .send(app.client.get(app.url("/iso/pam/info/none")).header("Authorization", format!("{scheme} {token}")))
            .await;
        assert_eq!(reply.body, error_envelope(400, 1023, "1023: Information not found"), "{scheme}");
    }
}

async fn token_failures_follow_rfc_6749(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_app(&[Resource::Info], false, &["*"]).await;
    let token = |form: Vec<(&'static str, String)>| app.client.post(app.url("/iso/oauth2/token")).form(&form);

    let wrong = app
        .send(token(vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", created.client_id.clone()),
            ("client_secret", "0".repeat(64)),
        ]))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"], "invalid_client");
    assert!(wrong.headers["www-authenticate"].to_str().expect("ascii").starts_with("Basic"));
    assert_eq!(wrong.headers["cache-control"], "no-store");

    // An unknown client looks exactly like a wrong secret.
    let unknown = app
        .send(token(vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", "nobody".into()),
            ("client_secret", "x".into()),
        ]))
        .await;
    assert_eq!((unknown.status, &unknown.body), (wrong.status, &wrong.body));

    let bad_basic = app
        .send(
            app.client
                .post(app.url("/iso/oauth2/token"))
                .basic_auth(&created.client_id, Some("wrong"))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!(bad_basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad_basic.body["error"], "invalid_client");

    let both = app
        .send(
            app.client
                .post(app.url("/iso/oauth2/token"))
                .basic_auth(&created.client_id, Some(created.client_secret.as_str()))
                .form(&[("grant_type", "client_credentials"), ("client_secret", created.client_secret.as_str())]),
        )
        .await;
    assert_eq!((both.status, both.body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));

    let password = app.send(token(vec![("grant_type", "password".into())])).await;
    assert_eq!(password.status, StatusCode::BAD_REQUEST);
    assert_eq!(password.body["error"], "unsupported_grant_type");

    let missing = app.send(token(vec![("client_id", created.client_id.clone())])).await;
    assert_eq!((missing.status, missing.body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));

    let garbled = app
        .send(
            app.client
                .post(app.url("/iso/oauth2/token"))
                .header(
                    "Authorization",
                    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("nocolon")),
                )
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!(garbled.status, StatusCode::UNAUTHORIZED);
}

async fn expired_tampered_and_disabled_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info]).await;
    let probe = |token: String| app.client.get(app.url("/iso/pam/info/x")).bearer_auth(token);
    let works = |status: StatusCode| status == StatusCode::BAD_REQUEST; // 1023 means the token passed.

    assert!(works(app.send(probe(client.token.clone())).await.status));

    let mut tampered = client.token.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'a' { b'b' } else { b'a' };
    let reply = app.send(probe(String::from_utf8(tampered).expect("ascii"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.headers["www-authenticate"].to_str().expect("ascii").contains("invalid_token"));

    // A token never authenticates from the query string.
    let query = app.send(app.client.get(app.url("/iso/pam/info/x")).query(&[("access_token", &client.token)])).await;
    assert_eq!(query.status, StatusCode::UNAUTHORIZED);

    // Expiry follows the (injected) clock.
    app.clock.advance_secs(3599);
    assert!(works(app.send(probe(client.token.clone())).await.status));
    app.clock.advance_secs(1);
    assert_eq!(app.send(probe(client.token.clone())).await.status, StatusCode::UNAUTHORIZED);

    // Disabling the application stops a live token at once; enabling restores it.
    let fresh = app.token_for(&client.app).await;
    set_application_enabled(&app.state.core, client.app.application_id, false).await.expect("disable");
    assert_eq!(app.send(probe(fresh.clone())).await.status, StatusCode::UNAUTHORIZED);
    let refused = app
        .send(app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client.app.client_id),
            ("client_secret", &client.app.client_secret),
        ]))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    set_application_enabled(&app.state.core, client.app.application_id, true).await.expect("enable");
    assert!(works(app.send(probe(fresh)).await.status));

    // An authorization that expires takes its tokens with it.
    let expiring = app
        .create_app_with(NewApplication {
            expires_at: Some(app.state.core.now() + 60),
            ..NewApplication::oauth2("short-lived", [Resource::Info].into_iter().collect())
        })
        .await;
    let token = app.token_for(&expiring).await;
    assert!(works(app.send(probe(token.clone())).await.status));
    app.clock.advance_secs(61);
    assert_eq!(app.send(probe(token)).await.status, StatusCode::UNAUTHORIZED);
}

async fn client_ip_outside_the_allow_list_is_refused_and_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Clients bound to 127.0.0.2 and 127.0.0.3: both loopback, so the test needs no network.
    let from =
        |ip: [u8; 4]| reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().expect("client");
    let (two, three) = (from([127, 0, 0, 2]), from([127, 0, 0, 3]));
    let created = app.create_app(&[Resource::Info], false, &["127.0.0.2/32"]).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", created.client_id.as_str()),
        ("client_secret", created.client_secret.as_str()),
    ];
    let refused = app.send(three.post(app.url("/iso/oauth2/token")).form(&form)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let issued = app.send(two.post(app.url("/iso/oauth2/token")).form(&form)).await;
    assert_eq!(issued.status, StatusCode::OK);
    let token = issued.body["access_token"].as_str().expect("token");

    let allowed = app.send(two.get(app.url("/iso/pam/info/x")).bearer_auth(token)).await;
    assert_eq!(allowed.status, StatusCode::BAD_REQUEST, "1023 from the allowed address");
    // A forwarded header from an untrusted peer changes nothing.
    let elsewhere =
        app.send(three.get(app.url("/iso/pam/info/x")).bearer_auth(token).header("X-Forwarded-For", "127.0.0.2")).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    assert_eq!(elsewhere.body["response"]["error"], json!(true));

    let request_id = elsewhere.headers["x-request-id"].to_str().expect("ascii").to_owned();
    let records = app.state.core.store.recent_audit(50).await.expect("audit");
    let record = records.iter().find(|r| r.request_id == request_id).expect("the refusal is audited");
    assert_eq!((record.client_ip.as_str(), record.status, record.outcome.as_str()), ("127.0.0.3", 403, "denied"));
    assert_eq!(record.authorization_id, Some(created.authorization_id), "the refused caller is named in the audit");
}

async fn requests_without_credentials_or_route_get_the_gateway_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let message = "No route matched with those values.";
    let none = app.send(app.client.get(app.url("/iso/pam/info/1"))).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body, error_envelope(401, 401, message));
    assert_eq!(none.headers["www-authenticate"], "Bearer realm=\"cofre\"");
    let unknown = app.send(app.client.get(app.url("/iso/nowhere"))).await;
    assert_eq!(unknown.body, error_envelope(404, 404, message));
    let client = app.client(&[Resource::Info]).await;
    let wrong_method = app.call(&client, Method::PATCH, "/iso/pam/info/1").await;
    assert_eq!(wrong_method.body, error_envelope(405, 405, message));
    let health = app.send(app.client.get(app.url("/health"))).await;
    assert_eq!((health.status, &health.body), (StatusCode::OK, &json!({"status": "ok"})));
    let ready = app.send(app.client.get(app.url("/ready"))).await;
    assert_eq!(ready.status, StatusCode::OK);
}

/// dsmcli logs in again with new body credentials while it still sends its old bearer token
/// (issue 32, item 3). Only HTTP Basic authenticates a client at the token endpoint; any other
/// `Authorization` header is ignored there. Basic beside body credentials stays a 400: RFC 6749
/// §2.3 allows one client authentication method per request.
async fn a_non_basic_authorization_header_beside_body_credentials_is_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let old = app.client(&[Resource::Info]).await;
    let new = app.create_app(&[Resource::Info], false, &["*"]).await;
    let body = [
        ("grant_type", "client_credentials"),
        ("client_id", new.client_id.as_str()),
        ("client_secret", new.client_secret.as_str()),
    ];
    let with_header =
        |value: String| app.client.post(app.url("/iso/oauth2/token")).header("Authorization", value).form(&body);
    for header in [
        format!("Bearer {}", old.token),
        "Bearer expired-or-garbage".to_owned(),
        "bearer".to_owned(),
        "OAuth oauth_consumer_key=\"x\"".to_owned(),
        "Negotiate abc".to_owned(),
    ] {
        let reply = app.send(with_header(header.clone())).await;
        assert_eq!(reply.status, StatusCode::OK, "{header}: {}", reply.body);
        // The token is the body client's: it passes the gate as that client.
        let token = reply.body["access_token"].as_str().expect("token");
        let probe = app.send(app.client.get(app.url("/iso/pam/info/none")).bearer_auth(token)).await;
        assert_eq!(probe.body["exception"]["code"], 1023, "{header}");
    }
    let records = app.state.core.store.recent_audit(50).await.expect("audit");
    assert!(records.iter().all(|r| !r.detail.contains(&old.token)), "the ignored header is never recorded in clear");

    // Without body credentials, a bearer header is no client authentication at all.
    let alone = app
        .send(
            app.client
                .post(app.url("/iso/oauth2/token"))
                .bearer_auth(&old.token)
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!((alone.status, alone.body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    // Basic and body credentials together: still two methods, still refused.
    let both = app
        .send(
            app.client
                .post(app.url("/iso/oauth2/token"))
                .basic_auth(&new.client_id, Some(new.client_secret.as_str()))
                .form(&body),
        )
        .await;
    assert_eq!((both.status, both.body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}
