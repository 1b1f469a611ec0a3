//! Blind writes — upserts and updates that carry no precondition (no version, no `If-Match`) —
//! never fail for concurrency. Many callers writing one key at once, each with its own value,
//! through two cofre processes on one store: every one is answered as a success, the writes
//! serialize at the store and the last one wins, whole, and where the family keeps a history,
//! each write is a version of it. No family here has a precondition to go stale, so none
//! answers 409.

use std::collections::BTreeSet;

use cofre::crypto::cipher::Aad;
use cofre::domain::authorization::Resource;
use cofre::service::pam::rotation::generate_key;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{Backend, Client, TestApp};
use crate::mysafe::user_key;
use crate::on_both_stores;
use crate::pam::device;
use crate::write_races::{at_once, count, pipeline};

on_both_stores!(
    blind_credential_upserts_each_become_a_version,
    blind_ssh_key_upserts_each_become_a_version,
    blind_device_upserts_all_apply_and_the_last_wins_whole,
    blind_dsm_secret_writes_each_become_a_version,
    blind_mysafe_updates_all_apply_and_the_last_wins_whole,
    blind_info_upserts_keep_every_field,
);

const WRITERS: usize = 20;

/// `WRITERS` requests, `body(i)` each, alternately to `app` and to `other` (a second process).
async fn from_two_processes(
    app: &TestApp,
    other: &TestApp,
    client: &Client,
    method: Method,
    path: &str,
    body: impl Fn(usize) -> Value,
) -> Vec<(u16, Value)> {
    let requests = (0..WRITERS)
        .map(|i| {
            let process = if i % 2 == 0 { app } else { other };
            process.authed(client, method.clone(), path).json(&body(i))
        })
        .collect();
    at_once(requests).await
}

fn no_refusal(replies: &[(u16, Value)], ok: &[u16]) {
    assert!(replies.iter().all(|(status, _)| ok.contains(status)), "every blind write succeeds: {replies:?}");
}

async fn opened(app: &TestApp, aad: &Aad<'_>, blob: &[u8]) -> String {
    String::from_utf8(app.state.core.unseal(aad, blob).await.expect("opens").to_vec()).expect("text")
}

async fn blind_credential_upserts_each_become_a_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.sibling(0).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "race01").await;
    let password = |i: usize| format!("pw-{i}");
    let replies = from_two_processes(
        &app,
        &other,
        &client,
        Method::POST,
        "/iso/pam/credential",
        |i| json!({"username": "svc", "hostname": "race01", "ip": "10.0.0.5", "content": password(i)}),
    )
    .await;
    no_refusal(&replies, &[201]);
    let messages: Vec<&str> = replies.iter().filter_map(|(_, b)| b["response"]["message"].as_str()).collect();
    assert_eq!(messages.iter().filter(|m| **m == "Credential successfully registered!").count(), 1, "{replies:?}");

    let row = sqlx::query("SELECT id, uid, version, secret FROM credentials WHERE username = 'svc'")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("one row");
    let (id, uid) = (row.get::<i64, _>("id"), row.get::<String, _>("uid"));
    assert_eq!(row.get::<i64, _>("version"), WRITERS as i64, "each write made a version");
    let current = opened(&app, &Aad::new("credentials", &uid, "secret"), &row.get::<Vec<u8>, _>("secret")).await;
    let shown = app.call(&client, Method::GET, "/iso/pam/credential/svc@race01").await;
    assert_eq!(shown.body["credential"]["password"], current.as_str(), "the last write wins");

    let kept = sqlx::query("SELECT version, secret FROM credential_versions WHERE credential_id = $1 ORDER BY version")
        .bind(id)
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("versions");
    let numbers: Vec<i64> = kept.iter().map(|r| r.get::<i64, _>("version")).collect();
    assert_eq!(numbers, (1..WRITERS as i64).collect::<Vec<_>>(), "every replaced version kept, no gaps");
    let mut values = BTreeSet::from([current]);
    for r in &kept {
        let row_key = format!("{uid}:{}", r.get::<i64, _>("version"));
        values.insert(
            opened(&app, &Aad::new("credential_versions", &row_key, "secret"), &r.get::<Vec<u8>, _>("secret")).await,
        );
    }
    assert_eq!(values, (0..WRITERS).map(password).collect::<BTreeSet<_>>(), "every write's password is a version");
    other.stop();
}

