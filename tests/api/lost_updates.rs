//! Concurrent edits of one item: callers changing different fields at once both keep their
//! change (before, one of them was silently lost).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::mysafe::user_key;
use crate::on_both_stores;

on_both_stores!(concurrent_edits_of_one_mysafe_item_lose_nothing);

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
