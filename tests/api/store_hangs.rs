//! A PostgreSQL that accepts connections and answers reads but never completes a commit (here,
//! waiting for a synchronous standby that does not exist) must not hang cofre: requests answer
//! 503 within their deadline, `/ready` says 503, and `cofre serve` stops on SIGTERM in bounded time.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::crash::{serve_command, wait_healthy};
use crate::helpers::{Backend, Client, Reply, TestApp};
use crate::on_both_stores;
use crate::private_postgres::PrivatePostgres;
use crate::store_outages::assert_unavailable;

/// The request deadline the tests set: short, so a hang shows as one.
const DEADLINE_SECS: u64 = 2;

/// A cofre on a private cluster, with an item `kept` written before the cluster's commits hang.
async fn hung_store() -> (PrivatePostgres, TestApp, Client) {
    let cluster = PrivatePostgres::start();
    let app = TestApp::spawn_with(Backend::Postgres(cluster.url()), |c| c.request_timeout = DEADLINE_SECS).await;
    let client = app.client(&[Resource::Info]).await;
    let kept = app.post_json(&client, "/iso/pam/info", json!({"identifier": "kept", "content": "c"})).await;
    assert_eq!(kept.status, StatusCode::CREATED, "{}", kept.body);
    (cluster, app, client)
}

/// Sends `request`, failing if no answer comes within 15 s; returns the answer and its delay.
async fn timed(app: &TestApp, request: reqwest::RequestBuilder, what: &str) -> (Reply, Duration) {
    let started = Instant::now();
    match tokio::time::timeout(Duration::from_secs(15), app.send(request)).await {
        Ok(reply) => (reply, started.elapsed()),
        Err(_) => panic!("{what}: no answer after 15 s: the request hangs"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
async fn requests_on_a_store_whose_commits_hang_answer_503_within_their_deadline() {
    let (cluster, app, client) = hung_store().await;
    cluster.hang_commits().await;
    let read = app.authed(&client, Method::GET, "/iso/pam/info/kept");
    let write = app.authed(&client, Method::POST, "/iso/pam/info").json(&json!({"identifier": "new", "content": "c"}));
    for (what, request) in [("a read", read), ("a write", write)] {
        let (reply, took) = timed(&app, request, what).await;
        assert_unavailable(&reply, what);
        assert!(took < Duration::from_secs(DEADLINE_SECS + 2), "{what}: answered after {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
async fn ready_answers_503_when_commits_hang() {
    let (cluster, app, _) = hung_store().await;
    let (before, _) = timed(&app, app.client.get(app.url("/ready")), "/ready").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    cluster.hang_commits().await;
    for attempt in 0..2 {
        let (reply, took) = timed(&app, app.client.get(app.url("/ready")), "/ready").await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "attempt {attempt}: {}", reply.body);
        assert!(reply.headers.contains_key("retry-after"), "attempt {attempt}");
        assert!(took < Duration::from_secs(4), "attempt {attempt}: /ready answered after {took:?}");
    }
}

on_both_stores!(ready_answers_503_while_the_store_takes_no_write);

/// Readiness writes: while another connection holds the write path (SQLite's write lock, a
/// PostgreSQL lock on the heartbeat table), reads still answer, and `/ready` says 503 in time.
async fn ready_answers_503_while_the_store_takes_no_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ready = app.send(app.client.get(app.url("/ready"))).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    let beats: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM process_heartbeats WHERE process_id = $1")
        .bind(&app.state.core.process_id)
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("heartbeats");
    assert_eq!(beats, 1, "the check wrote this process's heartbeat");

    let mut holder = app.state.core.store.pool().acquire().await.expect("connection");
    let lock = match app.state.core.store.backend() {
        cofre::store::Backend::Sqlite => "BEGIN IMMEDIATE",
        cofre::store::Backend::Postgres => "BEGIN; LOCK TABLE process_heartbeats IN ACCESS EXCLUSIVE MODE",
    };
    sqlx::raw_sql(lock).execute(&mut *holder).await.expect("write path held");
    let (held, took) = timed(&app, app.client.get(app.url("/ready")), "/ready").await;
    assert_eq!(held.status, StatusCode::SERVICE_UNAVAILABLE, "{}", held.body);
    assert!(took < Duration::from_secs(4), "/ready answered after {took:?}");
    sqlx::raw_sql("ROLLBACK").execute(&mut *holder).await.expect("released");
    drop(holder);
    let mut again = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        again = app.send(app.client.get(app.url("/ready"))).await.status;
        if again == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(again, StatusCode::OK, "ready again once the write path is free");
}

/// `cofre serve` in its own process on `app`'s store, with the tests' short deadline.
fn serve(app: &TestApp) -> (Child, String) {
    let (mut command, base) = serve_command(app.data_dir.path(), &app.config.database_url);
    command.env("COFRE_REQUEST_TIMEOUT", DEADLINE_SECS.to_string()).stderr(Stdio::null());
    (command.spawn().expect("cofre serve runs"), base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
async fn cofre_serve_stops_on_sigterm_in_bounded_time_when_commits_hang() {
    let (cluster, app, client) = hung_store().await;
    let (mut child, base) = serve(&app);
    wait_healthy(&app.client, &base).await;
    cluster.hang_commits().await;
    // A write whose commit (and audit record) the store holds, still pending at the signal.
    let write = app
        .client
        .post(format!("{base}/iso/pam/info"))
        .bearer_auth(&client.token)
        .json(&json!({"identifier": "pending", "content": "c"}))
        .timeout(Duration::from_secs(30))
        .send();
    let pending = tokio::spawn(write);
    tokio::time::sleep(Duration::from_millis(DEADLINE_SECS * 1000 + 500)).await;
    let signalled = Instant::now();
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success(), "SIGTERM sent");
    // Drain (10 s at most) and flush (5 s at most), with room for a loaded machine.
    let bound = Duration::from_secs(25);
    let exited = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if signalled.elapsed() > bound {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = pending.await;
    let took = signalled.elapsed();
    assert!(exited.is_some(), "cofre serve still running {took:?} after SIGTERM");
}
