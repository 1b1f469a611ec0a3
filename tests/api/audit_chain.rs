//! The audit trail is one chain per store: `cofre audit verify` finds and names every kind of
//! tampering, and checkpoints outside the database catch a trail cut short.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

use cofre::domain::audit::AuditRecord;
use cofre::domain::authorization::Resource;
use cofre::service::integrity::chain::{self, Verdict};

use crate::cli::cofre_outcome;
use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    two_processes_write_one_chain_and_the_head_is_served,
    each_kind_of_tampering_is_found_and_located,
    a_cut_tail_is_caught_by_the_head_and_by_checkpoints,
    the_cli_verifies_checkpoints_and_exports,
    a_writer_whose_head_went_stale_relinks_its_batch,
    a_row_outside_the_chain_fails_verify_by_its_id,
    a_cut_tail_is_caught_by_the_default_checkpoints,
    a_head_rewound_behind_its_trail_fails_verify,
);

/// `n` job records written by `tasks` callers at once through `app`'s audit writer.
async fn write_records(app: &TestApp, tasks: usize, n: usize, tag: &str) {
    let per = n / tasks;
    join_all((0..tasks).map(|t| {
        let audit = &app.state.audit;
        async move {
            for i in 0..per {
                let record =
                    AuditRecord::for_job(1_000 + i as i64, "JOB", format!("{tag}/{t}/{i}"), 200, json!({"i": i}));
                audit.record(record).await.expect("durable");
            }
        }
    }))
    .await;
}

async fn verdict(app: &TestApp, checkpoints: &[chain::Checkpoint]) -> Verdict {
    let core = &app.state.core;
    chain::verify(core, &core.audit_chain_key(), 1, checkpoints).await.expect("verify runs")
}

fn broken(seq: i64, problem: &str) -> Verdict {
    Verdict::Broken { seq, problem: problem.to_owned() }
}

async fn head_seq(app: &TestApp) -> i64 {
    app.state.core.store.audit_head().await.expect("head").seq
}

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql).execute(app.state.core.store.pool()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn two_processes_write_one_chain_and_the_head_is_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.sibling(0).await;
    let admin = app.client(&[Resource::Admin]).await;
    let before = head_seq(&app).await;
    tokio::join!(write_records(&app, 8, 400, "a"), write_records(&other, 8, 400, "b"));
    let after = head_seq(&app).await;
    assert_eq!(after - before, 800, "every record has its own place");
    let Verdict::Intact { from: 1, to, count } = verdict(&app, &[]).await else { panic!("intact") };
    assert_eq!((to, count), (after, after as u64));
    let seqs: Vec<i64> = sqlx::query("SELECT seq FROM audit_log WHERE seq IS NOT NULL ORDER BY seq")
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("seqs")
        .iter()
        .map(|r| r.get::<i64, _>("seq"))
        .collect();
    assert_eq!(seqs, (1..=after).collect::<Vec<_>>(), "no gap, no duplicate");

    let head = app.call(&admin, Method::GET, "/api/admin/audit/head").await;
    assert_eq!(head.status, StatusCode::OK, "{}", head.body);
    assert_eq!(head.body["response"]["message"], "Audit chain head");
    let served: i64 = head.body["head"]["seq"].as_str().expect("seq").parse().expect("number");
    assert_eq!(served, after, "the head as it stood when the request was served (its own record comes after)");
    assert_eq!(head.body["head"]["mac"].as_str().expect("mac").len(), 64);
    let narrow = app.client(&[Resource::Pam]).await;
    let refused = app.call(&narrow, Method::GET, "/api/admin/audit/head").await;
    assert!(refused.status.is_client_error() || refused.status.is_server_error(), "{}", refused.body);
    assert!(refused.body["head"].is_null(), "{}", refused.body);
    other.stop();
}

