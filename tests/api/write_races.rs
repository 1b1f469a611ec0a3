//! Writes of devices, SSH keys, DSM applications and secrets, and authorizations from many
//! callers at once: one row per key, every caller answered as creator or updater, and no
//! change lost — checked on the final rows.

use cofre::domain::authorization::Resource;
use cofre::service::pam::rotation::generate_key;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    device_upserts_of_one_hostname_make_one_row,
    device_edits_of_different_fields_both_survive,
    ssh_key_upserts_of_one_key_make_one_key,
    dsm_secret_writes_each_become_a_version,
    dsm_registrations_of_one_application_make_one,
    authorization_edits_of_different_fields_both_survive,
    admin_changes_move_the_scim_version,
);

const CALLERS: usize = 24;

/// Sends every request at once; answers status and body, in order.
pub async fn at_once(requests: Vec<RequestBuilder>) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            tokio::spawn(async move {
                let response = request.send().await.expect("sent");
                let status = response.status().as_u16();
                let text = response.text().await.expect("body");
                (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("task"));
    }
    replies
}

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(app.state.core.store.pool()).await.expect("count").get::<i64, _>("n")
}

fn device_body(hostname: &str, extra: Value) -> Value {
    let mut body = json!({"hostname": hostname, "ip": "10.0.0.7", "model": "Linux", "type": "Server",
                          "vendor": "Debian", "site": "DC1"});
    body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
    body
}

async fn device_upserts_of_one_hostname_make_one_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    let body = device_body("web01", json!({"device_tags": "edge"}));
    let requests = (0..CALLERS).map(|_| app.authed(&client, Method::POST, "/iso/pam/device").json(&body)).collect();
    // The contract answers every device upsert 201 "Device successfully registered!".
    let replies = at_once(requests).await;
    assert!(replies.iter().all(|(status, _)| *status == 201), "{replies:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM devices WHERE hostname = 'web01'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM devices WHERE device_tags = 'edge'").await, 1);
}

/// One caller sets the tags, another the connectivities, at the same moment, round after
/// round: both changes are there after every round.
async fn device_edits_of_different_fields_both_survive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "db01").await;
    for round in 0..12 {
        let (tags, links) = (format!("tag-{round}"), format!("SSH:{}", 2200 + round));
        let replies = at_once(vec![
            app.authed(&client, Method::POST, "/iso/pam/device")
                .json(&device_body("db01", json!({"device_tags": tags}))),
            app.authed(&client, Method::POST, "/iso/pam/device")
                .json(&device_body("db01", json!({"connectivities": links}))),
        ])
        .await;
        assert!(replies.iter().all(|(status, _)| *status == 201), "{replies:?}");
        let read = app.call(&client, Method::GET, "/iso/pam/device/db01").await;
        assert_eq!(read.body["device"]["device_tags"], tags, "round {round}: {}", read.body);
        assert_eq!(read.body["device"]["connectivities"], links, "round {round}: {}", read.body);
    }
}

async fn ssh_key_upserts_of_one_key_make_one_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "git01").await;
    device(&app, &client, "git02").await;
    let (private, public) = generate_key("ed25519").expect("key");
    let body = json!({"hostname": "git01", "ip": "10.0.0.5", "private_key": private.as_str(), "public_key": public,
                      "username": "deploy", "devices": [{"hostname": "git02"}]});
    let requests = (0..CALLERS).map(|_| app.authed(&client, Method::POST, "/iso/pam/key").json(&body)).collect();
    // The contract answers every key upsert 201 "Key successfully registered!".
    let replies = at_once(requests).await;
    assert!(replies.iter().all(|(status, _)| *status == 201), "{replies:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM credentials WHERE username = 'deploy'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM key_devices").await, 1);
    let versions = count(&app, "SELECT COUNT(*) AS n FROM credential_versions").await;
    let version = count(&app, "SELECT version AS n FROM credentials WHERE username = 'deploy'").await;
    assert_eq!(version, CALLERS as i64, "every update made a version");
    assert_eq!(versions, CALLERS as i64 - 1, "each replaced version kept");
}

/// A pipeline client of a fresh registration of `application` (erp/prod).
pub async fn pipeline(app: &TestApp, registrar: &Client, application: &str) -> Client {
    let registered = crate::dsm_security::register_with(app, registrar, application, &[]).await;
    crate::dsm_security::pipeline_of(app, &registered).await
}

/// Concurrent writes of one secret each become a version: the history holds every one of
/// them, numbered without gaps, and nobody got an error.
async fn dsm_secret_writes_each_become_a_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registrar = app.client(&[Resource::Dsm]).await;
    let pipeline = pipeline(&app, &registrar, "billing").await;
    let requests = (0..CALLERS)
        .map(|i| {
            let body = json!({"identity": "db", "data": {"key_value": {"fields": {"DB_PASSWORD": format!("pw-{i}")}}}});
            app.authed(&pipeline, Method::POST, "/iso/sctm/secret").json(&body)
        })
        .collect();
    let replies = at_once(requests).await;
    assert_eq!(replies.iter().filter(|(status, _)| *status == 201).count(), 1, "one creator: {replies:?}");
    assert!(replies.iter().all(|(status, _)| *status == 201 || *status == 200), "{replies:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM dsm_secrets").await, 1);
    assert_eq!(count(&app, "SELECT version AS n FROM dsm_secrets").await, CALLERS as i64);
    let kept = sqlx::query("SELECT version FROM dsm_secret_versions ORDER BY version")
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("versions");
    let kept: Vec<i64> = kept.iter().map(|r| r.get::<i64, _>("version")).collect();
    assert_eq!(kept, (1..CALLERS as i64).collect::<Vec<_>>(), "every replaced version kept, no gaps");
}

