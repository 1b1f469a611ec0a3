//! Real third-party clients replayed byte for byte (issue 32): the request line, the headers and
//! the body each client writes, on a socket, in the order it writes them. Only the host (the
//! test server's address), the credentials and what is computed at run time (a signature, a
//! nonce, a timestamp) differ from a capture. The clients travel over HTTPS in the field; TLS
//! carries these same bytes.
//!
//! * dsmcli's Go SDK (github.com/senhasegura/dsmcli, `sdk/iso/client.go`, `sdk/dsm/*.go`,
//!   `cmd/dsm/runb.go`): `Authenticate()` posts `url.Values{grant_type, client_id,
//!   client_secret}.Encode()` to `/iso/oauth2/token` with every header of `call()`, so once it
//!   holds a token it sends `Authorization: Bearer <old token>` beside the body credentials. The
//!   runb flow registers the application, switches to the `id`/`signature` answered, and logs in
//!   again before posting the variables and again before reading the application's secrets.
//! * A PHP client (github.com/gcostaa/senhaseguraAPI, `api/app/Model/Credential/Credential.php`
//!   and `Controller/Get/SendRequest.php`): it concatenates the fields and the OAuth parameters
//!   into the URL unencoded (`type=Local User`, which libcurl sends as `Local+User`) and sends
//!   it with PHP's curl: a GET, and for a create `CURLOPT_POST` without fields, which libcurl
//!   writes as an empty chunked body with `Expect: 100-continue`. Its configuration carries the
//!   contract's unsigned-mode placeholder `oauth_signature=-`; the same two requests are also
//!   replayed HMAC-SHA1-signed in the query, as PHP's OAuth libraries sign with the URI carrier.
//! * A .NET client (the `OAuthHeaderGenerator` pattern, e.g. Twitter.OAuth's README):
//!   `new AuthenticationHeaderValue("OAuth", header)` where `header` already starts with
//!   `OAuth `, so the scheme is doubled.

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cofre::domain::authorization::Resource;
use cofre::service::admin::apps::{AuthMethods, CreatedApplication, NewApplication};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    go_sdk_register_then_use_sequence_is_served,
    php_client_query_signed_create_then_get_is_served,
    dotnet_doubled_oauth_scheme_is_accepted_when_the_signature_verifies,
);

/// One answer read off the socket.
struct Raw {
    status: u16,
    body: Value,
}

/// Writes `head` (request line and headers, CRLF-terminated) and `body` on a new connection as
/// the client does (after a `100 Continue` when it asked for one) and reads the final answer.
async fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let expects_continue = head.to_ascii_lowercase().contains("\r\nexpect: 100-continue\r\n");
    stream.write_all(head.as_bytes()).await.expect("head");
    if !expects_continue {
        stream.write_all(body).await.expect("body");
    }
    let mut buffer = Vec::new();
    let mut body_sent = !expects_continue;
    loop {
        let (status, headers, rest) = read_head(&mut stream, &mut buffer).await;
        if status == 100 {
            buffer = rest;
            if !body_sent {
                stream.write_all(body).await.expect("body after 100 Continue");
                body_sent = true;
            }
            continue;
        }
        let content = read_body(&mut stream, &headers, rest).await;
        let text = String::from_utf8(content).expect("utf-8 answer");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        return Raw { status, body };
    }
}

/// The status, the lower-cased header lines and what was read past the head.
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> (u16, Vec<String>, Vec<u8>) {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let mut lines = head.split("\r\n").map(str::to_owned);
            let status_line = lines.next().expect("status line");
            let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
            return (status, lines.collect(), buffer[end + 4..].to_vec());
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection before answering");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn read_body(stream: &mut TcpStream, headers: &[String], mut read: Vec<u8>) -> Vec<u8> {
    let header = |name: &str| headers.iter().find_map(|h| h.strip_prefix(name).map(|v| v.trim().to_owned()));
    if let Some(length) = header("content-length:") {
        let length: usize = length.parse().expect("length");
        while read.len() < length {
            more(stream, &mut read).await;
        }
        read.truncate(length);
        return read;
    }
    assert_eq!(header("transfer-encoding:").as_deref(), Some("chunked"), "{headers:?}");
    let mut content = Vec::new();
    loop {
        while !read.windows(2).any(|w| w == b"\r\n") {
            more(stream, &mut read).await;
        }
        let line_end = read.windows(2).position(|w| w == b"\r\n").expect("size line");
        let size = usize::from_str_radix(String::from_utf8_lossy(&read[..line_end]).trim(), 16).expect("chunk size");
        while read.len() < line_end + 2 + size + 2 {
            more(stream, &mut read).await;
        }
        content.extend_from_slice(&read[line_end + 2..line_end + 2 + size]);
        read.drain(..line_end + 2 + size + 2);
        if size == 0 {
            return content;
        }
    }
}