async fn each_kind_of_tampering_is_found_and_located(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    write_records(&app, 4, 200, "t").await;
    assert!(matches!(verdict(&app, &[]).await, Verdict::Intact { .. }));

    // Edited in place, then put back.
    let original = sqlx::query("SELECT detail, status FROM audit_log WHERE seq = 50")
        .fetch_one(app.state.core.store.pool())
        .await
        .expect("row");
    let (detail, status): (String, i64) = (original.get("detail"), original.get("status"));
    exec(&app, "UPDATE audit_log SET detail = '{\"i\":999}' WHERE seq = 50").await;
    assert_eq!(verdict(&app, &[]).await, broken(50, "record 50 was altered in place"));
    exec(&app, "UPDATE audit_log SET status = 403 WHERE seq = 50").await;
    assert_eq!(verdict(&app, &[]).await, broken(50, "record 50 was altered in place"));
    sqlx::query("UPDATE audit_log SET detail = $1, status = $2 WHERE seq = 50")
        .bind(detail)
        .bind(status)
        .execute(app.state.core.store.pool())
        .await
        .expect("put back");
    assert!(matches!(verdict(&app, &[]).await, Verdict::Intact { .. }), "put back, it verifies");

    // Deleted in the middle.
    exec(&app, "DELETE FROM audit_log WHERE seq = 60").await;
    assert_eq!(verdict(&app, &[]).await, broken(60, "record 60 is missing: deleted"));
    exec(&app, "DELETE FROM audit_log WHERE seq BETWEEN 61 AND 63").await;
    assert_eq!(verdict(&app, &[]).await, broken(60, "records 60 to 63 are missing: deleted"));

    // Deleted, and the rest renumbered to hide the gap.
    let app = TestApp::spawn(fresh_backend(&app)).await;
    write_records(&app, 1, 120, "r").await;
    exec(&app, "DELETE FROM audit_log WHERE seq = 70").await;
    exec(&app, "UPDATE audit_log SET seq = -seq WHERE seq > 70").await;
    exec(&app, "UPDATE audit_log SET seq = -seq - 1 WHERE seq < 0").await;
    assert_eq!(verdict(&app, &[]).await, broken(70, "record 70 was deleted, and the ones after it renumbered"));

    // Two records swapped.
    let app = TestApp::spawn(fresh_backend(&app)).await;
    write_records(&app, 1, 120, "s").await;
    exec(&app, "UPDATE audit_log SET seq = -1 WHERE seq = 80").await;
    exec(&app, "UPDATE audit_log SET seq = 80 WHERE seq = 81").await;
    exec(&app, "UPDATE audit_log SET seq = 81 WHERE seq = -1").await;
    assert_eq!(verdict(&app, &[]).await, broken(80, "records 80 and 81 were swapped"));
    exec(&app, "UPDATE audit_log SET seq = -1 WHERE seq = 80").await;
    exec(&app, "UPDATE audit_log SET seq = 80 WHERE seq = 81").await;
    exec(&app, "UPDATE audit_log SET seq = 81 WHERE seq = -1").await;
    assert!(matches!(verdict(&app, &[]).await, Verdict::Intact { .. }), "put back, it verifies");

    // A forged record inserted outside the chain: the store refuses it, and with its guard
    // dropped verify finds it. Then one inserted with the rest renumbered.
    let forge = "INSERT INTO audit_log (at_ms, request_id, client_ip, method, route, status, outcome, detail) \
                 VALUES (1, 'forged', '-', 'GET', '/x', 200, 'success', '{}')";
    let refused = sqlx::query(forge).execute(app.state.core.store.pool()).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("audit_log")), "a row outside the chain is refused");
    drop_chain_guard(&app).await;
    exec(&app, forge).await;
    let Verdict::Broken { problem, .. } = verdict(&app, &[]).await else { panic!("insertion found") };
    assert!(problem.ends_with("has no place in the chain: it was inserted"), "{problem}");
    exec(&app, "DELETE FROM audit_log WHERE request_id = 'forged'").await;
    exec(&app, "UPDATE audit_log SET seq = -seq - 1 WHERE seq >= 90").await;
    exec(&app, "UPDATE audit_log SET seq = -seq WHERE seq < 0").await;
    exec(
        &app,
        "INSERT INTO audit_log (at_ms, request_id, client_ip, method, route, status, outcome, detail, seq, mac) \
         SELECT at_ms, 'forged', client_ip, method, route, status, outcome, '{\"forged\":1}', 90, mac FROM audit_log WHERE seq = 91",
    )
    .await;
    assert_eq!(verdict(&app, &[]).await, broken(90, "a record was inserted at 90, and the ones after it renumbered"));
}

