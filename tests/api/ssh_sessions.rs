//! SSH sessions through the gateway (issue 15), against an in-process russh device: a ticket as
//! the SSH user name reaches a shell logged in with the vaulted password or key, which the user
//! never sees; host keys are pinned and a changed one refused; a drop through another process
//! ends the terminal within a second; and every refusal the issue lists.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::cli::cofre;
use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::ssh_target::{Accepts, PASSWORD, SshTarget, USER, new_key};
use crate::ssh_user::{Terminal, login};
use crate::write_races::count;

on_both_stores!(
    a_ticket_as_the_ssh_user_name_reaches_a_shell_with_the_vaulted_password,
    a_vaulted_key_logs_in_to_the_device,
    a_changed_host_key_is_refused_until_an_operator_resets_it,
    operators_set_and_reset_host_keys_through_the_admin_api,
    a_drop_through_another_process_ends_the_ssh_session_within_a_second,
    the_gateway_refuses_what_it_must,
    wrong_tickets_are_throttled_like_failed_logins,
    devices_that_refuse_or_cannot_be_reached_end_the_session_as_failed,
    a_terminal_flood_arrives_whole_and_the_session_still_answers,
);

const SHORT: Duration = Duration::from_secs(5);

/// A server with the gateway on, a session-capable client, the user `alice`, and the device
/// 127.0.0.1 with the credential `operator` (its password, unless `key` is given).
pub async fn ssh_app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.ssh_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        c.auth_failure_limit_per_ip = 5;
    })
    .await
}

pub async fn fixture(app: &TestApp, key: Option<&str>) -> Client {
    match key {
        None => fixture_for(app, USER, Login::Password(PASSWORD)).await,
        Some(private) => fixture_for(app, USER, Login::Key(private)).await,
    }
}

