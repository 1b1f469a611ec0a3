//! Certificates cofre did not sign (issue 17): PKCS#12, PEM and DER imports made with `openssl`,
//! and discovery of what a local TLS server presents, on both stores and under concurrency.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::certificates::{KEY_PASSWORD, decrypted_key, export, openssl, pem_blocks};
use crate::helpers::{Backend, Client, Reply, TestApp};
use crate::on_both_stores;

on_both_stores!(
    an_imported_pkcs12_round_trips,
    imports_check_what_they_are_given,
    discovery_records_what_a_local_tls_server_presents,
    an_imported_authority_signs_what_openssl_then_trusts,
);

pub(crate) const P12_PASSWORD: &str = "p12-transport-secret";

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A self-signed RSA certificate for `name` made by openssl: (certificate path, key path).
pub(crate) fn openssl_certificate(dir: &Path, stem: &str, name: &str) -> (String, String) {
    let (cert, key) = (dir.join(format!("{stem}.crt")), dir.join(format!("{stem}.key")));
    let (cert, key) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let (ok, out) = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &cert,
        "-days",
        "365",
        "-subj",
        &format!("/CN={name}/O=Shop"),
        "-addext",
        &format!("subjectAltName=DNS:{name},IP:192.0.2.7"),
    ]);
    assert!(ok, "openssl req: {out}");
    (cert, key)
}

fn serial_of(cert: &str) -> String {
    let (ok, out) = openssl(&["x509", "-noout", "-serial", "-in", cert]);
    assert!(ok, "{out}");
    out.trim().trim_start_matches("serial=").to_owned()
}

pub(crate) async fn import(app: &TestApp, client: &Client, body: Value) -> Reply {
    app.post_json(client, "/iso/certificado/importar", body).await
}

pub(crate) fn message(reply: &Reply) -> String {
    reply.body["response"]["message"].as_str().unwrap_or_default().to_owned()
}

async fn an_imported_pkcs12_round_trips(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = openssl_certificate(dir.path(), "shop", "shop.example.com");
    let p12 = dir.path().join("shop.p12").to_string_lossy().into_owned();
    let passout = format!("pass:{P12_PASSWORD}");
    let (ok, out) = openssl(&["pkcs12", "-export", "-inkey", &key, "-in", &cert, "-passout", &passout, "-out", &p12]);
    assert!(ok, "openssl pkcs12: {out}");
    let p12_b64 = b64(&std::fs::read(&p12).expect("p12"));

    let wrong = import(&app, &client, json!({"certificate": p12_b64, "password": "not-the-password"})).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert!(message(&wrong).contains("Wrong password for the PKCS#12"), "{}", wrong.body);

    let body = json!({
        "certificate": p12_b64, "format": "PKCS12", "password": P12_PASSWORD,
        "key_password": KEY_PASSWORD, "password_revogation": "revoke-imported",
    });
    let made = import(&app, &client, body.clone()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["response"]["message"], "Certificate imported");
    let got = &made.body["certificate"];
    assert_eq!(got["origin_certificate"], "IMPO");
    assert_eq!(got["common_name"], "shop.example.com");
    assert_eq!(got["san"], json!(["shop.example.com", "192.0.2.7"]));
    assert_eq!(got["serial"], serial_of(&cert));
    assert_eq!(got["self_signed"], true);
    assert_eq!(got["private_key"], "sealed");
    assert_eq!(got["status_certificate"], "1");
    assert_eq!(
        pem_blocks(got["certificate"].as_str().expect("pem")),
        pem_blocks(&std::fs::read_to_string(&cert).expect("cert"))
    );
    let id = got["id"].as_str().expect("id").to_owned();

    // The same certificate again is the row cofre holds.
    let again = import(&app, &client, body).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(message(&again).contains(&format!("certificate {id}")), "{}", again.body);

    // Exported under the key password, the key is the one openssl made.
    let exported = export(&app, &client, &id, KEY_PASSWORD).await;
    assert_eq!(exported.status, StatusCode::OK, "{}", exported.body);
    let der = decrypted_key(&exported.body);
    let der_path = dir.path().join("exported.der");
    std::fs::write(&der_path, &der).expect("write");
    let (ok, exported_public) = openssl(&["pkey", "-inform", "DER", "-in", &der_path.to_string_lossy(), "-pubout"]);
    assert!(ok, "{exported_public}");
    let (ok, cert_public) = openssl(&["x509", "-noout", "-pubkey", "-in", &cert]);
    assert!(ok, "{cert_public}");
    assert_eq!(exported_public, cert_public);

    let listed = app.call(&client, Method::GET, "/iso/certificate/list?origin_certificate=IMPO").await;
    assert_eq!(listed.body["certificates"].as_array().expect("list").len(), 1, "{}", listed.body);
    let revoke = app.post_json(&client, &format!("/iso/certificate/revoke/{id}"), json!({})).await;
    assert_eq!(revoke.status, StatusCode::BAD_REQUEST, "the import's revocation password is asked: {}", revoke.body);
    let revoke = app
        .post_json(&client, &format!("/iso/certificate/revoke/{id}"), json!({"password_revogation": "revoke-imported"}))
        .await;
    assert_eq!(revoke.status, StatusCode::OK, "{}", revoke.body);

    // Neither the key nor the transport password is kept or audited in plaintext.
    let tail = &der[der.len() - 32..];
    let pool = app.state.core.store.pool();
    let rows = sqlx::query("SELECT private_key AS k FROM certificates").fetch_all(pool).await.expect("rows");
    for row in rows {
        let sealed: Vec<u8> = sqlx::Row::get(&row, "k");
        assert!(!sealed.windows(32).any(|w| w == tail), "certificates.private_key holds the key");
    }
    let audit = format!("{:?}", app.state.core.recent_audit(1000).await.expect("audit"));
    for needle in [P12_PASSWORD, KEY_PASSWORD, &p12_b64[..40], "BEGIN PRIVATE KEY"] {
        assert!(!audit.contains(needle), "the audit trail holds {needle:?}");
    }
}

