//! Key derivation parameters arrive with what is imported (issue 31): an encrypted PKCS#8 key's
//! PBKDF2 iterations or scrypt cost, a PKCS#12 file's MAC and bag encryption. A costly one is
//! refused with a 400 naming the limit before any derivation runs, so one request can neither
//! abort the server (scrypt N=2^40 asks for a pebibyte) nor burn a core for minutes; what openssl
//! writes by default still imports. Every request here has a deadline, so a derivation that does
//! run fails the test instead of hanging it.

use std::path::Path;
use std::time::{Duration, Instant};

use cms::content_info::ContentInfo;
use cms::encrypted_data::EncryptedData;
use cofre::domain::authorization::Resource;
use pkcs8::der::asn1::{ContextSpecific, ObjectIdentifier, OctetString};
use pkcs8::der::{Any, Decode, Encode, EncodePem, pem::LineEnding};
use pkcs8::pkcs5::{EncryptionScheme, pbes2};
use pkcs8::spki::AlgorithmIdentifierOwned;
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo as ShroudedKey, Pkcs12PbeParams};
use pkcs12::pfx::Pfx;
use pkcs12::safe_bag::SafeContents;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::certificate_imports::{P12_PASSWORD, b64, message, openssl_certificate};
use crate::certificates::{admin, openssl};
use crate::cli::cofre_outcome;
use crate::helpers::{Backend, Client, Reply, TestApp};
use crate::on_both_stores;

on_both_stores!(
    a_key_with_scrypt_cost_2_40_is_refused_unrun,
    a_key_with_2_31_pbkdf2_iterations_is_refused_unrun,
    a_pkcs12_with_a_costly_mac_is_refused_unrun,
    costly_pkcs12_bag_encryption_is_refused_unrun,
    what_openssl_writes_still_imports,
    the_cli_refuses_a_costly_key,
);

/// Ample for any refusal or ordinary import; far less than a costly derivation takes.
const DEADLINE: Duration = Duration::from_secs(15);
/// A refusal comes before any derivation: well under a second, with room for a loaded machine.
const PROMPT: Duration = Duration::from_secs(5);
const KEY_PASSWORD: &str = "correct horse";
const HUGE: u32 = i32::MAX as u32;
const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// cofre's limit on a PKCS#12 file's derivations, reached here with the certificates' one.
const MAX_DERIVATIONS: usize = 16;
const PBE_SHA1_3DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");

async fn post_within(app: &TestApp, client: &Client, path: &str, body: Value) -> (Reply, Duration) {
    let started = Instant::now();
    let request = app.authed(client, Method::POST, path).json(&body).timeout(DEADLINE);
    let Ok(response) = request.send().await else {
        // A derivation that runs cannot be stopped, and its blocking thread would hold this
        // runtime's shutdown (so the test) for as long as it runs: end the run here instead.
        let why = format!("FAILED: no answer from {path} within {DEADLINE:?}: a key derivation ran unbounded\n");
        std::io::Write::write_all(&mut std::io::stderr(), why.as_bytes()).ok();
        std::process::exit(101);
    };
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (Reply { status, headers, body }, started.elapsed())
}

/// Refused promptly with a 400 whose message names `expected`.
async fn assert_refused(app: &TestApp, client: &Client, path: &str, body: Value, expected: &str) {
    let (reply, took) = post_within(app, client, path, body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{expected}: {}", reply.body);
    assert!(message(&reply).contains(expected), "should name {expected:?}: {}", reply.body);
    assert!(took < PROMPT, "refused after {took:?}: a derivation ran first");
}

async fn still_answers(app: &TestApp, client: &Client) {
    let listed = app.call(client, Method::GET, "/iso/certificate/list").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["certificates"], json!([]), "nothing imported");
}

/// Encrypted PKCS#8 PEM whose ciphertext is junk: only its parameters matter here.
fn encrypted_key(kdf: pbes2::Kdf<'_>) -> String {
    let iv = [7u8; 16];
    let encryption = pbes2::EncryptionScheme::Aes256Cbc { iv: &iv };
    let scheme = EncryptionScheme::Pbes2(pbes2::Parameters { kdf, encryption });
    let info = pkcs8::EncryptedPrivateKeyInfo { encryption_algorithm: scheme, encrypted_data: &[0u8; 48] };
    info.to_pem(LineEnding::LF).expect("pem")
}

fn scrypt_key(log_n: u32) -> String {
    let params = pbes2::ScryptParams {
        salt: &[1; 16],
        cost_parameter: 1 << log_n,
        block_size: 8,
        parallelization: 1,
        key_length: None,
    };
    encrypted_key(pbes2::Kdf::Scrypt(params))
}

