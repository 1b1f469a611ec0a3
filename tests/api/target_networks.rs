//! `target_networks` (issue 31, item 5): cofre connects on a caller's behalf only where it is
//! allowed, and never to its own listeners. Before it, a device row naming 127.0.0.1 and cofre's
//! own port let a session reach the loopback-only `/metrics` and the API, and a scan told closed,
//! open and silent ports apart on any host. The default (everything but loopback, link-local and
//! unspecified addresses) is checked for real: refused on loopback, and allowed to a device on
//! a test host in a network namespace of the test's own.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::proxy_engine::USER;
use crate::session_tickets::browser;
use crate::write_races::count;

on_both_stores!(
    sessions_never_reach_cofres_own_listeners,
    a_name_never_leads_the_proxy_back_to_cofre,
    the_default_refuses_loopback_and_link_local_devices,
    a_process_with_a_stricter_policy_refuses_at_connection,
    discovery_cannot_probe_what_it_may_not_reach,
);

// The test host's network namespace needs root, as the sshd tests do.
on_both_stores!(sshd: the_default_reaches_a_device_on_another_host);

/// A session-capable client, the user `alice` and the credential `operator` on device `ip`.
async fn device_at(app: &TestApp, ip: &str) -> Client {
    let client = app.client(&[Resource::Sessions, Resource::Pam, Resource::Certificates]).await;
    app.create_user("alice").await;
    add_device(app, &client, ip).await;
    client
}

/// The device `ip` and the credential `operator` on it.
async fn add_device(app: &TestApp, client: &Client, ip: &str) {
    let device = json!({"hostname": ip, "ip": ip, "model": "web", "type": "Server", "vendor": "test", "site": "lab"});
    assert_eq!(app.post_json(client, "/iso/pam/device", device).await.status, StatusCode::CREATED);
    let credential = json!({"username": USER, "hostname": ip, "ip": ip, "content": "Pw-for-the-device"});
    assert_eq!(app.post_json(client, "/iso/pam/credential", credential).await.status, StatusCode::CREATED);
}

async fn ticket(app: &TestApp, client: &Client, ip: &str, protocol: &str, port: u16) -> crate::helpers::Reply {
    let body = json!({"user": "alice", "credential": USER, "device": ip, "protocol": protocol, "port": port});
    app.post_json(client, "/iso/remote/session", body).await
}

const REFUSED: &str = "Device address not allowed by target_networks";

fn assert_refused(reply: &crate::helpers::Reply) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.body.to_string().contains(REFUSED), "{}", reply.body);
}

/// Loopback is allowed here (the tests' devices live there), but cofre's API, its proxy and its
/// SSH gateway never are: a session there would reach `/metrics` and the API as loopback.
async fn sessions_never_reach_cofres_own_listeners(backend: Backend) {
    let app = crate::ssh_sessions::ssh_app(backend).await;
    let client = device_at(&app, "127.0.0.1").await;
    let gateway = app.ssh.expect("gateway").port();
    for (protocol, port) in [("HTTP", app.addr.port()), ("HTTP", app.proxy.port()), ("SSH", gateway)] {
        assert_refused(&ticket(&app, &client, "127.0.0.1", protocol, port).await);
    }
    // Audited as refusals, with the reason.
    let rows = "SELECT COUNT(*) AS n FROM audit_log WHERE route = '/iso/remote/session' AND status = 400 \
                AND detail LIKE '%target_networks%'";
    assert_eq!(count(&app, rows).await, 3);
    // Any other port on loopback is a device.
    assert_eq!(ticket(&app, &client, "127.0.0.1", "HTTP", 9).await.status, StatusCode::OK);
}

/// A device named `localhost` on an allowed port passes the ticket's check, but the name resolves
/// to an address cofre listens on, and a name's answers may change between lookups: the proxy's
/// resolver refuses any address of cofre's own, whatever the port.
async fn a_name_never_leads_the_proxy_back_to_cofre(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Sessions, Resource::Pam]).await;
    app.create_user("alice").await;
    let device = crate::proxy_engine::start_target().await;
    add_device(&app, &client, "localhost").await;
    let created = ticket(&app, &client, "localhost", "HTTP", device.port).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let url = created.body["session"]["session_url"].as_str().expect("url").to_owned();
    let redeemed = browser().get(&url).send().await.expect("redeemed");
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();
    let entered = browser().get(&entry).send().await.expect("entered");
    let cookie = entered.headers()["set-cookie"].to_str().expect("ascii").split(';').next().expect("pair").to_owned();
    let origin = entry.split("/_cofre/enter").next().expect("origin");
    let page = browser().get(format!("{origin}/login")).header("cookie", cookie).send().await.expect("sent");
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(device.seen().is_empty(), "the device was reached through a name that leads to cofre's address");
}

async fn the_default_refuses_loopback_and_link_local_devices(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.target_networks = Vec::new()).await;
    let client = device_at(&app, "127.0.0.1").await;
    for ip in ["127.0.0.1", "169.254.169.254", "::1"] {
        if ip != "127.0.0.1" {
            add_device(&app, &client, ip).await;
        }
        for protocol in ["HTTP", "HTTPS", "SSH"] {
            assert_refused(&ticket(&app, &client, ip, protocol, 8080).await);
        }
    }
}