async fn imports_check_what_they_are_given(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let (cert, _) = openssl_certificate(dir.path(), "a", "a.example.com");
    let (_, other_key) = openssl_certificate(dir.path(), "b", "b.example.com");
    let cert_pem = std::fs::read_to_string(&cert).expect("cert");
    let other_key_pem = std::fs::read_to_string(&other_key).expect("key");

    let cases = [
        (json!({}), "'certificate' is required"),
        (json!({"certificate": cert_pem, "private_key": other_key_pem}), "does not match"),
        (json!({"certificate": format!("{cert_pem}{other_key_pem}")}), "does not match"),
        (json!({"certificate": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"}), "malformed"),
        (
            json!({"certificate": "-----BEGIN DSA PARAMETERS-----\nMAA=\n-----END DSA PARAMETERS-----\n"}),
            "not supported",
        ),
        (json!({"certificate": "x!".repeat(5_120)}), "base64"),
        (json!({"certificate": b64(&[0x30, 0x03, 0x02, 0x01, 0x01]), "format": "DER"}), "X.509"),
        (json!({"certificate": b64(&[0x30, 0x03, 0x02, 0x01, 0x01]), "password": "x"}), "PKCS#12"),
        (json!({"certificate": cert_pem, "format": "ZIP"}), "PEM, DER or PKCS12"),
        (json!({"certificate": 12}), "must be PEM text"),
        (json!({"certificate": {"pem": cert_pem}}), "'certificate'"),
    ];
    for (body, expected) in cases {
        let reply = import(&app, &client, body.clone()).await;
        let body: String = body.to_string().chars().take(120).collect();
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
        assert!(message(&reply).contains(expected), "{body} should name {expected:?}: {}", reply.body);
        assert!(reply.body["exception"].is_object(), "{}", reply.body);
    }
    let listed = app.call(&client, Method::GET, "/iso/certificate/list").await;
    assert_eq!(listed.body["certificates"], json!([]), "nothing half-imported");

    // DER without a key: recorded, but there is no key to export.
    let der = pem_blocks(&cert_pem).remove(0);
    let made = import(&app, &client, json!({"certificate": b64(&der)})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["certificate"]["private_key"], "absent");
    assert_eq!(made.body["certificate"]["common_name"], "a.example.com");
    let id = made.body["certificate"]["id"].as_str().expect("id");
    let exported = export(&app, &client, id, KEY_PASSWORD).await;
    assert_eq!(exported.status, StatusCode::BAD_REQUEST, "{}", exported.body);
}

/// A TLS server presenting `cert` to everyone who connects, until the test ends.
async fn tls_server(cert: &str, key: &str) -> std::net::SocketAddr {
    use rustls::pki_types::pem::PemObject;
    let chain = vec![rustls::pki_types::CertificateDer::from_pem_file(cert).expect("cert")];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    tokio::io::AsyncWriteExt::shutdown(&mut tls).await.ok();
                }
            });
        }
    });
    addr
}

