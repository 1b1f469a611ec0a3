//! MySafe file downloads stream (issue 12): the content comes back byte-identical in the same
//! envelope, memory stays bounded by a few chunks whatever the file's size, and a failure after
//! the headers breaks the response (and is audited) instead of truncating it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Backend, Client, TestApp, success_block};
use crate::mysafe::user_key;
use crate::on_both_stores;

on_both_stores!(
    files_of_every_shape_come_back_identical,
    a_chunk_that_cannot_be_read_breaks_the_download,
    a_file_replaced_mid_download_is_never_mixed,
    download_memory_stays_bounded
);

const CHUNK: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;
/// Uploading tens of MiB through a debug build on a loaded machine can take longer than the
/// default request deadline; the uploads are not what is tested.
const LARGE_UPLOAD_SECS: u64 = 600;
/// Set in the process the memory test re-runs itself in.
const RSS_CHILD: &str = "COFRE_TEST_RSS_CHILD";

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    getrandom::getrandom(&mut bytes).expect("random");
    bytes
}

async fn upload(app: &TestApp, owner: &Client, name: &str, content: Vec<u8>) -> String {
    let form = reqwest::multipart::Form::new()
        .text("name", name.to_owned())
        .part("file", reqwest::multipart::Part::bytes(content).file_name(name.to_owned()));
    let created = app.send(app.authed(owner, Method::POST, "/api/mysafe/file").multipart(form)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["file_entity"]["identifier"].as_str().expect("id").to_owned()
}

async fn download(app: &TestApp, owner: &Client, id: &str) -> reqwest::Response {
    app.authed(owner, Method::GET, &format!("/api/mysafe/file/{id}")).send().await.expect("sent")
}

async fn files_of_every_shape_come_back_identical(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ana = user_key(&app, "ana").await;
    // Many chunks, a size that is neither a multiple of 3 nor of the chunk; and the edges.
    for len in [5 * MIB + 5, 0, 1, 2, CHUNK, CHUNK + 1, 3 * CHUNK - 1] {
        assert!(len != 5 * MIB + 5 || (len % 3 != 0 && len % CHUNK != 0));
        let content = random_bytes(len);
        let id = upload(&app, &ana, "f.bin", content.clone()).await;
        let response = download(&app, &ana, &id).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["content-type"], "application/json");
        let announced = response.content_length();
        let raw = response.bytes().await.expect("whole body");
        assert_eq!(announced, Some(raw.len() as u64), "the exact length is announced");
        let body: Value = serde_json::from_slice(&raw).expect("one JSON envelope");
        assert_eq!(body["code"], 200);
        assert_eq!(body["response"], success_block(200, "Success"));
        let entity = &body["file_entity"];
        assert_eq!(entity["identifier"], id.as_str());
        assert_eq!((entity["name"].as_str(), entity["size"].as_u64()), (Some("f.bin"), Some(len as u64)));
        let encoded = entity["content"].as_str().expect("content");
        assert_eq!(encoded, STANDARD.encode(&content), "the same base64 as one-shot encoding ({len} bytes)");
    }
}

async fn chunk_rows(app: &TestApp, item: i64) -> Vec<(i64, Vec<u8>)> {
    sqlx::query_as("SELECT seq, data FROM mysafe_file_chunks WHERE item_id = $1 ORDER BY seq")
        .bind(item)
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("chunks")
}

async fn a_chunk_that_cannot_be_read_breaks_the_download(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ana = user_key(&app, "ana").await;
    let pool = app.state.core.store.pool();
    let content = random_bytes(5 * CHUNK + 1);

    // The last chunk sealed for another place: found only after the headers are sent.
    let id = upload(&app, &ana, "late.bin", content.clone()).await;
    let item: i64 = id.parse().expect("numeric id");
    let chunks = chunk_rows(&app, item).await;
    assert_eq!(chunks.len(), 6);
    sqlx::query("UPDATE mysafe_file_chunks SET data = $1 WHERE item_id = $2 AND seq = 5")
        .bind(chunks[4].1.clone())
        .bind(item)
        .execute(pool)
        .await
        .expect("swap");
    let response = download(&app, &ana, &id).await;
    assert_eq!(response.status(), StatusCode::OK, "the failure comes after the headers");
    let request_id = response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(response.bytes().await.is_err(), "the body is broken, not a short envelope");
    let records = app.state.core.store.recent_audit(20).await.expect("audit");
    let mine: Vec<_> =
        records.iter().filter(|r| r.request_id == request_id).map(|r| (r.status, r.outcome.as_str())).collect();
    assert!(mine.contains(&(200, "success")) && mine.contains(&(500, "error")), "{mine:?}");

    // A first chunk that cannot be opened, or a missing chunk, is found before the headers.
    let first = upload(&app, &ana, "first.bin", content.clone()).await;
    sqlx::query("UPDATE mysafe_file_chunks SET data = $1 WHERE item_id = $2 AND seq = 0")
        .bind(chunks[1].1.clone())
        .bind(first.parse::<i64>().expect("id"))
        .execute(pool)
        .await
        .expect("swap");
    let short = upload(&app, &ana, "short.bin", content).await;
    sqlx::query("DELETE FROM mysafe_file_chunks WHERE item_id = $1 AND seq = 5")
        .bind(short.parse::<i64>().expect("id"))
        .execute(pool)
        .await
        .expect("delete");
    for broken in [first, short] {
        let reply = app.call(&ana, Method::GET, &format!("/api/mysafe/file/{broken}")).await;
        // Before, a missing last chunk came back as a shorter file with a 200.
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", reply.body["response"]);
        assert_eq!(reply.body["response"]["message"], "Unexpected error.", "no internal text: {}", reply.body);
        assert!(reply.body.get("file_entity").is_none());
    }
}