async fn blind_ssh_key_upserts_each_become_a_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.sibling(0).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "git01").await;
    let pairs: Vec<(String, String)> = (0..WRITERS)
        .map(|_| generate_key("ed25519").map(|(private, public)| (private.to_string(), public)))
        .collect::<Result<_, _>>()
        .expect("keys");
    let replies = from_two_processes(&app, &other, &client, Method::POST, "/iso/pam/key", |i| {
        json!({"hostname": "git01", "ip": "10.0.0.5", "username": "deploy", "private_key": pairs[i].0,
               "public_key": pairs[i].1})
    })
    .await;
    no_refusal(&replies, &[201]);
    let row = sqlx::query("SELECT id, version, public_key FROM credentials WHERE username = 'deploy'")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("one key");
    assert_eq!(row.get::<i64, _>("version"), WRITERS as i64, "each write made a version");
    let kept = sqlx::query("SELECT public_key FROM credential_versions WHERE credential_id = $1")
        .bind(row.get::<i64, _>("id"))
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("versions");
    assert_eq!(kept.len(), WRITERS - 1, "every replaced version kept");
    let mut keys: BTreeSet<String> = kept.iter().map(|r| r.get::<String, _>("public_key")).collect();
    keys.insert(row.get::<String, _>("public_key"));
    let sent: BTreeSet<String> = pairs.iter().map(|(_, public)| public.trim().to_owned()).collect();
    assert_eq!(keys, sent, "every write's key is a version");
    other.stop();
}

async fn blind_device_upserts_all_apply_and_the_last_wins_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.sibling(0).await;
    let client = app.client(&[Resource::Pam]).await;
    let replies = from_two_processes(&app, &other, &client, Method::POST, "/iso/pam/device", |i| {
        json!({"hostname": "web01", "ip": format!("10.0.1.{i}"), "model": "Linux", "type": "Server", "vendor": "Debian",
               "site": format!("DC{i}"), "device_tags": format!("t{i}")})
    })
    .await;
    no_refusal(&replies, &[201]);
    let row = sqlx::query("SELECT ip, site, device_tags FROM devices WHERE hostname = 'web01'")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("one device");
    let ip = row.get::<String, _>("ip");
    let i: usize = ip.strip_prefix("10.0.1.").expect("one of the values").parse().expect("index");
    assert!(i < WRITERS);
    assert_eq!(
        (row.get::<String, _>("site"), row.get::<String, _>("device_tags")),
        (format!("DC{i}"), format!("t{i}")),
        "the last write wins whole"
    );
    other.stop();
}

async fn blind_dsm_secret_writes_each_become_a_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.sibling(0).await;
    let registrar = app.client(&[Resource::Dsm]).await;
    let pipeline = pipeline(&app, &registrar, "billing").await;
    let password = |i: usize| format!("dsm-pw-{i}");
    let replies = from_two_processes(
        &app,
        &other,
        &pipeline,
        Method::POST,
        "/iso/sctm/secret",
        |i| json!({"identity": "db", "data": {"key_value": {"fields": {"DB_PASSWORD": password(i)}}}}),
    )
    .await;
    no_refusal(&replies, &[200, 201]);
    let row = sqlx::query("SELECT id, uid, version, data FROM dsm_secrets")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("one secret");
    let uid = row.get::<String, _>("uid");
    assert_eq!(row.get::<i64, _>("version"), WRITERS as i64);
    let mut data = vec![opened(&app, &Aad::new("dsm_secrets", &uid, "data"), &row.get::<Vec<u8>, _>("data")).await];
    let kept = sqlx::query("SELECT version, data FROM dsm_secret_versions WHERE secret_id = $1 ORDER BY version")
        .bind(row.get::<i64, _>("id"))
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("versions");
    assert_eq!(kept.len(), WRITERS - 1, "every replaced version kept");
    for r in &kept {
        let row_key = format!("{uid}:{}", r.get::<i64, _>("version"));
        data.push(opened(&app, &Aad::new("dsm_secret_versions", &row_key, "data"), &r.get::<Vec<u8>, _>("data")).await);
    }
    for i in 0..WRITERS {
        assert_eq!(
            data.iter().filter(|d| d.contains(&format!("\"{}\"", password(i)))).count(),
            1,
            "write {i} is exactly one version"
        );
    }
    other.stop();
}

