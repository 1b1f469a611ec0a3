//! Multi-step changes apply whole or not at all.

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(a_user_with_an_unknown_group_is_not_created);

async fn a_user_with_an_unknown_group_is_not_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.client(&[Resource::Admin]).await;
    let group = app.post_json(&admin, "/api/admin/groups", json!({"name": "ops"})).await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let refused = app
        .post_json(&admin, "/api/admin/users", json!({"username": "half", "groups": ["ops", "no-such-group"]}))
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    let after = app.call(&admin, Method::GET, "/api/admin/users/half").await;
    assert_eq!(after.status, StatusCode::NOT_FOUND, "the user was not created: {}", after.body);
    assert_eq!(refused.body["response"]["message"], "Group 'no-such-group' not found.");
    let whole = app.post_json(&admin, "/api/admin/users", json!({"username": "half", "groups": ["ops"]})).await;
    assert_eq!(whole.status, StatusCode::CREATED, "the name is still free: {}", whole.body);
}