async fn more(stream: &mut TcpStream, read: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await.expect("read");
    assert!(n > 0, "the answer ended early");
    read.extend_from_slice(&chunk[..n]);
}

// ---- dsmcli's Go SDK -------------------------------------------------------------------------

/// Go's `url.QueryEscape`: unreserved bytes as they are, space as `+`, the rest `%XX`.
fn go_query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Go's `url.Values.Encode()`: keys sorted.
fn go_values_encode(values: &[(&str, &str)]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by_key(|(k, _)| *k);
    sorted.iter().map(|(k, v)| format!("{}={}", go_query_escape(k), go_query_escape(v))).collect::<Vec<_>>().join("&")
}

/// dsmcli's `iso.Client`: its state, and `call()` as net/http writes it (Host, User-Agent,
/// Content-Length from the transfer writer, then the set headers sorted, then the transport's
/// Accept-Encoding). A GET's empty body sends no Content-Length.
struct GoSdk {
    addr: SocketAddr,
    client_id: String,
    client_secret: String,
    access_token: String,
}

impl GoSdk {
    async fn call(&self, method: &str, resource: &str, data: &[(&str, &str)]) -> Raw {
        let body = go_values_encode(data);
        let mut head =
            format!("{method} {resource} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Go-http-client/1.1\r\n", self.addr);
        if !body.is_empty() {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if !self.access_token.is_empty() {
            head.push_str(&format!("Authorization: {}\r\n", self.access_token));
        }
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\nAccept-Encoding: gzip\r\n\r\n");
        exchange(self.addr, &head, body.as_bytes()).await
    }

    /// `Authenticate()`: the old `Authorization: Bearer …` goes along once there is one.
    async fn authenticate(&mut self) {
        let (id, secret) = (self.client_id.clone(), self.client_secret.clone());
        let data =
            [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret.as_str())];
        let reply = self.call("POST", "/iso/oauth2/token", &data).await;
        assert_eq!(reply.status, 200, "Authenticate() with {}: {}", self.access_token, reply.body);
        self.access_token = format!("Bearer {}", reply.body["access_token"].as_str().expect("access_token"));
    }

    fn define_new_credentials(&mut self, id: &str, secret: &str) {
        self.client_id = id.trim().to_owned();
        self.client_secret = secret.trim().to_owned();
    }
}

/// runb's `replaceSpecials(base64(...))`.
fn runb_encode(text: &str) -> String {
    STANDARD.encode(text).replace('+', "-").replace('/', "_").replace('=', ",")
}

async fn go_sdk_register_then_use_sequence_is_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bootstrap = app.create_app(&[Resource::Dsm], false, &["*"]).await;
    let mut go = GoSdk {
        addr: app.addr,
        client_id: bootstrap.client_id.clone(),
        client_secret: bootstrap.client_secret.to_string(),
        access_token: String::new(),
    };

    // registerApplication(): ApplicationClient.Register() logs in, then registers.
    go.authenticate().await;
    let registered = go
        .call(
            "POST",
            "/iso/dapp/Application",
            &[("application", "billing"), ("environment", "prod"), ("system", "erp")],
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    let id = registered.body["id"].as_str().expect("id").to_owned();
    let signature = registered.body["signature"].as_str().expect("signature").to_owned();
    go.define_new_credentials(&id, &signature);

    // VariableClient.Register(): logs in with the new credentials, the bootstrap's bearer still sent.
    let stale = go.access_token.clone();
    go.authenticate().await;
    assert_ne!(go.access_token, stale, "a token of the new credentials");
    let env = "DB_USER=app\nDB_PASSWORD=s3cr/t+pw=\nHOME=/root\n";
    let map = json!({"credentials": [{"name": "db", "fields": {"user": "DB_USER", "password": "DB_PASSWORD"}}]});
    let posted = go
        .call("POST", "/iso/cicd/variables", &[("env", &runb_encode(env)), ("map", &runb_encode(&map.to_string()))])
        .await;
    assert_eq!(posted.status, 200, "{}", posted.body);

    // GetSecrets() → GetApplication(): logs in once more, then reads the application.
    go.authenticate().await;
    let fetched = go.call("GET", "/iso/dapp/Application", &[]).await;
    assert_eq!(fetched.status, 200, "{}", fetched.body);
    let secrets = fetched.body["application"]["secrets"].as_array().expect("secrets");
    let db = secrets.iter().find(|s| s["identity"] == "db").expect("the db credential");
    assert_eq!(db["data"][0]["DB_PASSWORD"], "s3cr/t+pw=");
    assert_eq!(db["data"][0]["DB_USER"], "app");
}

