//! Commands through the gateway (issue 31, item 6), with Debian's real `ssh`, `sftp` and `scp`
//! as the user and its `sshd` as the device. A command (an SSH exec) is refused unless the
//! credential's `session_settings.ssh_exec` allows it, and never reaches the device then; so are
//! the file transfers that ride on an exec (`sftp -s /usr/lib/openssh/sftp-server`, legacy
//! `scp -O`), allowed or not. An allowed command's line, output and exit status are recorded and
//! audited. Every refusal is audited.

use std::path::Path;
use std::time::{Duration, Instant};

use cofre::domain::sessions::recording::parse;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli::cofre;
use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::openssh::OpenSsh;
use crate::ssh_sessions::{Login, allow_commands, eventually, fixture_for, gateway, ssh_app, ticket_as};
use crate::sshd::Sshd;

on_both_stores!(
    sshd:
    a_command_is_refused_by_default_and_never_reaches_the_device,
    sftp_and_legacy_scp_over_exec_are_refused_and_move_nothing,
    an_allowed_command_is_recorded_and_audited_with_its_exit_status,
    a_key_credential_runs_commands_once_its_session_settings_allow_them,
);

const WITHIN: Duration = Duration::from_secs(15);
const NOT_ALLOWED: &str = "Commands (ssh host 'command', scp, sftp) are not allowed on this session";
const NO_TRANSFERS: &str = "File transfers (SFTP, scp, rsync) are not allowed on this session.";

/// A path in /tmp no other test uses.
fn unique(name: &str) -> String {
    format!("/tmp/cofre-{name}-{}", cofre::crypto::random_hex(8).as_str())
}

