//! A change and its audit record (issue 42, item 3): when the record cannot be written after
//! the change committed, the client is refused (503) but the change is not left unaudited —
//! the pending row committed with it is chained by recovery once the request is surely over —
//! and a change that rolled back leaves nothing to recover. The audit write is made to fail for
//! real, by a trigger on `audit_log` that raises on insert.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cofre::clock::Clock;
use cofre::domain::audit::request::{self, AuditedRequest};
use cofre::domain::authorization::Resource;
use cofre::service::integrity::chain::{self, Verdict};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Acquire, Executor, Row};

use crate::helpers::{Backend, Reply, TestApp, canary};
use crate::mysafe::user_key;
use crate::on_both_stores;
use crate::store_outages::assert_unavailable;

on_both_stores!(
    a_change_whose_record_failed_is_audited_by_recovery,
    a_change_completed_after_its_deadline_is_audited,
    only_a_write_that_changed_a_row_leaves_a_pending_row,
    writers_while_the_audit_fails_on_and_off_are_each_audited_once,
);

/// Short, so that recovery (which waits two request timeouts by the server's clock) is near.
const TIMEOUT_SECS: u64 = 5;

/// Makes every insert into `table` for which `when` (over `NEW`) holds fail, under `name`.
async fn fail_inserts(app: &TestApp, name: &str, table: &str, when: &str) {
    let statements = match app.state.core.store.backend() {
        cofre::store::Backend::Sqlite => vec![format!(
            "CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {when} BEGIN SELECT RAISE(ABORT, '{name}'); END"
        )],
        cofre::store::Backend::Postgres => vec![
            format!(
                "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION '{name}'; END $$"
            ),
            format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {name}()"
            ),
        ],
    };
    for sql in statements {
        exec(app, &sql).await;
    }
}

/// A switch for the audit store: once installed, every insert into `audit_log` fails while
/// `audit_fault.refuse` is 1 (as a full disk or a revoked grant would have it). A switch rather
/// than creating and dropping a trigger each time: SQLite checks a new trigger's name against
/// the schema its connection last read, which another connection's drop may have outdated.
async fn install_audit_fault(app: &TestApp) {
    exec(app, "CREATE TABLE audit_fault (refuse BIGINT NOT NULL)").await;
    exec(app, "INSERT INTO audit_fault (refuse) VALUES (0)").await;
    match app.state.core.store.backend() {
        cofre::store::Backend::Sqlite => {
            exec(
                app,
                "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log WHEN (SELECT refuse FROM audit_fault) = 1 \
                 BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
            )
            .await;
        }
        cofre::store::Backend::Postgres => {
            exec(
                app,
                "CREATE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF (SELECT refuse FROM audit_fault) = 1 THEN RAISE EXCEPTION 'audit refused'; END IF; \
                 RETURN NEW; END $$",
            )
            .await;
            exec(
                app,
                "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_refused()",
            )
            .await;
        }
    }
}

