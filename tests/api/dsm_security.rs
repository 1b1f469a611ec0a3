//! DSM from the attacker's side: registration is a registrar's right over its own applications
//! and never widens the registrar's gate; provisioning is a write; renewal intervals are
//! bounded so schedules never overflow into a renewal loop.

use cofre::clock::Clock;
use cofre::domain::authorization::Resource;
use cofre::domain::network::IpAllowList;
use cofre::service::admin::apps::NewApplication;
use cofre::service::dsm::renewal::{LocalIssuer, renew_due};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;

on_both_stores!(
    registrars_reach_only_their_own_applications,
    registration_never_widens_the_registrars_gate,
    read_only_pipelines_cannot_provision,
    renewal_intervals_are_bounded_and_never_loop
);

/// Registers `application` (erp/prod) through `registrar` with extra form fields.
pub async fn register_with(
    app: &TestApp,
    registrar: &Client,
    application: &str,
    extra: &[(&str, &str)],
) -> crate::helpers::Reply {
    let mut form = vec![("application", application), ("system", "erp"), ("environment", "prod")];
    form.extend_from_slice(extra);
    app.send(app.authed(registrar, Method::POST, "/iso/dapp/application").form(&form)).await
}

/// The pipeline client a successful registration answered.
pub async fn pipeline_of(app: &TestApp, registered: &crate::helpers::Reply) -> Client {
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    let created = cofre::service::admin::apps::CreatedApplication {
        application_id: 0,
        authorization_id: 0,
        client_id: registered.body["id"].as_str().expect("id").to_owned(),
        client_secret: zeroize::Zeroizing::new(registered.body["signature"].as_str().expect("signature").to_owned()),
        oauth1: None,
        aws: None,
    };
    let token = app.token_for(&created).await;
    Client { app: created, token }
}

fn secret_body(identity: &str, password: &str) -> Value {
    json!({"identity": identity, "data": {"key_value": {"fields": {"DB_PASSWORD": password}}}})
}

async fn registrars_reach_only_their_own_applications(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team_a = app.client(&[Resource::Dsm]).await;
    let pipeline_a =
        pipeline_of(&app, &register_with(&app, &team_a, "billing", &[("unique_key", "uk-billing")]).await).await;
    let stored = app.post_json(&pipeline_a, "/iso/sctm/secret", secret_body("db", "a-secret")).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);

    // Another application's registrar names A's application, by name or by unique key: refused,
    // and no credentials for A's secrets are minted.
    let team_b = app.client(&[Resource::Dsm]).await;
    for extra in [&[][..], &[("unique_key", "uk-billing")][..]] {
        let takeover = register_with(&app, &team_b, "billing", extra).await;
        assert_eq!(takeover.status, StatusCode::CONFLICT, "{}", takeover.body);
        assert!(takeover.body.get("id").is_none() && takeover.body.get("signature").is_none());
    }
    let still_a = app.call(&pipeline_a, Method::GET, "/iso/sctm/secret/db").await;
    assert_eq!(still_a.body["secret"]["data"][0]["DB_PASSWORD"], "a-secret");
    assert_eq!(still_a.body["secret"]["version"], "1", "nobody else wrote it");

    // A pipeline's own authorization cannot register (and so cannot mint more credentials).
    let minted = register_with(&app, &pipeline_a, "billing", &[]).await;
    assert_eq!(minted.status, StatusCode::FORBIDDEN, "{}", minted.body);
    let elsewhere = register_with(&app, &pipeline_a, "other", &[]).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);

    // A read-only registrar cannot register either; A's own registrar still can.
    let reader = app.create_app(&[Resource::Dsm], true, &["*"]).await;
    let reader = Client { token: app.token_for(&reader).await, app: reader };
    assert_eq!(register_with(&app, &reader, "reports", &[]).await.body["exception"]["code"], 1039);
    let again = pipeline_of(&app, &register_with(&app, &team_a, "billing", &[]).await).await;
    assert_eq!(app.call(&again, Method::GET, "/iso/sctm/secret/db").await.status, StatusCode::OK);
}

