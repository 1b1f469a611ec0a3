//! The gateway with real OpenSSH on both sides (issue 15): Debian's `ssh` client as the user,
//! Debian's `sshd` as the device. A session ticket as the user name reaches a shell logged in
//! with the vaulted password or key; the recording holds what the device showed and never the
//! password; a drop through another process closes the client within a second; a changed host
//! key is refused. `.ci/run` installs openssh-client and openssh-server.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cofre::domain::sessions::recording::parse;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::ssh_sessions::{Login, allow_commands, eventually, fixture_for, gateway, ssh_app, ticket_as};
use crate::sshd::Sshd;

on_both_stores!(
    sshd:
    openssh_reaches_a_shell_on_sshd_with_the_vaulted_password,
    openssh_reaches_sshd_with_the_vaulted_key,
    a_drop_closes_the_openssh_client_within_a_second,
    a_changed_sshd_host_key_is_refused,
);

/// An OpenSSH client through the gateway, its output gathered as it comes.
pub struct OpenSsh {
    child: tokio::process::Child,
    out: Arc<Mutex<String>>,
}

impl OpenSsh {
    /// `ssh [options] TOKEN@127.0.0.1 [command]` through the app's gateway.
    pub fn start(app: &TestApp, token: &str, options: &[&str], command: Option<&str>) -> Self {
        let port = gateway(app).port().to_string();
        let target = format!("{token}@127.0.0.1");
        let mut args = vec!["-p", &port];
        args.extend(options);
        args.push(&target);
        args.extend(command);
        Self::run("ssh", &args)
    }

    /// One of OpenSSH's clients (`ssh`, `sftp`, `scp`), non-interactive and trusting any host key,
    /// with `args` after those options.
    pub fn run(program: &str, args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(program)
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-F", "/dev/null"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("ssh runs");
        let out = Arc::new(Mutex::new(String::new()));
        for mut stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let out = out.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    out.lock().expect("out").push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Self { child, out }
    }

    pub fn text(&self) -> String {
        self.out.lock().expect("out").clone()
    }

    async fn type_text(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(text.as_bytes()).await.expect("typed");
        stdin.flush().await.expect("flushed");
    }

    pub async fn wait_for(&self, needle: &str) -> bool {
        let since = Instant::now();
        while !self.text().contains(needle) && since.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.text().contains(needle)
    }

    /// Waits for the client to exit: its status code.
    pub async fn exit(&mut self, within: Duration) -> Option<i32> {
        tokio::time::timeout(within, self.child.wait()).await.ok()?.ok()?.code()
    }
}

async fn openssh_reaches_a_shell_on_sshd_with_the_vaulted_password(backend: Backend) {
    let app = ssh_app(backend).await;
    let sshd = Sshd::start();
    let client = fixture_for(&app, sshd.user, Login::Password(sshd.password)).await;
    allow_commands(&app, &client, sshd.user, sshd.password).await;

    // A command.
    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let mut command = OpenSsh::start(&app, &token, &[], Some("echo cofre-$((6*7)); whoami"));
    assert_eq!(command.exit(Duration::from_secs(15)).await, Some(0), "{}", command.text());
    assert!(command.wait_for(&format!("cofre-42\n{}\n", sshd.user)).await, "{}", command.text());

    // A shell in a pty, typed into; its recording.
    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let mut shell = OpenSsh::start(&app, &token, &["-tt"], None);
    shell.type_text("echo through-the-vault-$((2+3))\n").await;
    assert!(shell.wait_for("through-the-vault-5").await, "{}", shell.text());
    shell.type_text("exit\n").await;
    assert_eq!(shell.exit(Duration::from_secs(10)).await, Some(0), "{}", shell.text());
    assert!(!shell.text().contains(sshd.password));
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'closed'", 2).await;

    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let id = listed.body["remote_sessions"][0]["id"].as_str().expect("id").to_owned();
    let path = format!("/iso/session/remotesessions/{id}/recording");
    let cast = app.authed(&client, Method::GET, &path).send().await.expect("sent").text().await.expect("body");
    let parsed = parse(&cast).expect("asciicast v2");
    let output: String = parsed.events.iter().filter(|e| e.1 == "o").map(|e| e.2.as_str()).collect();
    assert!(output.contains("through-the-vault-5"), "{cast}");
    assert!(!cast.contains(sshd.password), "the password is never recorded");
}

async fn openssh_reaches_sshd_with_the_vaulted_key(backend: Backend) {
    let app = ssh_app(backend).await;
    let sshd = Sshd::start();
    let (private, public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
    sshd.authorize_key(&public);
    let client = fixture_for(&app, sshd.user, Login::Key(&private)).await;
    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let mut shell = OpenSsh::start(&app, &token, &["-tt"], None);
    shell.type_text("echo I am $(whoami)\n").await;
    assert!(shell.wait_for(&format!("I am {}", sshd.user)).await, "{}", shell.text());
    shell.type_text("exit\n").await;
    assert_eq!(shell.exit(Duration::from_secs(10)).await, Some(0), "{}", shell.text());
    assert!(!shell.text().contains("PRIVATE KEY"));
}

async fn a_drop_closes_the_openssh_client_within_a_second(backend: Backend) {
    let a = ssh_app(backend).await;
    let sshd = Sshd::start();
    let client = fixture_for(&a, sshd.user, Login::Password(sshd.password)).await;
    let token = ticket_as(&a, &client, sshd.user, "SSH", sshd.port).await;
    let mut shell = OpenSsh::start(&a, &token, &["-tt"], None);
    shell.type_text("echo ready-$((1+1))\n").await;
    assert!(shell.wait_for("ready-2").await, "{}", shell.text());
    let listed = a.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let session_id = listed.body["remote_sessions"][0]["session_id"].as_str().expect("session id").to_owned();

    let b = a.sibling(0).await;
    let token = b.token_for(&client.app).await;
    let dropped = b.send(b.client.delete(b.url(&format!("/iso/session/drop/{session_id}"))).bearer_auth(token)).await;
    assert_eq!(dropped.body["response"]["message"], "Sessão interrompida com sucesso", "{}", dropped.body);
    let since = Instant::now();
    let code = shell.exit(Duration::from_secs(1)).await;
    assert!(code.is_some(), "the client still runs a second after the drop: {}", shell.text());
    assert!(since.elapsed() < Duration::from_secs(1));
    assert!(shell.wait_for("Session ended by an administrator.").await, "{}", shell.text());
    eventually(&a, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'dropped'", 1).await;
}

async fn a_changed_sshd_host_key_is_refused(backend: Backend) {
    let app = ssh_app(backend).await;
    let mut sshd = Sshd::start();
    let client = fixture_for(&app, sshd.user, Login::Password(sshd.password)).await;
    allow_commands(&app, &client, sshd.user, sshd.password).await;
    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let mut first = OpenSsh::start(&app, &token, &[], Some("true"));
    assert_eq!(first.exit(Duration::from_secs(15)).await, Some(0), "{}", first.text());
    let pinned = crate::cli::cofre(&app, &["device", "host-key", "show", "1"]);
    assert!(pinned.contains(sshd.host_public_key().split(' ').nth(1).expect("base64")), "{pinned}");

    sshd.change_host_key();
    let token = ticket_as(&app, &client, sshd.user, "SSH", sshd.port).await;
    let mut refused = OpenSsh::start(&app, &token, &[], Some("true"));
    assert_eq!(refused.exit(Duration::from_secs(15)).await, Some(255), "{}", refused.text());
    assert!(refused.wait_for("The device's SSH host key has changed").await, "{}", refused.text());
}
