//! SQLite on a filesystem that fills during a write load: every write cofre acknowledged reads back
//! (while the disk is full, once space returns, and after a restart), a write the disk cannot take
//! answers 503, `/ready` says 503 until a write succeeds again, and the database opens afterwards.
//!
//! The data directory is a small tmpfs the test mounts (as root; `.ci/run` runs as root), filled
//! by a file the test writes until the filesystem refuses, then deletes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cofre::domain::authorization::Resource;
use cofre::service::integrity::chain::{self, Verdict};
use reqwest::StatusCode;

use crate::crash::{bearer_token, serve_command, wait_healthy};
use crate::helpers::{Backend, TestApp};
use crate::outage_meter::OutageMeter;

const WRITERS: usize = 8;
/// Small enough to fill in a moment, large enough for the vault's start-up.
const FILESYSTEM_MB: u64 = 24;

/// A tmpfs of `FILESYSTEM_MB` mounted on a temporary directory; unmounted when dropped.
struct SmallFilesystem {
    dir: tempfile::TempDir,
}

impl SmallFilesystem {
    fn mount() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FILESYSTEM_MB}m,mode=0700"), "cofre-test"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(mounted.success(), "mount a tmpfs (the test needs root, as in CI)");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `filler` until the filesystem refuses; returns the bytes written.
    fn fill(&self) -> u64 {
        use std::io::Write;
        let mut file = std::fs::File::create(self.filler()).expect("filler");
        let block = vec![0x5a_u8; 64 * 1024];
        let mut written = 0;
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "the filesystem fills (ENOSPC): {e}");
                    break;
                }
            }
        }
        written
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).expect("remove the filler");
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// `cofre serve` on the vault in `data_dir` (its SQLite database, master key and checkpoint).
fn serve(data_dir: &Path) -> (Child, String) {
    let (mut command, base) = serve_command(data_dir, "");
    command.env("COFRE_REQUEST_TIMEOUT", "5").env("RUST_LOG", "error").stderr(Stdio::inherit());
    (command.spawn().expect("cofre serve runs"), base)
}

fn stop(mut child: Child) {
    // SIGTERM, as an operator would; the process must end by itself in bounded time.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("cofre serve did not stop within 30 s of SIGTERM");
}

#[derive(Default)]
struct Tally {
    acknowledged: Vec<(String, String)>,
    refused: usize,
    /// Acknowledged writes that did not read back at once (any answer but 200 or a 503).
    unreadable: Vec<String>,
}

/// One writer: new items until `stop`; each acknowledged one is read back at once.
async fn write_and_read_back(
    http: reqwest::Client,
    base: String,
    token: String,
    writer: usize,
    stop: Arc<AtomicBool>,
    progress: Arc<AtomicUsize>,
    meter: Arc<OutageMeter>,
) -> Tally {
    let mut tally = Tally::default();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let identifier = format!("full-{writer}-{i}");
        let content = format!("content of {identifier} {}", "x".repeat(512));
        let Ok(response) = http
            .post(format!("{base}/iso/pam/info"))
            .bearer_auth(&token)
            .form(&[("identifier", identifier.as_str()), ("content", content.as_str())])
            .send()
            .await
        else {
            continue;
        };
        let status = response.status();
        let request_id = response.headers().get("x-request-id").map(|v| v.to_str().expect("ascii").to_owned());
        let body = response.text().await.unwrap_or_default();
        match status {
            StatusCode::CREATED => {
                tally.acknowledged.push((identifier.clone(), request_id.expect("request id")));
                progress.fetch_add(1, Ordering::Relaxed);
                meter.success();
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                tally.refused += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            other => panic!("a write answered {other}, neither 201 nor 503: {body}"),
        }
        let read = http.get(format!("{base}/iso/pam/info/{identifier}")).bearer_auth(&token).send().await;
        if let Ok(read) = read
            && !matches!(read.status(), StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE)
        {
            tally.unreadable.push(format!("{identifier}: {} {}", read.status(), read.text().await.unwrap_or_default()));
        }
    }
    tally
}

async fn ready_status(http: &reqwest::Client, base: &str) -> Option<StatusCode> {
    http.get(format!("{base}/ready")).send().await.ok().map(|r| r.status())
}