async fn blind_mysafe_updates_all_apply_and_the_last_wins_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.sibling(0).await;
    let owner = user_key(&app, "owner").await;
    let created =
        app.post_json(&owner, "/api/mysafe/password", json!({"name": "db", "username": "dba", "password": "p0"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["password_entity"]["identifier"].as_str().expect("id").to_owned();
    let path = format!("/api/mysafe/password/update/{id}");
    let replies = from_two_processes(
        &app,
        &other,
        &owner,
        Method::PUT,
        &path,
        |i| json!({"password": format!("pw-{i}"), "notes": format!("n-{i}"), "url": format!("https://db{i}.example")}),
    )
    .await;
    no_refusal(&replies, &[200]);
    let now = app.call(&owner, Method::GET, &format!("/api/mysafe/password/{id}")).await;
    let entity = &now.body["password_entity"];
    let password = entity["password"].as_str().expect("password");
    let i: usize = password.strip_prefix("pw-").expect("one of the values").parse().expect("index");
    assert!(i < WRITERS);
    assert_eq!(
        (entity["notes"].as_str(), entity["url"].as_str()),
        (Some(format!("n-{i}").as_str()), Some(format!("https://db{i}.example").as_str())),
        "the last write wins whole: {entity}"
    );
    other.stop();
}

/// Callers setting different fields of one item at once, each with new content: every field
/// set is kept (before, a write put back the fields it had read, undoing the other's).
async fn blind_info_upserts_keep_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.sibling(0).await;
    let client = app.client(&[Resource::Info]).await;
    let created = app.post_json(&client, "/iso/pam/info", json!({"identifier": "wiki", "content": "c"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    for round in 0..12 {
        let (name, url, service) = (format!("n{round}"), format!("https://u{round}"), format!("s{round}"));
        let replies = at_once(vec![
            app.authed(&client, Method::POST, "/iso/pam/info")
                .json(&json!({"identifier": "wiki", "content": format!("a{round}"), "name": name})),
            other
                .authed(&client, Method::POST, "/iso/pam/info")
                .json(&json!({"identifier": "wiki", "content": format!("b{round}"), "url": url})),
            app.authed(&client, Method::POST, "/iso/pam/info")
                .json(&json!({"identifier": "wiki", "content": format!("c{round}"), "service": service})),
        ])
        .await;
        no_refusal(&replies, &[200, 201]);
        let row = sqlx::query("SELECT name, url, service FROM protected_info WHERE identifier = 'wiki'")
            .fetch_one(app.state.core.store.pool())
            .await
            .expect("row");
        assert_eq!(
            (row.get::<String, _>("name"), row.get::<String, _>("url"), row.get::<String, _>("service")),
            (name, url, service),
            "round {round}: every field kept"
        );
        let shown = app.call(&client, Method::GET, "/iso/pam/info/wiki").await;
        let content = shown.body["info"]["content"].as_str().expect("content").to_owned();
        assert!([format!("a{round}"), format!("b{round}"), format!("c{round}")].contains(&content), "{content}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM protected_info").await, 1);
    other.stop();
}
