//! The registry of sealed columns (`service::integrity::sealed`): it names every column that
//! holds sealed values, rebuilds each value's associated data so that all of them open, finds a
//! value moved to another row, counts values per data key and moves them to the active one.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use cofre::domain::authorization::Resource;
use cofre::domain::sessions::RequestNote;
use cofre::service::integrity::sealed::{self, SEALED_COLUMNS};
use cofre::service::pam::policies;
use cofre::service::pam::rotation::{ChangeTarget, SecretChanger, run_due};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

use crate::certificates::{admin, authorities, request, request_body, sign};
use crate::dsm_security::{pipeline_of, register_with};
use crate::helpers::{Backend, TestApp, canary};
use crate::mysafe::user_key;
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    every_registered_column_exists,
    every_blob_column_is_registered_or_not_sealed,
    every_sealed_value_written_through_the_api_opens,
    a_value_copied_to_another_row_is_reported_for_that_row,
    values_are_counted_per_data_key_and_resealed_to_the_active_one,
    a_write_during_a_reseal_is_never_undone,
);

/// Binary columns that hold no data-key seal: hashes, MACs, migration checksums, and data
/// keys (the master key wraps those).
const NOT_SEALED: &[(&str, &str)] = &[
    ("data_keys", "wrapped_key"),
    ("_sqlx_migrations", "checksum"),
    ("authorizations", "secret_hash"),
    ("api_tokens", "token_hash"),
    ("issued_tokens", "token_hash"),
    ("run_credentials", "secret_hash"),
    ("session_tickets", "token_hash"),
    ("remote_sessions", "ticket_hash"),
    ("remote_sessions", "entry_code_hash"),
    ("remote_sessions", "cookie_hash"),
    ("audit_log", "mac"),
    ("audit_chain", "mac"),
];

async fn every_registered_column_exists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pool = app.state.core.store.pool();
    for c in SEALED_COLUMNS {
        let sql =
            format!("SELECT {} AS k, {} AS r, {} AS c FROM {} LIMIT 1", c.key_sql, c.aad_row_sql, c.column, c.table);
        sqlx::query(&sql).fetch_all(pool).await.unwrap_or_else(|e| panic!("{}.{}: {sql}: {e}", c.table, c.column));
    }
    let distinct: BTreeSet<_> = SEALED_COLUMNS.iter().map(|c| (c.table, c.column)).collect();
    assert_eq!(distinct.len(), SEALED_COLUMNS.len(), "no column is registered twice");
}

/// A new binary column must be registered (or listed here as not sealed), or a reseal would
/// leave its values behind and a retired key would lose them.
async fn every_blob_column_is_registered_or_not_sealed(backend: Backend) {
    let is_sqlite = matches!(backend, Backend::Sqlite);
    let app = TestApp::spawn(backend).await;
    let sql = if is_sqlite {
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND upper(p.type) = 'BLOB'"
    } else {
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = current_schema() AND data_type = 'bytea'"
    };
    let rows = sqlx::query(sql).fetch_all(app.state.core.store.pool()).await.expect("columns");
    let found: BTreeSet<(String, String)> = rows.iter().map(|r| (r.get("t"), r.get("c"))).collect();
    let known: BTreeSet<(String, String)> = SEALED_COLUMNS
        .iter()
        .map(|c| (c.table, c.column))
        .chain(NOT_SEALED.iter().copied())
        .map(|(t, c)| (t.to_owned(), c.to_owned()))
        .collect();
    assert_eq!(found, known, "binary columns of the schema vs. the registry and the unsealed list");
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(app.state.core.store.pool()).await.expect(sql).get::<i64, _>("n")
}

/// Non-NULL values of every registered column.
async fn stored_values(app: &TestApp) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for c in SEALED_COLUMNS {
        let n = count(app, &format!("SELECT COUNT(*) AS n FROM {} WHERE {} IS NOT NULL", c.table, c.column)).await;
        out.push((format!("{}.{}", c.table, c.column), n));
    }
    out
}

