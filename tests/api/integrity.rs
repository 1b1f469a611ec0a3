//! Backups, restores, moving a store, and key rotation while cofre serves: every acknowledged
//! write survives, nothing damaged or foreign is loaded, and no value is ever unreadable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

use cofre::clock::SystemClock;
use cofre::domain::authorization::Resource;
use cofre::service::integrity::backup::BackupError;
use cofre::service::integrity::keys::{RotationError, rotate_master_key};
use cofre::service::integrity::moving;

use crate::helpers::{Backend, Client, TestApp, fresh_postgres_schema};
use crate::on_both_stores;

on_both_stores!(
    a_backup_under_write_load_restores_every_acknowledged_write,
    damaged_foreign_and_misplaced_backups_are_refused,
    the_master_key_rotates_under_load_and_resumes_after_a_crash,
);

#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_installation_moves_to_postgresql() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let owner = app.client(&[Resource::Info]).await;
    let stranger = app.client(&[Resource::Info]).await;
    for i in 0..20 {
        write_info(&app, &owner, &format!("moved-{i}")).await;
    }
    let id_before = info_id(&app, "moved-7").await;
    let refused_before = app.call(&stranger, Method::GET, "/iso/pam/info/moved-1").await;
    assert!(refused_before.status.is_client_error(), "{}", refused_before.body);
    let target = fresh_postgres_schema(&std::env::var(crate::helpers::POSTGRES_ENV).expect("url")).await;
    // One command, as an operator runs it, while the server is up.
    let (ok, out, err) = crate::cli::cofre_outcome(&app, &["migrate-store", "--to", &target], "");
    assert!(ok, "{err}");
    assert!(out.starts_with("moved: ") && out.contains(" sealed values open, "), "{out}");
    let (ok, _, err) = crate::cli::cofre_outcome(&app, &["migrate-store", "--to", &target], "");
    assert!(!ok && err.contains("the target store is not empty"), "a second move is refused: {err}");

    let key = app.config.master_key_path();
    let pg = TestApp::spawn_with(Backend::postgres(), |c| {
        c.database_url = target.clone();
        c.master_key_file = Some(key);
    })
    .await;
    let owner = Client { token: pg.token_for(&owner.app).await, app: owner.app };
    for i in 0..20 {
        let got = pg.call(&owner, Method::GET, &format!("/iso/pam/info/moved-{i}")).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert_eq!(got.body["info"]["content"], format!("secret of moved-{i}"));
    }
    assert_eq!(info_id(&pg, "moved-7").await, id_before, "ids travel");
    let stranger = Client { token: pg.token_for(&stranger.app).await, app: stranger.app };
    let refused = pg.call(&stranger, Method::GET, "/iso/pam/info/moved-1").await;
    assert_eq!((refused.status, refused.body), (refused_before.status, refused_before.body), "the same refusal");
    // New rows continue after the moved ones, and the chain goes on.
    write_info(&pg, &owner, "after-move").await;
    assert!(info_id(&pg, "after-move").await.parse::<i64>().expect("id") > id_before.parse().expect("id"));
    let core = &pg.state.core;
    let verdict = cofre::service::integrity::chain::verify(core, &core.audit_chain_key(), 1, &[]).await.expect("v");
    assert!(matches!(verdict, cofre::service::integrity::chain::Verdict::Intact { .. }), "{verdict:?}");
}

async fn write_info(app: &TestApp, client: &Client, identifier: &str) {
    let body = json!({"identifier": identifier, "name": identifier, "content": format!("secret of {identifier}")});
    let done = app.post_json(client, "/iso/pam/info", body).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
}

async fn info_id(app: &TestApp, identifier: &str) -> String {
    let row = sqlx::query("SELECT id FROM protected_info WHERE identifier = $1")
        .bind(identifier)
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("row");
    row.get::<i64, _>("id").to_string()
}