/// The audit records of `event` on the sessions (their details), as `cofre audit export` gives
/// them; waits a few seconds for at least one (the audit writer batches).
fn audited(app: &TestApp, event: &str) -> Vec<Value> {
    let since = Instant::now();
    loop {
        let found: Vec<Value> = cofre(app, &["audit", "export"])
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|record| serde_json::from_str::<Value>(record["detail"].as_str()?).ok())
            .filter(|detail| detail["event"] == event)
            .collect();
        if !found.is_empty() || since.elapsed() > Duration::from_secs(5) {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn a_command_is_refused_by_default_and_never_reaches_the_device(backend: Backend) {
    let app = ssh_app(backend).await;
    let sshd = Sshd::start();
    let client = fixture_for(&app, sshd.user, Login::Password(sshd.password)).await;
    let marker = unique("marker");

    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let command = format!("touch {marker}");
    let mut ssh = OpenSsh::start(&app, &token, &[], Some(&command));
    let status = ssh.exit(WITHIN).await;
    assert!(!Path::new(&marker).exists(), "the command ran on the device: {marker} exists");
    assert_eq!(status, Some(255), "{}", ssh.text());
    assert!(ssh.wait_for(NOT_ALLOWED).await, "the client is told why: {}", ssh.text());

    let refused = audited(&app, "exec_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["command"], command.as_str());
    assert_eq!(refused[0]["refused"], "commands not allowed");
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'failed'", 1).await;
    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let id = listed.body["remote_sessions"][0]["id"].as_str().expect("id").to_owned();
    let path = format!("/iso/session/remotesessions/{id}/recording");
    let none = app.authed(&client, Method::GET, &path).send().await.expect("sent");
    assert_eq!(none.status(), reqwest::StatusCode::NOT_FOUND, "the device was never reached");
}

/// `sftp -s /usr/lib/openssh/sftp-server` (an exec of the server, not the subsystem) putting
/// `local` at `remote`: the client's exit status, and the client (to read what it printed).
async fn sftp_put(app: &TestApp, token: &str, local: &str, remote: &str) -> (Option<i32>, OpenSsh) {
    let batch = tempfile::NamedTempFile::new().expect("batch file");
    std::fs::write(batch.path(), format!("put {local} {remote}\n")).expect("batch");
    let port = gateway(app).port().to_string();
    let target = format!("{token}@127.0.0.1");
    let batch = batch.path().to_str().expect("utf-8 path");
    let mut sftp = OpenSsh::run("sftp", &["-P", &port, "-s", "/usr/lib/openssh/sftp-server", "-b", batch, &target]);
    (sftp.exit(WITHIN).await, sftp)
}

/// Legacy `scp -O` (which runs `scp -t` or `scp -f` as an exec) from `from` to `to`.
async fn scp(app: &TestApp, from: &str, to: &str) -> (Option<i32>, OpenSsh) {
    let port = gateway(app).port().to_string();
    let mut scp = OpenSsh::run("scp", &["-O", "-P", &port, from, to]);
    (scp.exit(WITHIN).await, scp)
}

async fn sftp_and_legacy_scp_over_exec_are_refused_and_move_nothing(backend: Backend) {
    let app = ssh_app(backend).await;
    let sshd = Sshd::start();
    let client = fixture_for(&app, sshd.user, Login::Password(sshd.password)).await;
    let local = tempfile::NamedTempFile::new().expect("local file");
    std::fs::write(local.path(), "payload").expect("written");
    let local = local.path().to_str().expect("utf-8 path").to_owned();
    let secret_on_device = unique("device-file");
    std::fs::write(&secret_on_device, "device contents").expect("written");
    let fetched = unique("fetched");

    // Commands not allowed (the default), then allowed: a file transfer is refused either way.
    for (allowed, why) in [(false, NOT_ALLOWED), (true, NO_TRANSFERS)] {
        if allowed {
            allow_commands(&app, &client, sshd.user, sshd.password).await;
        }
        let uploaded = unique("sftp-upload");
        let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
        let (status, user) = sftp_put(&app, &token, &local, &uploaded).await;
        assert!(!Path::new(&uploaded).exists(), "sftp wrote {uploaded} (exec allowed: {allowed}): {}", user.text());
        assert_ne!(status, Some(0), "{}", user.text());
        assert!(user.wait_for(why).await, "exec allowed: {allowed}: {}", user.text());

        let copied = unique("scp-upload");
        let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
        let (status, user) = scp(&app, &local, &format!("{token}@127.0.0.1:{copied}")).await;
        assert!(!Path::new(&copied).exists(), "scp -t wrote {copied} (exec allowed: {allowed}): {}", user.text());
        assert_ne!(status, Some(0), "{}", user.text());
        assert!(user.wait_for(why).await, "exec allowed: {allowed}: {}", user.text());

        let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
        let (status, user) = scp(&app, &format!("{token}@127.0.0.1:{secret_on_device}"), &fetched).await;
        assert!(!Path::new(&fetched).exists(), "scp -f fetched {fetched} (exec allowed: {allowed}): {}", user.text());
        assert_ne!(status, Some(0), "{}", user.text());
        assert!(user.wait_for(why).await, "exec allowed: {allowed}: {}", user.text());
    }
    let _ = std::fs::remove_file(&secret_on_device);

    let refused = audited(&app, "exec_refused");
    assert_eq!(refused.len(), 6, "{refused:?}");
    let reasons: Vec<&str> = refused.iter().filter_map(|r| r["refused"].as_str()).collect();
    assert_eq!(reasons.iter().filter(|r| **r == "commands not allowed").count(), 3, "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| **r == "file transfer").count(), 3, "{reasons:?}");
    assert!(refused.iter().any(|r| r["command"] == "/usr/lib/openssh/sftp-server"), "{refused:?}");
    assert!(refused.iter().any(|r| r["command"].as_str().is_some_and(|c| c.starts_with("scp -t"))), "{refused:?}");
    assert!(refused.iter().any(|r| r["command"].as_str().is_some_and(|c| c.starts_with("scp -f"))), "{refused:?}");
}

async fn an_allowed_command_is_recorded_and_audited_with_its_exit_status(backend: Backend) {
    let app = ssh_app(backend).await;
    let sshd = Sshd::start();
    let client = fixture_for(&app, sshd.user, Login::Password(sshd.password)).await;
    allow_commands(&app, &client, sshd.user, sshd.password).await;

    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let line = "echo hello; exit 3";
    let mut ssh = OpenSsh::start(&app, &token, &[], Some(line));
    assert_eq!(ssh.exit(WITHIN).await, Some(3), "{}", ssh.text());
    assert!(ssh.wait_for("hello\n").await, "{}", ssh.text());
    assert_eq!(ssh.text(), "hello\n", "nothing else: no refusal, no warning");
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'closed'", 1).await;

    // The recording holds the command line, its output and its exit status.
    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let id = listed.body["remote_sessions"][0]["id"].as_str().expect("id").to_owned();
    let cast = cofre(&app, &["session", "export", &id]);
    let parsed = parse(&cast).expect("asciicast v2");
    let kinds: Vec<(&str, &str)> = parsed.events.iter().map(|e| (e.1.as_str(), e.2.as_str())).collect();
    // The command line comes first; the output and the exit status in the order the device sent
    // them (sshd may report the exit before the last output reaches the relay).
    assert_eq!(kinds.first(), Some(&("m", "exec: echo hello; exit 3")), "{cast}");
    let mut rest = kinds[1..].to_vec();
    rest.sort();
    assert_eq!(rest, vec![("m", "exit status 3"), ("o", "hello\n")], "{cast}");

    // The audit trail names the session, the command line and its exit status.
    let session_id = listed.body["remote_sessions"][0]["session_id"].as_str().expect("session id").to_owned();
    let started = audited(&app, "exec");
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!((started[0]["command"].as_str(), started[0]["session_id"].as_str()), (Some(line), Some(&*session_id)));
    let exited = audited(&app, "exec_exit");
    assert_eq!(exited.len(), 1, "{exited:?}");
    assert_eq!(exited[0]["command"], line);
    assert_eq!(exited[0]["session_id"], session_id.as_str());
    assert_eq!(exited[0]["exit_status"], 3);

    // A command ended by a signal: recorded and audited as such, and not a success for the user.
    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let mut killed = OpenSsh::start(&app, &token, &[], Some("kill -TERM $$"));
    assert_eq!(killed.exit(WITHIN).await, Some(255), "{}", killed.text());
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'closed'", 2).await;
    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let ids: Vec<&str> =
        listed.body["remote_sessions"].as_array().expect("list").iter().filter_map(|s| s["id"].as_str()).collect();
    let other = ids.iter().find(|i| **i != id).expect("the second session");
    let cast = cofre(&app, &["session", "export", other]);
    assert!(cast.contains(r#""m","exit signal TERM"]"#), "{cast}");
    let since = Instant::now();
    while audited(&app, "exec_exit").len() < 2 && since.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let exited = audited(&app, "exec_exit");
    let signalled = exited.iter().find(|e| e["command"] == "kill -TERM $$").expect("audited");
    assert_eq!((signalled["exit_signal"].as_str(), &signalled["exit_status"]), (Some("TERM"), &Value::Null));
}

async fn a_key_credential_runs_commands_once_its_session_settings_allow_them(backend: Backend) {
    let app = ssh_app(backend).await;
    let sshd = Sshd::start();
    let (private, public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
    sshd.authorize_key(&public);
    let client = fixture_for(&app, sshd.user, Login::Key(&private)).await;
    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let mut refused = OpenSsh::start(&app, &token, &[], Some("whoami"));
    assert_eq!(refused.exit(WITHIN).await, Some(255), "{}", refused.text());
    assert!(refused.wait_for(NOT_ALLOWED).await, "{}", refused.text());

    // The key registered again with its session settings.
    let body = json!({"username": sshd.user, "hostname": "127.0.0.1", "ip": "127.0.0.1", "private_key": private.as_str(),
                      "public_key": public, "session_settings": {"ssh_exec": true}});
    let updated = app.post_json(&client, "/iso/pam/key", body).await;
    assert_eq!(updated.status, StatusCode::CREATED, "{}", updated.body);
    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let mut allowed = OpenSsh::start(&app, &token, &[], Some("whoami"));
    assert_eq!(allowed.exit(WITHIN).await, Some(0), "{}", allowed.text());
    assert!(allowed.wait_for(&format!("{}\n", sshd.user)).await, "{}", allowed.text());
}