/// Writes at least one sealed value into every registered column, through the API where one
/// reaches it; returns how many values it wrote (a lower bound of what the store holds).
pub async fn populate(app: &TestApp) -> u64 {
    let mut written = 0u64;
    let secret = canary();

    // Protected information.
    let info = app.client(&[Resource::Info]).await;
    for id in ["a", "b"] {
        let reply = app.post_json(&info, "/iso/pam/info", json!({"identifier": id, "content": secret})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        written += 1;
    }

    // PAM: a password with settings, changed once (a version), and an SSH key with a passphrase,
    // replaced once (a version with both fields).
    let pam = app.client(&[Resource::Pam, Resource::Certificates]).await;
    device(app, &pam, "vault01").await;
    for content in ["first", "second"] {
        let body = json!({"identifier": "svc", "username": "svc", "hostname": "vault01", "ip": "10.0.0.5",
                          "content": content, "additional_settings": {"secret_key": secret}});
        let reply = app.post_json(&pam, "/iso/pam/credential", body).await;
        assert!(reply.status.is_success(), "{}", reply.body);
    }
    written += 2 + 1; // secret, settings; the version's secret
    for _ in 0..2 {
        let (private, public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
        let key = json!({"username": "deploy", "hostname": "vault01", "ip": "10.0.0.5",
                         "private_key": private.as_str(), "public_key": public, "password": secret});
        let reply = app.post_json(&pam, "/iso/pam/key", key).await;
        assert!(reply.status.is_success(), "{}", reply.body);
    }
    written += 2 + 2; // key and passphrase; the version's key and passphrase

    // OAuth 1.0a and SigV4 secrets of an application.
    app.signing_app("signer").await;
    written += 3;

    // DSM: a secret and a second version of it.
    let registrar = app.client(&[Resource::Dsm]).await;
    let pipeline = pipeline_of(app, &register_with(app, &registrar, "billing", &[]).await).await;
    for password in ["v1", "v2"] {
        let body = json!({"identity": "db", "name": "db", "engine": "Generic",
                          "data": {"key_value": {"fields": {"DB_PASSWORD": password}}}});
        let reply = app.post_json(&pipeline, "/iso/sctm/secret", body).await;
        assert!(reply.status.is_success(), "{}", reply.body);
    }
    written += 2;

    // MySafe: an API secret and a file of two chunks.
    let owner = user_key(app, "mariana").await;
    let item = json!({"name": "GCP", "url": "https://gcp.com", "client_id": "id", "client_secret": secret,
                      "identifier_code": "gcp1"});
    let reply = app.post_json(&owner, "/api/mysafe/secretapi", item).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let content = vec![7u8; cofre::service::mysafe::files::FILE_CHUNK + 10];
    let form = reqwest::multipart::Form::new()
        .text("name", "backup.bin")
        .part("file", reqwest::multipart::Part::bytes(content).file_name("backup.bin"));
    let reply = app.send(app.authed(&owner, Method::POST, "/api/mysafe/file").multipart(form)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    written += 1 + 1 + 2;

    // Certificates: two authorities, a request, its signed certificate.
    let admin = admin(app).await;
    let (_, issuing) = authorities(app, &admin).await;
    let made = request(app, &pam, "shop", request_body("shop.example.com", json!({}))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let signed = sign(app, &pam, "shop", &format!("self_signed=0&ca={}&reason=x", issuing.replace(' ', "%20"))).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    written += 2 + 1 + 1;

    // A WAS publish profile's key database password.
    let reply = app
        .post_json(
            &pam,
            "/iso/pam/credential",
            json!({"username": "deploy-pw", "hostname": "vault01", "ip": "10.0.0.5", "content": "pw"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let credential = reply.body["credential"]["id"].as_str().expect("id").to_owned();
    written += 1;
    let was = json!({"nome_perfil": "w", "codigo_credencial": credential, "dispositivos": ["vault01"],
                     "key_db_path": "/opt/IBM/key.kdb", "key_db_password": "kdb-secret", "label": "shop"});
    let reply = app.post_json(&pam, "/iso/cert/perfil/was", was).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    written += 1;

    // A web session: a sealed request record and (as the SSH relay writes them) recording chunks.
    let sessions = crate::session_tickets::fixture(app).await;
    written += 1; // its credential
    let token = crate::session_tickets::token(app, &sessions).await;
    let (id, code) = crate::session_tickets::entry_code(app, &crate::session_tickets::redeem(app, &token).await);
    let core = &app.state.core;
    let loopback = "127.0.0.1".parse().expect("ip");
    let (session, _) =
        cofre::service::sessions::proxy::enter(core, &app.state.audit, &code, &id, loopback).await.expect("entered");
    let note = RequestNote { method: "GET".into(), path: "/".into(), status: 200, bytes_up: 1, bytes_down: 2 };
    cofre::service::sessions::proxy::note_request(core, &session, &note).await.expect("noted");
    written += 1;
    let mut recorder =
        cofre::service::sessions::recording::Recorder::start(core, session.id, &session.session_id, 80, 24)
            .await
            .expect("recording");
    recorder.output(core, b"hello").await.expect("output");
    recorder.finish(core).await.expect("finish");
    written += 2;

    // The SSH gateway's host key.
    cofre::service::sessions::ssh::gateway_host_key_seed(core).await.expect("gateway key");
    written += 1;

    // A rotation whose change failed: the value it sent stays stored for the retry. Last, since
    // it moves the clock past the tokens' hour.
    device(app, &pam, "rot01").await;
    let body = json!({"username": "rot", "hostname": "rot01", "ip": "10.0.0.5", "content": "before"});
    assert_eq!(app.post_json(&pam, "/iso/pam/credential", body).await.status, StatusCode::CREATED);
    policies::create(core, crate::rotation::policy("rot", Some(3600), false)).await.expect("policy");
    policies::assign(core, Some("rot"), "device", "rot01").await.expect("assign");
    app.clock.advance_secs(3601);
    let report = run_due(core, &app.state.audit, &Unreachable).await.expect("pass");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    written += 1;

    // The server's own secrets.
    written += 4;
    written
}

/// A device that cannot be reached: every change fails.
struct Unreachable;

impl SecretChanger for Unreachable {
    fn change<'a>(
        &'a self,
        _target: &'a ChangeTarget,
        _new_secret: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Err("unreachable".into()) })
    }
}

async fn every_sealed_value_written_through_the_api_opens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let written = populate(&app).await;
    let stored = stored_values(&app).await;
    let empty: Vec<_> = stored.iter().filter(|(_, n)| *n == 0).map(|(c, _)| c.as_str()).collect();
    assert!(empty.is_empty(), "registered columns the test wrote nothing to: {empty:?}");

    let check = sealed::check_all(&app.state.core).await.expect("check");
    assert!(check.failures.is_empty(), "{:#?}", check.failures);
    let total: i64 = stored.iter().map(|(_, n)| n).sum();
    assert_eq!(check.opened, u64::try_from(total).expect("count"), "every stored value is opened: {stored:?}");
    assert!(check.opened >= written, "{} opened, {written} written", check.opened);
}

async fn a_value_copied_to_another_row_is_reported_for_that_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let info = app.client(&[Resource::Info]).await;
    let secret = canary();
    for id in ["a", "b", "c"] {
        let reply = app.post_json(&info, "/iso/pam/info", json!({"identifier": id, "content": secret})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    // A chunk of a file, moved within its own table, too.
    let owner = user_key(&app, "ana").await;
    let content = vec![1u8; cofre::service::mysafe::files::FILE_CHUNK * 2];
    let form = reqwest::multipart::Form::new()
        .text("name", "two.bin")
        .part("file", reqwest::multipart::Part::bytes(content).file_name("two.bin"));
    let reply = app.send(app.authed(&owner, Method::POST, "/api/mysafe/file").multipart(form)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let before = sealed::check_all(&app.state.core).await.expect("check");
    assert!(before.failures.is_empty(), "{:#?}", before.failures);

    let pool = app.state.core.store.pool();
    let a: Vec<u8> = sqlx::query("SELECT content FROM protected_info WHERE identifier = 'a'")
        .fetch_one(pool)
        .await
        .expect("a")
        .get("content");
    let b_id: i64 =
        sqlx::query("SELECT id FROM protected_info WHERE identifier = 'b'").fetch_one(pool).await.expect("b").get("id");
    sqlx::query("UPDATE protected_info SET content = $1 WHERE id = $2")
        .bind(a)
        .bind(b_id)
        .execute(pool)
        .await
        .expect("tamper");

    let check = sealed::check_all(&app.state.core).await.expect("check");
    assert_eq!(check.opened, before.opened - 1);
    assert_eq!(check.failures.len(), 1, "{:#?}", check.failures);
    let prefix = format!("protected_info.content row {b_id}: ");
    assert!(check.failures[0].starts_with(&prefix), "{}", check.failures[0]);
    assert!(!check.failures[0].contains(&secret), "never the plaintext");

    // Chunk 0 of the file copied over chunk 1: chunk 1 is reported, by item and position.
    let item: i64 = sqlx::query("SELECT item_id FROM mysafe_file_chunks WHERE seq = 1")
        .fetch_one(pool)
        .await
        .expect("chunk")
        .get("item_id");
    sqlx::query(
        "UPDATE mysafe_file_chunks SET data = (SELECT c.data FROM mysafe_file_chunks c WHERE c.item_id = $1 AND c.seq = 0) \
         WHERE item_id = $2 AND seq = 1",
    )
    .bind(item)
    .bind(item)
    .execute(pool)
    .await
    .expect("tamper chunk");
    let check = sealed::check_all(&app.state.core).await.expect("check");
    assert_eq!(check.failures.len(), 2, "{:#?}", check.failures);
    assert!(check.failures.iter().any(|f| f.starts_with(&format!("mysafe_file_chunks.data row {item}:1: "))));
}

async fn values_are_counted_per_data_key_and_resealed_to_the_active_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    populate(&app).await;
    // More rows than a page, in a table keyed by an integer and in one keyed by two.
    let info = app.client(&[Resource::Info]).await;
    for i in 0..70 {
        let body = json!({"identifier": format!("i{i}"), "content": format!("secret {i}")});
        assert_eq!(app.post_json(&info, "/iso/pam/info", body).await.status, StatusCode::CREATED);
    }
    let pam = app.client(&[Resource::Pam]).await;
    device(&app, &pam, "db01").await;
    for i in 0..70 {
        let body = json!({"identifier": "db", "username": "u", "hostname": "db01", "ip": "10.0.0.5", "content": format!("pw{i}")});
        assert!(app.post_json(&pam, "/iso/pam/credential", body).await.status.is_success());
    }
    let stored: i64 = stored_values(&app).await.iter().map(|(_, n)| n).sum();
    assert!(count(&app, "SELECT COUNT(*) AS n FROM credential_versions").await >= 69);

    let first = core.active_data_key_id();
    let total = sealed::check_all(core).await.expect("check").opened;
    assert_eq!(total, u64::try_from(stored).expect("count"), "paging neither skips nor repeats a row");
    assert_eq!(sealed::count_under_key(core, first).await.expect("count"), total);
    assert!(total > 0);
    assert_eq!(sealed::count_under_key(core, first + 1000).await.expect("count"), 0);
    assert_eq!(sealed::reseal_batch(core, 100).await.expect("reseal"), 0, "everything is under the active key");

    // A new data key: every value moves to it, in batches, and still opens.
    let second = u32::try_from(core.new_data_key().await.expect("new key")).expect("id");
    assert_eq!(core.active_data_key_id(), second);
    let revisions = "SELECT CAST(COALESCE(SUM(revision), 0) AS BIGINT) AS n FROM credentials";
    let revisions_before = count(&app, revisions).await;
    assert_eq!(sealed::count_under_key(core, second).await.expect("count"), 0);
    let mut moved = 0;
    loop {
        let batch = sealed::reseal_batch(core, 50).await.expect("reseal");
        assert!(batch <= 50);
        if batch == 0 {
            break;
        }
        moved += batch;
    }
    assert_eq!(moved, total);
    assert!(
        count(&app, revisions).await > revisions_before,
        "moving a credential's seal bumps its revision, so a writer that read it before retries"
    );
    assert_eq!(sealed::count_under_key(core, first).await.expect("count"), 0);
    assert_eq!(sealed::count_under_key(core, second).await.expect("count"), total);
    let check = sealed::check_all(core).await.expect("check");
    assert!(check.failures.is_empty(), "{:#?}", check.failures);
    assert_eq!(check.opened, total);
    let read = app.call(&info, Method::GET, "/iso/pam/info/i3").await;
    assert_eq!(read.body["info"]["content"], "secret 3");
    let read = app.call(&pam, Method::GET, "/iso/pam/credential/db").await;
    assert_eq!(read.body["credential"]["password"], "pw69");
}

/// Writes racing a reseal: each value ends as the write left it (a reseal never puts back the
/// plaintext it read), and under the new key once the reseal is run to its end.
async fn a_write_during_a_reseal_is_never_undone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let info = app.client(&[Resource::Info]).await;
    for i in 0..40 {
        let body = json!({"identifier": format!("r{i}"), "content": format!("old {i}")});
        assert_eq!(app.post_json(&info, "/iso/pam/info", body).await.status, StatusCode::CREATED);
    }
    let first = core.active_data_key_id();
    core.new_data_key().await.expect("new key");
    let reseal = async {
        while sealed::reseal_batch(core, 4).await.expect("reseal") > 0 {
            tokio::task::yield_now().await;
        }
    };
    let writes = async {
        for i in 0..40 {
            let body = json!({"identifier": format!("r{i}"), "content": format!("new {i}")});
            assert!(app.post_json(&info, "/iso/pam/info", body).await.status.is_success());
        }
    };
    tokio::join!(reseal, writes);
    while sealed::reseal_batch(core, 100).await.expect("reseal") > 0 {}
    assert_eq!(sealed::count_under_key(core, first).await.expect("count"), 0);
    let check = sealed::check_all(core).await.expect("check");
    assert!(check.failures.is_empty(), "{:#?}", check.failures);
    for i in 0..40 {
        let read = app.call(&info, Method::GET, &format!("/iso/pam/info/r{i}")).await;
        assert_eq!(read.body["info"]["content"], format!("new {i}"));
    }
}
