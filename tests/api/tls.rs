//! HTTPS by default with a generated certificate that clients can trust.

use cofre::config::TlsMode;
use cofre::domain::authorization::Resource;
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_certificate_is_generated_and_trusted_by_name() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.tls = TlsMode::SelfSigned;
        c.tls_sans = vec!["vault.internal".into()];
    })
    .await;
    assert!(app.base.starts_with("https://"));
    let cert_path = app.data_dir.path().join("tls/cert.pem");
    let pem = std::fs::read(&cert_path).expect("certificate written");
    let key_mode = std::fs::metadata(app.data_dir.path().join("tls/key.pem")).expect("key written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key_mode.permissions().mode() & 0o077, 0, "the key is private");
    }
    let _ = key_mode;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .build()
        .expect("client");
    let port = app.addr.port();
    let health = client.get(format!("https://localhost:{port}/health")).send().await.expect("https works");
    assert_eq!(health.status(), StatusCode::OK);
    let created = app.create_app(&[Resource::Info], false, &["*"]).await;
    let token = crate::helpers::token_request(&client, &format!("https://127.0.0.1:{port}"), &created)
        .send()
        .await
        .expect("token over https");
    assert_eq!(token.status(), StatusCode::OK);
    // A client that does not trust the certificate is refused.
    let untrusted = reqwest::Client::builder().tls_built_in_root_certs(false).build().expect("client");
    assert!(untrusted.get(format!("https://localhost:{port}/health")).send().await.is_err());
}

/// A data directory cofre creates itself (with its TLS files) is readable by its owner only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("tempdir");
    let fresh = parent.path().join("fresh");
    let dir = fresh.clone();
    let _app = TestApp::spawn_with(Backend::Sqlite, move |c| {
        c.tls = TlsMode::SelfSigned;
        c.data_dir = dir;
    })
    .await;
    let mode = std::fs::metadata(&fresh).expect("created").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory is {mode:o}");
}
