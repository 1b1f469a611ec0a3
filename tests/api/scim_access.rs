//! SCIM from a narrower caller's side: a `scim:read` token reads but never writes, and SCIM
//! passwords follow the same rules as the admin API's.

use cofre::domain::authorization::Scopes;
use cofre::domain::network::IpAllowList;
use cofre::service::auth::api_tokens::{self, NewToken, TokenKind};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(a_read_scope_never_writes, scim_passwords_follow_the_password_rules);

pub async fn token(app: &TestApp, scope: &str) -> String {
    let new = NewToken {
        name: format!("scim {scope}"),
        description: String::new(),
        kind: TokenKind::Static,
        scopes: Scopes::parse_list(scope).expect("scope"),
        allowed_ips: IpAllowList::Any,
        expires_at: None,
        user: None,
    };
    api_tokens::create(&app.state.core, new).await.expect("token").token.expect("static value").to_string()
}

pub async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::helpers::Reply {
    let mut request = app.client.request(method, app.url(&format!("/scim/v2{path}"))).bearer_auth(token);
    if let Some(body) = body {
        request = request.header("content-type", "application/scim+json").body(body.to_string());
    }
    app.send(request).await
}

fn user(name: &str, password: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "password": password})
}

async fn a_read_scope_never_writes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = token(&app, "scim:read,scim:write").await;
    let reader = token(&app, "scim:read").await;
    let created = send(&app, &writer, Method::POST, "/Users", Some(user("carol", "a long password"))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let group = send(&app, &writer, Method::POST, "/Groups", Some(json!({"displayName": "ops"}))).await;
    let group_id = group.body["id"].as_str().expect("id").to_owned();

    assert_eq!(send(&app, &reader, Method::GET, "/Users", None).await.status, StatusCode::OK);
    assert_eq!(send(&app, &reader, Method::GET, &format!("/Users/{id}"), None).await.status, StatusCode::OK);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                      "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b1", "data": user("mallory", "a long password")}]});
    for (method, path, body) in [
        (Method::POST, "/Users".to_owned(), Some(user("mallory", "a long password"))),
        (Method::PUT, format!("/Users/{id}"), Some(user("carol", "another password"))),
        (Method::PATCH, format!("/Users/{id}"), Some(patch.clone())),
        (Method::DELETE, format!("/Users/{id}"), None),
        (Method::POST, "/Groups".to_owned(), Some(json!({"displayName": "intruders"}))),
        (Method::PATCH, format!("/Groups/{group_id}"), Some(patch.clone())),
        (Method::DELETE, format!("/Groups/{group_id}"), None),
        (Method::POST, "/Bulk".to_owned(), Some(bulk)),
    ] {
        let reply = send(&app, &reader, method.clone(), &path, body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {}", reply.body);
        assert_eq!(reply.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    }
    let after = send(&app, &writer, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((after.body["userName"].as_str(), after.body["active"].as_bool()), (Some("carol"), Some(true)));
    let users = send(&app, &writer, Method::GET, "/Users", None).await;
    assert_eq!(users.body["totalResults"], 1, "no user was created: {}", users.body);
    let pam_only = token(&app, "pam:read").await;
    assert_eq!(send(&app, &pam_only, Method::GET, "/Users", None).await.status, StatusCode::FORBIDDEN);
}

async fn scim_passwords_follow_the_password_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = token(&app, "scim:read,scim:write").await;
    let huge = "x".repeat(5 * 1024);
    for (name, password) in [("short", "short"), ("huge", huge.as_str())] {
        let reply = send(&app, &writer, Method::POST, "/Users", Some(user(name, password))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {}", reply.body);
        assert_eq!(reply.body["scimType"], "invalidValue");
    }
    let created = send(&app, &writer, Method::POST, "/Users", Some(user("dave", "long enough"))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().expect("id");
    let replace = send(&app, &writer, Method::PUT, &format!("/Users/{id}"), Some(user("dave", "short"))).await;
    assert_eq!(replace.status, StatusCode::BAD_REQUEST, "{}", replace.body);
    let users = send(&app, &writer, Method::GET, "/Users", None).await;
    assert_eq!(users.body["totalResults"], 1, "only the valid user exists");
}
