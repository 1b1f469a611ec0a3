//! Version history and automatic rotation, driven by the injectable clock (no sleeping),
//! including two cofre processes on one PostgreSQL rotating each due credential exactly once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use cofre::domain::authorization::Resource;
use cofre::domain::pam::Policy;
use cofre::service::pam::policies;
use cofre::service::pam::rotation::{ChangeTarget, CommandChanger, SecretChanger, generate_key, run_due};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    history_keeps_every_secret_and_restores_one,
    due_credentials_rotate_through_the_changer,
    two_processes_rotate_each_credential_once
);

/// Records what it was asked to change; fails when told to.
#[derive(Default, Clone)]
struct Recorder {
    calls: Arc<Mutex<HashMap<i64, Vec<String>>>>,
    fail: bool,
}

impl SecretChanger for Recorder {
    fn change<'a>(
        &'a self,
        target: &'a ChangeTarget,
        new_secret: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            if self.fail {
                return Err("target unreachable".into());
            }
            let secret = String::from_utf8_lossy(new_secret).into_owned();
            self.calls.lock().expect("lock").entry(target.credential_id).or_default().push(secret);
            Ok(())
        })
    }
}

pub fn policy(name: &str, interval: Option<i64>, after_custody: bool) -> Policy {
    Policy {
        id: 0,
        name: name.into(),
        length: 20,
        lowercase: 2,
        uppercase: 2,
        digits: 2,
        symbols: -1,
        exclude: String::new(),
        key_algorithm: "ed25519".into(),
        rotation_interval: interval,
        rotate_after_custody: after_custody,
    }
}

async fn history_keeps_every_secret_and_restores_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    let admin = app.client(&[Resource::Admin]).await;
    device(&app, &client, "hist01").await;
    for content in ["one", "two", "three"] {
        app.post_json(
            &client,
            "/iso/pam/credential",
            json!({"identifier": "hist", "username": "u", "hostname": "hist01", "ip": "10.0.0.5", "content": content}),
        )
        .await;
    }
    let versions = app.call(&admin, Method::GET, "/api/admin/credentials/hist/versions").await;
    assert_eq!(versions.body["current_version"], 3);
    let listed = versions.body["versions"].as_array().expect("versions");
    assert_eq!(listed.iter().map(|v| v["version"].as_i64().expect("n")).collect::<Vec<_>>(), [1, 2]);
    assert!(listed[0]["replaced_by"].as_str().expect("who").starts_with("authorization "));
    assert_eq!(listed[0]["reason"], "updated through the API");
    assert!(!versions.body.to_string().contains("one"), "no secret in the history listing");

    let restored = app.call(&admin, Method::POST, "/api/admin/credentials/hist/versions/1/restore").await;
    assert_eq!(restored.body["current_version"], 4);
    let read = app.call(&client, Method::GET, "/iso/pam/credential/hist").await;
    assert_eq!(read.body["credential"]["password"], "one");
    let after = app.call(&admin, Method::GET, "/api/admin/credentials/hist/versions").await;
    assert_eq!(after.body["versions"].as_array().expect("versions").len(), 3);
    assert_eq!(
        app.call(&admin, Method::POST, "/api/admin/credentials/hist/versions/9/restore").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn due_credentials_rotate_through_the_changer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let mut client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "rot01").await;
    policies::create(core, policy("hourly", Some(3600), false)).await.expect("policy");
    policies::assign(core, Some("hourly"), "device", "rot01").await.expect("assign");
    app.post_json(
        &client,
        "/iso/pam/credential",
        json!({"identifier": "rot", "username": "svc", "hostname": "rot01", "ip": "10.0.0.5", "content": "initial"}),
    )
    .await;
    let (private, public) = generate_key("ed25519").expect("key");
    app.post_json(&client, "/iso/pam/key", json!({"identifier": "rot-key", "hostname": "rot01", "ip": "10.0.0.5", "private_key": private.as_str(), "public_key": public})).await;

    let recorder = Recorder::default();
    assert!(run_due(core, &app.state.audit, &recorder).await.expect("run").rotated.is_empty(), "nothing is due yet");
    app.clock.advance_secs(3601);
    client.token = app.token_for(&client.app).await; // the access token lives an hour too
    let report = run_due(core, &app.state.audit, &recorder).await.expect("run");
    assert_eq!(report.rotated.len(), 2, "{report:?}");
    let read = app.call(&client, Method::GET, "/iso/pam/credential/rot").await;
    let password = read.body["credential"]["password"].as_str().expect("password").to_owned();
    assert_ne!(password, "initial");
    assert_eq!(password.len(), 20);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()), "the policy leaves symbols out");
    let id: i64 = read.body["credential"]["id"].as_str().expect("id").parse().expect("int");
    assert_eq!(
        recorder.calls.lock().expect("lock")[&id],
        vec![password.clone()],
        "the target got the secret the vault now holds"
    );
    let key = app.call(&client, Method::GET, "/iso/pam/key/rot-key").await;
    assert_ne!(key.body["key"]["public_key"].as_str().expect("public"), public);
    assert!(key.body["key"]["public_key"].as_str().expect("public").starts_with("ssh-ed25519 "));
    assert!(
        run_due(core, &app.state.audit, &recorder).await.expect("run").rotated.is_empty(),
        "rotated once, next due in an hour"
    );

    // A failed change keeps the old secret, records the error, and is audited.
    app.clock.advance_secs(3601);
    client.token = app.token_for(&client.app).await; // the access token lives an hour too
    let failing = Recorder { fail: true, ..Recorder::default() };
    let report = run_due(core, &app.state.audit, &failing).await.expect("run");
    assert_eq!(report.failed.len(), 2);
    let still = app.call(&client, Method::GET, "/iso/pam/credential/rot").await;
    assert_eq!(still.body["credential"]["password"], password.as_str());
    assert_eq!(core.store.rotation_error(id).await.expect("error"), "target unreachable");
    let audit = core.store.recent_audit(50).await.expect("audit");
    assert!(
        audit.iter().any(|r| r.method == "ROTATE" && r.status == 500 && r.route == format!("/pam/credential/{id}"))
    );

    // The command changer: the new secret on stdin, never on the command line.
    let out = app.data_dir.path().join("changed.txt");
    let command = CommandChanger {
        program: "sh".into(),
        args: vec!["-c".into(), format!("cat > {0}; env > {0}.env", out.display())],
    };
    app.clock.advance_secs(3601);
    client.token = app.token_for(&client.app).await; // the access token lives an hour too
    assert_eq!(run_due(core, &app.state.audit, &command).await.expect("run").rotated.len(), 2);
    let now = app.call(&client, Method::GET, "/iso/pam/credential/rot").await;
    let written = std::fs::read_to_string(&out).expect("written");
    assert!(
        written == now.body["credential"]["password"].as_str().expect("pw") || written.contains("OPENSSH PRIVATE KEY")
    );
    // The command sees its job's variables, not cofre's environment (cargo's, in this test).
    let env = std::fs::read_to_string(format!("{}.env", out.display())).expect("env");
    assert!(env.contains("COFRE_CREDENTIAL_IDENTIFIER=") && !env.contains("CARGO_"), "{env}");

    // Rotation after custody is released.
    policies::create(core, policy("after-use", None, true)).await.expect("policy");
    policies::assign(core, Some("after-use"), "credential", "rot").await.expect("assign");
    let before = app.call(&client, Method::GET, "/iso/pam/credential/rot").await.body["credential"]["password"].clone();
    app.call(&client, Method::DELETE, "/iso/pam/credential/custody/rot").await;
    let report = run_due(core, &app.state.audit, &recorder).await.expect("run");
    assert_eq!(report.rotated, vec![id]);
    assert_ne!(app.call(&client, Method::GET, "/iso/pam/credential/rot").await.body["credential"]["password"], before);
}