/// A config for an empty store of `backend`'s kind, with `app`'s master key.
async fn empty_target(app: &TestApp, backend: &Backend, dir: &tempfile::TempDir) -> cofre::config::Config {
    let database_url = match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres(url) => fresh_postgres_schema(url).await,
    };
    cofre::config::Config {
        data_dir: dir.path().to_path_buf(),
        database_url,
        master_key_file: Some(app.config.master_key_path()),
        ..app.config.clone()
    }
}

async fn a_backup_under_write_load_restores_every_acknowledged_write(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let client = app.client(&[Resource::Info]).await;
    let file = app.data_dir.path().join("snapshot.cofre-backup");
    let started = AtomicBool::new(false);
    let acknowledged_before: std::sync::Mutex<Vec<String>> = std::sync::Mutex::default();
    let writers = join_all((0..4).map(|w| {
        let (app, client, started, acknowledged_before) = (&app, &client, &started, &acknowledged_before);
        async move {
            for i in 0..30 {
                let identifier = format!("w{w}-{i}");
                write_info(app, client, &identifier).await;
                if !started.load(Ordering::SeqCst) {
                    acknowledged_before.lock().expect("lock").push(identifier);
                }
            }
        }
    }));
    let backup = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        started.store(true, Ordering::SeqCst);
        moving::backup_to(&app.state.core, &file).await.expect("backup")
    };
    let (_, summary) = tokio::join!(writers, backup);
    let before = acknowledged_before.into_inner().expect("lock");
    assert!(!before.is_empty() && summary.counts["protected_info"] >= before.len() as i64, "{before:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).expect("file").permissions().mode() & 0o777, 0o600);
    }
    let raw = std::fs::read(&file).expect("read");
    assert!(!String::from_utf8_lossy(&raw).contains("secret of w0-0"), "sealed whole: no content in the clear");
    assert!(!String::from_utf8_lossy(&raw).contains("protected_info"), "not even table names");

    let dir = tempfile::tempdir().expect("dir");
    let target = empty_target(&app, &backend, &dir).await;
    let restored = moving::restore_into(&target, Arc::new(SystemClock), &file).await.expect("restored");
    assert_eq!(restored.summary.counts, summary.counts);
    assert!(restored.sealed_values >= before.len() as u64);
    let key = app.config.master_key_path();
    let url = target.database_url.clone();
    let copy = TestApp::spawn_with(backend, |c| {
        c.data_dir = dir.path().to_path_buf();
        c.database_url = url;
        c.master_key_file = Some(key);
    })
    .await;
    let client = Client { token: copy.token_for(&client.app).await, app: client.app };
    for identifier in &before {
        let got = copy.call(&client, Method::GET, &format!("/iso/pam/info/{identifier}")).await;
        assert_eq!(got.status, StatusCode::OK, "{identifier}: {}", got.body);
        assert_eq!(got.body["info"]["content"], format!("secret of {identifier}"));
    }
}

