//! A `cofre serve` process killed with SIGKILL while its rotation command runs (the device has
//! taken the new password, the vault has not committed it) leaves nothing out of step: the next
//! process on the store sends the same stored value again and commits it, within one short
//! claim, audited and in the version history. The value in flight is sealed in the database and
//! reaches no log or audit record.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cofre::crypto::cipher::Aad;
use cofre::domain::authorization::Resource;
use cofre::domain::pam::Policy;
use cofre::service::pam::policies;
use cofre::service::pam::rotation::{ChangeTarget, SecretChanger, run_due};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::{Column, Row};
use tokio::sync::Semaphore;

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    a_rotation_killed_mid_change_is_reconciled_by_the_next_process,
    a_failed_change_is_retried_with_the_value_it_sent,
    an_update_during_the_change_does_not_leave_the_vault_behind
);

/// The device: the script keeps the password it is given in `<dir>/device`, then waits for as
/// long as `<dir>/block` exists (the change "still running").
const DEVICE_SCRIPT: &str = r#"cat > "$1/device.tmp" && mv "$1/device.tmp" "$1/device"
while [ -e "$1/block" ]; do sleep 0.1; done
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `cofre serve` in its own process on `app`'s store and master key, rotating through the device
/// script every second, its log (at debug) appended to `<dir>/log`.
fn serve_rotating(app: &TestApp, dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("log")).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_cofre"))
        .arg("serve")
        .env("COFRE_DATA_DIR", app.data_dir.path())
        .env("COFRE_DATABASE_URL", &app.config.database_url)
        .env("COFRE_TLS", "off")
        .env("COFRE_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("COFRE_PROXY_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("COFRE_ROTATION_COMMAND", format!("/bin/sh {} {}", dir.join("change.sh").display(), dir.display()))
        .env("COFRE_ROTATION_CHECK_INTERVAL", "1")
        .env("RUST_LOG", "debug")
        .env_remove("COFRE_CONFIG")
        .env_remove("COFRE_TEST_POSTGRES_URL")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("cofre serve runs")
}

async fn vault_password(app: &TestApp, client: &Client) -> String {
    let read = app.call(client, Method::GET, "/iso/pam/credential/crashrot").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    read.body["credential"]["password"].as_str().expect("password").to_owned()
}

/// Every column of the credential's row, as text or bytes: none may hold `plain`.
async fn assert_row_never_holds(app: &TestApp, id: i64, plain: &str) {
    let row = sqlx::query("SELECT * FROM credentials WHERE id = $1")
        .bind(id)
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("row");
    for column in row.columns() {
        let name = column.name();
        let bytes: Vec<u8> = match row.try_get::<Option<Vec<u8>>, _>(name) {
            Ok(b) => b.unwrap_or_default(),
            Err(_) => row.try_get::<Option<String>, _>(name).ok().flatten().unwrap_or_default().into_bytes(),
        };
        assert!(!bytes.windows(plain.len()).any(|w| w == plain.as_bytes()), "credentials.{name} holds the password");
    }
}