async fn discovery_records_what_a_local_tls_server_presents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = openssl_certificate(dir.path(), "edge", "edge.example.com");
    let server = tls_server(&cert, &key).await;
    // One that accepts and never answers, and a port nobody listens on.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = silent.accept().await {
            open.push(tcp);
        }
    });
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");

    let targets = json!([server.to_string(), silent_addr.to_string(), closed.to_string()]);
    let scan = app.post_json(&client, "/iso/certificate/scan", json!({"targets": targets, "timeout": 2})).await;
    assert_eq!(scan.status, StatusCode::OK, "{}", scan.body);
    let results = scan.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["target"], server.to_string());
    assert_eq!(results[0]["found"], true, "{}", scan.body);
    assert_eq!(results[0]["new"], true);
    let found = &results[0]["certificate"];
    assert_eq!(found["origin_certificate"], "SCAN");
    assert_eq!(found["serial"], serial_of(&cert));
    assert_eq!(found["common_name"], "edge.example.com");
    assert_eq!(found["private_key"], "absent");
    assert_eq!(results[1]["found"], false);
    assert!(results[1]["error"].as_str().expect("error").contains("No answer within 2 seconds"), "{}", scan.body);
    assert!(results[2]["error"].as_str().expect("error").contains("Connection failed"), "{}", scan.body);

    // A second scan finds the row the first made.
    let rescan = app.post_json(&client, "/iso/certificate/scan", json!({"targets": [server.to_string()]})).await;
    assert_eq!(rescan.body["results"][0]["new"], false, "{}", rescan.body);
    assert_eq!(rescan.body["results"][0]["certificate"]["id"], found["id"]);
    let listed = app.call(&client, Method::GET, "/iso/certificate/list?origin_certificate=SCAN").await;
    assert_eq!(listed.body["certificates"].as_array().expect("list").len(), 1, "{}", listed.body);

    // Importing what was found is refused as a duplicate.
    let imported = import(&app, &client, json!({"certificate": std::fs::read_to_string(&cert).expect("pem")})).await;
    assert_eq!(imported.status, StatusCode::CONFLICT, "{}", imported.body);

    // Another application scans for itself: six simultaneous first scans leave one row, one new.
    let other = app.client(&[Resource::Certificates]).await;
    assert_eq!(app.call(&other, Method::GET, "/iso/certificate/list").await.body["certificates"], json!([]));
    let scans =
        (0..6).map(|_| app.post_json(&other, "/iso/certificado/descobrir", json!({"targets": [server.to_string()]})));
    let replies = futures_util::future::join_all(scans).await;
    let mut ids = std::collections::BTreeSet::new();
    let mut new = 0;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let result = &reply.body["results"][0];
        assert_eq!(result["found"], true, "{}", reply.body);
        new += usize::from(result["new"] == true);
        ids.insert(result["certificate"]["id"].as_str().expect("id").to_owned());
    }
    assert_eq!((new, ids.len()), (1, 1), "one first finder, one row");
    assert!(!ids.contains(found["id"].as_str().expect("id")), "its own row, not the first application's");
    let pool = app.state.core.store.pool();
    let rows = sqlx::query("SELECT COUNT(*) AS n FROM certificates").fetch_one(pool).await.expect("count");
    assert_eq!(sqlx::Row::get::<i64, _>(&rows, "n"), 2);

    for (body, expected) in [
        (json!({}), "'targets'"),
        (json!({"targets": ["no-port"]}), "host:port"),
        (json!({"targets": [server.to_string()], "timeout": 31}), "'timeout'"),
        (json!({"targets": vec!["127.0.0.1:1"; 65]}), "1 to 64"),
    ] {
        let reply = app.post_json(&client, "/iso/certificate/scan", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
        assert!(message(&reply).contains(expected), "{body}: {}", reply.body);
    }
}