/// A ticket made where loopback is allowed, redeemed at a process whose policy refuses it: the
/// proxy itself checks before it connects, ends the session as failed, and says why.
async fn a_process_with_a_stricter_policy_refuses_at_connection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = crate::web_proxy::fixture(&app).await;
    let device = crate::proxy_engine::start_target().await;
    let created = ticket(&app, &client, "127.0.0.1", "HTTP", device.port).await;
    let token = created.body["session"]["token"].as_str().expect("token").to_owned();
    let strict = app.sibling_with(0, |c| c.target_networks = Vec::new()).await;

    let redeemed = browser().get(strict.url(&format!("/modulos/auth?_sr={token}"))).send().await.expect("redeemed");
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();
    let entered = browser().get(&entry).send().await.expect("entered");
    let cookie = entered.headers()["set-cookie"].to_str().expect("ascii").split(';').next().expect("pair").to_owned();
    let origin = entry.split("/_cofre/enter").next().expect("origin");
    let page = browser().get(format!("{origin}/login")).header("cookie", cookie).send().await.expect("sent");
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await.expect("body").contains("may not connect to this device"));
    assert!(device.seen().is_empty(), "the device was reached");
    let failed = "SELECT COUNT(*) AS n FROM audit_log WHERE detail LIKE '%end_reason%failed%' \
                  AND detail LIKE '%not in target_networks%'";
    assert_eq!(count(&app, failed).await, 1, "the session's end says why");
}

/// Closed, open and silent ports, and the cloud's metadata address, all answer one refusal, and
/// nothing is connected to. cofre's own API port is refused even where loopback is allowed.
async fn discovery_cannot_probe_what_it_may_not_reach(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.target_networks = Vec::new()).await;
    let client = app.client(&[Resource::Certificates]).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let open = silent.local_addr().expect("addr").to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").to_string();
    let targets = json!([open, closed, "169.254.169.254:443", "[::1]:443", app.addr.to_string()]);
    let scan = app.post_json(&client, "/iso/certificate/scan", json!({"targets": targets, "timeout": 2})).await;
    assert_eq!(scan.status, StatusCode::OK, "{}", scan.body);
    for result in scan.body["results"].as_array().expect("results") {
        assert_eq!(result["found"], false, "{result}");
        let error = result["error"].as_str().expect("error");
        assert!(error.starts_with("Refused: cofre may not connect there"), "{result}");
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), silent.accept()).await;
    assert!(accepted.is_err(), "the scan connected to a refused target");
    let refusals = "SELECT COUNT(*) AS n FROM audit_log WHERE route = '/iso/certificate/scan' \
                    AND detail LIKE '%refused_targets%'";
    assert_eq!(count(&app, refusals).await, 1);

    let loopback = TestApp::spawn(Backend::Sqlite).await;
    let client = loopback.client(&[Resource::Certificates]).await;
    let own = json!({"targets": [loopback.addr.to_string()], "timeout": 2});
    let scan = loopback.post_json(&client, "/iso/certificate/scan", own).await;
    let error = scan.body["results"][0]["error"].as_str().expect("error").to_owned();
    assert!(error.contains("one of cofre's own listeners"), "{}", scan.body);
}

/// A test host: a network namespace with a veth pair, and a web server in it.
struct TestHost {
    namespace: String,
    address: String,
    server: Child,
}

impl TestHost {
    fn start() -> Self {
        let random = uuid::Uuid::new_v4();
        let tag = &random.simple().to_string()[..8];
        let namespace = format!("cofre-tn-{tag}");
        let (outside, inside) = (format!("tno{tag}"), format!("tni{tag}"));
        let octet = random.as_bytes()[8] % 250 + 1;
        let (host_side, address) = (format!("10.213.{octet}.1"), format!("10.213.{octet}.2"));
        let run = |args: &[&str]| {
            let status = Command::new("ip").args(args).status().expect("ip runs");
            assert!(status.success(), "ip {args:?} failed");
        };
        run(&["netns", "add", &namespace]);
        run(&["link", "add", &outside, "type", "veth", "peer", "name", &inside]);
        run(&["link", "set", &inside, "netns", &namespace]);
        run(&["addr", "add", &format!("{host_side}/30"), "dev", &outside]);
        run(&["link", "set", &outside, "up"]);
        run(&["netns", "exec", &namespace, "ip", "addr", "add", &format!("{address}/30"), "dev", &inside]);
        run(&["netns", "exec", &namespace, "ip", "link", "set", &inside, "up"]);
        run(&["netns", "exec", &namespace, "ip", "link", "set", "lo", "up"]);
        let server = Command::new("ip")
            .args(["netns", "exec", &namespace, "python3", "-m", "http.server", "8080", "--bind", &address])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("web server");
        Self { namespace, address, server }
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip").args(["netns", "del", &self.namespace]).status();
    }
}

/// With nothing configured, a device on another host is reached through the proxy.
async fn the_default_reaches_a_device_on_another_host(backend: Backend) {
    let host = TestHost::start();
    let since = Instant::now();
    while tokio::net::TcpStream::connect((host.address.as_str(), 8080)).await.is_err() {
        assert!(since.elapsed() < Duration::from_secs(10), "the test host's web server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = TestApp::spawn_with(backend, |c| c.target_networks = Vec::new()).await;
    let client = device_at(&app, &host.address).await;
    let created = ticket(&app, &client, &host.address, "HTTP", 8080).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let url = created.body["session"]["session_url"].as_str().expect("url").to_owned();
    let redeemed = browser().get(&url).send().await.expect("redeemed");
    let entry = redeemed.headers()["location"].to_str().expect("ascii").to_owned();
    let entered = browser().get(&entry).send().await.expect("entered");
    let cookie = entered.headers()["set-cookie"].to_str().expect("ascii").split(';').next().expect("pair").to_owned();
    let origin = entry.split("/_cofre/enter").next().expect("origin").to_owned();
    let response = browser().request(Method::GET, format!("{origin}/")).header("cookie", &cookie).send().await;
    let response = response.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.expect("body").contains("Directory listing"), "the test host's page");
}