/// How the vaulted credential logs in to the device.
pub enum Login<'a> {
    Password(&'a str),
    /// An OpenSSH private key.
    Key(&'a str),
}

/// The same, for the device account `username` and its `login`.
pub async fn fixture_for(app: &TestApp, username: &str, login: Login<'_>) -> Client {
    let client = app.client(&[Resource::Sessions, Resource::Pam]).await;
    app.create_user("alice").await;
    let device = json!({"hostname": "127.0.0.1", "ip": "127.0.0.1", "model": "Linux", "type": "Server",
                        "vendor": "test", "site": "lab"});
    assert_eq!(app.post_json(&client, "/iso/pam/device", device).await.status, StatusCode::CREATED);
    let created = match login {
        Login::Password(password) => {
            let body = json!({"username": username, "hostname": "127.0.0.1", "ip": "127.0.0.1", "content": password});
            app.post_json(&client, "/iso/pam/credential", body).await
        }
        Login::Key(private) => {
            let public = russh::keys::decode_secret_key(private, None).expect("key").public_key().to_openssh();
            let body = json!({"username": username, "hostname": "127.0.0.1", "ip": "127.0.0.1",
                              "private_key": private, "public_key": public.expect("public")});
            app.post_json(&client, "/iso/pam/key", body).await
        }
    };
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    client
}

/// Lets the password credential of the device account `username` run commands (exec) through
/// the gateway: its `session_settings.ssh_exec`, set by an upsert (the password given again).
pub async fn allow_commands(app: &TestApp, client: &Client, username: &str, password: &str) {
    let body = json!({"username": username, "hostname": "127.0.0.1", "ip": "127.0.0.1", "content": password,
                      "session_settings": {"ssh_exec": true}});
    let updated = app.post_json(client, "/iso/pam/credential", body).await;
    assert!(updated.status.is_success(), "{}", updated.body);
}

/// A ticket for `protocol` to the device's port `port`: its token.
pub async fn ticket(app: &TestApp, client: &Client, protocol: &str, port: u16) -> String {
    ticket_as(app, client, USER, protocol, port).await
}

/// A ticket for the credential of the device account `username`.
pub async fn ticket_as(app: &TestApp, client: &Client, username: &str, protocol: &str, port: u16) -> String {
    let body =
        json!({"user": "alice", "credential": username, "device": "127.0.0.1", "protocol": protocol, "port": port});
    let created = app.post_json(client, "/iso/remote/session", body).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    created.body["session"]["token"].as_str().expect("token").to_owned()
}

pub fn gateway(app: &TestApp) -> SocketAddr {
    app.ssh.expect("the gateway is on")
}

/// Waits (a few seconds at most) until `sql` counts `n` rows.
pub async fn eventually(app: &TestApp, sql: &str, n: i64) {
    let since = Instant::now();
    while count(app, sql).await != n && since.elapsed() < SHORT {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(count(app, sql).await, n, "{sql}");
}

async fn a_ticket_as_the_ssh_user_name_reaches_a_shell_with_the_vaulted_password(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;

    let token = ticket(&app, &client, "SSH", device.port).await;
    let (handle, gateway_key) = login(gateway(&app), &token).await.expect("the ticket lets the user in");
    let mut terminal = Terminal::shell(&handle, 100, 30).await;
    assert!(
        terminal.read_until("device$ ", SHORT).await,
        "{:?} {:?} {:?}",
        terminal.text(),
        terminal.exit,
        device.seen.lock().expect("seen")
    );
    terminal.type_line("echo hello-from-the-device").await;
    assert!(terminal.read_until("hello-from-the-device\r\n", SHORT).await, "{}", terminal.text());
    terminal.channel.window_change(120, 40, 0, 0).await.expect("resize");
    terminal.type_line("size").await;
    assert!(terminal.read_until("120x40", SHORT).await, "{}", terminal.text());
    terminal.type_line("whoami").await;
    assert!(terminal.read_until(&format!("{USER}\r\n"), SHORT).await);
    terminal.type_line("exit").await;
    assert!(terminal.read_to_end(SHORT).await, "the session ends with the shell");
    assert_eq!(terminal.exit, Some(0));
    assert!(!terminal.text().contains(PASSWORD), "the user never sees the password");
    {
        let seen = device.seen.lock().expect("seen");
        assert_eq!(seen.logins, vec![format!("password:{USER}")]);
        assert_eq!(seen.pty, Some(("xterm".to_owned(), 100, 30)));
    }
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE protocol = 'SSH' AND end_reason = 'closed'", 1)
        .await;
    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let row = &listed.body["remote_sessions"][0];
    assert_eq!((row["protocol"].as_str(), row["proxy"].as_str()), (Some("SSH"), Some("SSH Proxy")), "{row}");
    assert_eq!(row["dispositivo"], format!("127.0.0.1:{}", device.port).as_str());
    let dash = app.client(&[Resource::Dashboards]).await;
    let counted = app.call(&dash, Method::GET, "/iso/dash/sessions/ssh").await;
    assert_eq!(counted.body["sessions"]["historic"]["SSH/Telnet"], "1", "{}", counted.body);

    // A command, without a pty; and another process presents the same gateway host key.
    allow_commands(&app, &client, USER, PASSWORD).await;
    let sibling = app.sibling(0).await;
    let token = ticket(&app, &client, "ssh", device.port).await;
    let (handle, sibling_key) = login(gateway(&sibling), &token).await.expect("in through the sibling");
    assert_eq!(sibling_key, gateway_key, "one gateway host key for every process");
    let mut command = Terminal::exec(&handle, "echo one;whoami").await;
    assert!(command.read_to_end(SHORT).await);
    assert_eq!(command.text(), format!("one\r\n{USER}\r\n"));
    assert_eq!(command.exit, Some(0));
}

async fn a_vaulted_key_logs_in_to_the_device(backend: Backend) {
    let app = ssh_app(backend).await;
    let (private, public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
    let public = russh::keys::PublicKey::from_openssh(&public).expect("public");
    let device = SshTarget::start(Accepts::Key(public)).await;
    let client = fixture(&app, Some(&private)).await;
    let token = ticket(&app, &client, "SSH", device.port).await;
    let (handle, _) = login(gateway(&app), &token).await.expect("in");
    let mut terminal = Terminal::shell(&handle, 80, 24).await;
    assert!(terminal.read_until("device$ ", SHORT).await, "{}", terminal.text());
    terminal.type_line("whoami").await;
    assert!(terminal.read_until(&format!("{USER}\r\n"), SHORT).await, "{}", terminal.text());
    assert_eq!(device.seen.lock().expect("seen").logins, vec![format!("key:{USER}")]);
    assert!(!terminal.text().contains("PRIVATE KEY"));
}

async fn a_changed_host_key_is_refused_until_an_operator_resets_it(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    allow_commands(&app, &client, USER, PASSWORD).await;
    let port = device.port;
    let first_key = device.host_public_key();
    let run = |token: String| {
        let gw = gateway(&app);
        async move {
            let (handle, _) = login(gw, &token).await.expect("in");
            let mut command = Terminal::exec(&handle, "echo through").await;
            command.read_to_end(SHORT).await;
            command
        }
    };
    assert_eq!(run(ticket(&app, &client, "SSH", port).await).await.text(), "through\r\n", "first use pins the key");
    eventually(&app, "SELECT COUNT(*) AS n FROM device_host_keys", 1).await;

    // The same address now answers with another host key: a man in the middle, or a rebuild.
    drop(device);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let impostor = SshTarget::start_on(port, new_key(), Accepts::Password).await;
    let refused = run(ticket(&app, &client, "SSH", port).await).await;
    assert!(refused.text().contains("The device's SSH host key has changed"), "{}", refused.text());
    assert_eq!(refused.exit, Some(255));
    assert!(impostor.seen.lock().expect("seen").passwords_tried == 0, "no password was offered to the impostor");
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'failed'", 1).await;

    // The operator looks at the key, then resets it; the next session pins the new one.
    let cli = cofre(&app, &["device", "host-key", "show", "1"]);
    assert!(cli.contains(first_key.split(' ').nth(1).expect("base64")), "{cli}");
    let reset = cofre(&app, &["device", "host-key", "reset", "1"]);
    assert!(reset.contains("reset"), "{reset}");
    assert_eq!(run(ticket(&app, &client, "SSH", port).await).await.text(), "through\r\n");
    let pinned = cofre(&app, &["device", "host-key", "show", "1"]);
    assert!(pinned.contains(impostor.host_public_key().split(' ').nth(1).expect("base64")), "{pinned}");
}

async fn a_drop_through_another_process_ends_the_ssh_session_within_a_second(backend: Backend) {
    let a = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&a, None).await;
    let token = ticket(&a, &client, "SSH", device.port).await;
    let (handle, _) = login(gateway(&a), &token).await.expect("in");
    let mut terminal = Terminal::shell(&handle, 80, 24).await;
    assert!(terminal.read_until("device$ ", SHORT).await);
    let listed = a.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let session_id = listed.body["remote_sessions"][0]["session_id"].as_str().expect("session id").to_owned();

    let b = a.sibling(0).await;
    let token = b.token_for(&client.app).await;
    let dropped = b.send(b.client.delete(b.url(&format!("/iso/session/drop/{session_id}"))).bearer_auth(token)).await;
    assert_eq!(dropped.body["response"]["message"], "Sessão interrompida com sucesso", "{}", dropped.body);
    let since = Instant::now();
    assert!(terminal.read_to_end(Duration::from_secs(1)).await, "still open a second after the drop");
    assert!(since.elapsed() < Duration::from_secs(1));
    assert!(terminal.text().contains("Session ended by an administrator."), "{}", terminal.text());
    eventually(&a, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'dropped'", 1).await;
}

async fn the_gateway_refuses_what_it_must(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let gw = gateway(&app);

    // A web ticket is not an SSH ticket, and is left for the browser.
    let web = ticket(&app, &client, "HTTPS", 443).await;
    assert!(login(gw, &web).await.is_err());
    let redeemed = crate::session_tickets::redeem(&app, &web).await;
    assert_eq!(redeemed.status(), StatusCode::SEE_OTHER, "the web ticket is still good");

    // A used ticket does not open a second session.
    let token = ticket(&app, &client, "SSH", device.port).await;
    let (handle, _) = login(gw, &token).await.expect("in");
    assert!(login(gw, &token).await.is_err(), "a ticket is good once");

    // Port forwarding and further channels are refused; the terminal itself works.
    assert!(handle.channel_open_direct_tcpip("127.0.0.1", 22, "127.0.0.1", 5000).await.is_err());
    assert!(handle.tcpip_forward("127.0.0.1", 0).await.is_err());
    let mut terminal = Terminal::shell(&handle, 100_000, 100_000).await;
    assert!(handle.channel_open_session().await.is_err(), "one channel a session");
    assert!(terminal.read_until("device$ ", SHORT).await);
    terminal.type_line("size").await;
    assert!(terminal.read_until("1000x500", SHORT).await, "an enormous window is clamped: {}", terminal.text());
    assert_eq!(device.seen.lock().expect("seen").pty.as_ref().map(|p| (p.1, p.2)), Some((1000, 500)));

    // A ticket past its 30 seconds does not open a session.
    let late = ticket(&app, &client, "SSH", device.port).await;
    app.clock.advance_secs(31);
    assert!(login(gw, &late).await.is_err());
    eventually(&app, "SELECT COUNT(*) AS n FROM audit_log WHERE detail LIKE '%ticket expired%'", 1).await;

    // An unknown ticket is audited with its reason; the client only learns it failed.
    assert!(login(gw, &"ab".repeat(32)).await.is_err());
    eventually(&app, "SELECT COUNT(*) AS n FROM audit_log WHERE detail LIKE '%unknown ticket%'", 1).await;
}

async fn wrong_tickets_are_throttled_like_failed_logins(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let gw = gateway(&app);
    for _ in 0..5 {
        assert!(login(gw, &cofre::crypto::random_hex(32)).await.is_err());
    }
    let token = ticket(&app, &client, "SSH", device.port).await;
    assert!(login(gw, &token).await.is_err(), "the address is locked out, even with a good ticket");
    eventually(&app, "SELECT COUNT(*) AS n FROM session_tickets WHERE consumed_at IS NULL", 1).await;
}

async fn devices_that_refuse_or_cannot_be_reached_end_the_session_as_failed(backend: Backend) {
    let app = ssh_app(backend).await;
    let (_, other_public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
    let key_only =
        SshTarget::start(Accepts::Key(russh::keys::PublicKey::from_openssh(&other_public).expect("key"))).await;
    let client = fixture(&app, None).await;
    allow_commands(&app, &client, USER, PASSWORD).await;

    let token = ticket(&app, &client, "SSH", key_only.port).await;
    let (handle, _) = login(gateway(&app), &token).await.expect("in");
    let mut command = Terminal::exec(&handle, "whoami").await;
    assert!(command.read_to_end(SHORT).await);
    assert!(command.text().contains("The device refused the vaulted credential."), "{}", command.text());
    assert_eq!(command.exit, Some(255));
    assert!(!command.text().contains(PASSWORD));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let token = ticket(&app, &client, "SSH", closed).await;
    let (handle, _) = login(gateway(&app), &token).await.expect("in");
    let mut command = Terminal::exec(&handle, "whoami").await;
    assert!(command.read_to_end(SHORT).await);
    assert!(command.text().contains("could not reach the device"), "{}", command.text());
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'failed'", 2).await;
}

async fn a_terminal_flood_arrives_whole_and_the_session_still_answers(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let token = ticket(&app, &client, "SSH", device.port).await;
    let (handle, _) = login(gateway(&app), &token).await.expect("in");
    let mut terminal = Terminal::shell(&handle, 80, 24).await;
    assert!(terminal.read_until("device$ ", SHORT).await);
    terminal.type_line("flood 3000000").await;
    terminal.type_line("echo still-here").await;
    assert!(terminal.read_until("still-here\r\n", Duration::from_secs(20)).await, "{} bytes", terminal.output.len());
    assert!(terminal.output.iter().filter(|&&b| b == b'x').count() >= 3_000_000);
}

async fn operators_set_and_reset_host_keys_through_the_admin_api(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    allow_commands(&app, &client, USER, PASSWORD).await;
    let admin = app.client(&[Resource::Admin]).await;
    let read_only = app.create_app(&[Resource::Admin], true, &["*"]).await;
    let read_only = Client { token: app.token_for(&read_only).await, app: read_only };
    let path = "/api/admin/devices/1/ssh-host-key";

    assert_eq!(app.call(&admin, Method::GET, path).await.status, StatusCode::NOT_FOUND, "nothing pinned yet");
    let garbage = app.send(app.authed(&admin, Method::PUT, path).json(&json!({"public_key": "ssh-ed25519 !!"}))).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST, "{}", garbage.body);
    let refused =
        app.send(app.authed(&read_only, Method::PUT, path).json(&json!({"public_key": device.host_public_key()})));
    assert_ne!(refused.await.status, StatusCode::OK, "a read-only authorization cannot set a key");
    let unknown = app.send(app.authed(&admin, Method::GET, "/api/admin/devices/999/ssh-host-key")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Set ahead of the first session to another key: the device's real one is then refused.
    let other = new_key().public_key().to_openssh().expect("openssh");
    let set =
        app.send(app.authed(&admin, Method::PUT, path).json(&json!({"public_key": format!("{other} laptop")}))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["host_key"]["public_key"], other.as_str(), "stored without its comment");
    assert_eq!(set.body["host_key"]["source"], "operator");
    let token = ticket(&app, &client, "SSH", device.port).await;
    let (handle, _) = login(gateway(&app), &token).await.expect("in");
    let mut refused = Terminal::exec(&handle, "whoami").await;
    assert!(refused.read_to_end(SHORT).await);
    assert!(refused.text().contains("host key has changed"), "{}", refused.text());

    // Set to the device's own key (as ssh-keyscan gives it): the session goes through.
    let set = app.send(app.authed(&admin, Method::PUT, path).json(&json!({"public_key": device.host_public_key()})));
    assert_eq!(set.await.status, StatusCode::OK);
    let token = ticket(&app, &client, "SSH", device.port).await;
    let (handle, _) = login(gateway(&app), &token).await.expect("in");
    let mut command = Terminal::exec(&handle, "whoami").await;
    assert!(command.read_to_end(SHORT).await);
    assert_eq!(command.text(), format!("{USER}\r\n"));
    let shown = app.call(&read_only, Method::GET, path).await;
    assert_eq!(shown.body["host_key"]["public_key"], device.host_public_key().as_str(), "{}", shown.body);
    assert_eq!(app.call(&admin, Method::DELETE, path).await.status, StatusCode::OK);
    assert_eq!(app.call(&admin, Method::DELETE, path).await.status, StatusCode::NOT_FOUND, "already reset");
}