async fn an_imported_authority_signs_what_openssl_then_trusts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = crate::certificates::admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let (ca_cert, ca_key) = (dir.path().join("ca.crt"), dir.path().join("ca.key"));
    let (ca_cert, ca_key) = (ca_cert.to_string_lossy().into_owned(), ca_key.to_string_lossy().into_owned());
    let (ok, out) = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:3072",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca_cert,
        "-days",
        "3650",
        "-subj",
        "/CN=Corp Root/O=Corp",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    assert!(ok, "{out}");
    let (cert_pem, key_pem) =
        (std::fs::read_to_string(&ca_cert).expect("ca"), std::fs::read_to_string(&ca_key).expect("key"));
    let path = "/api/admin/certificate-authorities";

    // A leaf is not an authority (a self-signed one cofre made, with its key); a key of another
    // certificate does not match.
    let client = app.client(&[Resource::Certificates]).await;
    let body = crate::certificates::request_body("leaf.example.com", json!({"san": []}));
    assert_eq!(crate::certificates::request(&app, &client, "leaf", body).await.status, StatusCode::CREATED);
    let own = crate::certificates::sign(&app, &client, "leaf", "self_signed=1&reason=x").await;
    let leaf = own.body["certificate"]["certificate"].as_str().expect("pem").to_owned();
    let exported = export(&app, &client, own.body["certificate"]["id"].as_str().expect("id"), KEY_PASSWORD).await;
    let leaf_key =
        format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", b64(&decrypted_key(&exported.body)));
    let refused =
        app.post_json(&admin, path, json!({"name": "Leaf", "certificate": leaf, "private_key": leaf_key})).await;
    assert!(message(&refused).contains("CA:TRUE"), "{}", refused.body);
    let refused =
        app.post_json(&admin, path, json!({"name": "Corp", "certificate": cert_pem, "private_key": leaf_key})).await;
    assert!(message(&refused).contains("does not match"), "{}", refused.body);
    let refused = app.post_json(&admin, path, json!({"name": "Corp", "certificate": cert_pem})).await;
    assert!(message(&refused).contains("'private_key'"), "{}", refused.body);

    let made =
        app.post_json(&admin, path, json!({"name": "Corp", "certificate": cert_pem, "private_key": key_pem})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["response"]["message"], "Certificate authority imported");
    assert_eq!(made.body["certificate_authority"]["key_type"], "RSA-3072");

    // It signs, and openssl trusts the result against the original CA file.
    let body = crate::certificates::request_body("corp.example.com", json!({"san": []}));
    assert_eq!(crate::certificates::request(&app, &client, "corp", body).await.status, StatusCode::CREATED);
    let signed = crate::certificates::sign(&app, &client, "corp", "self_signed=0&ca=Corp&reason=x").await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    let leaf_path = dir.path().join("corp.pem");
    std::fs::write(&leaf_path, signed.body["certificate"]["certificate"].as_str().expect("pem")).expect("write");
    let (ok, out) = openssl(&["verify", "-CAfile", &ca_cert, &leaf_path.to_string_lossy()]);
    assert!(ok, "openssl verify: {out}");

    // Its key is sealed, not stored as given.
    let tail = &key_pem.as_bytes()[key_pem.len() - 80..key_pem.len() - 30];
    let pool = app.state.core.store.pool();
    for row in sqlx::query("SELECT private_key AS k FROM certificate_authorities").fetch_all(pool).await.expect("rows")
    {
        let sealed: Vec<u8> = sqlx::Row::get(&row, "k");
        assert!(!sealed.windows(tail.len()).any(|w| w == tail) && !sealed.starts_with(b"-----"));
    }
}