async fn registration_never_widens_the_registrars_gate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let expiry = app.clock.now() + 86_400;
    let bootstrap = app
        .create_app_with(NewApplication {
            allowed_ips: IpAllowList::parse(["127.0.0.1"]).expect("ips"),
            expires_at: Some(expiry),
            ..NewApplication::oauth2("bootstrap", [Resource::Dsm].into_iter().collect())
        })
        .await;
    let bootstrap = Client { token: app.token_for(&bootstrap).await, app: bootstrap };
    for (extra, what) in [
        (vec![("allowed_ips", "*")], "any address"),
        (vec![("allowed_ips", "10.0.0.0/8")], "another network"),
        (vec![("allowed_ips", "127.0.0.0/8")], "a wider block"),
        (vec![("expiration_date", "2999-01-01 00:00:00")], "a later expiry"),
    ] {
        let reply = register_with(&app, &bootstrap, "narrow", &extra).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {}", reply.body);
    }
    // Left out, the registrar's own limits are inherited.
    let registered = register_with(&app, &bootstrap, "narrow", &[]).await;
    let pipeline = pipeline_of(&app, &registered).await;
    let (minted, _) = app
        .state
        .core
        .store
        .authorization_by_client_id(&pipeline.app.client_id, app.state.core.now())
        .await
        .expect("authorization");
    assert_eq!(minted.allowed_ips.to_stored(), "127.0.0.1");
    assert_eq!(minted.expires_at, Some(expiry));
    assert_eq!(minted.resources.to_stored(), "dsm");
}

async fn read_only_pipelines_cannot_provision(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registrar = app.client(&[Resource::Dsm]).await;
    let pipeline = pipeline_of(&app, &register_with(&app, &registrar, "pods", &[]).await).await;
    let store = &app.state.core.store;
    let (authorization, _) =
        store.authorization_by_client_id(&pipeline.app.client_id, app.state.core.now()).await.expect("found");
    let read_only = cofre::domain::authorization::AuthorizationChanges { read_only: Some(true), ..Default::default() };
    store.change_authorization(authorization.id, &read_only, app.clock.now()).await.expect("made read-only");
    let pod = [("pod_name", "api-1"), ("deploy", "api"), ("namespace", "prod")];
    for path in ["/iso/coe/dapp/provision", "/iso/coe/dapp/deprovision", "/iso/dapp/deprovision"] {
        let reply = app.send(app.authed(&pipeline, Method::POST, path).form(&pod)).await;
        assert_eq!(reply.body["exception"]["code"], 1039, "{path}: {}", reply.body);
    }
    // Reads still work.
    assert_eq!(app.call(&pipeline, Method::GET, "/iso/dapp/application").await.status, StatusCode::OK);
}

async fn renewal_intervals_are_bounded_and_never_loop(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registrar = app.client(&[Resource::Dsm]).await;
    let mut pipeline = pipeline_of(&app, &register_with(&app, &registrar, "renewing", &[]).await).await;
    // i64::MAX / 60 + 1 minutes would wrap `now + minutes * 60` into the past.
    for minutes in ["153722867280912931", "9223372036854775807", "600000", "-5"] {
        let mut body = secret_body("huge", "x");
        body["renew_credential_time"] = minutes.into();
        let reply = app.post_json(&pipeline, "/iso/sctm/secret", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{minutes}: {}", reply.body);
    }
    assert_eq!(app.call(&pipeline, Method::GET, "/iso/sctm/secret/huge").await.body["exception"]["code"], 1005);

    // A row stored with such an interval (by an older release) renews once per pass, not in a loop.
    let mut body = secret_body("legacy", "x");
    body["renew_credential_time"] = "10".into();
    assert_eq!(app.post_json(&pipeline, "/iso/sctm/secret", body).await.status, StatusCode::CREATED);
    sqlx::query("UPDATE dsm_secrets SET renew_minutes = 153722867280912931 WHERE identity = 'legacy'")
        .execute(app.state.core.store.pool())
        .await
        .expect("tampered");
    app.clock.advance_secs(601);
    assert_eq!(renew_due(&app.state.core, &LocalIssuer).await.expect("renewal pass").len(), 1);
    assert!(renew_due(&app.state.core, &LocalIssuer).await.expect("second pass").is_empty(), "not due again");
    pipeline.token = app.token_for(&pipeline.app).await;
    let legacy = app.call(&pipeline, Method::GET, "/iso/sctm/secret/legacy").await;
    assert_eq!(legacy.body["secret"]["version"], "2", "{}", legacy.body);
}
