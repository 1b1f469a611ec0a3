//! A store that fails (its connections killed, its server gone, its disk full) answers 503 with
//! Retry-After in the envelope, soon, and never a bare 500 "Unexpected error.".

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, Client, Reply, TestApp};
use crate::outage_meter::OutageMeter;
use crate::private_postgres::PrivatePostgres;

/// A store outage's answer: 503 in the envelope, a Retry-After, nothing internal in the body.
pub(crate) fn assert_unavailable(reply: &Reply, what: &str) {
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {}", reply.body);
    let retry: u32 = reply.headers.get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);
    assert!(
        (1..=30).contains(&retry),
        "{what}: Retry-After of a few seconds, got {:?}",
        reply.headers.get("retry-after")
    );
    assert_eq!(reply.body["code"], 503, "{what}: envelope {}", reply.body);
    assert_eq!(reply.body["exception"]["detail"], serde_json::Value::Null, "{what}: no internal detail");
}

/// Either served (on a fresh connection) or refused as an outage; never a 500.
fn served_or_unavailable(reply: &Reply, what: &str) -> bool {
    if reply.status.is_success() {
        return true;
    }
    assert_unavailable(reply, what);
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
async fn killed_postgres_connections_answer_503_or_a_fresh_connection_never_500() {
    // This test's cofre names its connections, so the kills reach them and no other test's.
    let name = format!("cofre_kill_{}", uuid::Uuid::new_v4().simple());
    let base = match Backend::postgres() {
        Backend::Postgres(url) => url,
        Backend::Sqlite => unreachable!(),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let app = TestApp::spawn(Backend::Postgres(format!("{base}{sep}application_name={name}"))).await;
    let client = app.client(&[Resource::Info]).await;
    let created = app.post_json(&client, "/iso/pam/info", json!({"identifier": "kept", "content": "c"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    sqlx::any::install_default_drivers();
    let killer = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL");
    let kill = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{name}' AND pid <> pg_backend_pid()"
    );
    let mut refused = 0;
    for round in 0..40 {
        // Requests in flight while their connections are killed under them.
        let requests: Vec<_> = (0..8)
            .map(|i| {
                let request = if i % 2 == 0 {
                    app.authed(&client, Method::GET, "/iso/pam/info/kept")
                } else {
                    app.authed(&client, Method::POST, "/iso/pam/info")
                        .json(&json!({"identifier": format!("k-{round}-{i}"), "content": "c"}))
                };
                tokio::spawn(async move {
                    let response = request.send().await.expect("request sent");
                    let (status, headers) = (response.status(), response.headers().clone());
                    let body = response.json().await.unwrap_or_default();
                    Reply { status, headers, body }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(round % 8)).await;
        sqlx::query(&kill).execute(&killer).await.expect("kill");
        let mut replies = Vec::new();
        for request in requests {
            replies.push(request.await.expect("request task"));
        }
        for reply in &replies {
            refused += usize::from(!served_or_unavailable(reply, &format!("round {round}")));
        }
    }
    // Once the kills stop, the next request is served on a fresh connection.
    let read = app.call(&client, Method::GET, "/iso/pam/info/kept").await;
    assert_eq!(read.status, StatusCode::OK, "after the kills ({refused} refused): {}", read.body);
    killer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
async fn a_stopped_postgres_answers_503_within_two_seconds() {
    let cluster = PrivatePostgres::start();
    let app = TestApp::spawn(Backend::Postgres(cluster.url())).await;
    let client = app.client(&[Resource::Info]).await;
    cluster.stop();
    for (method, path) in [(Method::GET, "/iso/pam/info/none"), (Method::POST, "/iso/pam/info")] {
        let started = Instant::now();
        let reply = app.send(app.authed(&client, method.clone(), path).json(&json!({"content": "c"}))).await;
        let took = started.elapsed();
        assert_unavailable(&reply, &format!("{method} {path}"));
        assert!(took < Duration::from_millis(3500), "{method} {path}: the 503 took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_locked_past_the_busy_timeout_answers_503_not_500() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.client(&[Resource::Info]).await;
    // Another process (a backup, an operator's sqlite3) holds the write lock past cofre's
    // ten-second busy timeout, and lets go before the request's audit record is written.
    let mut holder = app.state.core.store.pool().acquire().await.expect("connection");
    sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *holder).await.expect("write lock");
    let release = async {
        tokio::time::sleep(Duration::from_secs(13)).await;
        sqlx::raw_sql("ROLLBACK").execute(&mut *holder).await.expect("release");
    };
    let write = app.post_json(&client, "/iso/pam/info", json!({"identifier": "locked", "content": "c"}));
    let (write, ()) = tokio::join!(write, release);
    assert_unavailable(&write, "a write while the database is locked");
    let retried = app.post_json(&client, "/iso/pam/info", json!({"identifier": "locked", "content": "c"})).await;
    assert_eq!(retried.status, StatusCode::CREATED, "once the lock is gone: {}", retried.body);
}

/// Writers POSTing new items until `stop`; returns the identifiers acknowledged with 201.
async fn write_until(
    app: &TestApp,
    client: &Client,
    writer: usize,
    stop: &AtomicBool,
    meter: &OutageMeter,
) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let identifier = format!("restart-{writer}-{i}");
        let reply = app.post_json(client, "/iso/pam/info", json!({"identifier": identifier, "content": "c"})).await;
        if reply.status == StatusCode::CREATED {
            meter.success();
            acknowledged.push(identifier);
        } else {
            assert_unavailable(&reply, "a write while PostgreSQL is down");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
async fn a_restarted_postgres_takes_writes_again_without_restarting_cofre() {
    let cluster = PrivatePostgres::start();
    let app = TestApp::spawn(Backend::Postgres(cluster.url())).await;
    let client = app.client(&[Resource::Info]).await;
    let (stop, meter) = (AtomicBool::new(false), OutageMeter::start());
    let load = futures_util::future::join_all((0..4).map(|w| write_until(&app, &client, w, &stop, &meter)));
    let fault = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        cluster.stop();
        tokio::time::sleep(Duration::from_secs(3)).await;
        cluster.restart();
        let restarted = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let probe = json!({"identifier": format!("probe-{attempts}"), "content": "c"});
            if app.post_json(&client, "/iso/pam/info", probe).await.status == StatusCode::CREATED {
                break;
            }
            assert!(restarted.elapsed() < Duration::from_secs(30), "no write acknowledged 30 s after the restart");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let after = restarted.elapsed().as_secs_f64();
        println!(
            "outage report: PostgreSQL stopped for 3 s: writes acknowledged again {after:.2} s after it restarted"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, Ordering::Relaxed);
    };
    let (acknowledged, ()) = tokio::join!(load, fault);
    meter.report("PostgreSQL stopped for 3 s, then restarted");
    for identifier in acknowledged.iter().flatten() {
        let read = app.call(&client, Method::GET, &format!("/iso/pam/info/{identifier}")).await;
        assert_eq!(read.status, StatusCode::OK, "acknowledged write {identifier} lost: {}", read.body);
    }
}
