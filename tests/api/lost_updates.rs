//! Concurrent edits of one item: callers changing different fields at once both keep their
//! change (before, one of them was silently lost).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::mysafe::user_key;
use crate::on_both_stores;
use crate::pam::device;
use cofre::domain::authorization::Resource;

on_both_stores!(concurrent_edits_of_one_mysafe_item_lose_nothing, concurrent_edits_of_one_credential_lose_nothing);

async fn concurrent_edits_of_one_mysafe_item_lose_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = user_key(&app, "owner").await;
    let created = app
        .post_json(
            &owner,
            "/api/mysafe/password",
            json!({"name": "db", "username": "dba", "password": "p0", "notes": "n0"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["password_entity"]["identifier"].as_str().expect("id").to_owned();
    let path = format!("/api/mysafe/password/update/{id}");
    for round in 0..20 {
        let (password, notes) = (format!("p{round}"), format!("n{round}"));
        let one = app.send(app.authed(&owner, Method::PUT, &path).json(&json!({"password": password})));
        let two = app.send(app.authed(&owner, Method::PUT, &path).json(&json!({"notes": notes})));
        let (one, two) = tokio::join!(one, two);
        assert_eq!((one.status, two.status), (StatusCode::OK, StatusCode::OK), "{} {}", one.body, two.body);
        let now = app.call(&owner, Method::GET, &format!("/api/mysafe/password/{id}")).await;
        let entity = &now.body["password_entity"];
        assert_eq!(
            (entity["password"].as_str(), entity["notes"].as_str()),
            (Some(password.as_str()), Some(notes.as_str())),
            "round {round}: both edits kept"
        );
    }
}

/// One upsert changing a credential's tags and another its `additional`, at once: both kept
/// (before, one was lost in most runs: only a password change bumped the version checked).
async fn concurrent_edits_of_one_credential_lose_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "edit01").await;
    let key = json!({"identifier": "edited", "username": "svc", "hostname": "edit01", "ip": "10.0.0.5"});
    let created = app.post_json(&client, "/iso/pam/credential", key.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    for round in 0..20 {
        let (tags, additional) = (format!("t{round}"), format!("a{round}"));
        let mut one = key.clone();
        one["tags"] = tags.clone().into();
        let mut two = key.clone();
        two["additional"] = additional.clone().into();
        let (one, two) = tokio::join!(
            app.post_json(&client, "/iso/pam/credential", one),
            app.post_json(&client, "/iso/pam/credential", two)
        );
        assert_eq!((one.status, two.status), (StatusCode::CREATED, StatusCode::CREATED), "{} {}", one.body, two.body);
        let now = app.call(&client, Method::GET, "/iso/pam/credential/edited").await;
        let c = &now.body["credential"];
        assert_eq!(
            (c["tags"].as_str(), c["additional"].as_str()),
            (Some(tags.as_str()), Some(additional.as_str())),
            "round {round}: both edits kept: {c}"
        );
    }
}
