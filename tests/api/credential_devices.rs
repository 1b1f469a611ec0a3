//! The device of a credential upsert is the one at `(hostname, ip)`, as the contract's lookup
//! `(hostname, ip, username)` says: a hostname with another address is not that device. And the
//! `device_domain` an upsert gives is stored on that device (shown by `GET /iso/pam/device`).

use cofre::domain::authorization::{Access, ItemKind, Resource};
use cofre::service::admin::apps::set_link;
use cofre::service::pam::devices::create_domain;
use cofre::service::pam::rotation::generate_key;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_envelope};
use crate::on_both_stores;
use crate::pam::device;
use crate::write_races::at_once;

on_both_stores!(
    a_credential_upsert_names_its_device_by_hostname_and_ip,
    a_credential_upsert_stores_the_device_domain,
    concurrent_upserts_store_one_of_their_device_domains,
);

async fn password_of(app: &TestApp, client: &crate::helpers::Client, key: &str) -> Value {
    app.call(client, Method::GET, &format!("/iso/pam/credential/{key}")).await.body["credential"]["password"].clone()
}

async fn a_credential_upsert_names_its_device_by_hostname_and_ip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "web01").await; // at 10.0.0.5
    let first =
        json!({"identifier": "svc-web01", "username": "svc", "hostname": "web01", "ip": "10.0.0.5", "content": "one"});
    let created = app.post_json(&client, "/iso/pam/credential", first).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    // web01 at another address is another device, and there is none: the credential on
    // web01 at 10.0.0.5 is not touched (before, it was silently updated).
    let not_found = error_envelope(400, 1011, "1011: Device not found");
    for body in [
        json!({"username": "svc", "hostname": "web01", "ip": "10.0.0.9", "content": "two"}),
        json!({"identifier": "svc-web01", "username": "svc", "hostname": "web01", "ip": "10.0.0.9", "content": "two"}),
        json!({"username": "new", "hostname": "web01", "ip": "10.0.0.9", "content": "two"}),
    ] {
        let moved = app.post_json(&client, "/iso/pam/credential", body.clone()).await;
        assert_eq!(moved.body, not_found, "{body}");
    }
    assert_eq!(password_of(&app, &client, "svc@web01").await, "one");
    let none = app.call(&client, Method::GET, "/iso/pam/credential/new@web01").await;
    assert_eq!(none.body["exception"]["code"], 1007, "{}", none.body);

    // At its address, the credential is found and updated.
    let same = json!({"username": "svc", "hostname": "web01", "ip": "10.0.0.5", "content": "three"});
    let updated = app.post_json(&client, "/iso/pam/credential", same).await;
    assert_eq!(updated.body["response"]["message"], "Credential updated successfully!", "{}", updated.body);
    assert_eq!(password_of(&app, &client, "svc@web01").await, "three");

    // SSH keys locate their device the same way.
    let (private, public) = generate_key("ed25519").expect("key");
    let key = json!({"hostname": "web01", "ip": "10.0.0.9", "private_key": private.as_str(), "public_key": public});
    assert_eq!(app.post_json(&client, "/iso/pam/key", key).await.body, not_found);
}

async fn a_credential_upsert_stores_the_device_domain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    for domain in ["corp.local", "ad.corp", "other.corp"] {
        create_domain(&app.state.core, domain).await.expect("domain");
    }
    device(&app, &client, "db01").await;
    let body = json!({"username": "dba", "hostname": "db01", "ip": "10.0.0.5", "content": "pw",
                      "device_domain": "corp.local,ad.corp"});
    let created = app.post_json(&client, "/iso/pam/credential", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let shown = app.call(&client, Method::GET, "/iso/pam/device/db01").await;
    assert_eq!(shown.body["device"]["device_domain"], "corp.local,ad.corp", "{}", shown.body);

    // An update that changes only the device's domain is a change (Ansible reads `changed`).
    let body = json!({"username": "dba", "hostname": "db01", "ip": "10.0.0.5", "content": "pw",
                      "device_domain": "other.corp"});
    let updated = app.post_json(&client, "/iso/pam/credential", body).await;
    assert_eq!(updated.body["response"]["changed"], "true", "{}", updated.body);
    let shown = app.call(&client, Method::GET, "/iso/pam/device/db01").await;
    assert_eq!(shown.body["device"]["device_domain"], "other.corp");
    // An unknown domain is still refused, and stores nothing.
    let body = json!({"username": "dba", "hostname": "db01", "ip": "10.0.0.5", "device_domain": "nowhere"});
    assert_eq!(app.post_json(&client, "/iso/pam/credential", body).await.body["exception"]["code"], 1029);

    // Another application may put its credential on db01, but not change db01's domain
    // unless the device is linked to it for writing.
    let other = app.client(&[Resource::Pam]).await;
    let own =
        json!({"username": "app", "hostname": "db01", "ip": "10.0.0.5", "content": "x", "device_domain": "other.corp"});
    let same_domain = app.post_json(&other, "/iso/pam/credential", own.clone()).await;
    assert_eq!(same_domain.status, StatusCode::CREATED, "nothing of the device changes: {}", same_domain.body);
    let mut changing = own.clone();
    changing["device_domain"] = "corp.local".into();
    let refused = app.post_json(&other, "/iso/pam/credential", changing.clone()).await;
    assert_eq!(refused.body, error_envelope(400, 1011, "1011: Device not found"));
    let shown = app.call(&client, Method::GET, "/iso/pam/device/db01").await;
    assert_eq!(shown.body["device"]["device_domain"], "other.corp", "unchanged");
    set_link(&app.state.core, other.app.application_id, ItemKind::Device, "db01", Some(Access::Write))
        .await
        .expect("link");
    let linked = app.post_json(&other, "/iso/pam/credential", changing).await;
    assert_eq!(linked.status, StatusCode::CREATED, "{}", linked.body);
    let shown = app.call(&client, Method::GET, "/iso/pam/device/db01").await;
    assert_eq!(shown.body["device"]["device_domain"], "corp.local");
}

async fn concurrent_upserts_store_one_of_their_device_domains(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    let domains: Vec<String> = (0..16).map(|i| format!("d{i}.corp")).collect();
    for domain in &domains {
        create_domain(&app.state.core, domain).await.expect("domain");
    }
    device(&app, &client, "app01").await;
    let requests = domains
        .iter()
        .enumerate()
        .map(|(i, domain)| {
            let body = json!({"username": "svc", "hostname": "app01", "ip": "10.0.0.5", "content": format!("pw{i}"),
                              "device_domain": domain});
            app.authed(&client, Method::POST, "/iso/pam/credential").json(&body)
        })
        .collect();
    let replies = at_once(requests).await;
    assert!(replies.iter().all(|(status, _)| *status == 201), "{replies:?}");
    // The last upsert wins whole: the device's domain is that of the upsert whose password stands.
    let password = password_of(&app, &client, "svc@app01").await;
    let i: usize = password.as_str().expect("password").trim_start_matches("pw").parse().expect("index");
    let shown = app.call(&client, Method::GET, "/iso/pam/device/app01").await;
    assert_eq!(shown.body["device"]["device_domain"], domains[i].as_str(), "{}", shown.body);
}
