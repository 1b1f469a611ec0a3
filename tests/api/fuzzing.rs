//! schemathesis (PyPI) against a live cofre from its own `/openapi.json`, on both stores, as a
//! caller holding every resource: no 5xx, every status and body as documented, no request that
//! hangs. It runs from the suite so that both stores and a real authorization come for free.

use std::process::Command;
use std::time::Duration;

use cofre::domain::authorization::Resource;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(python: schemathesis_finds_nothing);

async fn schemathesis_finds_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&Resource::ALL).await;
    let python = std::path::PathBuf::from(std::env::var("COFRE_TEST_PYTHON").expect("COFRE_TEST_PYTHON"));
    let st = python.with_file_name("st");
    let report = tempfile::tempdir().expect("dir");
    let args: Vec<String> = vec![
        "run".into(),
        app.url("/openapi.json"),
        "--header".into(),
        format!("Authorization: Bearer {}", client.token),
        // `/iso/…` and `/iso|api/scim/v2/…` are the same handlers as `/api/…` and `/scim/v2/…`
        // (one route table mounted twice, which the router test checks): fuzz each handler once.
        "--include-path-regex".into(),
        "^/(api/(?!scim/)|scim/v2/|modulos/|health|ready|metrics|openapi|docs)".into(),
        "--phases".into(),
        "examples,coverage,fuzzing".into(),
        "--max-examples".into(),
        std::env::var("COFRE_FUZZ_EXAMPLES").unwrap_or_else(|_| "15".into()),
        "--seed".into(),
        "1".into(),
        "--workers".into(),
        "2".into(),
        "--request-timeout".into(),
        "10".into(),
        "--max-failures".into(),
        "40".into(),
        "--no-color".into(),
    ];
    let output = tokio::time::timeout(
        Duration::from_secs(1200),
        tokio::task::spawn_blocking(move || {
            Command::new(st).args(&args).current_dir(report.path()).output().expect("run schemathesis")
        }),
    )
    .await
    .expect("schemathesis finished in time")
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
