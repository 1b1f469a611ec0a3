//! Links from the linked application's side: a link lets it read the owner's items, and only a
//! link made for writing lets it change them; a child credential's inherited password is read
//! through the reader's own view of the parent, every time.

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp, error_envelope};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(links_grant_reading_unless_made_for_writing, a_child_reads_its_parent_as_its_reader_sees_it);

async fn link(app: &TestApp, admin: &Client, to: &Client, items: Value) {
    let path = format!("/api/admin/applications/{}/links", to.app.application_id);
    let reply = app.post_json(admin, &path, items).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn credential(app: &TestApp, owner: &Client, body: Value) -> String {
    let reply = app.post_json(owner, "/iso/pam/credential", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["credential"]["id"].as_str().expect("id").to_owned()
}

async fn links_grant_reading_unless_made_for_writing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.client(&[Resource::Info, Resource::Pam]).await;
    let linked = app.client(&[Resource::Info, Resource::Pam]).await;
    let admin = app.client(&[Resource::Admin]).await;
    let info = app.post_json(&owner, "/iso/pam/info", json!({"identifier": "runbook", "content": "original"})).await;
    assert_eq!(info.status, StatusCode::CREATED);
    device(&app, &owner, "app01").await;
    let id = credential(
        &app,
        &owner,
        json!({"identifier": "app01-root", "username": "root", "hostname": "app01", "ip": "10.0.0.5", "content": "pw"}),
    )
    .await;
    link(&app, &admin, &linked, json!({"info": "runbook", "credential": "app01-root", "device": "app01"})).await;

    // Reading works.
    assert_eq!(app.call(&linked, Method::GET, "/iso/pam/info/runbook").await.body["info"]["content"], "original");
    assert_eq!(
        app.call(&linked, Method::GET, &format!("/iso/pam/credential/{id}")).await.body["credential"]["password"],
        "pw"
    );
    assert_eq!(app.call(&linked, Method::GET, "/iso/pam/device/app01").await.status, StatusCode::OK);

    // Every change is refused, answered as for an item the caller cannot change.
    let info_missing = error_envelope(400, 1023, "1023: Information not found");
    let overwrite = app.post_json(&linked, "/iso/pam/info", json!({"identifier": "runbook", "content": "mine"})).await;
    assert_eq!(overwrite.body, info_missing);
    assert_eq!(app.call(&linked, Method::DELETE, "/iso/pam/info/runbook").await.body, info_missing);
    let device_body =
        json!({"hostname": "app01", "ip": "10.9.9.9", "model": "x", "type": "x", "vendor": "x", "site": "x"});
    assert_eq!(app.post_json(&linked, "/iso/pam/device", device_body).await.body["exception"]["code"], 1011);
    assert_eq!(app.call(&linked, Method::DELETE, "/iso/pam/device/app01").await.body["exception"]["code"], 1011);
    assert_eq!(
        app.call(&linked, Method::DELETE, &format!("/iso/pam/credential/{id}")).await.body["exception"]["code"],
        1009
    );
    let upsert = json!({"identifier": "app01-root", "username": "root", "hostname": "app01", "ip": "10.0.0.5", "content": "mine"});
    assert_eq!(app.post_json(&linked, "/iso/pam/credential", upsert.clone()).await.body["exception"]["code"], 1009);

    // The owner's items are untouched: content, device and credential all as they were.
    assert_eq!(app.call(&owner, Method::GET, "/iso/pam/info/runbook").await.body["info"]["content"], "original");
    let device_now = app.call(&owner, Method::GET, "/iso/pam/device/app01").await;
    assert_eq!(device_now.body["device"]["ip"], "10.0.0.5", "{}", device_now.body);
    let credential_now = app.call(&owner, Method::GET, &format!("/iso/pam/credential/{id}")).await;
    assert_eq!(credential_now.body["credential"]["password"], "pw", "{}", credential_now.body);

    // A link made for writing lets the same changes through.
    link(
        &app,
        &admin,
        &linked,
        json!({"info": "runbook", "credential": "app01-root", "device": "app01", "write": true}),
    )
    .await;
    let overwrite =
        app.post_json(&linked, "/iso/pam/info", json!({"identifier": "runbook", "content": "edited"})).await;
    assert_eq!(overwrite.body["info"]["content"], "edited", "{}", overwrite.body);
    let upserted = app.post_json(&linked, "/iso/pam/credential", upsert).await;
    assert_eq!(upserted.body["response"]["message"], "Credential updated successfully!", "{}", upserted.body);
    assert_eq!(app.call(&linked, Method::DELETE, &format!("/iso/pam/credential/{id}")).await.status, StatusCode::OK);
    assert_eq!(app.call(&linked, Method::DELETE, "/iso/pam/device/app01").await.status, StatusCode::OK);
}

async fn a_child_reads_its_parent_as_its_reader_sees_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.client(&[Resource::Pam]).await;
    let reader = app.client(&[Resource::Pam]).await;
    let admin = app.client(&[Resource::Admin]).await;
    device(&app, &owner, "db01").await;
    let parent = credential(
        &app,
        &owner,
        json!({"identifier": "db-parent", "username": "dba", "hostname": "db01", "ip": "10.0.0.5", "content": "parent-pw"}),
    )
    .await;
    let child = credential(
        &app,
        &owner,
        json!({"identifier": "db-child", "username": "app", "hostname": "db01", "ip": "10.0.0.5", "parent_password": parent}),
    )
    .await;
    let child_path = format!("/iso/pam/credential/{child}");
    link(&app, &admin, &reader, json!({"credential": ["db-child", "db-parent"]})).await;
    assert_eq!(app.call(&reader, Method::GET, &child_path).await.body["credential"]["password"], "parent-pw");

    // Unlinked from the parent, the reader no longer gets the parent's password through the child.
    let unlink = format!("/api/admin/applications/{}/links/credential/{parent}", reader.app.application_id);
    assert_eq!(app.call(&admin, Method::DELETE, &unlink).await.status, StatusCode::OK);
    let refused = app.call(&reader, Method::GET, &child_path).await;
    assert_eq!(refused.body, error_envelope(400, 1009, "1009: No access to credential"));

    // A disabled parent gives nobody its password, the owner included.
    link(&app, &admin, &reader, json!({"credential": "db-parent"})).await;
    assert_eq!(app.call(&owner, Method::DELETE, &format!("/iso/pam/credential/{parent}")).await.status, StatusCode::OK);
    for who in [&reader, &owner] {
        let reply = app.call(who, Method::GET, &child_path).await;
        assert_eq!(reply.body, error_envelope(400, 1008, "1008: Credential inactive"));
    }
}
