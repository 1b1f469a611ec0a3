//! The web-proxy engine (issue 14) between a browser (reqwest, tungstenite) and a local target web
//! application, through a tiny proxy front that calls `forward` for every request: the credential
//! is injected after the browser's are stripped, the browser stays on the proxy, bodies and
//! WebSockets stream both ways and stop on a drop, device TLS is verified, and failures are a
//! 502 page. No store is involved.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ws::{Message as ServerMessage, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cofre::domain::targets::TargetNetworks;
use cofre::http::proxy::{
    ClientHop, Forwarded, Upstream, UpstreamClients, UpstreamTls, basic_auth, credential_headers, forward,
};
use futures_util::{SinkExt, StreamExt, stream};
use reqwest::Url;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

pub const USER: &str = "operator";
pub const PASSWORD: &str = "Pw-9f3!never-shown";
const OWN_COOKIE: &str = "cofre_proxy";
const BROWSER_COOKIES: &str = "theme=dark; cofre_proxy=the-session-secret; lang=pt";
const MIB: usize = 1024 * 1024;

fn expected_authorization() -> String {
    format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")))
}

// ---- the target web application ---------------------------------------------------------

#[derive(Clone, Default)]
pub struct Target {
    pub port: u16,
    /// The headers of every request that reached the target.
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Target {
    pub fn seen(&self) -> Vec<HeaderMap> {
        self.seen.lock().expect("lock").clone()
    }
}

/// Demands exactly one `Authorization`, the right Basic credentials, as a device would.
async fn demand_credentials(State(target): State<Target>, request: Request, next: Next) -> Response {
    target.seen.lock().expect("lock").push(request.headers().clone());
    let given: Vec<&HeaderValue> = request.headers().get_all(header::AUTHORIZATION).iter().collect();
    if given.len() != 1 || given[0] != expected_authorization().as_str() {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"target\"")]).into_response();
    }
    next.run(request).await
}

async fn login(State(target): State<Target>) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    let location = format!("http://127.0.0.1:{}/next", target.port);
    headers.insert(header::LOCATION, HeaderValue::from_str(&location).expect("location"));
    for cookie in
        ["app_sid=abc123; Domain=target.example; Path=/; HttpOnly; SameSite=Lax", "cofre_proxy=forged; Path=/"]
    {
        headers.append(header::SET_COOKIE, HeaderValue::from_static(cookie));
    }
    response
}

async fn echo_over_websocket(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            let echo = match message {
                ServerMessage::Text(_) | ServerMessage::Binary(_) => message,
                ServerMessage::Close(_) => break,
                _ => continue,
            };
            if socket.send(echo).await.is_err() {
                break;
            }
        }
    })
}

/// A body that never ends: a tick every 100 ms.
async fn ticks() -> Body {
    let ticks = stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>("tick\n"), ()))
    });
    Body::from_stream(ticks)
}