/// PBKDF2-HMAC-SHA256 (built by hand: pkcs5's constructor itself refuses counts over 10^8).
fn pbkdf2(iterations: u32, salt: &[u8]) -> pbes2::Kdf<'_> {
    let prf = pbes2::Pbkdf2Prf::HmacWithSha256;
    pbes2::Kdf::Pbkdf2(pbes2::Pbkdf2Params { salt, iteration_count: iterations, key_length: None, prf })
}

fn pbkdf2_key(iterations: u32) -> String {
    encrypted_key(pbkdf2(iterations, &[1; 16]))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).expect("read")
}

async fn a_key_with_scrypt_cost_2_40_is_refused_unrun(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let cert = read(&openssl_certificate(dir.path(), "shop", "shop.example.com").0);
    let key = scrypt_key(40);
    let limit = "scrypt cost N=2^40 (r=8) exceeds the limit N=2^17";

    let path = "/iso/certificado/importar";
    let separate = json!({"certificate": cert, "private_key": key, "password": KEY_PASSWORD});
    assert_refused(&app, &client, path, separate, limit).await;
    let bundled = json!({"certificate": format!("{cert}{key}"), "password": KEY_PASSWORD});
    assert_refused(&app, &client, path, bundled, limit).await;
    // openssl's self-signed certificate is a CA's, so the authority import reaches the key too.
    let admin = admin(&app).await;
    let authority = json!({"name": "Costly", "certificate": cert, "private_key": key, "password": KEY_PASSWORD});
    assert_refused(&app, &admin, "/api/admin/certificate-authorities", authority, limit).await;
    still_answers(&app, &client).await;
}

/// `openssl pkcs12 -export` of a fresh certificate and key: OpenSSL 3 encrypts the certificate
/// safe and shrouds the key in another, both PBES2 with 2048 PBKDF2 iterations.
fn openssl_pkcs12(dir: &Path, stem: &str, extra: &[&str]) -> Vec<u8> {
    let (cert, key) = openssl_certificate(dir, stem, &format!("{stem}.example.com"));
    let p12 = dir.join(format!("{stem}.p12")).to_string_lossy().into_owned();
    let passout = format!("pass:{P12_PASSWORD}");
    let mut args = vec!["pkcs12", "-export", "-inkey", &key, "-in", &cert, "-passout", &passout, "-out", &p12];
    args.extend_from_slice(extra);
    let (ok, out) = openssl(&args);
    assert!(ok, "openssl pkcs12: {out}");
    std::fs::read(&p12).expect("p12")
}

fn any_of(value: &impl Encode) -> Any {
    Any::from_der(&value.to_der().expect("der")).expect("any")
}

fn safes_of(pfx: &Pfx) -> Vec<ContentInfo> {
    let octets = OctetString::from_der(&pfx.auth_safe.content.to_der().expect("der")).expect("octets");
    Vec::<ContentInfo>::from_der(octets.as_bytes()).expect("authenticated safe")
}

/// The file with these safes and no MAC (else p12-keystore, checking the MAC first, would
/// stop at it before reaching what the test changed).
fn unsealed(mut pfx: Pfx, safes: Vec<ContentInfo>) -> String {
    pfx.mac_data = None;
    pfx.auth_safe.content = any_of(&OctetString::new(safes.to_der().expect("der")).expect("octets"));
    b64(&pfx.to_der().expect("pfx"))
}

fn bags_of(safe: &ContentInfo) -> SafeContents {
    let octets = OctetString::from_der(&safe.content.to_der().expect("der")).expect("octets");
    SafeContents::from_der(octets.as_bytes()).expect("bags")
}

/// pkcs12's SafeBag decodes its value with the `[0]` around it but encodes it adding another:
/// unwrap before encoding.
fn contents_der(bags: &SafeContents) -> Vec<u8> {
    let mut bags = bags.clone();
    for bag in &mut bags {
        let value = ContextSpecific::<Any>::from_der(&bag.bag_value).expect("[0] value").value;
        bag.bag_value = value.to_der().expect("der");
    }
    bags.to_der().expect("der")
}

fn with_bags(bags: &SafeContents) -> ContentInfo {
    ContentInfo { content_type: DATA, content: any_of(&OctetString::new(contents_der(bags)).expect("octets")) }
}

