//! schemathesis (PyPI) against a live cofre from its own `/openapi.json`, on both stores, as a
//! caller holding every resource: no 5xx, every status, media type and body as documented, no
//! request that hangs (tests/api/schemathesis.toml says what is relaxed and why). It runs from
//! the suite so that both stores and a real authorization come for free.

use std::process::{Command, Output};
use std::time::Duration;

use cofre::domain::authorization::Resource;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(python: schemathesis_finds_nothing);

/// `/iso/…` and `/iso|api/scim/v2/…` are the same handlers as `/api/…` and `/scim/v2/…` (one
/// route table mounted twice, which tests/api/openapi.rs checks): each handler is fuzzed once.
const FUZZED: &str = "^/(api/(?!scim/)|scim/v2/|modulos/|health|ready|metrics|openapi|docs)";

/// Paths (one method each) that can switch off or re-confine the very authorization the fuzzer
/// calls with: its own revocation, its application's disabling, its authorization's IPs or
/// secret. Each runs last, alone, with a caller of its own, so it cannot blind the rest.
const SELF_CHANGING: [&str; 4] = [
    "/api/dapp/application/authorization",
    "/api/admin/applications/{id}/disable",
    "/api/admin/authorizations/{id}",
    "/api/admin/authorizations/{id}/secret",
];

fn path_regex(path: &str) -> String {
    format!("^{}$", path.replace('{', "\\{").replace('}', "\\}"))
}

async fn schemathesis(app: &TestApp, filters: Vec<String>) -> Output {
    let client = app.client(&Resource::ALL).await;
    let python = std::path::PathBuf::from(std::env::var("COFRE_TEST_PYTHON").expect("COFRE_TEST_PYTHON"));
    let st = python.with_file_name("st");
    let workdir = tempfile::tempdir().expect("dir");
    let mut args: Vec<String> = vec![
        "--config-file".into(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/schemathesis.toml").into(),
        "run".into(),
        app.url("/openapi.json"),
        "--header".into(),
        format!("Authorization: Bearer {}", client.token),
        // The caller's credentials are the header above; generated ones would only replace them.
        "--generation-with-security-parameters".into(),
        "false".into(),
        "--phases".into(),
        "examples,coverage,fuzzing".into(),
        "--max-examples".into(),
        std::env::var("COFRE_FUZZ_EXAMPLES").unwrap_or_else(|_| "15".into()),
        "--seed".into(),
        std::env::var("COFRE_FUZZ_SEED").unwrap_or_else(|_| "1".into()),
        // One worker: hypothesis on CPython 3.11 is not thread-safe in its lambda-source cache.
        "--workers".into(),
        "1".into(),
        "--request-timeout".into(),
        "10".into(),
        "--max-failures".into(),
        "40".into(),
        "--no-color".into(),
    ];
    args.extend(filters);
    tokio::time::timeout(
        Duration::from_secs(1200),
        tokio::task::spawn_blocking(move || {
            Command::new(st).args(&args).current_dir(workdir.path()).output().expect("run schemathesis")
        }),
    )
    .await
    .expect("schemathesis finished in time")
    .expect("join")
}

fn assert_clean(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "schemathesis found problems ({what}):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn schemathesis_finds_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let self_changing = SELF_CHANGING.map(path_regex).join("|");
    let filters = ["--include-path-regex", FUZZED, "--exclude-path-regex", &self_changing];
    assert_clean(&schemathesis(&app, filters.map(str::to_owned).to_vec()).await, "all but the self-changing");
    for path in SELF_CHANGING {
        let filters = vec!["--include-path-regex".to_owned(), path_regex(path)];
        assert_clean(&schemathesis(&app, filters).await, path);
    }
}
