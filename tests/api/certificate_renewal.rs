//! Monitoring and automatic renewal (issue 17): the injected clock walks certificates through
//! valid → renewal pending → renewed, and expired for one not marked for renewal; simultaneous
//! renewal passes renew each certificate once.

use cofre::domain::authorization::Resource;
use cofre::service::certificates::renewal::renew_due;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::certificates::{
    KEY_PASSWORD, admin, authorities, decrypted_key, export, openssl, request, request_body, sign, write,
};
use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;

on_both_stores!(the_clock_walks_certificates_through_renewal_and_expiry, renewal_settings_are_the_owners_alone);

const DAY: i64 = 86_400;

async fn certificate(app: &TestApp, client: &Client, id: &Value) -> Value {
    let listed = app.call(client, Method::GET, &format!("/iso/certificate/list/{}", id.as_str().expect("id"))).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    listed.body["certificates"][0].clone()
}

async fn advance(app: &TestApp, client: &mut Client, days: i64) {
    app.clock.advance_secs(days * DAY);
    client.token = app.token_for(&client.app).await;
}

async fn the_clock_walks_certificates_through_renewal_and_expiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (root, issuing) = authorities(&app, &admin).await;
    let ca = issuing.replace(' ', "%20");
    let mut client = app.client(&[Resource::Certificates]).await;
    let body = |cn: &str| request_body(cn, json!({"validity": 40, "san": [cn, "10.1.2.3"]}));
    assert_eq!(request(&app, &client, "auto", body("auto.example.com")).await.status, StatusCode::CREATED);
    assert_eq!(request(&app, &client, "manual", body("manual.example.com")).await.status, StatusCode::CREATED);

    let refused = sign(&app, &client, "auto", "self_signed=1&reason=x&auto_renew=1").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let refused = sign(&app, &client, "auto", &format!("self_signed=0&ca={ca}&reason=x&renewal_days=0")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    // Renewed automatically 10 days before it ends; the other, not at all (due 30 days before).
    let auto =
        sign(&app, &client, "auto", &format!("self_signed=0&ca={ca}&reason=x&auto_renew=1&renewal_days=10")).await;
    assert_eq!(auto.status, StatusCode::OK, "{}", auto.body);
    assert_eq!(auto.body["certificate"]["auto_renew"], true);
    assert_eq!(auto.body["certificate"]["renewal_days"], "10");
    let manual = sign(&app, &client, "manual", &format!("self_signed=0&ca={ca}&reason=x")).await;
    let (auto_id, manual_id) = (auto.body["certificate"]["id"].clone(), manual.body["certificate"]["id"].clone());
    let renew = || renew_due(&app.state.core, &app.state.audit);
    assert_eq!(renew().await.expect("pass"), []);

    advance(&app, &mut client, 11).await;
    assert_eq!(certificate(&app, &client, &auto_id).await["status_certificate"], "1");
    assert_eq!(certificate(&app, &client, &manual_id).await["status_certificate"], "3", "renewal pending");
    assert_eq!(renew().await.expect("pass"), [], "not due yet, or not marked");

    // Day 31: due. Two passes at once (as two processes would) renew it once.
    advance(&app, &mut client, 20).await;
    assert_eq!(certificate(&app, &client, &auto_id).await["status_certificate"], "3");
    let (first, second) = tokio::join!(renew(), renew());
    let renewals: Vec<_> = first.expect("pass").into_iter().chain(second.expect("pass")).collect();
    assert_eq!(renewals.len(), 1, "{renewals:?}");
    assert_eq!(renew().await.expect("pass"), [], "renewed once");
    let new_id = Value::String(renewals[0].new.to_string());
    let old = certificate(&app, &client, &auto_id).await;
    assert_eq!(old["renewed_by"], new_id);
    let new = certificate(&app, &client, &new_id).await;
    assert_eq!(new["status_certificate"], "1", "{new}");
    assert_eq!((&new["common_name"], &new["san"]), (&old["common_name"], &old["san"]));
    assert_eq!(
        (&new["ca"], &new["origin_certificate"], &new["auto_renew"]),
        (&old["ca"], &json!("REQU"), &json!(true))
    );
    assert_ne!(new["serial"], old["serial"]);
    assert_eq!(new["renewed_by"], Value::Null);

    // A new key, exportable with the old key password, and a chain openssl accepts.
    let old_key = decrypted_key(&export(&app, &client, auto_id.as_str().expect("id"), KEY_PASSWORD).await.body);
    let new_export = export(&app, &client, new_id.as_str().expect("id"), KEY_PASSWORD).await;
    assert_eq!(new_export.status, StatusCode::OK, "{}", new_export.body);
    assert_ne!(decrypted_key(&new_export.body), old_key, "renewal makes a new key");
    let dir = tempfile::tempdir().expect("dir");
    let root_pem = app.call(&client, Method::GET, &format!("/iso/certificate/ca/{}", root.replace(' ', "%20"))).await;
    // At the injected clock's time: the replacement starts a month from the real today.
    let at = app.state.core.now().to_string();
    let (ok, out) = openssl(&[
        "verify",
        "-attime",
        &at,
        "-CAfile",
        &write(dir.path(), "root.pem", root_pem.body["certificate"]["certificate"].as_str().expect("root")),
        "-untrusted",
        &write(dir.path(), "chain.pem", new["chain"].as_str().expect("chain")),
        &write(dir.path(), "new.pem", new["certificate"].as_str().expect("leaf")),
    ]);
    assert!(ok, "openssl verify: {out}");

    // Day 41: both originals have expired; the replacement is valid.
    advance(&app, &mut client, 10).await;
    assert_eq!(certificate(&app, &client, &manual_id).await["status_certificate"], "4");
    assert_eq!(certificate(&app, &client, &auto_id).await["status_certificate"], "4");
    assert_eq!(certificate(&app, &client, &new_id).await["status_certificate"], "1");
    let audit = format!("{:?}", app.state.core.recent_audit(1000).await.expect("audit"));
    assert!(audit.contains("RENEW") && audit.contains("certificate renewal"), "the renewal is audited");
}