/// A device that takes a bearer token and a user header instead of Basic.
async fn bearer_only(headers: HeaderMap) -> Response {
    let bearer = format!("Bearer {PASSWORD}");
    let user = headers.get("x-user").and_then(|v| v.to_str().ok());
    let authorizations = headers.get_all(header::AUTHORIZATION).iter().count();
    if authorizations == 1 && headers[header::AUTHORIZATION] == bearer.as_str() && user == Some(USER) {
        "token accepted".into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

fn target_routes(target: Target) -> Router {
    let bearer = Router::new().route("/bearer", get(bearer_only));
    Router::new()
        .route("/login", get(login))
        .route("/next", get(|| async { "welcome" }))
        .route("/echo", post(|body: Body| async move { body }))
        .route("/ws", get(echo_over_websocket))
        .route("/ticks", get(ticks))
        .layer(middleware::from_fn_with_state(target.clone(), demand_credentials))
        .with_state(target)
        .merge(bearer)
}

pub async fn start_target() -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind target");
    let target = Target { port: listener.local_addr().expect("addr").port(), ..Target::default() };
    tokio::spawn(axum::serve(listener, target_routes(target.clone())).into_future());
    target
}

/// The target behind HTTPS with a certificate for 127.0.0.1 issued by a fresh CA; returns the
/// CA's PEM.
async fn start_tls_target() -> (Target, Vec<u8>) {
    start_tls_target_named(&["127.0.0.1"]).await
}

/// The target behind HTTPS with a certificate for `names` issued by a fresh CA; returns the CA's
/// PEM.
pub async fn start_tls_target_named(names: &[&str]) -> (Target, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "device test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf_params = rcgen::CertificateParams::new(names).expect("leaf params");
    let leaf = leaf_params.signed_by(&leaf_key, &rcgen::Issuer::from_params(&ca_params, &ca_key)).expect("leaf");
    let target = serve_tls_target(leaf.pem(), leaf_key.serialize_pem()).await;
    (target, ca_cert.pem().into_bytes())
}

/// The target behind HTTPS with a self-signed certificate for 127.0.0.1; returns that
/// certificate's PEM, which a device's trust setting pins.
async fn start_self_signed_tls_target() -> (Target, Vec<u8>) {
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let target = serve_tls_target(generated.cert.pem(), generated.signing_key.serialize_pem()).await;
    (target, generated.cert.pem().into_bytes())
}

async fn serve_tls_target(cert_pem: String, key_pem: String) -> Target {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(cert_pem.into_bytes(), key_pem.into_bytes())
        .await
        .expect("tls config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tls target");
    listener.set_nonblocking(true).expect("nonblocking");
    let target = Target { port: listener.local_addr().expect("addr").port(), ..Target::default() };
    let server = axum_server::from_tcp_rustls(listener, config).expect("tls server");
    tokio::spawn(server.serve(target_routes(target.clone()).into_make_service()));
    target
}

// ---- the proxy front: what the session core does, minus tickets and the store ---------------

struct Front {
    origin: String,
    cancel: CancellationToken,
    reports: mpsc::UnboundedReceiver<Forwarded>,
    failures: Arc<Mutex<Vec<String>>>,
}

impl Front {
    async fn start(base: &str, tls: UpstreamTls) -> Self {
        Self::start_injecting(base, tls, vec![(header::AUTHORIZATION, basic_auth(USER, PASSWORD))]).await
    }

    async fn start_injecting(base: &str, tls: UpstreamTls, inject: Vec<(HeaderName, HeaderValue)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind front");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = Arc::new(Upstream {
            base: Url::parse(base).expect("base"),
            address: None,
            inject,
            public_origin: Url::parse(&origin).expect("origin"),
            own_cookie: OWN_COOKIE,
            tls,
            client: ClientHop {
                ip: [127, 0, 0, 1].into(),
                proto: "http",
                host: origin.trim_start_matches("http://").into(),
            },
            secrets: vec![PASSWORD.to_owned().into()],
        });
        let clients = Arc::new(UpstreamClients::new(TargetNetworks::new(crate::helpers::anywhere(), Vec::new())));
        let cancel = CancellationToken::new();
        let (sender, reports) = mpsc::unbounded_channel();
        let failures = Arc::new(Mutex::new(Vec::new()));
        let (token, recorded) = (cancel.clone(), failures.clone());
        let front = Router::new().fallback(move |request: Request| {
            let (clients, upstream, token, sender, recorded) =
                (clients.clone(), upstream.clone(), token.clone(), sender.clone(), recorded.clone());
            async move {
                let report = move |forwarded| {
                    let _ = sender.send(forwarded);
                };
                match forward(&clients, &upstream, request, token, report).await {
                    Ok(response) => response,
                    Err(error) => {
                        recorded.lock().expect("lock").push(error.to_string());
                        error.into_response()
                    }
                }
            }
        });
        tokio::spawn(axum::serve(listener, front).into_future());
        Self { origin, cancel, reports, failures }
    }

    async fn next_report(&mut self) -> Forwarded {
        tokio::time::timeout(Duration::from_secs(5), self.reports.recv())
            .await
            .expect("reported in time")
            .expect("report")
    }

    fn failures(&self) -> Vec<String> {
        self.failures.lock().expect("lock").clone()
    }
}

/// A browser that brings its own (wrong) credentials and cofre's cookie, and follows nothing.
fn browser() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic d3Jvbmc6d3Jvbmc="));
    headers.insert(header::COOKIE, HeaderValue::from_static(BROWSER_COOKIES));
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .default_headers(headers)
        .build()
        .expect("browser")
}