async fn two_processes_rotate_each_credential_once(backend: Backend) {
    let Backend::Postgres(_) = &backend else {
        // One SQLite file has one writer; the claim is exercised by the other tests.
        return;
    };
    let first = TestApp::spawn(backend).await;
    let second = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.database_url = first.config.database_url.clone();
        c.master_key_file = Some(first.data_dir.path().join("master.key"));
    })
    .await;
    let client = first.client(&[Resource::Pam]).await;
    device(&first, &client, "many").await;
    policies::create(&first.state.core, policy("fast", Some(600), false)).await.expect("policy");
    policies::assign(&first.state.core, Some("fast"), "device", "many").await.expect("assign");
    for i in 0..30 {
        let body = json!({"username": format!("u{i}"), "hostname": "many", "ip": "10.0.0.5", "content": "p"});
        assert_eq!(first.post_json(&client, "/iso/pam/credential", body).await.status, StatusCode::CREATED);
    }
    first.clock.advance_secs(601);
    second.clock.advance_secs(601);
    let shared = Recorder::default();
    let (a, b) = tokio::join!(
        run_due(&first.state.core, &first.state.audit, &shared),
        run_due(&second.state.core, &second.state.audit, &shared)
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(
        a.rotated.len() + b.rotated.len(),
        30,
        "every due credential rotated: {} + {}",
        a.rotated.len(),
        b.rotated.len()
    );
    assert!(a.rotated.iter().all(|id| !b.rotated.contains(id)), "no credential rotated by both");
    assert!(shared.calls.lock().expect("lock").values().all(|calls| calls.len() == 1));
    // The second process reads what the first one rotated (shared keys, shared store).
    let any = *a.rotated.first().or(b.rotated.first()).expect("one");
    let stored = second.state.core.store.rotation_error(any).await.expect("row");
    assert_eq!(stored, "");
}