/// A fresh store of the same kind as `app`'s.
fn fresh_backend(app: &TestApp) -> Backend {
    if app.config.database_url().starts_with("sqlite:") { Backend::Sqlite } else { Backend::postgres() }
}

async fn a_cut_tail_is_caught_by_the_head_and_by_checkpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let witness = app.data_dir.path().join("witness");
    write_records(&app, 4, 400, "c").await;
    let mark = chain::checkpoint(&app.state.core, &witness).await.expect("checkpoint");
    let checkpoints = chain::read_checkpoints(&witness).expect("read");
    assert_eq!(checkpoints, std::slice::from_ref(&mark));
    assert!(matches!(verdict(&app, &checkpoints).await, Verdict::Intact { .. }));
    let last = mark.seq;

    // The last hundred records cut off: the head row still says where the trail ended.
    exec(&app, &format!("DELETE FROM audit_log WHERE seq > {}", last - 100)).await;
    let expected = format!(
        "the trail ends at record {} but the chain's head is at record {last}: the last 100 records were removed",
        last - 100
    );
    assert_eq!(verdict(&app, &[]).await, broken(last - 99, &expected));

    // The head rewritten to match: only the checkpoint outside the database knows.
    exec(
        &app,
        &format!(
            "UPDATE audit_chain SET seq = {0}, mac = (SELECT mac FROM audit_log WHERE seq = {0}) WHERE id = 1",
            last - 100
        ),
    )
    .await;
    assert!(matches!(verdict(&app, &[]).await, Verdict::Intact { .. }), "without a witness the cut is invisible");
    let Verdict::Broken { seq, problem } = verdict(&app, &checkpoints).await else { panic!("cut found") };
    assert_eq!(seq, last - 99);
    assert!(
        problem.starts_with(&format!("the trail ends at record {} but the checkpoint of ", last - 100))
            && problem.ends_with(&format!("is at record {last}: the last 100 records were removed")),
        "{problem}"
    );
}

async fn the_cli_verifies_checkpoints_and_exports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    write_records(&app, 2, 100, "x").await;
    let witness = app.data_dir.path().join("witness");
    let witness_flag = witness.display().to_string();
    let (ok, out, err) = cofre_outcome(&app, &["audit", "checkpoint", "--checkpoint-file", &witness_flag], "");
    assert!(ok, "{err}");
    assert!(out.starts_with(&format!("checkpoint written to {witness_flag}: record ")), "{out}");
    let (ok, out, err) = cofre_outcome(&app, &["audit", "verify", "--checkpoint-file", &witness_flag], "");
    assert!(ok, "{err}");
    assert!(out.starts_with("audit trail intact: ") && out.contains("1 checkpoints held"), "{out}");

    let (ok, out, err) = cofre_outcome(&app, &["audit", "export", "--since", "5", "--format", "jsonl"], "");
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines[0]["seq"], 5);
    assert!(lines.windows(2).all(|w| w[1]["seq"].as_i64() == w[0]["seq"].as_i64().map(|s| s + 1)));
    assert!(lines.iter().all(|l| l["mac"].as_str().is_some_and(|m| m.len() == 64) && l["route"].is_string()));
    let (ok, _, err) = cofre_outcome(&app, &["audit", "export", "--format", "csv"], "");
    assert!(!ok && err.contains("only jsonl"), "{err}");

    exec(&app, "UPDATE audit_log SET route = '/hidden' WHERE seq = 20").await;
    let (ok, _, err) = cofre_outcome(&app, &["audit", "verify", "--checkpoint-file", &witness_flag], "");
    assert!(!ok, "a broken trail fails the command");
    assert!(err.contains("audit trail broken at record 20: record 20 was altered in place"), "{err}");
    let (ok, out, err) =
        cofre_outcome(&app, &["audit", "verify", "--since", "21", "--checkpoint-file", &witness_flag], "");
    assert!(ok, "from 21 on the trail holds: {err}");
    assert!(out.contains(" verified (21 to "), "{out}");
}