/// Everything the browser was shown, for the password search.
pub fn shown(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> String {
    let mut text = format!("{status}\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
    }
    text.push_str(&String::from_utf8_lossy(body));
    text
}

pub fn assert_no_credential(shown: &str) {
    let encoded = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert!(!shown.contains(PASSWORD) && !shown.contains(&encoded), "the credential leaked: {shown}");
}

// ---- the tests ---------------------------------------------------------------------------

#[tokio::test]
async fn the_credential_is_injected_and_the_browser_stays_on_the_proxy() {
    let target = start_target().await;
    let target_origin = format!("http://127.0.0.1:{}", target.port);
    let mut front = Front::start(&target_origin, UpstreamTls::Default).await;
    let browser = browser();

    let direct = browser.get(format!("{target_origin}/next")).send().await.expect("direct");
    assert_eq!(direct.status(), StatusCode::UNAUTHORIZED, "the target really checks the browser's credentials");
    target.seen.lock().expect("lock").clear();

    let login = browser.get(format!("{}/login", front.origin)).send().await.expect("login");
    assert_eq!(login.status(), StatusCode::FOUND);
    let location = login.headers()[header::LOCATION].to_str().expect("location").to_owned();
    assert_eq!(location, format!("{}/next", front.origin), "the redirect stays on the proxy");
    let cookies: Vec<&str> =
        login.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().expect("cookie")).collect();
    assert_eq!(cookies, vec!["app_sid=abc123; Path=/; HttpOnly; SameSite=Lax"], "Domain gone, cofre's cookie kept");
    let mut everything = shown(login.status(), &login.headers().clone(), &login.bytes().await.expect("body"));

    let next = browser.get(&location).send().await.expect("next");
    assert_eq!(next.status(), StatusCode::OK);
    let next_headers = next.headers().clone();
    let body = next.bytes().await.expect("body");
    assert_eq!(&body[..], b"welcome");
    everything.push_str(&shown(StatusCode::OK, &next_headers, &body));
    assert_no_credential(&everything);

    let seen = target.seen();
    assert_eq!(seen.len(), 2);
    for headers in seen {
        let auth: Vec<&HeaderValue> = headers.get_all(header::AUTHORIZATION).iter().collect();
        assert_eq!(auth, vec![expected_authorization().as_str()], "only cofre's credential arrives");
        assert_eq!(headers[header::COOKIE], "theme=dark; lang=pt", "cofre's cookie never reaches the device");
        assert_eq!(headers[header::HOST], format!("127.0.0.1:{}", target.port).as_str());
    }
    let statuses = [front.next_report().await.status, front.next_report().await.status];
    assert_eq!(statuses, [StatusCode::FOUND, StatusCode::OK]);
}

#[tokio::test]
async fn a_header_template_from_session_settings_is_injected_instead_of_basic() {
    let target = start_target().await;
    let settings = serde_json::json!({"headers": {"Authorization": "Bearer {{password}}", "X-User": "{{ username }}"}});
    let inject = credential_headers(settings.as_object(), USER, PASSWORD).expect("a valid template");
    let front =
        Front::start_injecting(&format!("http://127.0.0.1:{}", target.port), UpstreamTls::Default, inject).await;
    let answer = browser().get(format!("{}/bearer", front.origin)).send().await.expect("bearer");
    assert_eq!(answer.status(), StatusCode::OK, "the rendered headers replaced the browser's Authorization");
    let headers = answer.headers().clone();
    let body = answer.bytes().await.expect("body");
    assert_eq!(&body[..], b"token accepted");
    assert_no_credential(&shown(StatusCode::OK, &headers, &body));
}