async fn damaged_foreign_and_misplaced_backups_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let client = app.client(&[Resource::Info]).await;
    for i in 0..40 {
        write_info(&app, &client, &format!("item-{i}")).await;
    }
    let file = app.data_dir.path().join("good.cofre-backup");
    moving::backup_to(&app.state.core, &file).await.expect("backup");
    let good = std::fs::read(&file).expect("read");
    let header_end = good.iter().position(|b| *b == b'\n').expect("header") + 1;

    let variant = |name: &str, bytes: &[u8]| {
        let path = app.data_dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let mut flipped = good.clone();
    let middle = header_end + (good.len() - header_end) / 2;
    flipped[middle] ^= 0x40;
    let header = String::from_utf8(good[..header_end].to_vec()).expect("utf-8");
    let schema = format!("\"schema\":{}", app.state.core.store.schema_version().await.expect("schema"));
    let newer = [header.replace(&schema, "\"schema\":999").as_bytes(), &good[header_end..]].concat();
    assert_ne!(newer, good, "the header names the schema");
    let renamed = [header.replace("\"source\":", "\"source\":\"x\",\"was\":").as_bytes(), &good[header_end..]].concat();
    let cases = [
        (variant("cut", &good[..good.len() - 100]), "the backup is truncated inside frame 0"),
        (variant("cut-frame", &good[..header_end + 2]), "the backup is truncated"),
        (variant("flipped", &flipped), "fails its integrity check: the backup was tampered with or damaged"),
        (variant("newer", &newer), "the backup is from a newer cofre (schema 999"),
        (variant("header", &renamed), "fails its integrity check"),
        (variant("garbage", b"PK\x03\x04 not a backup at all"), "this file is not a cofre backup"),
        (variant("empty", b""), "this file is not a cofre backup"),
    ];
    for (path, expected) in &cases {
        let dir = tempfile::tempdir().expect("dir");
        let target = empty_target(&app, &backend, &dir).await;
        let err = moving::restore_into(&target, Arc::new(SystemClock), path).await.expect_err("refused");
        assert!(matches!(err, BackupError::Refused(_)), "{err}");
        assert!(err.to_string().contains(expected), "{}: {err}", path.display());
        let store = cofre::store::Store::connect(&target.database_url(), 2).await.expect("connect");
        store.migrate().await.expect("migrate");
        assert_eq!(store.is_empty().await.expect("empty"), None, "nothing half-written by {}", path.display());
        store.close().await;
    }

    // Another master key, and a store that is not empty.
    let dir = tempfile::tempdir().expect("dir");
    let other_key = dir.path().join("other.key");
    write_key(&other_key, &"5a".repeat(32));
    let target = cofre::config::Config { master_key_file: Some(other_key), ..empty_target(&app, &backend, &dir).await };
    let err = moving::restore_into(&target, Arc::new(SystemClock), &file).await.expect_err("refused");
    assert!(err.to_string().starts_with("this backup needs master key "), "{err}");
    let err = moving::restore_into(&app.config, Arc::new(SystemClock), &file).await.expect_err("refused");
    assert!(err.to_string().contains("the target store is not empty"), "{err}");

    // The commands, as an operator runs them.
    let (ok, out, err) = crate::cli::cofre_outcome(&app, &["backup", &file.display().to_string()], "");
    assert!(ok && out.starts_with("backup written to "), "{out}{err}");
    let (ok, _, err) = crate::cli::cofre_outcome(&app, &["restore", &file.display().to_string()], "");
    assert!(!ok && err.contains("the target store is not empty"), "{err}");
}

