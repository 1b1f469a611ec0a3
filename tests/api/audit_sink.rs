//! The live audit sink delivers every record, by sequence, through an outage of the syslog
//! server and a restart of cofre, and several processes send each record once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncReadExt;

use cofre::domain::audit::AuditRecord;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    syslog_over_tls_is_verified_and_delivered,
    syslog_delivery_survives_an_outage_and_a_restart,
    two_processes_ship_each_record_once_to_a_file,
);

async fn write_records(app: &TestApp, n: usize, tag: &str) {
    for i in 0..n {
        let record = AuditRecord::for_job(i as i64, "JOB", format!("/{tag}/{i}"), 200, json!({"i": i}));
        app.state.audit.record(record).await.expect("durable");
    }
}

async fn head(app: &TestApp) -> i64 {
    app.state.core.store.audit_head().await.expect("head").seq
}

/// A syslog server reading RFC 6587 octet-counted frames; `seqs` gets each message's
/// `seq` structured-data parameter.
fn collector(listener: tokio::net::TcpListener, seqs: Arc<Mutex<Vec<i64>>>) -> tokio::task::JoinHandle<()> {
    collector_with(listener, seqs, None)
}

fn collector_with(
    listener: tokio::net::TcpListener,
    seqs: Arc<Mutex<Vec<i64>>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Connections live in the set: aborting the server closes them too.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let seqs = seqs.clone();
            let tls = tls.clone();
            connections.spawn(async move {
                let mut socket: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match tls {
                    None => Box::new(tcp),
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => Box::new(stream),
                        Err(_) => return,
                    },
                };
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    while let Some(space) = buffer.iter().position(|b| *b == b' ') {
                        let len: usize =
                            std::str::from_utf8(&buffer[..space]).expect("len").parse().expect("octet count");
                        if buffer.len() < space + 1 + len {
                            break;
                        }
                        let message = String::from_utf8(buffer[space + 1..space + 1 + len].to_vec()).expect("utf-8");
                        buffer.drain(..space + 1 + len);
                        assert!(message.starts_with("<86>1 "), "{message}");
                        let seq = message.split("seq=\"").nth(1).and_then(|s| s.split('"').next()).expect("seq");
                        let body = &message[message.find("] {").expect("msg") + 2..];
                        let json: serde_json::Value = serde_json::from_str(body).expect("json msg");
                        assert_eq!(json["seq"].to_string(), seq);
                        seqs.lock().expect("lock").push(seq.parse().expect("number"));
                    }
                }
            });
        }
    })
}

async fn delivered_through(seqs: &Mutex<Vec<i64>>, last: i64) {
    for _ in 0..300 {
        if seqs.lock().expect("lock").contains(&last) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("record {last} was not delivered; got {:?}", seqs.lock().expect("lock").last());
}

async fn syslog_over_tls_is_verified_and_delivered(backend: Backend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let cert = rustls::pki_types::CertificateDer::from(generated.cert.der().to_vec());
    let key = rustls::pki_types::PrivateKeyDer::try_from(generated.signing_key.serialize_der()).expect("key");
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert], key).expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seqs = Arc::new(Mutex::new(Vec::new()));
    let server = collector_with(listener, seqs.clone(), Some(acceptor));
    let dir = tempfile::tempdir().expect("dir");
    let (trusted, stranger) = (dir.path().join("ca.pem"), dir.path().join("other.pem"));
    std::fs::write(&trusted, generated.cert.pem()).expect("ca");
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("other");
    std::fs::write(&stranger, other.cert.pem()).expect("other ca");

    // A sink that does not trust the server's certificate sends nothing.
    let sink = format!("syslog+tls://127.0.0.1:{port}");
    let wary = TestApp::spawn_with(backend.clone(), |c| {
        c.audit_sink = sink.clone();
        c.audit_sink_ca_file = Some(stranger);
    })
    .await;
    write_records(&wary, 10, "wary").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(seqs.lock().expect("lock").is_empty(), "an unverified server gets nothing");
    wary.stop();

    let app = TestApp::spawn_with(backend, |c| {
        c.audit_sink = sink;
        c.audit_sink_ca_file = Some(trusted);
    })
    .await;
    write_records(&app, 30, "tls").await;
    delivered_through(&seqs, head(&app).await).await;
    server.abort();
    app.stop();
}

async fn syslog_delivery_survives_an_outage_and_a_restart(backend: Backend) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seqs = Arc::new(Mutex::new(Vec::new()));
    let server = collector(listener, seqs.clone());
    let app = TestApp::spawn_with(backend, |c| c.audit_sink = format!("syslog+tcp://127.0.0.1:{port}")).await;
    write_records(&app, 50, "before").await;
    delivered_through(&seqs, head(&app).await).await;

    // The syslog server goes away; records keep coming, and wait.
    server.abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    write_records(&app, 100, "outage").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = head(&app).await;
    assert!(!seqs.lock().expect("lock").contains(&during), "nothing can arrive while the server is down");

    // It comes back on the same port: everything from the outage arrives.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("rebind");
    let server = collector(listener, seqs.clone());
    delivered_through(&seqs, during).await;

    // cofre restarts (the old process's lease runs out); records written meanwhile follow.
    app.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let restarted = app.sibling(31).await;
    write_records(&restarted, 40, "after").await;
    let last = head(&restarted).await;
    delivered_through(&seqs, last).await;

    let mut got = seqs.lock().expect("lock").clone();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, (1..=last).collect::<Vec<_>>(), "every record, by sequence, once after de-duplication");
    server.abort();
    restarted.stop();
}

async fn two_processes_ship_each_record_once_to_a_file(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("audit.jsonl");
    let sink = format!("file:{}", file.display());
    let app = TestApp::spawn_with(backend, |c| c.audit_sink = sink.clone()).await;
    let other = app.sibling(0).await;
    tokio::join!(write_records(&app, 60, "a"), write_records(&other, 60, "b"));
    let last = head(&app).await;
    let mut seqs = Vec::new();
    for _ in 0..300 {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        seqs = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line")["seq"].as_i64().expect("seq"))
            .collect();
        if seqs.last() == Some(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "in order, each once, though two processes ship");
    other.stop();
}