/// A long chain written in large batches verifies whole. With `COFRE_BENCH_RECORDS` set (a
/// million in `bench/audit_verify.sh`) it is also the benchmark: the time is printed, never
/// asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_chain_written_in_large_batches_verifies() {
    let records: usize = std::env::var("COFRE_BENCH_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let backend = match std::env::var(crate::helpers::POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Backend::Postgres(url),
        _ => Backend::Sqlite,
    };
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let key = core.audit_chain_key();
    let started = std::time::Instant::now();
    let batch: Vec<AuditRecord> = (0..1000)
        .map(|i| {
            AuditRecord::for_job(
                i,
                "JOB",
                format!("/bench/{i}"),
                200,
                json!({"i": i, "note": "a typical detail object"}),
            )
        })
        .collect();
    for _ in 0..records / batch.len() {
        core.store.append_audit(&batch, |prev, seq, r| key.link(prev, seq, r)).await.expect("append");
    }
    let filled = started.elapsed();
    let started = std::time::Instant::now();
    let verdict = verdict(&app, &[]).await;
    let took = started.elapsed();
    let Verdict::Intact { count, .. } = verdict else { panic!("{verdict:?}") };
    assert_eq!(count, (records / batch.len() * batch.len()) as u64);
    println!(
        "audit verify: {count} records in {:.2} s ({:.0} records/s); filling took {:.1} s",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        filled.as_secs_f64()
    );
}

/// A writer remembers where it left the chain (on PostgreSQL its next batch is then one
/// statement); when another writer appended in between, its batch must land after theirs,
/// relinked, never beside them.
async fn a_writer_whose_head_went_stale_relinks_its_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = &app.state.core.store;
    let key = app.state.core.audit_chain_key();
    let link = |prev: &[u8], seq: i64, r: &AuditRecord| key.link(prev, seq, r);
    let batch = |tag: &str| -> Vec<AuditRecord> {
        (0..3).map(|i| AuditRecord::for_job(i, "JOB", format!("/stale/{tag}/{i}"), 200, json!({"i": i}))).collect()
    };
    let mut known = None;
    store.append_audit_after(&mut known, &batch("mine"), &[], link).await.expect("first");
    let left = known.clone().expect("the writer knows its head");
    assert_eq!(left.0, head_seq(&app).await);
    store.append_audit(&batch("theirs"), link).await.expect("another writer");
    store.append_audit_after(&mut known, &batch("mine again"), &[], link).await.expect("after a stale head");
    let head = store.audit_head().await.expect("head");
    assert_eq!(known, Some((head.seq, head.mac.clone())), "the writer knows the new head");
    assert_eq!(head.seq, left.0 + 6);
    let Verdict::Intact { count, .. } = verdict(&app, &[]).await else { panic!("the chain broke") };
    assert!(count >= 9, "{count}");
    let routes: Vec<String> = sqlx::query("SELECT route FROM audit_log WHERE seq > $1 ORDER BY seq")
        .bind(left.0)
        .fetch_all(store.pool())
        .await
        .expect("rows")
        .iter()
        .map(|row| row.get::<String, _>("route"))
        .collect();
    assert_eq!(routes.len(), 6);
    assert!(routes[..3].iter().all(|r| r.contains("theirs")) && routes[3..].iter().all(|r| r.contains("mine again")));
}