fn write_key(path: &std::path::Path, hex: &str) {
    std::fs::write(path, format!("{hex}\n")).expect("key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

async fn the_master_key_rotates_under_load_and_resumes_after_a_crash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.sibling(0).await;
    let client = app.client(&[Resource::Info]).await;
    for i in 0..5 {
        app.state.core.new_data_key().await.expect("data key");
        write_info(&app, &client, &format!("before-{i}")).await;
    }
    let dir = tempfile::tempdir().expect("dir");
    let new_key = dir.path().join("new.key");
    let bad = dir.path().join("bad.key");
    write_key(&bad, "not hex");
    let err =
        rotate_master_key(&app.state.core, &bad, |_, _| std::ops::ControlFlow::Continue(())).await.expect_err("bad");
    assert!(err.to_string().contains("must hold exactly 64 hexadecimal digits"), "{err}");
    let err =
        rotate_master_key(&app.state.core, &app.config.master_key_path(), |_, _| std::ops::ControlFlow::Continue(()))
            .await
            .expect_err("same");
    assert!(err.to_string().contains("holds the current master key"), "{err}");
    write_key(&new_key, &"c3".repeat(32));

    // Reads and writes on both processes go on while the rotation runs, and it stops half-way.
    let load = join_all((0..2).map(|w| {
        let (app, other, client) = (&app, &other, &client);
        async move {
            for i in 0..15 {
                let on = if i % 2 == 0 { app } else { other };
                write_info(on, client, &format!("during-{w}-{i}")).await;
                let read = on.call(client, Method::GET, &format!("/iso/pam/info/before-{}", i % 5)).await;
                assert_eq!(read.status, StatusCode::OK, "{}", read.body);
            }
        }
    }));
    let crash = rotate_master_key(&app.state.core, &new_key, |done, _| {
        if done == 3 { std::ops::ControlFlow::Break(()) } else { std::ops::ControlFlow::Continue(()) }
    });
    let (_, crashed) = tokio::join!(load, crash);
    let crashed = crashed.expect("stopped");
    assert!(!crashed.complete && crashed.rewrapped == 3, "{crashed:?}");
    let incoming = cofre::crypto::keyring::MasterKey::incoming_path(&app.config.master_key_path());
    assert!(incoming.exists(), "the new key waits beside the key file");

    // A second rotation is refused while the first one's lease runs; a process started now
    // opens with the data keys split between the two master keys.
    let second = rotate_master_key(&other.state.core, &new_key, |_, _| std::ops::ControlFlow::Continue(())).await;
    assert!(matches!(second, Err(RotationError::AlreadyRunning { .. })), "{second:?}");
    let restarted = app.sibling(0).await;
    let read = restarted.call(&client, Method::GET, "/iso/pam/info/before-4").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);

    // Resumed, it completes; no data key needs the old key, which is kept beside the new one
    // for the backups taken before.
    let old_id = app.state.core.master().id();
    let done = rotate_master_key(&app.state.core, &new_key, |_, _| std::ops::ControlFlow::Continue(()))
        .await
        .expect("resumed");
    assert!(done.complete && done.rewrapped == done.data_keys - 3, "{done:?}");
    assert!(!incoming.exists());
    let kept = cofre::crypto::keyring::MasterKey::retired_path(&app.config.master_key_path(), old_id);
    assert_eq!(done.retired, Some((old_id, kept.clone())));
    assert_eq!(cofre::crypto::keyring::MasterKey::load(&kept).expect("kept").id(), old_id);
    assert_eq!(std::fs::read(app.config.master_key_path()).expect("key"), std::fs::read(&new_key).expect("new"));
    let kek_ids: Vec<i64> = sqlx::query("SELECT DISTINCT kek_id FROM data_keys")
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get("kek_id"))
        .collect();
    assert_eq!(kek_ids, [i64::from(done.kek_id)]);

    // A process that still holds the old key meets a data key wrapped by the new one (made by
    // another process after the rotation) and reads the key file again.
    let id = other.state.core.new_data_key().await.expect("data key under the new master key");
    write_info(&other, &client, "after-rotation").await;
    let sealed_under: Vec<u8> = sqlx::query("SELECT content FROM protected_info WHERE identifier = 'after-rotation'")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("row")
        .get("content");
    assert_eq!(cofre::crypto::cipher::blob_key_id(&sealed_under).expect("blob"), u32::try_from(id).expect("id"));
    for identifier in ["after-rotation", "before-0", "during-1-14"] {
        let read = app.call(&client, Method::GET, &format!("/iso/pam/info/{identifier}")).await;
        assert_eq!(read.status, StatusCode::OK, "{identifier}: {}", read.body);
        assert_eq!(read.body["info"]["content"], format!("secret of {identifier}"));
    }
    let fresh = app.sibling(0).await;
    let check = cofre::service::integrity::sealed::check_all(&fresh.state.core).await.expect("check");
    assert!(check.failures.is_empty() && check.opened > 30, "{:?}", check.failures);

    // Reseal moves everything to the newest data key; the older ones can then be retired.
    let moved = cofre::service::integrity::keys::reseal(&other.state.core, 10_000, |_| {}).await.expect("reseal");
    assert!(moved.moved > 0);
    let refused = cofre::service::integrity::keys::retire_data_key(&other.state.core, id).await;
    assert!(refused.expect_err("active").to_string().contains("is the one new values are sealed with"));
    cofre::service::integrity::keys::retire_data_key(&other.state.core, 1).await.expect("retired");
    let check = cofre::service::integrity::sealed::check_all(&fresh.state.core).await.expect("check");
    assert!(check.failures.is_empty(), "{:?}", check.failures);
    other.stop();
    restarted.stop();
    fresh.stop();
}
