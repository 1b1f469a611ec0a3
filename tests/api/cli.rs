//! The operator CLI works on the same store while the server runs.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;

on_both_stores!(
    cli_creates_links_disables_and_tails_while_the_server_runs,
    cli_manages_users_groups_and_tokens,
    cli_manages_domains_policies_and_pam_links,
    cli_requests_signs_imports_exports_and_revokes_certificates,
);

pub fn cofre(app: &TestApp, args: &[&str]) -> String {
    cofre_with_stdin(app, args, "")
}

fn cofre_with_stdin(app: &TestApp, args: &[&str], stdin: &str) -> String {
    let (ok, stdout, stderr) = cofre_outcome(app, args, stdin);
    assert!(ok, "cofre {args:?}: {stderr}");
    stdout
}

/// Whether cofre succeeded, and what it wrote to stdout and stderr.
pub fn cofre_outcome(app: &TestApp, args: &[&str], stdin: &str) -> (bool, String, String) {
    cofre_outcome_with_env(app, args, stdin, &[])
}

/// `cofre_outcome` with `env` set on top of `app`'s settings (another store, another key).
pub fn cofre_outcome_with_env(
    app: &TestApp,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> (bool, String, String) {
    cofre_at_with_env(app.data_dir.path(), &app.config.database_url, args, stdin, env)
}

/// `cofre ARGS` with this data directory and database URL (empty: SQLite in the directory).
pub fn cofre_at(data_dir: &std::path::Path, database_url: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    cofre_at_with_env(data_dir, database_url, args, stdin, &[])
}

fn cofre_at_with_env(
    data_dir: &std::path::Path,
    database_url: &str,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cofre"))
        .args(args)
        .env("COFRE_DATA_DIR", data_dir)
        .env("COFRE_DATABASE_URL", database_url)
        .env("COFRE_TLS", "off")
        .env_remove("COFRE_CONFIG")
        .env_remove("COFRE_TEST_POSTGRES_URL")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cofre runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin written");
    let output = child.wait_with_output().expect("cofre finishes");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("utf-8");
    (output.status.success(), text(output.stdout), text(output.stderr))
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
        app: cofre::service::admin::apps::CreatedApplication {
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

    // Another process disabled it: this one stops serving it within one second (it reads
    // authorizations at most half a second old).
    cofre(&app, &["app", "disable", app_id]);
    let disabled_at = std::time::Instant::now();
    loop {
        let sent_after = disabled_at.elapsed();
        let read = app.call(&scanner, Method::GET, "/iso/pam/info/for-scanner").await;
        if read.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(sent_after < std::time::Duration::from_secs(1), "still served {sent_after:?} after: {}", read.status);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let tail = cofre(&app, &["audit", "tail", "-n", "3"]);
    assert_eq!(tail.lines().count(), 3);
    assert!(tail.contains("/iso/pam/info/for-scanner 401 denied"), "{tail}");
}

async fn cli_manages_users_groups_and_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    cofre(&app, &["group", "create", "--name", "ops"]);
    cofre_with_stdin(
        &app,
        &["user", "create", "--username", "Carla", "--name", "Carla", "--password-stdin", "--group", "ops"],
        "a long password\n",
    );
    let users = cofre(&app, &["user", "list", "--json"]);
    let carla: Value = serde_json::from_str(users.lines().next().expect("one user")).expect("json");
    assert_eq!((carla["username"].as_str(), &carla["groups"]), (Some("carla"), &json!(["ops"])));

    let created: Value = serde_json::from_str(
        cofre(
            &app,
            &[
                "token",
                "create",
                "--name",
                "carla-ci",
                "--type",
                "dynamic",
                "--user",
                "carla",
                "--scope",
                "info:read",
                "--json",
            ],
        )
        .trim(),
    )
    .expect("json");
    assert_eq!(created["token"], Value::Null, "dynamic tokens have no standing value");
    let drawn = app
        .send(
            app.client
                .post(app.url("/api/get_auth_token"))
                .form(&[("login_name", "CARLA"), ("password", "a long password")]),
        )
        .await;
    assert_eq!(drawn.status, StatusCode::OK, "{}", drawn.body);

    let fixed: Value = serde_json::from_str(
        cofre(&app, &["token", "create", "--name", "fixed", "--scope", "info:read", "--ip", "127.0.0.1", "--json"])
            .trim(),
    )
    .expect("json");
    let value = fixed["token"].as_str().expect("static value").to_owned();
    let probe = |token: String| app.client.get(app.url("/iso/pam/info/none")).bearer_auth(token);
    assert_eq!(app.send(probe(value.clone())).await.status, StatusCode::BAD_REQUEST, "1023: authenticated");
    let listed = cofre(&app, &["token", "list", "--json"]);
    assert!(listed.contains("\"fixed\"") && !listed.contains(&value));
    let regenerated: Value =
        serde_json::from_str(cofre(&app, &["token", "regenerate", "fixed", "--json"]).trim()).expect("json");
    assert_eq!(app.send(probe(value)).await.status, StatusCode::UNAUTHORIZED);
    let fresh = regenerated["token"].as_str().expect("value").to_owned();
    cofre(&app, &["token", "update", "fixed", "--expires", "2000-01-01T00:00:00Z"]);
    assert_eq!(app.send(probe(fresh.clone())).await.status, StatusCode::UNAUTHORIZED, "expired");
    cofre(&app, &["token", "update", "fixed", "--never"]);
    assert_eq!(app.send(probe(fresh.clone())).await.status, StatusCode::BAD_REQUEST);
    cofre(&app, &["token", "delete", "fixed"]);
    assert_eq!(app.send(probe(fresh)).await.status, StatusCode::UNAUTHORIZED);

    cofre(&app, &["user", "disable", "carla"]);
    let refused = app
        .send(
            app.client
                .post(app.url("/api/get_auth_token"))
                .form(&[("login_name", "carla"), ("password", "a long password")]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let oauth1: Value = serde_json::from_str(
        cofre(&app, &["app", "create", "--name", "legacy", "--resource", "info", "--auth", "oauth1,aws", "--json"])
            .trim(),
    )
    .expect("json");
    for key in ["consumer_key", "consumer_secret", "token", "token_secret", "access_key_id", "secret_access_key"] {
        assert!(oauth1[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
    }
}

async fn cli_manages_domains_policies_and_pam_links(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    cofre(&app, &["domain", "create", "--name", "corp.local"]);
    assert_eq!(cofre(&app, &["domain", "list"]).trim(), "corp.local");
    let owner = app.client(&[cofre::domain::authorization::Resource::Pam]).await;
    let device = app
        .post_json(&owner, "/iso/pam/device", json!({"hostname": "db01", "ip": "10.0.0.5", "model": "m", "type": "t", "vendor": "v", "site": "s", "device_domain": "corp.local"}))
        .await;
    assert_eq!(device.status, StatusCode::CREATED, "{}", device.body);
    app.post_json(
        &owner,
        "/iso/pam/credential",
        json!({"identifier": "db01-sa", "username": "sa", "hostname": "db01", "ip": "10.0.0.5", "content": "pw"}),
    )
    .await;

    let scanner: Value = serde_json::from_str(
        cofre(&app, &["app", "create", "--name", "scanner", "--resource", "pam", "--json"]).trim(),
    )
    .expect("json");
    let id = scanner["application_id"].as_str().expect("id");
    cofre(&app, &["app", "link", id, "--credential", "db01-sa", "--device", "db01"]);
    let token = app
        .send(app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", scanner["client_id"].as_str().expect("id")),
            ("client_secret", scanner["client_secret"].as_str().expect("secret")),
        ]))
        .await
        .body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let read = app.send(app.client.get(app.url("/iso/pam/credential/db01-sa")).bearer_auth(&token)).await;
    assert_eq!(read.body["credential"]["password"], "pw");
    cofre(&app, &["app", "unlink", id, "--credential", "db01-sa"]);
    let refused = app.send(app.client.get(app.url("/iso/pam/credential/db01-sa")).bearer_auth(&token)).await;
    assert_eq!(refused.body["exception"]["code"], 1009);

    cofre(
        &app,
        &["policy", "create", "--name", "strict", "--length", "32", "--symbols", "-1", "--rotation-interval", "86400"],
    );
    assert!(cofre(&app, &["policy", "list"]).contains("strict"));
    cofre(&app, &["policy", "assign", "strict", "--device", "db01"]);
    let due: Option<i64> = sqlx::query_scalar("SELECT next_rotation_at FROM credentials WHERE identifier = 'db01-sa'")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("row");
    assert!(due.is_some(), "assigning a policy schedules the device's credentials");
    cofre(&app, &["policy", "assign", "--none", "--device", "db01"]);
}

async fn cli_requests_signs_imports_exports_and_revokes_certificates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let json_of = |out: String| -> Value { serde_json::from_str(out.trim()).expect("one JSON object") };
    let ca = json_of(cofre(&app, &["ca", "create", "Shop Root", "--key-type", "RSA-2048", "--json"]));
    assert_eq!(ca["key_type"], "RSA-2048");
    let made = json_of(cofre(&app, &["app", "create", "--name", "certs", "--resource", "certificates", "--json"]));
    let z = made["authorization_id"].as_str().expect("authorization").to_owned();
    let who = ["--authorization", z.as_str(), "--json"];
    let with = |args: &[&str]| -> Vec<String> { args.iter().chain(who.iter()).map(|s| (*s).to_owned()).collect() };
    let run = |args: Vec<String>, stdin: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        json_of(cofre_with_stdin(&app, &args, stdin))
    };

    let request = ["cert", "request", "web-01", "--common-name", "localhost", "--organization", "Shop"];
    let request = with(&[&request[..], &["--san", "localhost,127.0.0.1", "--key-password-stdin"]].concat());
    let requested = run(request, "a-long-export-password\n");
    assert!(requested["csr"].as_str().expect("csr").contains("CERTIFICATE REQUEST"));
    let signed = run(with(&["cert", "sign", "web-01", "--ca", "Shop Root", "--reason", "go-live"]), "");
    assert_eq!(signed["status_certificate"], "1", "{signed}");
    let id = signed["id"].as_str().expect("id").to_owned();

    // The chain openssl checks; the key leaves only encrypted.
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, cofre(&app, &["ca", "show", "Shop Root"])).expect("root");
    let leaf = dir.path().join("leaf.pem");
    std::fs::write(&leaf, cofre(&app, &["cert", "show", &id])).expect("leaf");
    let verify = Command::new("openssl").arg("verify").arg("-CAfile").arg(&root).arg(&leaf).output().expect("openssl");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let exported = cofre_with_stdin(&app, &["cert", "export", &id, "--authorization", &z], "a-long-export-password");
    assert!(exported.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") && !exported.contains("BEGIN PRIVATE KEY"));
    let (ok, _, stderr) = cofre_outcome(&app, &["cert", "export", &id, "--authorization", &z], "wrong-password");
    assert!(!ok && stderr.contains("Wrong key_password"), "{stderr}");

    // Import what openssl made; revoke; list by status.
    let (key, pem) = (dir.path().join("other.key"), dir.path().join("other.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=other.example.com"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&pem)
        .output()
        .expect("openssl");
    assert!(made.status.success());
    let pem = pem.to_string_lossy().into_owned();
    let key = key.to_string_lossy().into_owned();
    let imported = run(with(&["cert", "import", &pem, "--key", &key]), "");
    assert_eq!(
        (&imported["origin_certificate"], &imported["common_name"]),
        (&json!("IMPO"), &json!("other.example.com"))
    );
    // openssl's default extensions make it a CA too: it can be brought in as an authority.
    let authority = json_of(cofre(&app, &["ca", "import", "Other", "--certificate", &pem, "--key", &key, "--json"]));
    assert_eq!(authority["key_type"], "RSA-2048", "{authority}");
    let revoked = run(with(&["cert", "revoke", &id, "--reason", "retired"]), "");
    assert_eq!(revoked["status_certificate"], "2");
    let listed = cofre(&app, &["cert", "list", "--status", "2", "--json"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let scanned = run(with(&["cert", "scan", "127.0.0.1:1", "--timeout", "1"]), "");
    assert_eq!(scanned["found"], false, "{scanned}");

    // A read-only authorization is held to its rules here too.
    let reader =
        json_of(cofre(&app, &["app", "create", "--name", "ro", "--resource", "certificates", "--read-only", "--json"]));
    let reader_z = reader["authorization_id"].as_str().expect("authorization");
    let args = ["cert", "sign", "web-01", "--self-signed", "--reason", "x", "--authorization", reader_z];
    let (ok, _, stderr) = cofre_outcome(&app, &args, "");
    assert!(!ok, "read-only may not sign: {stderr}");
}