#[tokio::test]
async fn five_mebibytes_stream_both_ways_and_are_counted() {
    let target = start_target().await;
    let mut front = Front::start(&format!("http://127.0.0.1:{}", target.port), UpstreamTls::Default).await;
    let payload: Vec<u8> = (0..5 * MIB).map(|i| (i * 31 % 251) as u8).collect();
    let (chunks, receiver) = mpsc::channel::<Vec<u8>>(4);
    let upload = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), receiver))
    });
    chunks.send(payload[..MIB].to_vec()).await.expect("first chunk");
    let mut response = browser()
        .post(format!("{}/echo", front.origin))
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await
        .expect("echo");
    assert_eq!(response.status(), StatusCode::OK);

    // The first MiB comes back while the rest has not been sent: nothing waits for a whole body.
    let mut echoed = Vec::with_capacity(payload.len());
    while echoed.len() < MIB {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .expect("the first MiB is echoed before the rest is sent")
            .expect("chunk")
            .expect("more");
        echoed.extend_from_slice(&chunk);
    }
    let rest = payload[MIB..].to_vec();
    tokio::spawn(async move {
        for chunk in rest.chunks(MIB) {
            chunks.send(chunk.to_vec()).await.expect("chunk");
        }
    });
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        echoed.extend_from_slice(&chunk);
    }
    assert!(echoed == payload, "the echo is intact ({} bytes of {})", echoed.len(), payload.len());
    let report = front.next_report().await;
    assert_eq!(report, Forwarded { status: StatusCode::OK, bytes_up: 5 * MIB as u64, bytes_down: 5 * MIB as u64 });
}

#[tokio::test]
async fn a_websocket_echoes_through_the_proxy_and_closes_soon_after_a_drop() {
    let target = start_target().await;
    let mut front = Front::start(&format!("http://127.0.0.1:{}", target.port), UpstreamTls::Default).await;
    let mut request =
        format!("{}/ws", front.origin.replace("http://", "ws://")).into_client_request().expect("request");
    request.headers_mut().insert(header::AUTHORIZATION, HeaderValue::from_static("Basic d3Jvbmc6d3Jvbmc="));
    request.headers_mut().insert(header::COOKIE, HeaderValue::from_static(BROWSER_COOKIES));
    let stream = TcpStream::connect(front.origin.trim_start_matches("http://")).await.expect("connect");
    let (mut socket, handshake) =
        tokio_tungstenite::client_async(request, stream).await.expect("upgraded through the proxy");
    assert_eq!(handshake.status(), StatusCode::SWITCHING_PROTOCOLS);
    let handshake_text = format!("{:?}", handshake.headers());
    assert_no_credential(&handshake_text);

    socket.send(Message::text("hello device")).await.expect("send");
    let echoed = socket.next().await.expect("message").expect("ok");
    assert_eq!(echoed, Message::text("hello device"));
    let blob: Vec<u8> = (0..64 * 1024).map(|i| (i % 256) as u8).collect();
    socket.send(Message::binary(blob.clone())).await.expect("send binary");
    let echoed = socket.next().await.expect("message").expect("ok");
    assert_eq!(echoed.into_data().as_ref(), &blob[..]);

    let upgrade = target.seen().pop().expect("the upgrade reached the target");
    assert_eq!(upgrade[header::AUTHORIZATION], expected_authorization().as_str());
    assert_eq!(upgrade[header::COOKIE], "theme=dark; lang=pt");

    let dropped_at = Instant::now();
    front.cancel.cancel();
    let closed =
        tokio::time::timeout(Duration::from_secs(1), async { while let Some(Ok(_)) = socket.next().await {} }).await;
    assert!(closed.is_ok(), "the relay closed within a second of the drop");
    let report = front.next_report().await;
    assert!(dropped_at.elapsed() < Duration::from_secs(1), "reported within a second");
    assert_eq!(report.status, StatusCode::SWITCHING_PROTOCOLS);
    assert!(report.bytes_up > 64 * 1024 && report.bytes_down > 64 * 1024, "{report:?}");
}

#[tokio::test]
async fn a_drop_cuts_a_body_in_flight() {
    let target = start_target().await;
    let mut front = Front::start(&format!("http://127.0.0.1:{}", target.port), UpstreamTls::Default).await;
    let mut response = browser().get(format!("{}/ticks", front.origin)).send().await.expect("ticks");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(&response.chunk().await.expect("chunk").expect("a tick")[..], b"tick\n");
    let dropped_at = Instant::now();
    front.cancel.cancel();
    let ended =
        tokio::time::timeout(Duration::from_secs(1), async { while let Ok(Some(_)) = response.chunk().await {} }).await;
    assert!(ended.is_ok(), "the endless body stopped within a second of the drop");
    assert!(dropped_at.elapsed() < Duration::from_secs(1));
    let report = front.next_report().await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.bytes_down >= 5, "{report:?}");
}

