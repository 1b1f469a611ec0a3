//! Same-key upserts from many callers at once: one row, and every caller answered as its
//! creator or an updater — never "no access" or "not found" for the caller's own item.

use cofre::domain::authorization::{Resource, Scopes};
use cofre::domain::network::IpAllowList;
use cofre::service::auth::api_tokens::{self, NewToken, TokenKind};
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(simultaneous_upserts_of_one_key_make_one_row, clashing_token_names_leave_no_orphan_authorization);

const CALLERS: usize = 30;

async fn all_at_once(app: &TestApp, client: &Client, path: &str, body: Value) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let request = app.authed(client, reqwest::Method::POST, path).json(&body);
            tokio::spawn(async move {
                let response = request.send().await.expect("sent");
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.expect("json"))
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("task"));
    }
    replies
}

fn messages(replies: &[(u16, Value)]) -> Vec<String> {
    replies.iter().map(|(_, body)| body["response"]["message"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn rows(app: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(app.state.core.store.pool()).await.expect("count").get::<i64, _>("n")
}

async fn simultaneous_upserts_of_one_key_make_one_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam, Resource::Info]).await;
    device(&app, &client, "race01").await;

    let body = json!({"username": "svc", "hostname": "race01", "ip": "10.0.0.5", "content": "same"});
    let replies = all_at_once(&app, &client, "/iso/pam/credential", body).await;
    let said = messages(&replies);
    assert_eq!(said.iter().filter(|m| *m == "Credential successfully registered!").count(), 1, "{replies:?}");
    assert!(
        said.iter().all(|m| m == "Credential successfully registered!" || m == "Credential updated successfully!"),
        "{replies:?}"
    );
    assert_eq!(rows(&app, "SELECT COUNT(*) AS n FROM credentials WHERE username = 'svc'").await, 1);

    let body = json!({"identifier": "same-info", "content": "same"});
    let replies = all_at_once(&app, &client, "/iso/pam/info", body).await;
    let said = messages(&replies);
    assert_eq!(said.iter().filter(|m| *m == "Information successfully registered!").count(), 1, "{replies:?}");
    assert!(
        said.iter().all(|m| m == "Information successfully registered!" || m == "Information successfully updated!"),
        "{replies:?}"
    );
    assert_eq!(rows(&app, "SELECT COUNT(*) AS n FROM protected_info WHERE identifier = 'same-info'").await, 1);
}

/// Twenty callers creating a token with one name at once: one token, and exactly one
/// authorization more — the losers leave nothing behind.
async fn clashing_token_names_leave_no_orphan_authorization(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = rows(&app, "SELECT COUNT(*) AS n FROM authorizations").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let state = app.state.clone();
            tokio::spawn(async move {
                let new = NewToken {
                    name: "deploy".into(),
                    description: String::new(),
                    kind: TokenKind::Static,
                    scopes: Scopes::parse_list("info:read").expect("scope"),
                    allowed_ips: IpAllowList::Any,
                    expires_at: None,
                    user: None,
                };
                api_tokens::create(&state.core, new).await.map(|_| ())
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => created += 1,
            Err(e) => assert_eq!(e.message, "API token 'deploy' already exists.", "{e}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(rows(&app, "SELECT COUNT(*) AS n FROM api_tokens").await, 1);
    assert_eq!(rows(&app, "SELECT COUNT(*) AS n FROM authorizations").await, before + 1, "no orphan authorization");
}