async fn renewal_settings_are_the_owners_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (_, issuing) = authorities(&app, &admin).await;
    let client = app.client(&[Resource::Certificates]).await;
    assert_eq!(request(&app, &client, "c", request_body("c.example.com", json!({}))).await.status, StatusCode::CREATED);
    let signed = sign(&app, &client, "c", &format!("self_signed=0&ca={}&reason=x", issuing.replace(' ', "%20"))).await;
    let id = signed.body["certificate"]["id"].as_str().expect("id").to_owned();
    let path = format!("/iso/certificado/renewal/{id}");

    let set = app.post_json(&client, &path, json!({"auto_renew": 1, "renewal_days": 5})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        (&set.body["certificate"]["auto_renew"], &set.body["certificate"]["renewal_days"]),
        (&json!(true), &json!("5"))
    );
    let bad = app.post_json(&client, &path, json!({"renewal_days": 400})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    let other = app.client(&[Resource::Certificates]).await;
    assert_eq!(app.post_json(&other, &path, json!({"auto_renew": 0})).await.status, StatusCode::NOT_FOUND);
    let reader_app = app.create_app(&[Resource::Certificates], true, &["*"]).await;
    let reader = Client { token: app.token_for(&reader_app).await, app: reader_app };
    let read_only = app.post_json(&reader, &path, json!({"auto_renew": 0})).await;
    assert_eq!(read_only.body["exception"]["code"], 1039, "{}", read_only.body);

    // A self-signed certificate has no authority in cofre to renew it.
    assert_eq!(request(&app, &client, "s", request_body("s.example.com", json!({}))).await.status, StatusCode::CREATED);
    let own = sign(&app, &client, "s", "self_signed=1&reason=x").await;
    let own_path = format!("/iso/certificate/renewal/{}", own.body["certificate"]["id"].as_str().expect("id"));
    let refused = app.post_json(&client, &own_path, json!({"auto_renew": 1})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    let after = app.call(&client, Method::GET, &format!("/iso/certificate/list/{id}")).await;
    assert_eq!(after.body["certificates"][0]["renewal_days"], "5", "nothing changed by the refused calls");
    assert_eq!(after.body["certificates"][0]["auto_renew"], true);
}
