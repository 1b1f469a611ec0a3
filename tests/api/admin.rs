//! The admin API: refused to non-admin callers; manages apps, users, groups and tokens.

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(admin_routes_manage_everything_and_refuse_others);

async fn admin_routes_manage_everything_and_refuse_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.client(&[Resource::Admin]).await;
    let outsider = app.client(&[Resource::Info, Resource::Pam]).await;
    for (method, path) in [
        (Method::GET, "/api/admin/applications"),
        (Method::POST, "/api/admin/users"),
        (Method::GET, "/iso/admin/tokens"),
    ] {
        let reply = app.call(&outsider, method, path).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(reply.body["response"]["message"], "You are not authorized to access this resource.");
    }
    let anonymous = app.send(app.client.get(app.url("/api/admin/applications"))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // An application with every scheme; secrets once.
    let created = app
        .post_json(
            &admin,
            "/api/admin/applications",
            json!({"name": "scanner", "resources": ["info"], "auth": "oauth2,oauth1,aws",
                   "allowed_ips": "127.0.0.1, 10.0.0.0/8", "read_only": true}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let entity = &created.body["application"];
    for key in [
        "client_id",
        "client_secret",
        "consumer_key",
        "consumer_secret",
        "token",
        "token_secret",
        "access_key_id",
        "secret_access_key",
    ] {
        assert!(entity[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
    }
    let app_id = entity["application_id"].as_str().expect("id").to_owned();
    let z_id = entity["authorization_id"].as_str().expect("id").to_owned();
    let shown = app.call(&admin, Method::GET, &format!("/api/admin/applications/{app_id}")).await;
    assert_eq!(shown.body["application"]["authorizations"][0]["allowed_ips"], "127.0.0.1,10.0.0.0/8");
    assert!(!shown.body.to_string().contains(entity["client_secret"].as_str().expect("secret")));

    // Update the gate: the scanner's token now fails the referrer rule.
    let scanner_token = app
        .send(app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", entity["client_id"].as_str().expect("id")),
            ("client_secret", entity["client_secret"].as_str().expect("secret")),
        ]))
        .await
        .body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let probe = || app.client.get(app.url("/iso/pam/info/none")).bearer_auth(&scanner_token);
    assert_eq!(app.send(probe()).await.status, StatusCode::BAD_REQUEST);
    let updated = app
        .send(app.authed(&admin, Method::PUT, &format!("/api/admin/authorizations/{z_id}")).json(&json!({
            "allowed_referers": ["https://app.example.com"], "expires_at": ""
        })))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(app.send(probe()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.send(probe().header("Referer", "https://app.example.com/page")).await.status,
        StatusCode::BAD_REQUEST
    );
    let bad_cidr = app
        .send(
            app.authed(&admin, Method::PUT, &format!("/api/admin/authorizations/{z_id}"))
                .json(&json!({"allowed_ips": "10.0.0.0/40"})),
        )
        .await;
    assert_eq!(bad_cidr.status, StatusCode::BAD_REQUEST);

    // Rotating the secret retires every token issued before.
    let rotated = app.call(&admin, Method::POST, &format!("/api/admin/authorizations/{z_id}/secret")).await;
    assert!(rotated.body["authorization"]["client_secret"].as_str().is_some());
    assert_eq!(app.send(probe().header("Referer", "https://app.example.com/")).await.status, StatusCode::UNAUTHORIZED);
    let disabled = app.call(&admin, Method::POST, &format!("/api/admin/applications/{app_id}/disable")).await;
    assert_eq!(disabled.body["response"]["message"], "Application successfully deactivated");

    // Users, groups, membership.
    let user = app
        .post_json(
            &admin,
            "/api/admin/users",
            json!({"username": " Bia ", "name": "Bia", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.body);
    assert_eq!(user.body["user"]["username"], "bia");
    assert!(!user.body.to_string().contains("long enough pw"));
    let again = app.post_json(&admin, "/api/admin/users", json!({"username": "BIA"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let group = app.post_json(&admin, "/api/admin/groups", json!({"name": "ops"})).await;
    assert_eq!(group.status, StatusCode::CREATED);
    let member = app.call(&admin, Method::PUT, "/api/admin/groups/ops/members/bia").await;
    assert_eq!(member.body["group"]["members"], json!(["bia"]));
    let shown = app.call(&admin, Method::GET, "/api/admin/users/bia").await;
    assert_eq!(shown.body["user"]["groups"], json!(["ops"]));
    app.call(&admin, Method::DELETE, "/api/admin/groups/ops/members/bia").await;
    let off = app.call(&admin, Method::POST, "/api/admin/users/bia/disable").await;
    assert_eq!(off.body["user"]["enabled"], false);

    // Tokens: the value only at creation and regeneration.
    let token = app
        .post_json(
            &admin,
            "/api/admin/tokens",
            json!({"name": "ci", "scope": ["info:read"], "allowed_ips": "127.0.0.0/8"}),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    let value = token.body["token"]["token"].as_str().expect("value").to_owned();
    let listed = app.call(&admin, Method::GET, "/api/admin/tokens").await;
    assert_eq!(listed.body["tokens"][0]["scope"], "info:read");
    assert!(!listed.body.to_string().contains(&value));
    let bad_scope = app.post_json(&admin, "/api/admin/tokens", json!({"name": "x", "scope": "info:delete"})).await;
    assert_eq!(bad_scope.status, StatusCode::BAD_REQUEST);
    let extended = app
        .send(
            app.authed(&admin, Method::PUT, "/api/admin/tokens/ci")
                .json(&json!({"expires_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(extended.status, StatusCode::OK);
    let regenerated = app.call(&admin, Method::POST, "/api/admin/tokens/ci/regenerate").await;
    assert_ne!(regenerated.body["token"]["token"].as_str().expect("value"), value);
    assert_eq!(app.call(&admin, Method::DELETE, "/api/admin/tokens/ci").await.status, StatusCode::OK);
    assert_eq!(app.call(&admin, Method::DELETE, "/api/admin/tokens/ci").await.status, StatusCode::NOT_FOUND);
}