// ---- the PHP client ------------------------------------------------------------------------

/// RFC 3986 percent-encoding (PHP's `rawurlencode`, OAuth's parameter encoding).
fn rfc3986(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// HMAC-SHA1 over the RFC 5849 §3.4.1 base string of `params` (decoded pairs).
fn hmac_sha1(
    method: &str,
    base_uri: &str,
    params: &[(String, String)],
    consumer_secret: &str,
    token_secret: &str,
) -> String {
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (rfc3986(k), rfc3986(v))).collect();
    encoded.sort();
    let normalized = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let base = format!("{method}&{}&{}", rfc3986(base_uri), rfc3986(&normalized));
    let key = format!("{}&{}", rfc3986(consumer_secret), rfc3986(token_secret));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(base.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

async fn pam_oauth1_app(app: &TestApp, unsigned: bool) -> CreatedApplication {
    app.create_app_with(NewApplication {
        methods: AuthMethods { oauth1: true, oauth2: true, ..AuthMethods::default() },
        oauth1_unsigned: unsigned,
        ..NewApplication::oauth2("php client", [Resource::Pam].into_iter().collect())
    })
    .await
}

/// Registers the device a credential goes on, with the application's own bearer token.
async fn device(app: &TestApp, created: &CreatedApplication, hostname: &str, ip: &str) {
    let token = app.token_for(created).await;
    let body =
        json!({"hostname": hostname, "ip": ip, "model": "Linux", "type": "Server", "vendor": "Debian", "site": "DC1"});
    let reply = app.send(app.client.post(app.url("/api/pam/device")).bearer_auth(token).json(&body)).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
}

/// What PHP's curl writes for `curl_init($url)` with `CURLOPT_POST` and no fields, or a GET.
fn php_curl_head(method: &str, target: &str, addr: SocketAddr) -> String {
    match method {
        "POST" => format!(
            "POST {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\n\r\n"
        ),
        _ => format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n"),
    }
}

/// The OAuth parameters the PHP client appends: its placeholder, or a real HMAC-SHA1 signature
/// over the request's query (`fields` decoded, as the server sees them).
fn php_oauth_query(
    app: &TestApp,
    created: &CreatedApplication,
    method: &str,
    path: &str,
    fields: &[(String, String)],
    signed: bool,
    nonce: &str,
) -> String {
    let o = created.oauth1.as_ref().expect("oauth1 credentials");
    if !signed {
        return format!("oauth_consumer_key={}&oauth_token={}&oauth_signature=-", o.consumer_key, o.token);
    }
    let timestamp = app.state.core.now().to_string();
    let mut protocol = vec![
        ("oauth_consumer_key".to_owned(), o.consumer_key.clone()),
        ("oauth_token".to_owned(), o.token.clone()),
        ("oauth_signature_method".to_owned(), "HMAC-SHA1".to_owned()),
        ("oauth_timestamp".to_owned(), timestamp),
        ("oauth_nonce".to_owned(), nonce.to_owned()),
        ("oauth_version".to_owned(), "1.0".to_owned()),
    ];
    let mut all = fields.to_vec();
    all.extend(protocol.iter().cloned());
    let signature = hmac_sha1(method, &app.url(path), &all, &o.consumer_secret, &o.token_secret);
    protocol.push(("oauth_signature".to_owned(), signature));
    protocol.iter().map(|(k, v)| format!("{k}={}", rfc3986(v))).collect::<Vec<_>>().join("&")
}

async fn php_client_query_signed_create_then_get_is_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (signed, hostname) in [(false, "Debian11"), (true, "Debian12")] {
        let created = pam_oauth1_app(&app, !signed).await;
        device(&app, &created, hostname, "192.168.0.132").await;
        // `php exec.php pam post 1 senhasegura senha@123 "Local User" Debian11 192.168.0.132`:
        // the URL as the client concatenates it, with libcurl's `+` for the space in the query.
        let fields =
            format!("username=senhasegura&content=senha@123&type=Local+User&hostname={hostname}&ip=192.168.0.132");
        let decoded: Vec<(String, String)> = fields
            .split('&')
            .map(|p| p.split_once('=').expect("pair"))
            .map(|(k, v)| (k.to_owned(), v.replace('+', " ")))
            .collect();
        let oauth = php_oauth_query(&app, &created, "POST", "/iso/pam/credential", &decoded, signed, "create");
        let target = format!("/iso/pam/credential?{fields}&{oauth}");
        let made = exchange(app.addr, &php_curl_head("POST", &target, app.addr), b"0\r\n\r\n").await;
        assert_eq!(made.status, 201, "signed={signed}: {}", made.body);
        let id = made.body["credential"]["id"].as_str().expect("id").to_owned();

        // `php exec.php pam get <id>`.
        let path = format!("/iso/pam/credential/{id}");
        let oauth = php_oauth_query(&app, &created, "GET", &path, &[], signed, "read");
        let read = exchange(app.addr, &php_curl_head("GET", &format!("{path}?{oauth}"), app.addr), b"").await;
        assert_eq!(read.status, 200, "signed={signed}: {}", read.body);
        let credential = &read.body["credential"];
        assert_eq!(credential["password"], "senha@123");
        assert_eq!(
            (credential["username"].as_str(), credential["hostname"].as_str()),
            (Some("senhasegura"), Some(hostname))
        );
    }
}

// ---- the .NET client -----------------------------------------------------------------------

async fn dotnet_doubled_oauth_scheme_is_accepted_when_the_signature_verifies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = pam_oauth1_app(&app, false).await;
    let o = created.oauth1.as_ref().expect("oauth1 credentials");
    device(&app, &created, "win01", "10.0.0.9").await;
    let bearer = app.token_for(&created).await;
    let made = app
        .send(
            app.client
                .post(app.url("/iso/pam/credential"))
                .bearer_auth(&bearer)
                .json(&json!({"username": "svc", "hostname": "win01", "ip": "10.0.0.9", "content": "dotnet-pw"})),
        )
        .await;
    assert_eq!(made.status.as_u16(), 201, "{}", made.body);
    let path = format!("/iso/pam/credential/{}", made.body["credential"]["id"].as_str().expect("id"));

    // OAuthHeaderGenerator's header, signed for this request, behind a second `OAuth`.
    let header = |nonce: &str, consumer_secret: &str| {
        let timestamp = app.state.core.now().to_string();
        let mut params = vec![
            ("oauth_consumer_key".to_owned(), o.consumer_key.clone()),
            ("oauth_nonce".to_owned(), nonce.to_owned()),
            ("oauth_signature_method".to_owned(), "HMAC-SHA1".to_owned()),
            ("oauth_timestamp".to_owned(), timestamp),
            ("oauth_token".to_owned(), o.token.clone()),
            ("oauth_version".to_owned(), "1.0".to_owned()),
        ];
        let signature = hmac_sha1("GET", &app.url(&path), &params, consumer_secret, &o.token_secret);
        params.push(("oauth_signature".to_owned(), signature));
        let inner = params.iter().map(|(k, v)| format!("{k}=\"{}\"", rfc3986(v))).collect::<Vec<_>>().join(", ");
        format!("OAuth OAuth {inner}")
    };
    let request = |authorization: String| {
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {authorization}\r\n\r\n", app.addr)
    };

    let read = exchange(app.addr, &request(header("dotnet-1", &o.consumer_secret)), b"").await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["credential"]["password"], "dotnet-pw");
    // The doubled scheme changes nothing else: a wrong signature is still refused.
    let forged = exchange(app.addr, &request(header("dotnet-2", "not-the-secret")), b"").await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    assert_eq!(forged.body["response"]["message"], "Invalid signature");
}
