//! A `cofre serve` process killed with SIGKILL in the middle of a write load loses no write it
//! acknowledged, nor the audit record of one: both are committed before the answer leaves.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cofre::domain::authorization::Resource;
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(a_kill_during_a_write_load_loses_no_acknowledged_write);

const WRITERS: usize = 16;
/// How many acknowledged writes the load reaches before the kill.
const ACKS_BEFORE_KILL: usize = 400;

/// A port nobody listens on now (the OS hands out a fresh one and we let it go).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `cofre serve` in its own process on `app`'s store and master key.
fn serve(app: &TestApp) -> (Child, String) {
    let (mut command, base) = serve_command(app.data_dir.path(), &app.config.database_url);
    (command.stderr(Stdio::null()).spawn().expect("cofre serve runs"), base)
}

/// The command that runs `cofre serve` on the vault in `data_dir` (and `database_url`; empty:
/// its SQLite file) on free loopback ports, without TLS, with the test runner's environment
/// kept out; and the base URL it will answer on. Callers add their own settings and spawn it.
pub(crate) fn serve_command(data_dir: &std::path::Path, database_url: &str) -> (Command, String) {
    let (port, proxy) = (free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_cofre"));
    command
        .arg("serve")
        .env("COFRE_DATA_DIR", data_dir)
        .env("COFRE_DATABASE_URL", database_url)
        .env("COFRE_TLS", "off")
        .env("COFRE_LISTEN", format!("127.0.0.1:{port}"))
        .env("COFRE_PROXY_LISTEN", format!("127.0.0.1:{proxy}"))
        .env("RUST_LOG", "warn")
        .env_remove("COFRE_CONFIG")
        .env_remove("COFRE_TEST_POSTGRES_URL")
        .stdout(Stdio::null());
    (command, format!("http://127.0.0.1:{port}"))
}

/// A bearer token for `created`, issued by the server at `base`.
pub(crate) async fn bearer_token(
    http: &reqwest::Client,
    base: &str,
    created: &cofre::service::admin::apps::CreatedApplication,
) -> String {
    crate::helpers::token_request(http, base, created)
        .send()
        .await
        .expect("token")
        .json::<serde_json::Value>()
        .await
        .expect("json")["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

pub(crate) async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if http.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cofre serve at {base} never became healthy");
}

/// One writer: new items until a request fails (the server died); returns (identifier, request id)
/// of every write answered with success.
async fn write_until_refused(
    http: reqwest::Client,
    base: String,
    token: String,
    writer: usize,
    progress: Arc<AtomicUsize>,
) -> Vec<(String, String)> {
    let mut acked = Vec::new();
    for i in 0.. {
        let identifier = format!("crash-{writer}-{i}");
        let sent = http
            .post(format!("{base}/iso/pam/info"))
            .bearer_auth(&token)
            .form(&[("identifier", identifier.as_str()), ("content", &format!("content of {identifier}"))])
            .send()
            .await;
        let Ok(response) = sent else { break };
        if !response.status().is_success() {
            break;
        }
        let request_id = response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
        // The answer counts as given once its status line arrived, body or not.
        let _ = response.bytes().await;
        acked.push((identifier, request_id));
        progress.fetch_add(1, Ordering::Relaxed);
    }
    acked
}

async fn a_kill_during_a_write_load_loses_no_acknowledged_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_app(&[Resource::Info], false, &["*"]).await;
    let (mut child, base) = serve(&app);
    let http = reqwest::Client::new();
    wait_healthy(&http, &base).await;
    let token = bearer_token(&http, &base, &created).await;

    let progress = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_until_refused(http.clone(), base.clone(), token.clone(), w, progress.clone())))
        .collect();
    // Kill once a few hundred writes were acknowledged, while all 16 writers are mid-request.
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress.load(Ordering::Relaxed) < ACKS_BEFORE_KILL && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.expect("writer"));
    }
    assert!(acked.len() >= ACKS_BEFORE_KILL, "the load ran: {} writes acknowledged", acked.len());

    // A fresh process recovers the store; every acknowledged item reads back whole.
    let (mut restarted, base) = serve(&app);
    wait_healthy(&http, &base).await;
    for (identifier, _) in &acked {
        let read = app.send(http.get(format!("{base}/iso/pam/info/{identifier}")).bearer_auth(&token)).await;
        assert_eq!(read.status, StatusCode::OK, "acknowledged write {identifier} lost: {}", read.body);
        assert_eq!(read.body["info"]["content"], format!("content of {identifier}"));
    }
    restarted.kill().expect("SIGKILL");
    restarted.wait().expect("reaped");

    // And so is the audit record each of those answers promised.
    let records = app.state.core.store.recent_audit(1_000_000).await.expect("audit");
    let audited: HashSet<&str> =
        records.iter().filter(|r| (200..300).contains(&r.status)).map(|r| r.request_id.as_str()).collect();
    let unaudited: Vec<_> = acked.iter().filter(|(_, id)| !audited.contains(id.as_str())).collect();
    assert!(unaudited.is_empty(), "acknowledged without a durable audit record: {unaudited:?}");
}
