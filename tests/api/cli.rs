//! The operator CLI works on the same store while the server runs.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;

on_both_stores!(cli_creates_links_disables_and_tails_while_the_server_runs);

fn cofre(app: &TestApp, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cofre"))
        .args(args)
        .env("COFRE_DATA_DIR", app.data_dir.path())
        .env("COFRE_DATABASE_URL", &app.config.database_url)
        .env("COFRE_TLS", "off")
        .env_remove("COFRE_CONFIG")
        .env_remove("COFRE_TEST_POSTGRES_URL")
        .output()
        .expect("cofre runs");
    assert!(output.status.success(), "cofre {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

async fn cli_creates_links_disables_and_tails_while_the_server_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let out = cofre(&app, &["app", "create", "--name", "scanner", "--resource", "info", "--ip", "127.0.0.1", "--json"]);
    let created: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    let keys: Vec<&str> = created.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["application_id", "authorization_id", "client_id", "client_secret"]);
    assert!(created["client_secret"].as_str().is_some_and(|s| s.len() >= 64), "256-bit secret");

    let token = app
        .send(app.client.post(app.url("/api/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", created["client_id"].as_str().expect("id")),
            ("client_secret", created["client_secret"].as_str().expect("secret")),
        ]))
        .await;
    assert_eq!(token.status, StatusCode::OK);
    let access = token.body["access_token"].as_str().expect("token").to_owned();

    let owner = app.client(&[cofre::domain::authorization::Resource::Info]).await;
    app.post_json(&owner, "/iso/pam/info", json!({"identifier": "for-scanner", "content": "scan me"})).await;
    let app_id = created["application_id"].as_str().expect("id");
    cofre(&app, &["app", "link", app_id, "--info", "for-scanner"]);
    let scanner = Client {
        app: cofre::service::apps::CreatedApplication {
            application_id: app_id.parse().expect("int"),
            authorization_id: 0,
            client_id: String::new(),
            client_secret: Default::default(),
            oauth1: None,
            aws: None,
        },
        token: access,
    };
    let read = app.call(&scanner, Method::GET, "/iso/pam/info/for-scanner").await;
    assert_eq!(read.body["info"]["content"], "scan me");

    let listed = cofre(&app, &["app", "list", "--json"]);
    assert!(listed.lines().any(|l| l.contains("\"name\":\"scanner\"")));
    assert!(!listed.contains(created["client_secret"].as_str().expect("secret")), "secrets are shown once");

    cofre(&app, &["app", "disable", app_id]);
    let refused = app.call(&scanner, Method::GET, "/iso/pam/info/for-scanner").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let tail = cofre(&app, &["audit", "tail", "-n", "3"]);
    assert_eq!(tail.lines().count(), 3);
    assert!(tail.contains("/iso/pam/info/for-scanner 401 denied"), "{tail}");
}