#[tokio::test]
async fn device_tls_is_verified_against_the_devices_own_roots() {
    let (target, ca_pem) = start_tls_target().await;
    let base = format!("https://127.0.0.1:{}", target.port);

    let mut untrusted = Front::start(&base, UpstreamTls::Default).await;
    let refused = browser().get(format!("{}/next", untrusted.origin)).send().await.expect("answered");
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    let page = refused.text().await.expect("page");
    assert!(page.contains("certificate that is not trusted"), "{page} {:?}", untrusted.failures());
    assert!(!page.contains("127.0.0.1") && !page.contains("UnknownIssuer"), "no internal detail: {page}");
    assert_eq!(untrusted.next_report().await.status, StatusCode::BAD_GATEWAY);
    let failures = untrusted.failures();
    assert!(failures.len() == 1 && failures[0].starts_with("device certificate rejected"), "{failures:?}");
    assert!(target.seen().is_empty(), "nothing reached the untrusted device");

    let trusted = Front::start(&base, UpstreamTls::Roots(ca_pem)).await;
    let welcome = browser().get(format!("{}/next", trusted.origin)).send().await.expect("answered");
    assert_eq!(welcome.status(), StatusCode::OK);
    assert_eq!(welcome.text().await.expect("body"), "welcome");

    // The WebSocket connector trusts exactly the same roots.
    let stream = TcpStream::connect(trusted.origin.trim_start_matches("http://")).await.expect("connect");
    let url = format!("{}/ws", trusted.origin.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::client_async(url, stream).await.expect("upgraded over TLS");
    socket.send(Message::text("over tls")).await.expect("send");
    assert_eq!(socket.next().await.expect("message").expect("ok"), Message::text("over tls"));
    let stream = TcpStream::connect(untrusted.origin.trim_start_matches("http://")).await.expect("connect");
    let url = format!("{}/ws", untrusted.origin.replace("http://", "ws://"));
    let refused = tokio_tungstenite::client_async(url, stream).await.expect_err("no upgrade to an untrusted device");
    assert!(refused.to_string().contains("502"), "{refused}");
}

#[tokio::test]
async fn a_pinned_self_signed_certificate_is_trusted_alone() {
    let (target, pinned) = start_self_signed_tls_target().await;
    let base = format!("https://127.0.0.1:{}", target.port);
    let pinned_front = Front::start(&base, UpstreamTls::Roots(pinned)).await;
    let welcome = browser().get(format!("{}/next", pinned_front.origin)).send().await.expect("answered");
    assert_eq!(welcome.status(), StatusCode::OK);
    assert_eq!(welcome.text().await.expect("body"), "welcome");

    // Another device's certificate pinned instead: refused.
    let (_, other) = start_self_signed_tls_target().await;
    let wrong_pin = Front::start(&base, UpstreamTls::Roots(other)).await;
    let refused = browser().get(format!("{}/next", wrong_pin.origin)).send().await.expect("answered");
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    assert!(wrong_pin.failures()[0].starts_with("device certificate rejected"), "{:?}", wrong_pin.failures());
}

#[tokio::test]
async fn unreachable_devices_and_unusable_trust_get_a_502_page() {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed_port: SocketAddr = closed.local_addr().expect("addr");
    drop(closed);
    let mut refused = Front::start(&format!("http://{closed_port}"), UpstreamTls::Default).await;
    let page = browser().get(format!("{}/anything", refused.origin)).send().await.expect("answered");
    assert_eq!(page.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let text = page.text().await.expect("page");
    assert!(text.contains("could not be reached") && !text.contains(&closed_port.to_string()), "{text}");
    assert_eq!(refused.next_report().await, Forwarded { status: StatusCode::BAD_GATEWAY, bytes_up: 0, bytes_down: 0 });
    assert!(refused.failures()[0].starts_with("device unreachable"), "{:?}", refused.failures());

    let target = start_target().await;
    let bad_trust =
        Front::start(&format!("https://127.0.0.1:{}", target.port), UpstreamTls::Roots(b"no PEM here".to_vec())).await;
    let page = browser().get(format!("{}/next", bad_trust.origin)).send().await.expect("answered");
    assert_eq!(page.status(), StatusCode::BAD_GATEWAY);
    assert!(page.text().await.expect("page").contains("trust settings for this device are not usable"));
    assert!(bad_trust.failures()[0].starts_with("device trust setting unusable"), "{:?}", bad_trust.failures());
}
