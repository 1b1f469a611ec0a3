//! Multi-step changes apply whole or not at all: a fault injected into a later step (a store
//! trigger that fails) leaves nothing of the earlier ones, and a change still running when the
//! request's deadline passes completes whole.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cofre::domain::authorization::Resource;
use cofre::service::pam::rotation::generate_key;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Acquire, Executor};

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::pam::device;
use crate::write_races::{count, pipeline};

on_both_stores!(
    a_user_with_an_unknown_group_is_not_created,
    an_ssh_key_whose_devices_fail_is_not_written,
    dsm_variables_apply_whole_or_not_at_all,
    a_change_past_its_deadline_completes_whole,
);

/// Makes every insert into `table` for which `when` (over `NEW`) holds fail, as a crash or a
/// constraint would between the steps of a change.
async fn inject_fault(app: &TestApp, table: &str, when: &str) {
    let pool = app.state.core.store.pool();
    let statements = match app.state.core.store.backend() {
        cofre::store::Backend::Sqlite => vec![format!(
            "CREATE TRIGGER injected_fault BEFORE INSERT ON {table} WHEN {when} \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )],
        cofre::store::Backend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER injected_fault BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when}) \
                 EXECUTE FUNCTION injected_fault()"
            ),
        ],
    };
    for sql in statements {
        pool.execute(sql.as_str()).await.expect("fault injected");
    }
}

fn key_body(private: &str, public: &str) -> Value {
    json!({"hostname": "git01", "ip": "10.0.0.5", "private_key": private, "public_key": public,
           "username": "deploy", "devices": [{"hostname": "git02"}]})
}

/// The key and its extra devices are one change: when the devices cannot be written, neither
/// a new key nor a new version of an existing one is left behind.
async fn an_ssh_key_whose_devices_fail_is_not_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "git01").await;
    device(&app, &client, "git02").await;
    device(&app, &client, "git03").await;
    let (private, public) = generate_key("ed25519").expect("key");
    let mut first = key_body(&private, &public);
    first["username"] = json!("kept");
    first["devices"] = json!([{"hostname": "git03"}]);
    let kept = app.post_json(&client, "/iso/pam/key", first).await;
    assert_eq!(kept.status, StatusCode::CREATED, "{}", kept.body);

    let git02 = count(&app, "SELECT id AS n FROM devices WHERE hostname = 'git02'").await;
    inject_fault(&app, "key_devices", &format!("NEW.device_id = {git02}")).await;
    let failed = app.post_json(&client, "/iso/pam/key", key_body(&private, &public)).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", failed.body);
    assert!(!failed.body.to_string().contains("injected"), "no internal text: {}", failed.body);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM credentials WHERE username = 'deploy'").await, 0);

    let (other_private, other_public) = generate_key("ed25519").expect("key");
    let mut update = key_body(&other_private, &other_public);
    update["username"] = json!("kept");
    let failed = app.post_json(&client, "/iso/pam/key", update).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", failed.body);
    let stored = sqlx::query("SELECT public_key, version FROM credentials WHERE username = 'kept'")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("row");
    assert_eq!(sqlx::Row::get::<String, _>(&stored, "public_key"), public.trim());
    assert_eq!(sqlx::Row::get::<i64, _>(&stored, "version"), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM credential_versions").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM key_devices").await, 1, "git03 only");
}

/// A variables post is one change: a failure on the second secret leaves no first one.
async fn dsm_variables_apply_whole_or_not_at_all(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registrar = app.client(&[Resource::Dsm]).await;
    let pipeline = pipeline(&app, &registrar, "billing").await;
    let env = "A=1\nB=2\nC=3\n";
    let map = json!({"key_value": [{"name": "first", "fields": ["A"]}, {"name": "second", "fields": ["B"]},
                                   {"name": "third", "fields": ["C"]}]});
    let form = [("env", STANDARD.encode(env)), ("map", STANDARD.encode(map.to_string()))];
    inject_fault(&app, "dsm_secrets", "NEW.identity = 'second'").await;
    let failed = app.send(app.authed(&pipeline, Method::POST, "/iso/cicd/variables").form(&form)).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", failed.body);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM dsm_secrets").await, 0, "nothing of the change is left");
}

/// While another writer holds the store, an SSH key upsert outlives its one-second deadline:
/// the caller is told it timed out, and the change then completes whole — the key with its
/// extra device — instead of being cut off between its steps.
async fn a_change_past_its_deadline_completes_whole(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.request_timeout = 1).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "git01").await;
    device(&app, &client, "git02").await;
    let (private, public) = generate_key("ed25519").expect("key");

    let mut holder = app.state.core.store.pool().acquire().await.expect("connection");
    let (lock, release) = match app.state.core.store.backend() {
        // SQLite: one writer at a time, so a held write transaction blocks the whole change.
        cofre::store::Backend::Sqlite => ("BEGIN IMMEDIATE", "COMMIT"),
        // PostgreSQL: only the second step (the key's devices) is blocked.
        cofre::store::Backend::Postgres => ("BEGIN; LOCK TABLE key_devices IN ACCESS EXCLUSIVE MODE", "COMMIT"),
    };
    holder.acquire().await.expect("connection").execute(lock).await.expect("lock taken");
    // Released well after the deadline.
    let released = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        holder.acquire().await.expect("connection").execute(release).await.expect("lock released");
    });
    let timed_out = app.post_json(&client, "/iso/pam/key", key_body(&private, &public)).await;
    assert_eq!(timed_out.status, StatusCode::SERVICE_UNAVAILABLE, "{}", timed_out.body);
    assert_eq!(timed_out.body["response"]["message"], "Request timed out.");
    released.await.expect("released");

    let mut waited = 0;
    while count(&app, "SELECT COUNT(*) AS n FROM key_devices").await == 0 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM credentials WHERE username = 'deploy'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM key_devices").await, 1, "the change completed whole");
}

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