async fn a_rotation_killed_mid_change_is_reconciled_by_the_next_process(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let client = app.client(&[Resource::Pam]).await;
    let admin = app.client(&[Resource::Admin]).await;
    device(&app, &client, "crash01").await;
    let hourly = Policy {
        id: 0,
        name: "crash".into(),
        length: 24,
        lowercase: 2,
        uppercase: 2,
        digits: 2,
        symbols: -1,
        exclude: String::new(),
        key_algorithm: "ed25519".into(),
        rotation_interval: Some(3600),
        rotate_after_custody: false,
    };
    policies::create(core, hourly).await.expect("policy");
    policies::assign(core, Some("crash"), "device", "crash01").await.expect("assign");
    let body = json!({"identifier": "crashrot", "username": "svc", "hostname": "crash01", "ip": "10.0.0.5",
                      "content": "initial"});
    assert_eq!(app.post_json(&client, "/iso/pam/credential", body).await.status, StatusCode::CREATED);
    let pool = core.store.pool();
    let row = sqlx::query("SELECT id, uid FROM credentials WHERE identifier = 'crashrot'").fetch_one(pool).await;
    let row = row.expect("row");
    let (id, uid): (i64, String) = (row.get("id"), row.get("uid"));
    // Due now by the serving process's own (real) clock.
    sqlx::query("UPDATE credentials SET next_rotation_at = 0 WHERE id = $1").bind(id).execute(pool).await.expect("due");

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("change.sh"), DEVICE_SCRIPT).expect("script");
    std::fs::write(dir.path().join("block"), "").expect("block");
    let device_file = dir.path().join("device");

    // The first process sends the new password, and dies while the change command still runs.
    let mut first = serve_rotating(&app, dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !device_file.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_device = std::fs::read_to_string(&device_file).expect("the device was changed");
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let killed_at = Instant::now();
    std::fs::remove_file(dir.path().join("block")).expect("unblock the orphaned script");
    assert_ne!(on_device, "initial");
    assert_eq!(vault_password(&app, &client).await, "initial", "not committed before the kill");
    assert_row_never_holds(&app, id, &on_device).await;
    let left: Option<Vec<u8>> = sqlx::query("SELECT * FROM credentials WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("row")
        .try_get("rotation_pending")
        .ok()
        .flatten();

    // Another process on the same store picks the credential up once the dead one's claim ends.
    let mut second = serve_rotating(&app, dir.path());
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut in_vault = vault_password(&app, &client).await;
    while in_vault != on_device && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        in_vault = vault_password(&app, &client).await;
    }
    let took = killed_at.elapsed();
    second.kill().expect("SIGKILL");
    second.wait().expect("reaped");
    assert_eq!(in_vault, on_device, "the vault keeps {in_vault:?} while the device holds the rotated password");
    assert_eq!(std::fs::read_to_string(&device_file).expect("device"), on_device, "the same value was sent again");
    assert!(took < Duration::from_secs(60), "reconciled {took:?} after the kill, not after a 300 s claim");

    // The value in flight was stored sealed, bound to its row and field.
    let sealed = left.expect("the value in flight was stored before the device changed");
    let opened = core.unseal(&Aad::new("credentials", &uid, "rotation_pending"), &sealed).await.expect("opens");
    assert_eq!(opened.as_slice(), on_device.as_bytes());
    let after = sqlx::query("SELECT rotation_pending, rotation_lease, rotation_error FROM credentials WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("row");
    assert!(after.get::<Option<Vec<u8>>, _>("rotation_pending").is_none(), "no value left pending");
    assert_eq!(after.get::<i64, _>("rotation_lease"), 0, "the claim is released");
    assert_eq!(after.get::<String, _>("rotation_error"), "");

    // The history shows the change, and the audit its reconciliation; neither, nor any log, the value.
    let versions = app.call(&admin, Method::GET, "/api/admin/credentials/crashrot/versions").await;
    assert_eq!(versions.body["current_version"], 2, "{}", versions.body);
    assert_eq!(versions.body["versions"][0]["reason"], "rotation finished after an interruption");
    let records = core.store.recent_audit(10_000).await.expect("audit");
    let route = format!("/pam/credential/{id}");
    let reconciled = records.iter().find(|r| r.method == "ROTATE" && r.route == route);
    let reconciled = reconciled.expect("the rotation is audited");
    assert_eq!(reconciled.status, 200);
    assert!(reconciled.detail.contains("\"reconciled\":true"), "{}", reconciled.detail);
    assert!(records.iter().all(|r| !r.detail.contains(&on_device) && !r.route.contains(&on_device)));
    let log = std::fs::read(dir.path().join("log")).expect("log");
    assert!(!log.is_empty(), "the processes logged");
    assert!(!log.windows(on_device.len()).any(|w| w == on_device.as_bytes()), "the password reached a log");
}

/// Keeps every value it is sent; fails (as a command that timed out after setting it might)
/// while `fail` is set.
#[derive(Default, Clone)]
struct Flaky {
    sent: Arc<Mutex<Vec<String>>>,
    fail: bool,
    /// When set, each change waits for a permit after it was sent.
    gate: Option<Arc<Semaphore>>,
}

impl SecretChanger for Flaky {
    fn change<'a>(
        &'a self,
        _target: &'a ChangeTarget,
        new_secret: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.sent.lock().expect("lock").push(String::from_utf8_lossy(new_secret).into_owned());
            if let Some(gate) = &self.gate {
                gate.acquire().await.map_err(|e| e.to_string())?.forget();
            }
            if self.fail { Err("the rotation command timed out after 60 s".into()) } else { Ok(()) }
        })
    }
}