/// Every shrouded key bag now names `scheme`.
fn reschemed(mut bags: SafeContents, scheme: &AlgorithmIdentifierOwned) -> SafeContents {
    for bag in bags.iter_mut().filter(|b| b.bag_id == pkcs12::PKCS_12_PKCS8_KEY_BAG_OID) {
        let mut key = ContextSpecific::<ShroudedKey>::from_der(&bag.bag_value).expect("shrouded key");
        key.value.encryption_algorithm = scheme.clone();
        bag.bag_value = key.to_der().expect("der");
    }
    bags
}

fn pbes2_scheme(iterations: u32) -> AlgorithmIdentifierOwned {
    let encryption = pbes2::EncryptionScheme::Aes256Cbc { iv: &[2; 16] };
    let params = pbes2::Parameters { kdf: pbkdf2(iterations, &[1; 16]), encryption };
    AlgorithmIdentifierOwned { oid: pbes2::PBES2_OID, parameters: Some(any_of(&params)) }
}

fn encrypted_safe(safe: &ContentInfo) -> EncryptedData {
    EncryptedData::from_der(&safe.content.to_der().expect("der")).expect("encrypted safe")
}

async fn a_key_with_2_31_pbkdf2_iterations_is_refused_unrun(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let cert = read(&openssl_certificate(dir.path(), "shop", "shop.example.com").0);
    let body = json!({"certificate": cert, "private_key": pbkdf2_key(HUGE), "password": KEY_PASSWORD});
    let expected = "PBKDF2 iteration count 2147483647 exceeds the limit of 1000000";
    assert_refused(&app, &client, "/iso/certificado/importar", body, expected).await;
    still_answers(&app, &client).await;
}

fn p12_body(file: String) -> Value {
    json!({"certificate": file, "format": "PKCS12", "password": P12_PASSWORD})
}

async fn a_pkcs12_with_a_costly_mac_is_refused_unrun(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut pfx = Pfx::from_der(&openssl_pkcs12(dir.path(), "vault", &[])).expect("pfx");
    pfx.mac_data.as_mut().expect("openssl writes a MAC").iterations = i32::MAX;
    let file = b64(&pfx.to_der().expect("der"));
    let expected = "MAC iteration count 2147483647 exceeds the limit of 1000000";
    assert_refused(&app, &client, "/iso/certificado/importar", p12_body(file), expected).await;
    still_answers(&app, &client).await;
}

async fn costly_pkcs12_bag_encryption_is_refused_unrun(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = "/iso/certificado/importar";
    let p12 = openssl_pkcs12(dir.path(), "vault", &[]);
    let pfx = || Pfx::from_der(&p12).expect("pfx");
    let safes = safes_of(&pfx());
    let (certs, keys) = (&safes[0], &safes[1]);
    assert_eq!(keys.content_type, DATA, "openssl shrouds the key in a plain safe");
    let expected = "shrouded key's PBKDF2 iteration count 2147483647 exceeds the limit";
    // The shrouded key bag with PBES2 and 2^31 - 1 iterations, where openssl put it...
    let costly_keys = with_bags(&reschemed(bags_of(keys), &pbes2_scheme(HUGE)));
    let file = unsealed(pfx(), vec![certs.clone(), costly_keys]);
    assert_refused(&app, &client, path, p12_body(file), expected).await;
    // ... and inside the encrypted safe, which is opened (2048 iterations) to see it.
    let mut sealed = encrypted_safe(certs);
    let params_der =
        sealed.enc_content_info.content_enc_alg.parameters.as_ref().expect("params").to_der().expect("der");
    let params = pbes2::Parameters::from_der(&params_der).expect("openssl 3 writes PBES2");
    let content = sealed.enc_content_info.encrypted_content.as_ref().expect("content");
    let plain = params.decrypt(P12_PASSWORD, content.as_bytes()).expect("decrypts");
    let mut inner = SafeContents::from_der(&plain).expect("bags");
    inner.extend(reschemed(bags_of(keys), &pbes2_scheme(HUGE)));
    let content = params.encrypt(P12_PASSWORD, &contents_der(&inner)).expect("encrypts");
    sealed.enc_content_info.encrypted_content = Some(OctetString::new(content).expect("octets"));
    let nested = ContentInfo { content_type: certs.content_type, content: any_of(&sealed) };
    assert_refused(&app, &client, path, p12_body(unsealed(pfx(), vec![nested])), expected).await;
    // The encrypted safe's own scheme.
    let mut sealed = encrypted_safe(certs);
    sealed.enc_content_info.content_enc_alg = pbes2_scheme(HUGE);
    let costly_safe = ContentInfo { content_type: certs.content_type, content: any_of(&sealed) };
    let file = unsealed(pfx(), vec![costly_safe, keys.clone()]);
    let expected = "encrypted contents' PBKDF2 iteration count 2147483647 exceeds the limit";
    assert_refused(&app, &client, path, p12_body(file), expected).await;
    // A PKCS#12 PBE scheme (SHA-1 and 3DES, as `-legacy` writes) with 2^31 - 1 iterations.
    let pbe = Pkcs12PbeParams { salt: OctetString::new([3u8; 8]).expect("salt"), iterations: i32::MAX };
    let pbe = AlgorithmIdentifierOwned { oid: PBE_SHA1_3DES, parameters: Some(any_of(&pbe)) };
    let file = unsealed(pfx(), vec![certs.clone(), with_bags(&reschemed(bags_of(keys), &pbe))]);
    let expected = "shrouded key's PKCS#12 PBE iteration count 2147483647 exceeds the limit";
    assert_refused(&app, &client, path, p12_body(file), expected).await;
    // Each derivation is bounded, and so is their number.
    let key_bag = bags_of(keys).remove(0);
    let many_keys = with_bags(&vec![key_bag; MAX_DERIVATIONS]);
    let file = unsealed(pfx(), vec![certs.clone(), many_keys]);
    let expected = "number of password-encrypted parts exceeds the limit of 16";
    assert_refused(&app, &client, path, p12_body(file), expected).await;
    still_answers(&app, &client).await;
}

