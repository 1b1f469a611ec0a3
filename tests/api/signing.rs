//! Requests signed by real client libraries: oauthlib for OAuth 1.0a, botocore for SigV4.
//! Python comes from `COFRE_TEST_PYTHON` (`.ci/run` makes a venv with both libraries).

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Reply, TestApp};

pub const PYTHON_ENV: &str = "COFRE_TEST_PYTHON";

/// The interpreter with oauthlib and botocore (tests that need it are ignored when
/// `COFRE_TEST_PYTHON` was not set at build time, so it is there when they run).
pub fn python() -> String {
    match std::env::var(PYTHON_ENV) {
        Ok(p) if !p.is_empty() => p,
        _ => panic!("{PYTHON_ENV} is not set: run this test with it, or leave it ignored"),
    }
}

/// Runs signers.py on a job; returns `{url, headers, body}`.
pub fn sign(python: &str, job: Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/signers.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().expect("stdin").write_all(job.to_string().as_bytes()).expect("job written");
    let out = child.wait_with_output().expect("signer finishes");
    assert!(out.status.success(), "signer failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("signer prints JSON")
}

/// Sends a signed request exactly as the library produced it.
pub async fn send_signed(app: &TestApp, method: Method, signed: &Value) -> Reply {
    let mut request = app.client.request(method, signed["url"].as_str().expect("url"));
    for (name, value) in signed["headers"].as_object().expect("headers") {
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name.as_str(), value.as_str().expect("header value"));
        }
    }
    if let Some(body) = signed["body"].as_str() {
        request = request.body(body.to_owned());
    }
    app.send(request).await
}

pub fn assert_status(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
}