/// Every row of the trail is in the chain: a row `cofre audit tail` shows with no sequence
/// number, or one below the chain's first, fails `cofre audit verify`, which names it, even
/// after the store's own guard against such rows was dropped (as SQL access allows).
async fn a_row_outside_the_chain_fails_verify_by_its_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    write_records(&app, 1, 20, "n").await;
    drop_chain_guard(&app).await;
    exec(
        &app,
        "INSERT INTO audit_log (id, at_ms, request_id, client_ip, method, route, status, outcome, detail) \
         VALUES (0, 1, 'forged', '-', 'GET', '/forged-null', 200, 'success', '{}')",
    )
    .await;
    let (ok, tail, err) = cofre_outcome(&app, &["audit", "tail", "-n", "10000"], "");
    assert!(ok && tail.contains("/forged-null"), "tail shows the forged row: {tail}{err}");
    let (ok, out, err) = cofre_outcome(&app, &["audit", "verify"], "");
    assert!(!ok, "a row outside the chain must fail verify: {out}");
    assert!(err.contains("row id 0 (seq NULL) has no place in the chain: it was inserted"), "{err}");

    exec(&app, "DELETE FROM audit_log WHERE id = 0").await;
    exec(
        &app,
        "INSERT INTO audit_log (id, at_ms, request_id, client_ip, method, route, status, outcome, detail, seq) \
         VALUES (-7, 1, 'forged', '-', 'GET', '/forged-negative', 200, 'success', '{}', -3)",
    )
    .await;
    let (ok, out, err) = cofre_outcome(&app, &["audit", "verify"], "");
    assert!(!ok, "a row numbered before the chain must fail verify: {out}");
    assert!(err.contains("row id -7 (seq -3) has no place in the chain: it was inserted"), "{err}");
    exec(&app, "DELETE FROM audit_log WHERE id = -7").await;
    let (ok, out, err) = cofre_outcome(&app, &["audit", "verify"], "");
    assert!(ok && out.starts_with("audit trail intact: "), "{out}{err}");
}

/// Drops what keeps rows without a sequence number out of `audit_log` (migration 0020).
async fn drop_chain_guard(app: &TestApp) {
    if app.config.database_url().starts_with("sqlite:") {
        exec(app, "DROP TRIGGER IF EXISTS audit_log_chained_insert").await;
        exec(app, "DROP TRIGGER IF EXISTS audit_log_chained_update").await;
    } else {
        exec(app, "ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_chained").await;
    }
}

/// With no checkpoint file configured the server still writes checkpoints, to one in its data
/// directory, and `cofre audit verify` reads it: a tail cut with the head rewound fails.
async fn a_cut_tail_is_caught_by_the_default_checkpoints(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.audit_checkpoint_interval = 1).await;
    assert_eq!(app.config.audit_checkpoint_file, None);
    write_records(&app, 2, 200, "d").await;
    let head = head_seq(&app).await;
    let default = app.data_dir.path().join("audit.checkpoint");
    for _ in 0..50 {
        if chain::read_checkpoints(&default).unwrap_or_default().iter().any(|c| c.seq == head) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    exec(&app, &format!("DELETE FROM audit_log WHERE seq > {}", head - 50)).await;
    exec(&app, &rewind_head(head - 50)).await;
    let (ok, out, err) = cofre_outcome(&app, &["audit", "verify"], "");
    assert!(!ok, "the cut must be caught without a configured checkpoint file: {out}{err}");
    let expected = format!("the trail ends at record {} but the checkpoint of ", head - 50);
    let removed = format!("is at record {head}: the last 50 records were removed");
    assert!(err.contains(&expected) && err.contains(&removed), "{err}");
}

/// The head moved back while the records after it stay: verify fails (and the next append
/// would collide with them).
async fn a_head_rewound_behind_its_trail_fails_verify(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    write_records(&app, 2, 100, "h").await;
    let head = head_seq(&app).await;
    exec(&app, &rewind_head(head - 10)).await;
    let (ok, out, err) = cofre_outcome(&app, &["audit", "verify"], "");
    assert!(!ok, "a rewound head must fail verify: {out}");
    let expected = format!(
        "audit trail broken at record {}: the chain's head is at record {} but the trail goes on to record {head}: \
         the head was rewound",
        head - 9,
        head - 10
    );
    assert!(err.contains(&expected), "{err}");
}

/// SQL that moves the chain's head back to record `to`, its MAC with it.
fn rewind_head(to: i64) -> String {
    format!("UPDATE audit_chain SET seq = {to}, mac = (SELECT mac FROM audit_log WHERE seq = {to}) WHERE id = 1")
}