/// Unprepared: schema changes are not statements to cache.
async fn exec(app: &TestApp, sql: &str) {
    sqlx::raw_sql(sql).execute(app.state.core.store.pool()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn refuse_audit(app: &TestApp) {
    exec(app, "UPDATE audit_fault SET refuse = 1").await;
}

async fn accept_audit(app: &TestApp) {
    exec(app, "UPDATE audit_fault SET refuse = 0").await;
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    let row = sqlx::query(sql).bind(bind).fetch_one(app.state.core.store.pool()).await.expect(sql);
    row.get::<i64, _>("n")
}

/// The records chained for `request_id`: (status, outcome, method, route, client ip,
/// authorization id, detail).
async fn records_of(
    app: &TestApp,
    request_id: &str,
) -> Vec<(i64, String, String, String, String, Option<i64>, String)> {
    let rows = sqlx::query(
        "SELECT status, outcome, method, route, client_ip, authorization_id, detail FROM audit_log \
         WHERE request_id = $1 ORDER BY seq",
    )
    .bind(request_id)
    .fetch_all(app.state.core.store.pool())
    .await
    .expect("records");
    rows.iter()
        .map(|r| {
            (
                r.get("status"),
                r.get("outcome"),
                r.get("method"),
                r.get("route"),
                r.get("client_ip"),
                r.get("authorization_id"),
                r.get("detail"),
            )
        })
        .collect()
}

async fn pending_rows(app: &TestApp) -> i64 {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM pending_audit").fetch_one(app.state.core.store.pool()).await;
    row.expect("pending rows").get::<i64, _>("n")
}

/// How many records each request whose id starts with `prefix` has.
async fn record_counts(app: &TestApp, prefix: &str) -> HashMap<String, i64> {
    sqlx::query("SELECT request_id, COUNT(*) AS n FROM audit_log WHERE request_id LIKE $1 GROUP BY request_id")
        .bind(format!("{prefix}%"))
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("records")
        .iter()
        .map(|r| (r.get("request_id"), r.get("n")))
        .collect()
}

fn request_id(reply: &Reply) -> String {
    reply.headers["x-request-id"].to_str().expect("ascii").to_owned()
}

/// Waits (a recovery pass runs every few seconds) until every one of `ids` has a record.
async fn wait_until_audited(app: &TestApp, ids: &[String]) {
    for _ in 0..300 {
        let mut missing = Vec::new();
        for id in ids {
            if records_of(app, id).await.is_empty() {
                missing.push(id.clone());
            }
        }
        if missing.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("changes stored without an audit record: requests {ids:?}");
}

async fn verified_intact(app: &TestApp) {
    let core = &app.state.core;
    let verdict = chain::verify(core, &core.audit_chain_key(), 1, &[]).await.expect("verify runs");
    assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");
}

fn scim_user(name: &str, password: &str) -> String {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "password": password})
        .to_string()
}

async fn a_change_whose_record_failed_is_audited_by_recovery(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.request_timeout = TIMEOUT_SECS).await;
    let info = app.client(&[Resource::Info]).await;
    let owner = user_key(&app, "owner").await;
    let iga = app.client(&[Resource::Scim]).await;
    user_key(&app, "friend").await;
    install_audit_fault(&app).await;
    let secret = canary();

    let before = app.post_json(&info, "/iso/pam/info", json!({"identifier": "before", "content": "x"})).await;
    assert_eq!(before.status, StatusCode::CREATED, "{}", before.body);

    refuse_audit(&app).await;
    let refused = [
        app.post_json(&info, "/iso/pam/info", json!({"identifier": "during", "content": secret})).await,
        app.post_json(&owner, "/api/mysafe/password", json!({"name": "during", "username": "u", "password": secret}))
            .await,
        app.send(
            app.authed(&iga, Method::POST, "/scim/v2/Users")
                .header("content-type", "application/scim+json")
                .body(scim_user("during", &secret)),
        )
        .await,
    ];
    for reply in &refused {
        assert_unavailable(reply, "a change whose audit record failed");
        assert!(!reply.body.to_string().contains(&secret));
    }
    // The changes committed before their records failed: they are there.
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM protected_info WHERE identifier = $1", "during").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM mysafe_items WHERE name = $1", "during").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM users WHERE username = $1", "during").await, 1);

    // Changes that roll back (a failing statement; a transaction failing at its second step)
    // leave nothing to recover.
    fail_inserts(&app, "info_refused", "protected_info", "NEW.identifier = 'rolled-back'").await;
    fail_inserts(&app, "share_refused", "mysafe_shares", "1 = 1").await;
    let rolled_back = [
        app.post_json(&info, "/iso/pam/info", json!({"identifier": "rolled-back", "content": "x"})).await,
        app.post_json(
            &owner,
            "/api/mysafe/password",
            json!({"name": "rolled-back", "username": "u", "password": "p", "users_allowed": [{"username": "friend"}]}),
        )
        .await,
    ];
    for reply in &rolled_back {
        assert!(reply.status.is_server_error(), "{} {}", reply.status, reply.body);
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM protected_info WHERE identifier = $1", "rolled-back").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM mysafe_items WHERE name = $1", "rolled-back").await, 0);

    accept_audit(&app).await;
    // Recovery takes a pending row once its request is surely over: two request timeouts.
    app.clock.advance_secs(2 * TIMEOUT_SECS as i64 + 1);
    let ids: Vec<String> = refused.iter().map(request_id).collect();
    wait_until_audited(&app, &ids).await;

    let routes = ["/iso/pam/info", "/api/mysafe/password", "/scim/v2/Users"];
    let callers = [info.app.authorization_id, owner.app.authorization_id, iga.app.authorization_id];
    for ((id, route), caller) in ids.iter().zip(routes).zip(callers) {
        let records = records_of(&app, id).await;
        assert_eq!(records.len(), 1, "one record for {route}: {records:?}");
        let (status, outcome, method, recorded_route, ip, authorization, detail) = &records[0];
        assert_eq!((*status, outcome.as_str()), (200, "committed"), "{route}: {detail}");
        assert_eq!((method.as_str(), recorded_route.as_str(), ip.as_str()), ("POST", route, "127.0.0.1"));
        assert_eq!(*authorization, Some(caller), "{route}: the caller is recorded");
        assert!(detail.contains("recovered"), "{route}: {detail}");
        assert!(!detail.contains(&secret), "{route}: a secret reached the audit trail: {detail}");
    }
    let info_detail: Value = serde_json::from_str(&records_of(&app, &ids[0]).await[0].6).expect("json");
    let mask = app.state.core.audit_mask(secret.as_bytes());
    assert_eq!(info_detail["params"]["content"], json!(mask), "the request's masked parameters: {info_detail}");
    let writes = info_detail["writes"].as_array().expect("the writes it made");
    assert!(writes.contains(&json!("INSERT protected_info")), "{info_detail}");

    // The ordinary request's own record accounted for its change: recovery added none.
    assert_eq!(records_of(&app, &request_id(&before)).await.len(), 1);
    // Nothing was recovered for the changes that rolled back, and nothing is left pending.
    for reply in &rolled_back {
        assert!(records_of(&app, &request_id(reply)).await.is_empty(), "a rolled-back change was recovered");
    }
    assert_eq!(pending_rows(&app).await, 0);
    verified_intact(&app).await;
}

