//! Secrets at rest: sealed, bound to their rows, and never stored in plaintext.

use base64::Engine;
use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

use crate::helpers::{Backend, TestApp, canary};
use crate::on_both_stores;

on_both_stores!(a_ciphertext_copied_to_another_row_fails_to_open, no_plaintext_secret_reaches_the_store);

async fn a_ciphertext_copied_to_another_row_fails_to_open(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info]).await;
    let secret_a = canary();
    app.post_json(&client, "/iso/pam/info", json!({"identifier": "a", "content": secret_a})).await;
    app.post_json(&client, "/iso/pam/info", json!({"identifier": "b", "content": "b's own secret"})).await;
    let pool = app.state.core.store.pool();
    let sealed_a: Vec<u8> = sqlx::query("SELECT content FROM protected_info WHERE identifier = 'a'")
        .fetch_one(pool)
        .await
        .expect("row a")
        .get("content");
    sqlx::query("UPDATE protected_info SET content = $1 WHERE identifier = 'b'")
        .bind(sealed_a)
        .execute(pool)
        .await
        .expect("tamper");

    let reply = app.call(&client, Method::GET, "/iso/pam/info/b").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body["response"]["message"], "Unexpected error.");
    assert!(reply.body["exception"]["detail"].as_str().is_some_and(|d| d.starts_with("error id ")));
    assert!(!reply.body.to_string().contains(&secret_a));
    let a = app.call(&client, Method::GET, "/iso/pam/info/a").await;
    assert_eq!(a.body["info"]["content"], secret_a.as_str(), "the original still opens");

    let request_id = reply.headers["x-request-id"].to_str().expect("ascii").to_owned();
    let records = app.state.core.store.recent_audit(20).await.expect("audit");
    let record = records.iter().find(|r| r.request_id == request_id).expect("audited");
    assert!(record.detail.contains("integrity failure"), "{}", record.detail);
}

async fn no_plaintext_secret_reaches_the_store(backend: Backend) {
    let is_sqlite = matches!(backend, Backend::Sqlite);
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info]).await;
    let secret = canary();
    for i in 0..5 {
        let reply =
            app.post_json(&client, "/iso/pam/info", json!({"identifier": format!("c{i}"), "content": secret})).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let read = app.call(&client, Method::GET, "/iso/pam/info/c0").await;
    assert_eq!(read.body["info"]["content"], secret.as_str());
    // PAM secrets: a password, a TOTP seed in the settings, an SSH key and its passphrase.
    let pam = app.client(&[Resource::Pam]).await;
    crate::pam::device(&app, &pam, "canary01").await;
    let seeded = json!({"username": "c", "hostname": "canary01", "ip": "10.0.0.5", "content": secret,
                        "additional_settings": {"secret_key": secret}});
    assert_eq!(app.post_json(&pam, "/iso/pam/credential", seeded).await.status, StatusCode::CREATED);
    let (private, public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
    let key = json!({"hostname": "canary01", "ip": "10.0.0.5", "private_key": private.as_str(), "public_key": public, "password": secret});
    assert_eq!(app.post_json(&pam, "/iso/pam/key", key).await.status, StatusCode::CREATED);
    let private_body: String = private.lines().filter(|l| !l.starts_with("-----")).collect();
    // OAuth 1 and SigV4 secrets, and an API token value.
    let signed = app
        .create_app_with(cofre::service::admin::apps::NewApplication {
            methods: cofre::service::admin::apps::AuthMethods { oauth1: true, aws: true, oauth2: true },
            ..cofre::service::admin::apps::NewApplication::oauth2("signers", [Resource::Info].into_iter().collect())
        })
        .await;
    let oauth1 = signed.oauth1.as_ref().expect("oauth1");
    let aws = signed.aws.as_ref().expect("aws");
    let api_token = cofre::service::auth::api_tokens::create(
        &app.state.core,
        cofre::service::auth::api_tokens::NewToken {
            name: "canary".into(),
            description: String::new(),
            kind: cofre::service::auth::api_tokens::TokenKind::Static,
            scopes: cofre::domain::authorization::Scopes::parse_list("info:read").expect("scope"),
            allowed_ips: cofre::domain::network::IpAllowList::Any,
            expires_at: None,
            user: None,
        },
    )
    .await
    .expect("token")
    .token
    .expect("value");
    // The client secret and the bearer token are credentials too.
    let forms = [
        secret.clone(),
        hex(secret.as_bytes()),
        base64::engine::general_purpose::STANDARD.encode(&secret),
        client.app.client_secret.to_string(),
        client.token.clone(),
        private_body[private_body.len() - 60..private_body.len() - 20].to_owned(),
        oauth1.consumer_secret.to_string(),
        oauth1.token_secret.to_string(),
        aws.secret_access_key.to_string(),
        api_token.to_string(),
    ];

    if is_sqlite {
        let files = app.sqlite_files();
        assert!(std::fs::metadata(&files[0]).is_ok_and(|m| m.len() > 0), "the database file is where we look");
        for file in files.iter().filter(|f| f.exists()) {
            let bytes = std::fs::read(file).expect("read");
            for form in &forms {
                assert!(!contains(&bytes, form.as_bytes()), "{} holds a plaintext secret", file.display());
            }
        }
    } else {
        let pool = app.state.core.store.pool();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
        )
        .fetch_all(pool)
        .await
        .expect("tables");
        assert!(tables.iter().any(|t| t == "protected_info"));
        for table in tables {
            let dump: Vec<String> =
                sqlx::query_scalar(&format!("SELECT t::text FROM {table} t")).fetch_all(pool).await.expect("dump");
            for row in dump {
                for form in &forms {
                    assert!(!row.contains(form.as_str()), "{table} holds a plaintext secret");
                }
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The SQLite files hold argon2 hashes and sealed secrets: readable by their owner only, the
/// database and the WAL and shared-memory files SQLite creates beside it alike.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = app.data_dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("open the directory up");
    let client = app.client(&[Resource::Info]).await;
    app.post_json(&client, "/iso/pam/info", json!({"identifier": "m", "content": "x"})).await;
    let files = app.sqlite_files();
    assert!(files.iter().all(|f| f.exists()), "database, WAL and shared memory exist: {files:?}");
    for file in files {
        let mode = std::fs::metadata(&file).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
    }
}
