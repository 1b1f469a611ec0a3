//! cofre follows a promoted standby through a multi-host URL (libpq's form, read-write). A Patroni
//! cluster in synchronous mode loses its primary — Patroni and every PostgreSQL process of that
//! node killed — under a write load: while no primary exists cofre answers 503 with Retry-After
//! (never a hang, never a 500), then writes again on the promoted standby without a restart, and
//! every write it acknowledged is there. It prints the outage the writers saw.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cofre::domain::authorization::Resource;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, Reply, TestApp};
use crate::patroni_cluster::PatroniCluster;
use crate::private_postgres::PrivatePostgres;
use crate::store_outages::assert_unavailable;

/// Concurrent writers, each posting one new item after another.
const WRITERS: usize = 4;

/// How long the load runs steadily before the primary is killed, and again once writes succeed.
const STEADY_LOAD: Duration = Duration::from_secs(2);

/// A refused writer waits this long before its next write: a client retrying soon, so the
/// measured outage is the store's, not the client's back-off.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_patroni), ignore = "needs COFRE_TEST_PATRONI (Debian's patroni and etcd-server)")]
async fn cofre_follows_a_promoted_standby_and_loses_no_acknowledged_write() {
    let started = Instant::now();
    let mut cluster = PatroniCluster::start().await;
    let (first, second) = (cluster.nodes[0].pg_port, cluster.nodes[1].pg_port);
    let app = TestApp::spawn_with(Backend::Postgres(cluster.url(0)), |c| {
        // The test's fresh schema on pg1, with pg2 listed after it.
        let hosts = format!("127.0.0.1:{first},127.0.0.1:{second}/");
        let url = c.database_url.replace(&format!("127.0.0.1:{first}/"), &hosts);
        c.database_url = format!("{url}&target_session_attrs=read-write");
        c.request_timeout = 5;
    })
    .await;
    let client = app.client(&[Resource::Info]).await;
    let load = WriteLoad::start(&app, &client.token);
    load.wait_for_ack_after(Instant::now(), 20, Duration::from_secs(20), "writes before the failover").await;
    tokio::time::sleep(STEADY_LOAD).await;

    let killed = Instant::now();
    cluster.kill_node(0);
    let promoted_port = cluster.nodes[1].api_port;
    cluster.wait_until_ok(promoted_port, "/primary", "pg2 promoted to primary", Duration::from_secs(40)).await;
    let promoted = killed.elapsed();
    load.wait_for_ack_after(killed, 20, Duration::from_secs(30), "cofre writing on the new primary").await;
    tokio::time::sleep(STEADY_LOAD).await;
    let (acks, refused) = load.stop().await;

    let outage = longest_gap(&acks);
    let after = acks.iter().filter(|(_, at)| *at > killed).count();
    println!(
        "outage report: failover: primary killed, pg2 promoted after {:.1} s; no successful write for {:.1} s; {} writes \
         acknowledged ({after} after the kill), {refused} refused with 503; test took {:.0} s",
        promoted.as_secs_f64(),
        outage.as_secs_f64(),
        acks.len(),
        started.elapsed().as_secs_f64()
    );
    assert_all_readable(&app, &client.token, &acks).await;
    println!(
        "failover: all {} acknowledged writes read back; test took {:.0} s",
        acks.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
async fn a_multi_host_url_starts_on_the_first_host_that_takes_writes() {
    let down = crate::crash::free_port();
    // A server that accepts the URL's connections (its database is there) but takes no writes.
    let read_only = PrivatePostgres::start();
    let Backend::Postgres(shared) = Backend::postgres() else { unreachable!() };
    let database = shared.rsplit_once('/').and_then(|(_, d)| d.split('?').next()).expect("a database in the URL");
    read_only.execute(&format!("CREATE DATABASE \"{database}\"")).await;
    read_only.execute("ALTER SYSTEM SET default_transaction_read_only = on").await;
    read_only.execute("SELECT pg_reload_conf()").await;
    let app = TestApp::spawn_with(Backend::postgres(), |c| {
        let url =
            listing_first(&c.database_url, &[format!("127.0.0.1:{down}"), format!("127.0.0.1:{}", read_only.port)]);
        c.database_url = format!("{url}&target_session_attrs=read-write");
    })
    .await;
    let client = app.client(&[Resource::Info]).await;
    let created = app.post_json(&client, "/iso/pam/info", json!({"identifier": "kept", "content": "c"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

/// `url` with `hosts` listed before its own host.
fn listing_first(url: &str, hosts: &[String]) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (userinfo, location) = rest.rsplit_once('@').map_or(("".to_owned(), rest), |(u, l)| (format!("{u}@"), l));
    format!("{scheme}://{userinfo}{},{location}", hosts.join(","))
}

/// Writers posting new protected-information items until stopped, recording each acknowledged
/// one with when its 201 came; any other answer must be an outage's 503.
struct WriteLoad {
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<(String, Instant)>>>,
    refused: Arc<AtomicUsize>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl WriteLoad {
    fn start(app: &TestApp, token: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let writers = (0..WRITERS)
            .map(|writer| {
                let (stop, acks, refused) = (stop.clone(), acks.clone(), refused.clone());
                let (http, url, token) = (app.client.clone(), app.url("/iso/pam/info"), token.to_owned());
                tokio::spawn(async move {
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let identifier = format!("w{writer}-{n}");
                        let request = http.post(&url).bearer_auth(&token).json(&json!({
                            "identifier": identifier, "content": content_of(&identifier)
                        }));
                        let reply = send_within_deadline(request, &identifier).await;
                        if reply.status == StatusCode::CREATED {
                            acks.lock().expect("acks").push((identifier, Instant::now()));
                        } else {
                            assert_unavailable(&reply, &format!("write {identifier}"));
                            refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(RETRY_PAUSE).await;
                        }
                    }
                })
            })
            .collect();
        Self { stop, acks, refused, writers }
    }

    /// Waits until `count` writes were acknowledged after `since`; fails naming `what` after `limit`.
    async fn wait_for_ack_after(&self, since: Instant, count: usize, limit: Duration, what: &str) {
        let started = Instant::now();
        loop {
            let acked = self.acks.lock().expect("acks").iter().filter(|(_, at)| *at > since).count();
            if acked >= count {
                return;
            }
            assert!(self.writers.iter().all(|w| !w.is_finished()), "{what}: a writer failed (see its panic above)");
            assert!(started.elapsed() < limit, "{what}: {acked} of {count} writes acknowledged after {limit:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the writers; returns the acknowledged writes in order, and how many were refused.
    async fn stop(self) -> (Vec<(String, Instant)>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for writer in self.writers {
            if let Err(e) = writer.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        let mut acks = std::mem::take(&mut *self.acks.lock().expect("acks"));
        acks.sort_by_key(|(_, at)| *at);
        (acks, self.refused.load(Ordering::Relaxed))
    }
}

fn content_of(identifier: &str) -> String {
    format!("secret of {identifier}")
}

/// A reply within 15 s (cofre's deadline is 5 s): longer is a hang, which fails the test.
async fn send_within_deadline(request: reqwest::RequestBuilder, what: &str) -> Reply {
    let sent = async {
        let response = request.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.json().await.unwrap_or_default();
        Reply { status, headers, body }
    };
    match tokio::time::timeout(Duration::from_secs(15), sent).await {
        Ok(reply) => reply,
        Err(_) => panic!("{what}: no answer after 15 s: the request hangs"),
    }
}

/// The longest time between two acknowledged writes (in completion order): the outage clients saw.
fn longest_gap(acks: &[(String, Instant)]) -> Duration {
    acks.windows(2).map(|pair| pair[1].1 - pair[0].1).max().unwrap_or_default()
}

/// Every acknowledged write reads back through cofre with its content, a few readers at a time.
async fn assert_all_readable(app: &TestApp, token: &str, acks: &[(String, Instant)]) {
    let identifiers: Vec<String> = acks.iter().map(|(identifier, _)| identifier.clone()).collect();
    let readers: Vec<_> = identifiers
        .chunks(identifiers.len().div_ceil(WRITERS).max(1))
        .map(|chunk| {
            let (http, base, token, chunk) =
                (app.client.clone(), app.url("/iso/pam/info/"), token.to_owned(), chunk.to_vec());
            tokio::spawn(async move {
                let mut lost = Vec::new();
                for identifier in chunk {
                    let reply =
                        send_within_deadline(http.get(format!("{base}{identifier}")).bearer_auth(&token), &identifier)
                            .await;
                    if reply.status != StatusCode::OK
                        || reply.body["info"]["content"] != content_of(&identifier).as_str()
                    {
                        lost.push(format!("{identifier}: {} {}", reply.status, reply.body));
                    }
                }
                lost
            })
        })
        .collect();
    let mut lost = Vec::new();
    for reader in readers {
        lost.extend(reader.await.expect("reader"));
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost or changed: {:?}",
        lost.len(),
        acks.len(),
        &lost[..lost.len().min(10)]
    );
}