async fn what_openssl_writes_still_imports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = "/iso/certificado/importar";
    // Encrypted PKCS#8 as `openssl pkcs8 -topk8` writes it: PBES2 with PBKDF2, and with scrypt.
    for (stem, scheme) in [("pbkdf2", &["-v2", "aes-256-cbc"][..]), ("scrypt", &["-scrypt"])] {
        let (cert, key) = openssl_certificate(dir.path(), stem, &format!("{stem}.example.com"));
        let encrypted = dir.path().join(format!("{stem}.p8")).to_string_lossy().into_owned();
        let passout = format!("pass:{KEY_PASSWORD}");
        let mut args = vec!["pkcs8", "-topk8", "-in", &key, "-out", &encrypted, "-passout", &passout];
        args.extend_from_slice(scheme);
        let (ok, out) = openssl(&args);
        assert!(ok, "openssl pkcs8: {out}");
        let body = json!({"certificate": read(&cert), "private_key": read(&encrypted), "password": KEY_PASSWORD});
        let (made, _) = post_within(&app, &client, path, body).await;
        assert_eq!(made.status, StatusCode::CREATED, "{stem}: {}", made.body);
        assert_eq!(made.body["certificate"]["private_key"], "sealed");
    }
    // PKCS#12 as OpenSSL 3 writes it (PBES2), with SHA-1 and 3DES throughout as older Windows
    // exports are, and as `-legacy` does (RC2-40 and 3DES) when this OpenSSL has that provider.
    let triple_des = ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"];
    let mut files = vec![
        ("modern", openssl_pkcs12(dir.path(), "modern", &[])),
        ("windows", openssl_pkcs12(dir.path(), "windows", &triple_des)),
    ];
    if openssl(&["list", "-providers", "-provider", "legacy"]).0 {
        files.push(("legacy", openssl_pkcs12(dir.path(), "legacy", &["-legacy"])));
    }
    for (stem, file) in files {
        let body = json!({"certificate": b64(&file), "password": P12_PASSWORD});
        let (made, _) = post_within(&app, &client, path, body).await;
        assert_eq!(made.status, StatusCode::CREATED, "{stem}: {}", made.body);
        assert_eq!(made.body["certificate"]["common_name"], format!("{stem}.example.com"));
        assert_eq!(made.body["certificate"]["private_key"], "sealed");
    }
}

async fn the_cli_refuses_a_costly_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let dir = tempfile::tempdir().expect("dir");
    let (cert, _) = openssl_certificate(dir.path(), "shop", "shop.example.com");
    let key = dir.path().join("costly.p8").to_string_lossy().into_owned();
    std::fs::write(&key, scrypt_key(40)).expect("write");
    let authorization = client.app.authorization_id.to_string();
    let limit = "scrypt cost N=2^40 (r=8) exceeds the limit N=2^17";
    for args in [
        vec!["ca", "import", "Costly", "--certificate", &cert, "--key", &key, "--password-stdin"],
        vec!["cert", "import", "--authorization", &authorization, &cert, "--key", &key, "--password-stdin"],
    ] {
        let (ok, _, stderr) = cofre_outcome(&app, &args, &format!("{KEY_PASSWORD}\n"));
        assert!(!ok && stderr.contains(limit), "cofre {args:?} should name {limit:?}: {stderr}");
    }
    still_answers(&app, &client).await;
}