async fn a_failed_change_is_retried_with_the_value_it_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let mut client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "crash01").await;
    policies::create(core, crate::rotation::policy("crash", Some(3600), false)).await.expect("policy");
    policies::assign(core, Some("crash"), "device", "crash01").await.expect("assign");
    let body = json!({"identifier": "crashrot", "username": "svc", "hostname": "crash01", "ip": "10.0.0.5",
                      "content": "initial"});
    assert_eq!(app.post_json(&client, "/iso/pam/credential", body).await.status, StatusCode::CREATED);

    app.clock.advance_secs(3601);
    let flaky = Flaky { fail: true, ..Flaky::default() };
    assert_eq!(run_due(core, &app.state.audit, &flaky).await.expect("pass").failed.len(), 1);
    client.token = app.token_for(&client.app).await;
    assert_eq!(vault_password(&app, &client).await, "initial", "a failed change keeps the old value current");

    app.clock.advance_secs(i64::try_from(core.config.rotation_retry).expect("retry") + 1);
    client.token = app.token_for(&client.app).await;
    let retry = Flaky { sent: flaky.sent.clone(), ..Flaky::default() };
    assert_eq!(run_due(core, &app.state.audit, &retry).await.expect("pass").rotated.len(), 1);
    let sent = flaky.sent.lock().expect("lock").clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1], sent[0], "the retry sends the value the failed change may have set");
    assert_eq!(vault_password(&app, &client).await, sent[0]);
    let left = sqlx::query("SELECT rotation_pending FROM credentials WHERE identifier = 'crashrot'")
        .fetch_one(core.store.pool())
        .await
        .expect("row")
        .get::<Option<Vec<u8>>, _>("rotation_pending");
    assert!(left.is_none(), "no value left pending");
}

async fn an_update_during_the_change_does_not_leave_the_vault_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let mut client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "crash01").await;
    policies::create(core, crate::rotation::policy("crash", Some(3600), false)).await.expect("policy");
    policies::assign(core, Some("crash"), "device", "crash01").await.expect("assign");
    let body = json!({"identifier": "crashrot", "username": "svc", "hostname": "crash01", "ip": "10.0.0.5",
                      "content": "initial"});
    assert_eq!(app.post_json(&client, "/iso/pam/credential", body).await.status, StatusCode::CREATED);
    app.clock.advance_secs(3601);
    client.token = app.token_for(&client.app).await;

    let gate = Arc::new(Semaphore::new(0));
    let changer = Flaky { gate: Some(gate.clone()), ..Flaky::default() };
    let (state, running) = (app.state.clone(), changer.clone());
    let pass = tokio::spawn(async move { run_due(&state.core, &state.audit, &running).await.map(|r| r.rotated) });
    while changer.sent.lock().expect("lock").is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The device has taken the new value; meanwhile someone stores another one in the vault.
    let body = json!({"identifier": "crashrot", "username": "svc", "hostname": "crash01", "ip": "10.0.0.5",
                      "content": "by hand"});
    assert!(app.post_json(&client, "/iso/pam/credential", body).await.status.is_success());
    gate.add_permits(1);
    assert_eq!(pass.await.expect("task").expect("pass").len(), 1, "the rotation commits");

    let on_device = changer.sent.lock().expect("lock")[0].clone();
    assert_eq!(vault_password(&app, &client).await, on_device, "the vault holds what the device has");
    let admin = app.client(&[Resource::Admin]).await;
    let versions = app.call(&admin, Method::GET, "/api/admin/credentials/crashrot/versions").await;
    assert_eq!(versions.body["current_version"], 3, "{}", versions.body);
    assert_eq!(versions.body["versions"][1]["reason"], "scheduled rotation", "the update is kept as a version");
}