async fn dsm_registrations_of_one_application_make_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registrar = app.client(&[Resource::Dsm]).await;
    let requests = (0..CALLERS)
        .map(|_| {
            let form = [("application", "ledger"), ("system", "erp"), ("environment", "prod"), ("tags", "finance")];
            app.authed(&registrar, Method::POST, "/iso/dapp/application").form(&form)
        })
        .collect();
    let replies = at_once(requests).await;
    assert!(replies.iter().all(|(status, _)| *status == 200), "{replies:?}");
    let registered = replies.iter().filter(|(_, body)| body["response"]["message"].to_string().contains("registered"));
    assert_eq!(registered.count(), 1, "one creator: {replies:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM dsm_applications WHERE name = 'ledger'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM dsm_applications WHERE tags = 'finance'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM authorizations WHERE dsm_application_id IS NOT NULL").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM run_credentials").await, CALLERS as i64 - 1);
}

/// One administrator narrows an authorization's addresses while another makes it read-only:
/// both changes hold, round after round.
async fn authorization_edits_of_different_fields_both_survive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.client(&[Resource::Admin]).await;
    let scanner = app.create_app(&[Resource::Pam], false, &["*"]).await;
    let path = format!("/api/admin/authorizations/{}", scanner.authorization_id);
    for round in 0..12 {
        let (cidr, read_only) = (format!("10.{round}.0.0/16"), round % 2 == 0);
        let replies = at_once(vec![
            app.authed(&admin, Method::PUT, &path).json(&json!({"allowed_ips": cidr})),
            app.authed(&admin, Method::PUT, &path).json(&json!({"read_only": read_only})),
        ])
        .await;
        assert!(replies.iter().all(|(status, _)| *status == 200), "{replies:?}");
        let stored = sqlx::query("SELECT allowed_ips, read_only FROM authorizations WHERE id = $1")
            .bind(scanner.authorization_id)
            .fetch_one(app.state.core.store.pool())
            .await
            .expect("row");
        assert_eq!(stored.get::<String, _>("allowed_ips"), cidr, "round {round}");
        assert_eq!(stored.get::<i64, _>("read_only"), i64::from(read_only), "round {round}");
    }
}

/// A SCIM PUT of user `id` that applies only at version `etag`.
fn scim_put(app: &TestApp, token: &str, id: &str, etag: &str) -> reqwest::RequestBuilder {
    app.client
        .put(app.url(&format!("/scim/v2/Users/{id}")))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .header("If-Match", etag)
}

/// A SCIM client holding a user's ETag never overwrites or deletes what an administrator
/// changed since (a profile field, a group membership): its If-Match writes get 412.
async fn admin_changes_move_the_scim_version(backend: Backend) {
    use crate::scim_access::{send, token};
    let app = TestApp::spawn(backend).await;
    let admin = app.client(&[Resource::Admin]).await;
    let scim = token(&app, "scim:read,scim:write").await;
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana",
                      "displayName": "Ana"});
    let created = send(&app, &scim, Method::POST, "/Users", Some(user.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let stale = created.body["meta"]["version"].as_str().expect("etag").to_owned();

    let changed = app
        .send(
            app.authed(&admin, Method::PUT, "/api/admin/users/ana")
                .json(&json!({"name": "Ana Admin", "email": "ana@example.com"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let put = app.send(scim_put(&app, &scim, &id, &stale).body(user.to_string())).await;
    assert_eq!(put.status, StatusCode::PRECONDITION_FAILED, "{}", put.body);

    let current = send(&app, &scim, Method::GET, &format!("/Users/{id}"), None).await;
    let etag = current.body["meta"]["version"].as_str().expect("etag").to_owned();
    assert_ne!(etag, stale);
    let group = app.post_json(&admin, "/api/admin/groups", json!({"name": "ops"})).await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let joined = app.call(&admin, Method::PUT, "/api/admin/groups/ops/members/ana").await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    let delete = app
        .send(app.client.delete(app.url(&format!("/scim/v2/Users/{id}"))).bearer_auth(&scim).header("If-Match", &etag))
        .await;
    assert_eq!(delete.status, StatusCode::PRECONDITION_FAILED, "{}", delete.body);
    let still = send(&app, &scim, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(still.status, StatusCode::OK, "the user was not deleted: {}", still.body);
    assert_eq!(still.body["groups"][0]["display"], "ops", "{}", still.body);
    // SCIM shows what the administrator set: one value for each, whichever API wrote it last.
    assert_eq!(still.body["displayName"], "Ana Admin", "{}", still.body);
    assert_eq!(still.body["emails"][0]["value"], "ana@example.com", "{}", still.body);
    let renamed = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana",
                         "displayName": "Ana SCIM", "emails": [{"value": "ana@scim.example", "primary": true}]});
    let etag = still.body["meta"]["version"].as_str().expect("etag").to_owned();
    let put = app.send(scim_put(&app, &scim, &id, &etag).body(renamed.to_string())).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let admin_view = app.call(&admin, Method::GET, "/api/admin/users/ana").await;
    assert!(admin_view.body.to_string().contains("Ana SCIM"), "{}", admin_view.body);
    assert!(admin_view.body.to_string().contains("ana@scim.example"), "{}", admin_view.body);
}
