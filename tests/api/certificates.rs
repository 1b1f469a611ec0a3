//! Certificates (§13.2, issue 17): authorities held in cofre, requests, signing, listing by
//! status on the injected clock, export, revocation and CRLs, checked with a real rustls
//! handshake and with `openssl`, from the attacker's side and under concurrency.

use std::path::Path;
use std::sync::Arc;

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, Reply, TestApp};
use crate::on_both_stores;

on_both_stores!(
    a_certificate_from_a_cofre_ca_is_trusted_by_rustls_and_openssl,
    a_revoked_serial_is_in_the_crl,
    bad_input_gets_a_4xx_that_names_the_problem,
    other_applications_and_narrower_callers_are_refused,
    the_status_follows_the_injected_clock,
    simultaneous_callers_leave_one_request_one_certificate_and_distinct_crl_numbers,
    no_private_key_is_stored_or_audited_in_plaintext,
    the_english_list_path_takes_the_request_code,
);

pub(crate) const KEY_PASSWORD: &str = "export-me-please";

pub(crate) fn request_body(common_name: &str, extra: Value) -> Value {
    let mut body = json!({
        "certificate_type": 1, "domain_type": "MULT", "organization": "Example Ltda",
        "common_name": common_name, "san": ["127.0.0.1"], "tags": ["web"],
        "encryption": "ECDSA", "encryption_key_size": 256, "certificate_algorithm": "SHA256",
        "validity": 90, "key_password": KEY_PASSWORD, "password_revogation": "revoke-me-please",
        "description": "storefront",
    });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

pub(crate) async fn admin(app: &TestApp) -> Client {
    app.client(&[Resource::Admin]).await
}

/// A root and, under it, an intermediate; returns their names.
pub(crate) async fn authorities(app: &TestApp, admin: &Client) -> (String, String) {
    let root = app
        .post_json(admin, "/api/admin/certificate-authorities", json!({"name": "Root CA", "validity_days": 3650}))
        .await;
    assert_eq!(root.status, StatusCode::CREATED, "{}", root.body);
    let issuing = app
        .post_json(
            admin,
            "/api/admin/certificate-authorities",
            json!({"name": "Issuing CA", "validity_days": 1000, "parent": "Root CA", "key_type": "RSA-2048"}),
        )
        .await;
    assert_eq!(issuing.status, StatusCode::CREATED, "{}", issuing.body);
    assert_eq!(issuing.body["certificate_authority"]["parent"], root.body["certificate_authority"]["id"]);
    ("Root CA".into(), "Issuing CA".into())
}

pub(crate) async fn request(app: &TestApp, client: &Client, code: &str, body: Value) -> Reply {
    app.post_json(client, &format!("/iso/certificate/request/{code}"), body).await
}

pub(crate) async fn sign(app: &TestApp, client: &Client, code: &str, query: &str) -> Reply {
    app.call(client, Method::GET, &format!("/iso/certificate/request/sign/{code}?{query}")).await
}

/// Requests and signs `code` with `ca`; returns the certificate block.
async fn issued(app: &TestApp, client: &Client, code: &str, ca: &str) -> Value {
    let made = request(app, client, code, request_body("localhost", json!({}))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let signed = sign(app, client, code, &format!("self_signed=0&ca={}&reason=go-live", ca.replace(' ', "%20"))).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    signed.body["certificate"].clone()
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

pub(crate) fn openssl(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl").args(args).output().expect("openssl runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

pub(crate) fn pem_blocks(text: &str) -> Vec<Vec<u8>> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let end = rest[start..].find("-----END CERTIFICATE-----").expect("end") + start;
        let body: String = rest[start + 27..end].chars().filter(|c| !c.is_whitespace()).collect();
        use base64::Engine;
        blocks.push(base64::engine::general_purpose::STANDARD.decode(body).expect("base64"));
        rest = &rest[end + 25..];
    }
    blocks
}

/// The exported key, decrypted with the key password (PKCS#8 DER).
pub(crate) fn decrypted_key(exported: &Value) -> Vec<u8> {
    let pem = exported["certificate"]["private_key"].as_str().expect("private key");
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{pem}");
    let (_, doc) = pkcs8::SecretDocument::from_pem(pem).expect("pem");
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).expect("encrypted info");
    info.decrypt(KEY_PASSWORD).expect("decrypts with the key password").as_bytes().to_vec()
}

pub(crate) async fn export(app: &TestApp, client: &Client, id: &str, password: &str) -> Reply {
    app.post_json(client, &format!("/iso/certificate/export/{id}"), json!({ "key_password": password })).await
}

async fn a_certificate_from_a_cofre_ca_is_trusted_by_rustls_and_openssl(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (root, issuing) = authorities(&app, &admin).await;
    let client = app.client(&[Resource::Certificates]).await;
    let cert = issued(&app, &client, "web-01", &issuing).await;
    assert_eq!(cert["status_certificate"], "1");
    assert_eq!(cert["origin_certificate"], "REQU");
    assert_eq!(cert["ca"], issuing);
    assert_eq!(cert["san"], json!(["localhost", "127.0.0.1"]));

    let root_reply = app.call(&client, Method::GET, &format!("/iso/certificado/ca/{}", root.replace(' ', "%20"))).await;
    assert_eq!(root_reply.status, StatusCode::OK, "{}", root_reply.body);
    let root_pem = root_reply.body["certificate"]["certificate"].as_str().expect("root pem").to_owned();

    // openssl: the leaf verifies against the root, through the intermediate of its chain.
    let dir = tempfile::tempdir().expect("dir");
    let leaf_pem = cert["certificate"].as_str().expect("leaf");
    let chain_pem = cert["chain"].as_str().expect("chain");
    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        &write(dir.path(), "root.pem", &root_pem),
        "-untrusted",
        &write(dir.path(), "chain.pem", chain_pem),
        "-purpose",
        "sslserver",
        &write(dir.path(), "leaf.pem", leaf_pem),
    ]);
    assert!(ok, "openssl verify: {out}");

    // rustls: a TLS server with the exported key and the chain; a client trusting only the root.
    let exported = export(&app, &client, cert["id"].as_str().expect("id"), KEY_PASSWORD).await;
    assert_eq!(exported.status, StatusCode::OK, "{}", exported.body);
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(decrypted_key(&exported.body).into());
    let mut chain: Vec<rustls::pki_types::CertificateDer<'static>> =
        pem_blocks(leaf_pem).into_iter().map(Into::into).collect();
    chain.extend(pem_blocks(chain_pem).into_iter().take(1).map(Into::into));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the exported key matches the certificate");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut tls = acceptor.accept(tcp).await.expect("server handshake");
            tokio::io::AsyncWriteExt::write_all(&mut tls, b"hello").await.expect("write");
            tokio::io::AsyncWriteExt::shutdown(&mut tls).await.ok();
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pem_blocks(&root_pem).remove(0).into()).expect("root");
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    for name in ["localhost", "127.0.0.1"] {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).expect("name");
        let mut tls = connector.connect(server_name, tcp).await.expect("rustls trusts the chain to the cofre root");
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut got).await.ok();
        assert_eq!(got, b"hello");
    }
    server.await.expect("server");

    // Self-signed: openssl accepts it as its own root.
    assert_eq!(
        request(&app, &client, "self-01", request_body("self.example.com", json!({"san": []}))).await.status,
        StatusCode::CREATED
    );
    let own = sign(&app, &client, "self-01", "auto_assinado=1&motivo=lab").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["certificate"]["self_signed"], true);
    let own_pem = write(dir.path(), "own.pem", own.body["certificate"]["certificate"].as_str().expect("pem"));
    let (ok, out) = openssl(&["verify", "-CAfile", &own_pem, &own_pem]);
    assert!(ok, "self-signed verify: {out}");

    // RSA 3072 with SHA384 through the Portuguese paths; self-signed, so the request's digest signs it
    // (a CA signs with its own key's algorithm).
    let rsa = app
        .post_json(
            &client,
            "/iso/certificado/request/rsa-01",
            request_body("rsa.example.com", json!({"encryption": "RSA", "encryption_key_size": "3072", "certificate_algorithm": "SHA384", "san": []})),
        )
        .await;
    assert_eq!(rsa.status, StatusCode::CREATED, "{}", rsa.body);
    assert!(rsa.body["certificate"]["csr"].as_str().expect("csr").contains("CERTIFICATE REQUEST"));
    let (ok, out) = openssl(&[
        "req",
        "-verify",
        "-noout",
        "-in",
        &write(dir.path(), "rsa.csr", rsa.body["certificate"]["csr"].as_str().expect("csr")),
    ]);
    assert!(ok, "the CSR is signed by its key: {out}");
    let signed =
        app.call(&client, Method::GET, "/iso/certificado/request/assinar/rsa-01?auto_assinado=1&motivo=x").await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    let (_, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        &write(dir.path(), "rsa.pem", signed.body["certificate"]["certificate"].as_str().expect("pem")),
    ]);
    assert!(text.contains("sha384WithRSAEncryption") && text.contains("3072 bit"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
}

async fn a_revoked_serial_is_in_the_crl(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (root, issuing) = authorities(&app, &admin).await;
    let client = app.client(&[Resource::Certificates]).await;
    let kept = issued(&app, &client, "kept", &issuing).await;
    let gone = issued(&app, &client, "gone", &issuing).await;
    let id = gone["id"].as_str().expect("id");

    let wrong = app
        .post_json(
            &client,
            &format!("/iso/certificate/revoke/{id}"),
            json!({"password_revogation": "not-the-password"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    let missing = app.post_json(&client, &format!("/iso/certificate/revoke/{id}"), json!({})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    let revoked = app
        .post_json(
            &client,
            &format!("/iso/certificate/revoke/{id}"),
            json!({"password_revogation": "revoke-me-please", "reason": "key leaked"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.body["certificate"]["status_certificate"], "2");
    let again = app
        .post_json(
            &client,
            &format!("/iso/certificate/revoke/{id}"),
            json!({"password_revogation": "revoke-me-please"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    let crl = app.call(&client, Method::GET, "/iso/certificate/ca/Issuing%20CA/crl").await;
    assert_eq!(crl.status, StatusCode::OK, "{}", crl.body);
    let dir = tempfile::tempdir().expect("dir");
    let issuing_pem =
        app.call(&client, Method::GET, "/iso/certificate/ca/Issuing%20CA").await.body["certificate"]["certificate"]
            .as_str()
            .expect("pem")
            .to_owned();
    let crl_path = write(dir.path(), "crl.pem", crl.body["certificate"]["crl"].as_str().expect("crl"));
    let (ok, text) =
        openssl(&["crl", "-noout", "-text", "-in", &crl_path, "-CAfile", &write(dir.path(), "ca.pem", &issuing_pem)]);
    assert!(ok && text.contains("verify OK"), "{text}");
    assert!(text.contains(&format!("Serial Number: {}", gone["serial"].as_str().expect("serial"))), "{text}");
    assert!(!text.contains(kept["serial"].as_str().expect("serial")), "{text}");

    // The root signed neither; its CRL is empty. Revoked certificates list under status 2.
    let root_crl =
        app.call(&client, Method::GET, &format!("/iso/certificate/ca/{}/crl", root.replace(' ', "%20"))).await;
    let (_, text) = openssl(&[
        "crl",
        "-noout",
        "-text",
        "-in",
        &write(dir.path(), "root.crl", root_crl.body["certificate"]["crl"].as_str().expect("crl")),
    ]);
    assert!(text.contains("No Revoked Certificates"), "{text}");
    let listed = app.call(&client, Method::GET, "/iso/certificate/list?status_certificate=2").await;
    let ids: Vec<&Value> = listed.body["certificates"].as_array().expect("list").iter().map(|c| &c["id"]).collect();
    assert_eq!(ids, [&gone["id"]]);
}

fn message(reply: &Reply) -> String {
    reply.body["response"]["message"].as_str().unwrap_or_default().to_owned()
}

async fn bad_input_gets_a_4xx_that_names_the_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (_, issuing) = authorities(&app, &admin).await;
    let client = app.client(&[Resource::Certificates]).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"common_name": "a".repeat(10 * 1024)}), "'common_name' must be at most 64"),
        (json!({"common_name": null}), "'common_name' is required"),
        (json!({"common_name": "<script>alert(1)</script>"}), "DNS name or an IP"),
        (json!({"encryption": "DSA", "encryption_key_size": 2048}), "DSA keys are not supported"),
        (json!({"encryption": "RSA", "encryption_key_size": 1024}), "1024 bits are not supported"),
        (json!({"certificate_algorithm": "MD5"}), "'certificate_algorithm'"),
        (json!({"certificate_algorithm": "SHA512"}), "P-256 keys sign with SHA256 only"),
        (json!({"certificate_type": 7}), "'certificate_type'"),
        (json!({"domain_type": "SING"}), "SING request covers its common name only"),
        (json!({"domain_type": "WILD"}), "must start with '*.'"),
        (json!({"validity": "forever"}), "'validity'"),
        (json!({"validity": 4000}), "'validity'"),
        (json!({"san": ["ok.example.com", "bad name"]}), "'san'"),
        (json!({"external_ip": "not-an-ip"}), "'external_ip'"),
        (json!({"justification": "j".repeat(1025)}), "'justification' must be at most 1024"),
        (json!({"key_password": "short"}), "'key_password' must be 8 to 1024"),
        (json!({"tags": {"not": "a list"}}), "'tags'"),
    ];
    for (spoil, expected) in cases {
        let reply = request(&app, &client, "bad", request_body("www.example.com", spoil.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{spoil}: {}", reply.body);
        assert!(message(&reply).contains(expected), "{spoil}: {} should name {expected:?}", reply.body);
        assert_eq!(reply.body["exception"]["message"], reply.body["response"]["message"]);
    }
    let listed = app.call(&client, Method::GET, "/iso/certificate/request/list").await;
    assert_eq!(listed.body["certificates"], json!([]), "no bad request was stored");
    let bad_code = request(&app, &client, "a%20b", request_body("www.example.com", json!({}))).await;
    assert_eq!(bad_code.status, StatusCode::BAD_REQUEST, "{}", bad_code.body);

    // Signing: missing choices, an unknown CA, a validity beyond the CA's own, twice.
    let long = request(&app, &client, "long", request_body("www.example.com", json!({"validity": 3000}))).await;
    assert_eq!(long.status, StatusCode::CREATED, "{}", long.body);
    for (query, status, expected) in [
        ("reason=x", StatusCode::BAD_REQUEST, "'self_signed' is required"),
        ("self_signed=0&reason=x", StatusCode::BAD_REQUEST, "'ca' is required"),
        ("self_signed=1", StatusCode::BAD_REQUEST, "'reason' is required"),
        ("self_signed=0&ca=Nobody&reason=x", StatusCode::BAD_REQUEST, "No certificate authority named"),
        (
            "self_signed=0&ca=Issuing%20CA&reason=x",
            StatusCode::BAD_REQUEST,
            "goes beyond the certificate authority's own",
        ),
    ] {
        let reply = sign(&app, &client, "long", query).await;
        assert_eq!(reply.status, status, "{query}: {}", reply.body);
        assert!(message(&reply).contains(expected), "{query}: {}", reply.body);
    }
    assert_eq!(sign(&app, &client, "nope", "self_signed=1&reason=x").await.status, StatusCode::NOT_FOUND);
    let cert = issued(&app, &client, "once", &issuing).await;
    let twice = sign(&app, &client, "once", "self_signed=1&reason=x").await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.body);
    let modify = request(&app, &client, "once", request_body("www.example.com", json!({}))).await;
    assert_eq!(modify.status, StatusCode::CONFLICT, "a signed request is not modified: {}", modify.body);

    // Export and lists.
    let id = cert["id"].as_str().expect("id");
    assert_eq!(export(&app, &client, id, "wrong-password").await.status, StatusCode::FORBIDDEN);
    assert_eq!(export(&app, &client, "999999", KEY_PASSWORD).await.status, StatusCode::NOT_FOUND);
    for path in [
        "/iso/certificate/list?status_certificate=9",
        "/iso/certificate/list?limit=0",
        "/iso/certificate/list?start_validity=yesterday",
        "/iso/certificate/list?origin_certificate=X",
    ] {
        assert_eq!(app.call(&client, Method::GET, path).await.status, StatusCode::BAD_REQUEST, "{path}");
    }
    assert_eq!(app.call(&client, Method::GET, "/iso/certificate/list/abc").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(&client, Method::GET, "/iso/certificate/ca/Nobody").await.status, StatusCode::NOT_FOUND);

    // Authorities: a taken name, an intermediate outliving its parent, DSA, a hostile name.
    for (body, status, expected) in [
        (json!({"name": "Root CA"}), StatusCode::CONFLICT, "already exists"),
        (
            json!({"name": "Long", "parent": "Issuing CA", "validity_days": 2000}),
            StatusCode::BAD_REQUEST,
            "may not outlive its parent",
        ),
        (json!({"name": "Dsa", "key_type": "DSA-2048"}), StatusCode::BAD_REQUEST, "DSA keys are not supported"),
        (json!({"name": "bad\u{0}name"}), StatusCode::BAD_REQUEST, "NUL characters"),
        (json!({"name": "bad\u{7}name"}), StatusCode::BAD_REQUEST, "control characters"),
        (json!({"name": "Orphan", "parent": "Nobody"}), StatusCode::BAD_REQUEST, "No certificate authority named"),
        (json!({"name": "12345"}), StatusCode::BAD_REQUEST, "only digits"),
    ] {
        let reply = app.post_json(&admin, "/api/admin/certificate-authorities", body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(message(&reply).contains(expected), "{body}: {}", reply.body);
    }
    assert!(app.state.core.store_reachable().await, "the server kept running");
}

async fn other_applications_and_narrower_callers_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (_, issuing) = authorities(&app, &admin).await;
    let owner = app.client(&[Resource::Certificates]).await;
    let cert = issued(&app, &owner, "mine", &issuing).await;
    let id = cert["id"].as_str().expect("id");
    assert_eq!(
        request(&app, &owner, "pending", request_body("p.example.com", json!({}))).await.status,
        StatusCode::CREATED
    );

    // Another application sees none of it and cannot act on it.
    let other = app.client(&[Resource::Certificates]).await;
    let listed = app.call(&other, Method::GET, "/iso/certificate/list").await;
    assert_eq!(listed.body["certificates"], json!([]));
    assert_eq!(app.call(&other, Method::GET, "/iso/certificate/request/list").await.body["certificates"], json!([]));
    assert_eq!(
        app.call(&other, Method::GET, &format!("/iso/certificate/list/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(sign(&app, &other, "pending", "self_signed=1&reason=x").await.status, StatusCode::NOT_FOUND);
    assert_eq!(export(&app, &other, id, KEY_PASSWORD).await.status, StatusCode::NOT_FOUND);
    let revoke = app
        .post_json(&other, &format!("/iso/certificate/revoke/{id}"), json!({"password_revogation": "revoke-me-please"}))
        .await;
    assert_eq!(revoke.status, StatusCode::NOT_FOUND);
    // Its own request with the same code is its own row.
    assert_eq!(
        request(&app, &other, "mine", request_body("o.example.com", json!({}))).await.status,
        StatusCode::CREATED
    );
    let still = app.call(&owner, Method::GET, "/iso/certificate/request/list/mine").await;
    assert_eq!(still.body["certificates"][0]["common_name"], "localhost");
    assert_eq!(still.body["certificates"][0]["status_request"], "2");

    // A read-only authorization of the owner's kind may read but not change.
    let reader_app = app.create_app(&[Resource::Certificates], true, &["*"]).await;
    let reader = Client { token: app.token_for(&reader_app).await, app: reader_app };
    assert_eq!(app.call(&reader, Method::GET, "/iso/certificate/list").await.status, StatusCode::OK);
    assert_eq!(app.call(&reader, Method::GET, "/iso/certificate/ca/Issuing%20CA").await.status, StatusCode::OK);
    for reply in [
        request(&app, &reader, "r", request_body("r.example.com", json!({}))).await,
        sign(&app, &reader, "r", "self_signed=1&reason=x").await,
        export(&app, &reader, "1", KEY_PASSWORD).await,
        app.post_json(&reader, "/iso/certificate/revoke/1", json!({})).await,
        app.post_json(&reader, "/iso/certificate/import", json!({"certificate": "x"})).await,
        app.post_json(&reader, "/iso/certificado/descobrir", json!({"targets": ["127.0.0.1:1"]})).await,
    ] {
        assert_eq!(reply.body["exception"]["code"], 1039, "read-only: {}", reply.body);
    }
    // Without the certificates resource, nothing; and only admins make authorities.
    let pam = app.client(&[Resource::Pam]).await;
    for path in ["/iso/certificate/list", "/iso/certificate/ca/Issuing%20CA", "/iso/certificate/ca/Issuing%20CA/crl"] {
        let reply = app.call(&pam, Method::GET, path).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", reply.body);
    }
    let made = app.post_json(&owner, "/api/admin/certificate-authorities", json!({"name": "Rogue"})).await;
    assert!(made.status.is_client_error() || made.status.is_server_error(), "{}", made.body);
    assert_eq!(
        app.call(&admin, Method::GET, "/api/admin/certificate-authorities").await.body["certificate_authorities"]
            .as_array()
            .expect("list")
            .len(),
        2
    );
}

async fn the_status_follows_the_injected_clock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (_, issuing) = authorities(&app, &admin).await;
    let client = app.client(&[Resource::Certificates]).await;
    let made =
        request(&app, &client, "short", request_body("short.example.com", json!({"validity": 40, "san": []}))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let signed =
        sign(&app, &client, "short", &format!("self_signed=0&ca={}&reason=x", issuing.replace(' ', "%20"))).await;
    let id = signed.body["certificate"]["id"].clone();
    let status_of = |body: &Value| body["certificates"][0]["status_certificate"].clone();
    let mut client = client;
    for (days, status, active) in [(0, "1", "1"), (11, "3", "1"), (30, "4", "0")] {
        app.clock.advance_secs(days * 86_400);
        client.token = app.token_for(&client.app).await;
        let listed =
            app.call(&client, Method::GET, &format!("/iso/certificate/list/{}", id.as_str().expect("id"))).await;
        assert_eq!(status_of(&listed.body), status, "after {days} more days: {}", listed.body);
        assert_eq!(listed.body["certificates"][0]["active"], active);
        let filtered =
            app.call(&client, Method::GET, &format!("/iso/certificate/list?status_certificate={status}")).await;
        assert_eq!(filtered.body["certificates"].as_array().expect("list").len(), 1, "{}", filtered.body);
        let by_active = app.call(&client, Method::GET, &format!("/iso/certificate/list?active={active}")).await;
        assert_eq!(by_active.body["certificates"].as_array().expect("list").len(), 1, "{}", by_active.body);
    }
    let none = app.call(&client, Method::GET, "/iso/certificate/list?status_certificate=1").await;
    assert_eq!(none.body["certificates"], json!([]));
    // Paging.
    for code in ["p1", "p2", "p3"] {
        request(&app, &client, code, request_body("page.example.com", json!({}))).await;
    }
    let page = app.call(&client, Method::GET, "/iso/certificate/request/list?offset=1&limit=2").await;
    let codes: Vec<&str> =
        page.body["certificates"].as_array().expect("list").iter().map(|r| r["code"].as_str().expect("code")).collect();
    assert_eq!(codes, ["p1", "p2"]);
    let pending = app.call(&client, Method::GET, "/iso/certificate/request/list?status_request=1").await;
    assert_eq!(pending.body["certificates"].as_array().expect("list").len(), 3);
}

async fn simultaneous_callers_leave_one_request_one_certificate_and_distinct_crl_numbers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (_, issuing) = authorities(&app, &admin).await;
    let client = app.client(&[Resource::Certificates]).await;
    let app = &app;
    let client = &client;
    let posts = futures_util::future::join_all((0..8).map(|i| async move {
        request(app, client, "race", request_body(&format!("n{i}.example.com"), json!({}))).await
    }))
    .await;
    let statuses: Vec<StatusCode> = posts.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 7, "{statuses:?}");
    let rows = sqlx::query("SELECT common_name, csr FROM certificate_requests WHERE code = 'race'")
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);

    let query = format!("self_signed=0&ca={}&reason=race", issuing.replace(' ', "%20"));
    let query = &query;
    let signs =
        futures_util::future::join_all((0..8).map(|_| async move { sign(app, client, "race", query).await })).await;
    let ok: Vec<&Reply> = signs.iter().filter(|r| r.status == StatusCode::OK).collect();
    assert_eq!(ok.len(), 1, "{:?}", signs.iter().map(|r| (r.status, r.body.clone())).collect::<Vec<_>>());
    assert!(signs.iter().all(|r| r.status == StatusCode::OK || r.status == StatusCode::CONFLICT));
    let count: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM certificates")
            .fetch_one(app.state.core.store.pool())
            .await
            .expect("count"),
        "n",
    );
    assert_eq!(count, 1);

    let crls = futures_util::future::join_all(
        (0..10).map(|_| async move { app.call(client, Method::GET, "/iso/certificate/ca/Issuing%20CA/crl").await }),
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let mut numbers: Vec<String> = crls
        .iter()
        .enumerate()
        .map(|(i, r)| {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let path = write(dir.path(), &format!("{i}.crl"), r.body["certificate"]["crl"].as_str().expect("crl"));
            let (ok, out) = openssl(&["crl", "-noout", "-crlnumber", "-in", &path]);
            assert!(ok, "{out}");
            out.trim().to_owned()
        })
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 10, "{numbers:?}");
}

async fn no_private_key_is_stored_or_audited_in_plaintext(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (_, issuing) = authorities(&app, &admin).await;
    let client = app.client(&[Resource::Certificates]).await;
    let cert = issued(&app, &client, "secret", &issuing).await;
    let exported = export(&app, &client, cert["id"].as_str().expect("id"), KEY_PASSWORD).await;
    assert_eq!(exported.status, StatusCode::OK, "{}", exported.body);
    let der = decrypted_key(&exported.body);
    // The key's last 32 bytes: the private scalar's tail, in any encoding of the key.
    let tail = &der[der.len() - 32..];
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let pool = app.state.core.store.pool();
    for (table, column) in [
        ("certificate_requests", "private_key"),
        ("certificates", "private_key"),
        ("certificate_authorities", "private_key"),
    ] {
        let rows = sqlx::query(&format!("SELECT {column} AS k FROM {table}")).fetch_all(pool).await.expect("rows");
        assert!(!rows.is_empty(), "{table}");
        for row in rows {
            let sealed: Vec<u8> = sqlx::Row::get(&row, "k");
            assert!(!sealed.windows(32).any(|w| w == tail), "{table}.{column} holds the key in plaintext");
            assert!(
                !sealed.starts_with(b"0\x82") && !sealed.starts_with(b"-----"),
                "{table}.{column} looks like plain DER/PEM"
            );
        }
    }
    for file in app.sqlite_files().into_iter().filter(|f| f.exists()) {
        let bytes = std::fs::read(&file).expect("read");
        assert!(!bytes.windows(32).any(|w| w == tail), "{} holds the key", file.display());
    }
    let audit = serde_json::to_string(
        &app.state.core.recent_audit(1000).await.expect("audit").iter().map(|r| format!("{r:?}")).collect::<Vec<_>>(),
    )
    .expect("json");
    for needle in [KEY_PASSWORD, "revoke-me-please", &b64[..40], "ENCRYPTED PRIVATE KEY", "BEGIN PRIVATE KEY"] {
        assert!(!audit.contains(needle), "the audit trail holds {needle:?}");
    }
    assert!(audit.contains("go-live"), "the signing reason is audited");
}

/// `GET /iso/certificate/list/{code}` takes the request code, as the English documentation says;
/// the numeric id keeps working there, and the Portuguese `/certificado/listar/{id}` takes the id.
async fn the_english_list_path_takes_the_request_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (_, issuing) = authorities(&app, &admin).await;
    let owner = app.client(&[Resource::Certificates]).await;
    let store = issued(&app, &owner, "web-store", &issuing).await;
    let store_id = store["id"].as_str().expect("id").to_owned();
    // A request whose code is the other certificate's id: on the English path the code wins.
    let numeric = issued(&app, &owner, &store_id, &issuing).await;
    let numeric_id = numeric["id"].as_str().expect("id").to_owned();
    let listed = |path: String| {
        let (app, owner) = (&app, &owner);
        async move {
            let reply = app.call(owner, Method::GET, &path).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
            let ids = reply.body["certificates"].as_array().expect("list").iter();
            ids.map(|c| c["id"].as_str().expect("id").to_owned()).collect::<Vec<_>>()
        }
    };
    for prefix in ["/iso", "/api"] {
        assert_eq!(listed(format!("{prefix}/certificate/list/web-store")).await, vec![store_id.clone()]);
        assert_eq!(listed(format!("{prefix}/certificate/list/{store_id}")).await, vec![numeric_id.clone()]);
        assert_eq!(listed(format!("{prefix}/certificate/list/{numeric_id}")).await, vec![numeric_id.clone()]);
        assert_eq!(listed(format!("{prefix}/certificado/listar/{store_id}")).await, vec![store_id.clone()]);
    }
    let block = app.call(&owner, Method::GET, "/iso/certificate/list/web-store").await.body;
    assert_eq!(block["certificates"][0]["code"], "web-store");

    // A request not yet signed, a code nobody used, and another application's code: not found.
    assert_eq!(
        request(&app, &owner, "later", request_body("l.example.com", json!({}))).await.status,
        StatusCode::CREATED
    );
    let other = app.client(&[Resource::Certificates]).await;
    for (client, path) in [
        (&owner, "/iso/certificate/list/later"),
        (&owner, "/iso/certificate/list/nobody"),
        (&owner, "/iso/certificado/listar/web-store"),
        (&other, "/iso/certificate/list/web-store"),
    ] {
        let reply = app.call(client, Method::GET, path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.body);
        assert_eq!(reply.body["response"]["message"], "Certificate not found.", "{path}");
    }
}