/// Waits until `/ready` answers `want`, failing after `within`.
async fn wait_ready(http: &reqwest::Client, base: &str, want: StatusCode, within: Duration, when: &str) {
    let deadline = Instant::now() + within;
    let mut last = None;
    while Instant::now() < deadline {
        last = ready_status(http, base).await;
        if last == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{when}: /ready answered {last:?}, not {want}, for {within:?}");
}

async fn wait_progress(progress: &AtomicUsize, beyond: usize, within: Duration, when: &str) {
    let deadline = Instant::now() + within;
    while progress.load(Ordering::Relaxed) <= beyond {
        assert!(Instant::now() < deadline, "{when}: no write acknowledged within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_mount), ignore = "needs COFRE_TEST_MOUNT (root, to mount a tmpfs)")]
async fn a_full_disk_loses_no_acknowledged_write() {
    let disk = SmallFilesystem::mount();
    let data_dir = disk.path().to_path_buf();
    // The in-process app makes the vault on the small filesystem and the client; the load goes
    // to a `cofre serve` process, which is restarted at the end.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.data_dir = data_dir.clone()).await;
    let created = app.create_app(&[Resource::Info], false, &["*"]).await;
    app.stop();
    let (child, base) = serve(&data_dir);
    let http = reqwest::Client::new();
    wait_healthy(&http, &base).await;
    let token = bearer_token(&http, &base, &created).await;

    let stop_writing = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let meter = Arc::new(OutageMeter::start());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            tokio::spawn(write_and_read_back(
                http,
                base,
                token,
                w,
                stop_writing.clone(),
                progress.clone(),
                meter.clone(),
            ))
        })
        .collect();
    wait_progress(&progress, 200, Duration::from_secs(30), "before the disk fills").await;

    // The disk fills under the load: writes are refused (503), never acknowledged and lost, and
    // /ready says the process cannot take writes.
    let filled = disk.fill();
    assert!(filled > 0, "the filler took the free space");
    wait_ready(&http, &base, StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(20), "with the disk full").await;
    // It stays 503 while nothing is written: only a write that succeeds can turn it.
    let acknowledged_then = progress.load(Ordering::Relaxed);
    let mut ready_while_full = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ready_while_full += usize::from(ready_status(&http, &base).await == Some(StatusCode::OK));
    }
    let acknowledged_while_full = progress.load(Ordering::Relaxed) - acknowledged_then;
    println!(
        "disk full: /ready answered 200 {ready_while_full} times in 20, {acknowledged_while_full} writes acknowledged meanwhile"
    );
    assert!(
        ready_while_full == 0 || acknowledged_while_full > 0,
        "/ready answered 200 {ready_while_full} times while the disk was full and no write succeeded"
    );

    // Space returns: writes are acknowledged again without a restart, and /ready says so.
    disk.free();
    let freed = Instant::now();
    let before = progress.load(Ordering::Relaxed);
    wait_progress(&progress, before, Duration::from_secs(30), "after space returned").await;
    println!(
        "outage report: SQLite disk full: writes acknowledged again {:.2} s after space returned",
        freed.elapsed().as_secs_f64()
    );
    wait_progress(&progress, before + 50, Duration::from_secs(30), "after space returned").await;
    wait_ready(&http, &base, StatusCode::OK, Duration::from_secs(20), "after space returned").await;

    stop_writing.store(true, Ordering::Relaxed);
    meter.report("SQLite disk full, then space freed");
    let mut tally = Tally::default();
    for writer in writers {
        let t = writer.await.expect("writer");
        tally.acknowledged.extend(t.acknowledged);
        tally.refused += t.refused;
        tally.unreadable.extend(t.unreadable);
    }
    println!(
        "disk full: {} writes acknowledged, {} refused (filler {filled} bytes)",
        tally.acknowledged.len(),
        tally.refused
    );
    assert!(tally.refused > 0, "some writes met the full disk and were refused");
    assert!(tally.unreadable.is_empty(), "acknowledged writes that did not read back: {:?}", &tally.unreadable[..]);
    stop(child);

    // A restart opens the database, and every acknowledged write reads back whole, audited.
    let (restarted, base) = serve(&data_dir);
    wait_healthy(&http, &base).await;
    let mut lost = Vec::new();
    for (identifier, _) in &tally.acknowledged {
        let read = app.send(http.get(format!("{base}/iso/pam/info/{identifier}")).bearer_auth(&token)).await;
        if read.status != StatusCode::OK
            || !read.body["info"]["content"].as_str().is_some_and(|c| c.contains(identifier))
        {
            lost.push(format!("{identifier}: {} {}", read.status, read.body));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {:?}",
        lost.len(),
        tally.acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
    stop(restarted);

    // Read by a fresh process's connections, as an operator's `cofre audit verify` would.
    let fresh = app.sibling(0).await;
    let records = fresh.state.core.store.recent_audit(10_000_000).await.expect("audit");
    let audited: HashSet<&str> = records.iter().filter(|r| r.status == 201).map(|r| r.request_id.as_str()).collect();
    let unaudited: Vec<_> = tally.acknowledged.iter().filter(|(_, id)| !audited.contains(id.as_str())).collect();
    assert!(unaudited.is_empty(), "acknowledged without an audit record: {unaudited:?}");
    let core = &fresh.state.core;
    let verdict = chain::verify(core, &core.audit_chain_key(), 1, &[]).await.expect("verify runs");
    assert!(matches!(verdict, Verdict::Intact { .. }), "the audit chain is intact: {verdict:?}");
}