async fn a_file_replaced_mid_download_is_never_mixed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.mysafe_file_limit = 17 * MIB;
        c.request_timeout = LARGE_UPLOAD_SECS;
    })
    .await;
    let ana = user_key(&app, "ana").await;
    let old = vec![b'o'; 16 * MIB];
    let id = upload(&app, &ana, "big.bin", old.clone()).await;
    let mut response = download(&app, &ana, &id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response_id = response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    let mut raw = response.chunk().await.expect("first bytes").expect("some").to_vec();
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(vec![b'n'; 16 * MIB]).file_name("big.bin"));
    let replaced =
        app.send(app.authed(&ana, Method::PUT, &format!("/api/mysafe/file/update/{id}")).multipart(form)).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let mut broken = false;
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => raw.extend_from_slice(&bytes),
            Ok(None) => break,
            Err(_) => {
                broken = true;
                break;
            }
        }
    }
    if broken {
        let records = app.state.core.store.recent_audit(20).await.expect("audit");
        assert!(records.iter().any(|r| r.request_id == response_id && r.status == 409), "the break is audited");
    } else {
        // Everything was sent before the change: then it must be the old content whole.
        let body: Value = serde_json::from_slice(&raw).expect("envelope");
        let content = STANDARD.decode(body["file_entity"]["content"].as_str().expect("content")).expect("base64");
        assert!(content == old, "a download is one version of the file, never a mix");
    }
    let again = app.call(&ana, Method::GET, &format!("/api/mysafe/file/{id}")).await;
    let content = STANDARD.decode(again.body["file_entity"]["content"].as_str().expect("content")).expect("base64");
    assert!(content.iter().all(|b| *b == b'n') && content.len() == 16 * MIB);
}

fn status_kib(field: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the process's peak RSS (`VmHWM`), where the kernel allows it.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

async fn download_memory_stays_bounded(backend: Backend) {
    if std::env::var_os(RSS_CHILD).is_none() {
        // RSS belongs to the whole process and the suite runs many tests at once, so the
        // measurement runs alone, in a process of its own: this test binary, filtered to it.
        let store = if matches!(backend, Backend::Sqlite) { "sqlite" } else { "postgres" };
        let name = format!("file_streaming::download_memory_stays_bounded::{store}");
        let out = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(RSS_CHILD, "1")
            .output()
            .await
            .expect("child runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}\n{stderr}");
        return;
    }
    assert!(status_kib("VmRSS:").is_some(), "the memory test needs /proc/self/status (Linux)");
    let size = 64 * MIB;
    let app = TestApp::spawn_with(backend, |c| {
        c.mysafe_file_limit = size + MIB;
        c.request_timeout = LARGE_UPLOAD_SECS;
    })
    .await;
    let ana = user_key(&app, "ana").await;
    let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let id = upload(&app, &ana, "huge.bin", content).await;

    let before = status_kib("VmRSS:").expect("rss");
    let peak_reset = reset_peak();
    let mut response = download(&app, &ana, &id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (mut peak, mut received) = (before, 0usize);
    while let Some(bytes) = response.chunk().await.expect("body") {
        received += bytes.len();
        peak = peak.max(status_kib("VmRSS:").expect("rss"));
    }
    if peak_reset {
        peak = peak.max(status_kib("VmHWM:").expect("hwm"));
    }
    assert!(received > size * 4 / 3, "the whole content was sent: {received} bytes");
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!("downloading {} MiB grew RSS by {growth_mib} MiB (peak reset: {peak_reset})", size / MIB);
    assert!(growth_mib < size / MIB / 4, "memory grew by {growth_mib} MiB for a {} MiB file", size / MIB);
}