/// A change held up past its request's deadline: the client is told it timed out (and that
/// record is chained at once), then the change completes; recovery records that it did.
async fn a_change_completed_after_its_deadline_is_audited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.request_timeout = 1).await;
    let client = app.client(&[Resource::Info]).await;
    let mut holder = app.state.core.store.pool().acquire().await.expect("connection");
    let (lock, release) = match app.state.core.store.backend() {
        cofre::store::Backend::Sqlite => ("BEGIN IMMEDIATE", "COMMIT"),
        cofre::store::Backend::Postgres => ("BEGIN; LOCK TABLE protected_info IN ACCESS EXCLUSIVE MODE", "COMMIT"),
    };
    holder.acquire().await.expect("connection").execute(lock).await.expect("lock taken");
    let released = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        holder.acquire().await.expect("connection").execute(release).await.expect("lock released");
    });
    let timed_out = app.post_json(&client, "/iso/pam/info", json!({"identifier": "late", "content": "c"})).await;
    assert_eq!(timed_out.body["response"]["message"], "Request timed out.", "{}", timed_out.body);
    released.await.expect("released");
    for _ in 0..100 {
        if count(&app, "SELECT COUNT(*) AS n FROM protected_info WHERE identifier = $1", "late").await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM protected_info WHERE identifier = $1", "late").await, 1);

    app.clock.advance_secs(3);
    let id = request_id(&timed_out);
    for _ in 0..100 {
        if records_of(&app, &id).await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let records = records_of(&app, &id).await;
    let answers: Vec<(i64, &str)> = records.iter().map(|r| (r.0, r.1.as_str())).collect();
    assert_eq!(answers, [(503, "error"), (200, "committed")], "the refusal, then the change: {records:?}");
    verified_intact(&app).await;
}

/// Within a request, a write that changed a row leaves a pending row naming it; one that
/// matched no row (a conditional write that lost) takes its row back in its own transaction.
async fn only_a_write_that_changed_a_row_leaves_a_pending_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info]).await;
    let created = app.post_json(&client, "/iso/pam/info", json!({"identifier": "kept", "content": "c"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let store = &app.state.core.store;
    let id = store.info_id("kept").await.expect("id");
    let now = app.state.core.now();
    // Made now by the server's clock, which stays put: recovery leaves the rows alone.
    let at = app.clock.now_ms();
    let within = |request_id: &str| {
        Arc::new(AuditedRequest::new(request_id.into(), "127.0.0.1".into(), "POST".into(), "/test".into(), at))
    };
    request::within(within("changed-one"), store.disable_info(id, now)).await.expect("disabled");
    request::within(within("changed-none"), store.disable_info(id + 1_000, now)).await.expect("matched none");
    let pending = sqlx::query("SELECT request_id, write FROM pending_audit ORDER BY request_id")
        .fetch_all(store.pool())
        .await
        .expect("pending rows");
    let pending: Vec<(String, String)> = pending.iter().map(|r| (r.get("request_id"), r.get("write"))).collect();
    assert_eq!(pending, [("changed-one".to_owned(), "UPDATE protected_info".to_owned())]);
    // Outside a request, writes leave none.
    store.disable_info(id, now).await.expect("disabled again");
    assert_eq!(pending_rows(&app).await, 1);
}

/// Many writers at once while the audit store fails and recovers, and recovery runs between
/// them: afterwards every stored item has exactly one record of the request that created it —
/// its own, or recovery's — never none and never two.
async fn writers_while_the_audit_fails_on_and_off_are_each_audited_once(backend: Backend) {
    let app = Arc::new(TestApp::spawn_with(backend, |c| c.request_timeout = TIMEOUT_SECS).await);
    let client = Arc::new(app.client(&[Resource::Info]).await);
    install_audit_fault(&app).await;
    let done = Arc::new(AtomicBool::new(false));
    let toggler = {
        let (app, done) = (app.clone(), done.clone());
        tokio::spawn(async move {
            let mut round = 0;
            while !done.load(Ordering::SeqCst) {
                refuse_audit(&app).await;
                tokio::time::sleep(Duration::from_millis(120)).await;
                accept_audit(&app).await;
                // Every other round, the pending rows so far look old: recovery runs among the writers.
                if round % 2 == 1 {
                    app.clock.advance_secs(2 * TIMEOUT_SECS as i64 + 1);
                }
                round += 1;
                tokio::time::sleep(Duration::from_millis(120)).await;
            }
        })
    };
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (app, client) = (app.clone(), client.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for i in 0..25 {
                    let id = format!("w-{w}-{i}");
                    let request = app
                        .authed(&client, Method::POST, "/iso/pam/info")
                        .header("x-request-id", &id)
                        .json(&json!({"identifier": id, "content": "c"}));
                    statuses.push((id, app.send(request).await.status));
                }
                statuses
            })
        })
        .collect();
    let mut replies = Vec::new();
    for writer in writers {
        replies.extend(writer.await.expect("writer"));
    }
    done.store(true, Ordering::SeqCst);
    toggler.await.expect("toggler");

    let created: Vec<&String> = replies.iter().filter(|(_, s)| *s == StatusCode::CREATED).map(|(id, _)| id).collect();
    let refused = replies.iter().filter(|(_, s)| *s == StatusCode::SERVICE_UNAVAILABLE).count();
    assert!(!created.is_empty() && refused > 0, "the audit store failed and recovered: {replies:?}");
    assert_eq!(created.len() + refused, replies.len(), "only 201 or 503: {replies:?}");

    app.clock.advance_secs(2 * TIMEOUT_SECS as i64 + 1);
    let stored: Vec<String> = sqlx::query("SELECT identifier FROM protected_info WHERE identifier LIKE 'w-%'")
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("items")
        .iter()
        .map(|r| r.get("identifier"))
        .collect();
    for id in &created {
        assert!(stored.contains(id), "an acknowledged write is missing: {id}");
    }
    let mut counts = HashMap::new();
    for _ in 0..300 {
        counts = record_counts(&app, "w-").await;
        if stored.iter().all(|id| counts.contains_key(id)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &stored {
        assert_eq!(counts.get(id), Some(&1), "exactly one record for the request that created {id}");
    }
    verified_intact(&app).await;
}
