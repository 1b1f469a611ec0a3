//! Only the first start of `serve` (an empty data directory) and `cofre init` make a vault: a
//! command run in the wrong place, or a store whose master key was moved away, is refused
//! with what is missing, and nothing is written.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::cli::cofre_at;
use crate::helpers::{Backend, TestApp, fresh_postgres_schema, token_request};
use crate::on_both_stores;

on_both_stores!(
    commands_outside_a_vault_fail_and_write_nothing,
    serve_refuses_a_store_whose_key_or_database_is_missing,
    init_makes_a_vault_that_serve_uses_and_refuses_a_second_time,
);

/// A database URL for an empty store of `backend`'s kind: SQLite in the data directory, or a
/// fresh PostgreSQL schema.
async fn empty_store(backend: &Backend) -> String {
    match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres(url) => fresh_postgres_schema(url).await,
    }
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect()
}

/// The tables of the PostgreSQL schema `url` names (none for SQLite).
async fn postgres_tables(url: &str) -> i64 {
    if url.is_empty() {
        return 0;
    }
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")
            .fetch_one(&pool)
            .await
            .expect("count");
    pool.close().await;
    n
}

/// `cofre serve` on port 0, as an operator starts it; its outcome once it exits (it must, as
/// every case here is refused), killed after 30 s otherwise.
fn serve_at(data_dir: &Path, database_url: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cofre"))
        .arg("serve")
        .env("COFRE_DATA_DIR", data_dir)
        .env("COFRE_DATABASE_URL", database_url)
        .env("COFRE_TLS", "off")
        .env("COFRE_LISTEN", "127.0.0.1:0")
        .env("COFRE_PROXY_LISTEN", "127.0.0.1:0")
        .env_remove("COFRE_CONFIG")
        .env_remove("COFRE_TEST_POSTGRES_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cofre serve runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cofre serve started where it must refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

async fn commands_outside_a_vault_fail_and_write_nothing(backend: Backend) {
    let parent = tempfile::tempdir().expect("tempdir");
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let absent = parent.path().join("absent");
    let url = empty_store(&backend).await;
    let commands: [&[&str]; 4] = [
        &["app", "list"],
        &["user", "create", "--username", "nobody"],
        &["app", "create", "--name", "x", "--resource", "info"],
        &["migrate"],
    ];
    for dir in [&empty, &absent] {
        for args in commands {
            let (ok, _, err) = cofre_at(dir, &url, args, "");
            assert!(!ok, "cofre {args:?} in {} made a vault", dir.display());
            let key = dir.join("master.key");
            assert!(err.contains("no vault") && err.contains(&key.display().to_string()), "{args:?}: {err}");
        }
    }
    assert_eq!(entries(&empty), Vec::<String>::new(), "nothing written in the empty directory");
    assert!(!absent.exists(), "the absent directory stays absent");
    assert_eq!(postgres_tables(&url).await, 0, "nothing written in the store");

    // serve makes a vault only on an empty data directory: one holding anything else is refused.
    std::fs::write(empty.join("notes.txt"), "not a vault").expect("write");
    let (ok, err) = serve_at(&empty, &url);
    assert!(!ok && err.contains("is not empty") && err.contains("cofre init"), "{err}");
    assert_eq!(entries(&empty), ["notes.txt"]);
    assert_eq!(postgres_tables(&url).await, 0);
}

async fn serve_refuses_a_store_whose_key_or_database_is_missing(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let made = crate::cli::cofre(&app, &["app", "create", "--name", "kept", "--resource", "info", "--json"]);
    app.stop();
    // Closed here, so no connection of the stopped server reopens the files moved below.
    app.state.core.store.close().await;
    let dir = app.data_dir.path();
    let key = app.config.master_key_path();
    let url = app.config.database_url.clone();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let moved = elsewhere.path().join("master.key");
    std::fs::rename(&key, &moved).expect("move the key away");

    let (ok, err) = serve_at(dir, &url);
    assert!(!ok, "serve started without its key");
    assert!(err.contains(&key.display().to_string()) && err.contains("master key"), "{err}");
    assert!(!key.exists(), "serve wrote a new master key: {err}");
    let (ok, _, err) = cofre_at(dir, &url, &["app", "list"], "");
    assert!(!ok && err.contains(&key.display().to_string()), "{err}");
    assert!(!key.exists(), "a command wrote a new master key: {err}");

    // Put back, the vault opens as it was.
    std::fs::rename(&moved, &key).expect("key back");
    let made: Value = serde_json::from_str(made.trim()).expect("json");
    let (ok, listed, err) = cofre_at(dir, &url, &["app", "list", "--json"], "");
    assert!(ok && listed.contains(made["client_id"].as_str().expect("id")), "{err}");

    // The key without its database: SQLite's file moved away, or an empty PostgreSQL schema.
    let (url, kept) = match &backend {
        Backend::Sqlite => {
            for file in app.sqlite_files().into_iter().filter(|f| f.exists()) {
                std::fs::rename(&file, elsewhere.path().join(file.file_name().expect("name"))).expect("move db");
            }
            (String::new(), entries(dir))
        }
        Backend::Postgres(base) => (fresh_postgres_schema(base).await, entries(dir)),
    };
    let (ok, err) = serve_at(dir, &url);
    assert!(!ok && err.contains(&key.display().to_string()) && err.contains("database"), "{err}");
    assert_eq!(entries(dir), kept, "serve wrote into the data directory: {err}");
    assert_eq!(postgres_tables(&url).await, 0, "serve wrote into the empty store");
}

async fn init_makes_a_vault_that_serve_uses_and_refuses_a_second_time(backend: Backend) {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("vault");
    let url = empty_store(&backend).await;
    let (ok, out, err) = cofre_at(&dir, &url, &["init"], "");
    assert!(ok, "{err}");
    let key = dir.join("master.key");
    assert!(out.contains(&key.display().to_string()), "init says where the key is: {out}");
    let key_text = std::fs::read_to_string(&key).expect("init wrote the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(&key).expect("key").permissions().mode() & 0o777, 0o600);
    }
    let (ok, made, err) =
        cofre_at(&dir, &url, &["app", "create", "--name", "first", "--resource", "info", "--json"], "");
    assert!(ok, "{err}");
    let made: Value = serde_json::from_str(made.trim()).expect("json");

    let (again, _, err) = cofre_at(&dir, &url, &["init"], "");
    assert!(!again && err.contains("already"), "{err}");
    assert_eq!(std::fs::read_to_string(&key).expect("key"), key_text, "the key is untouched");
    if !url.is_empty() {
        // The same schema from another, empty data directory: the store holds a vault.
        let other = parent.path().join("other");
        let (again, _, err) = cofre_at(&other, &url, &["init"], "");
        assert!(!again && err.contains("already"), "{err}");
        assert!(!other.exists(), "no key written for a store that has one");
    }

    let served_dir = dir.clone();
    let served_url = url.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        c.data_dir = served_dir;
        c.database_url = served_url;
    })
    .await;
    let app_of = |v: &Value| cofre::service::admin::apps::CreatedApplication {
        application_id: 0,
        authorization_id: 0,
        client_id: v["client_id"].as_str().expect("id").to_owned(),
        client_secret: v["client_secret"].as_str().expect("secret").to_owned().into(),
        oauth1: None,
        aws: None,
    };
    let token = app.send(token_request(&app.client, &app.base, &app_of(&made))).await;
    assert_eq!(token.status, StatusCode::OK, "serve uses the vault init made: {}", token.body);
    assert_eq!(std::fs::read_to_string(&key).expect("key"), key_text, "serve kept init's key");
}
