//! An SSH device for the gateway tests, in-process with russh: it takes one password or one
//! public key for one user, and runs a tiny shell (`echo`, `whoami`, `size`, `flood N`, `exit`)
//! in a pty or as an exec command. It shows what it was asked for, so tests can check the
//! gateway's relay (terminal size, refused forwarding) from the device's side.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use russh::keys::{PrivateKey, PublicKey};
use russh::server::{self, Auth, Msg, Session};
use russh::{Channel, ChannelId};

pub const USER: &str = "operator";
pub const PASSWORD: &str = "ssh-device-password-9c1e";

/// What the device saw, for the tests to check.
#[derive(Default, Debug)]
pub struct Seen {
    pub logins: Vec<String>,
    pub pty: Option<(String, u32, u32)>,
    pub resizes: Vec<(u32, u32)>,
    pub passwords_tried: usize,
}

pub struct SshTarget {
    pub port: u16,
    pub host_key: PrivateKey,
    pub seen: Arc<Mutex<Seen>>,
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for SshTarget {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// How the device lets `USER` in.
#[derive(Clone)]
pub enum Accepts {
    Password,
    Key(PublicKey),
}

pub fn new_key() -> PrivateKey {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).expect("random");
    PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed))
}

impl SshTarget {
    pub async fn start(accepts: Accepts) -> Self {
        Self::start_on(0, new_key(), accepts).await
    }

    /// Listens on `port` (0: any) with `host_key`.
    pub async fn start_on(port: u16, host_key: PrivateKey, accepts: Accepts) -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let config = Arc::new(server::Config {
            keys: vec![host_key.clone()],
            auth_rejection_time: std::time::Duration::from_millis(10),
            ..Default::default()
        });
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = tokio_util::sync::CancellationToken::new();
        let (seen2, stop2) = (seen.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let socket = tokio::select! {
                    _ = stop2.cancelled() => return,
                    accepted = listener.accept() => match accepted { Ok((s, _)) => s, Err(_) => continue },
                };
                let device = Device {
                    accepts: accepts.clone(),
                    seen: seen2.clone(),
                    line: Vec::new(),
                    user: None,
                    channels: Vec::new(),
                };
                let (config, stop3) = (config.clone(), stop2.clone());
                tokio::spawn(async move {
                    if let Ok(session) = server::run_stream(config, socket, device).await {
                        tokio::select! { _ = stop3.cancelled() => {}, _ = session => {} }
                    }
                });
            }
        });
        Self { port, host_key, seen, stop }
    }

    pub fn host_public_key(&self) -> String {
        self.host_key.public_key().to_openssh().expect("openssh")
    }
}

struct Device {
    accepts: Accepts,
    seen: Arc<Mutex<Seen>>,
    line: Vec<u8>,
    user: Option<String>,
    channels: Vec<Channel<Msg>>,
}

impl Device {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().expect("seen")
    }

    /// Runs one command line; answers its output and whether the shell should exit.
    fn run(&self, line: &str) -> (String, bool) {
        let line = line.trim();
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        match cmd {
            "" => (String::new(), false),
            "echo" => (format!("{rest}\r\n"), false),
            "whoami" => (format!("{}\r\n", self.user.clone().unwrap_or_default()), false),
            "size" => {
                let pty = self.seen().pty.clone();
                let last = self.seen().resizes.last().copied();
                let (c, r) = last.or(pty.map(|(_, c, r)| (c, r))).unwrap_or((0, 0));
                (format!("{c}x{r}\r\n"), false)
            }
            "flood" => {
                let n: usize = rest.trim().parse().unwrap_or(0);
                ("x".repeat(n), false)
            }
            "exit" => (String::new(), true),
            other => (format!("{other}: not found\r\n"), false),
        }
    }
}

impl server::Handler for Device {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        self.seen().passwords_tried += 1;
        if matches!(self.accepts, Accepts::Password) && user == USER && password == PASSWORD {
            self.user = Some(user.into());
            self.seen().logins.push(format!("password:{user}"));
            return Ok(Auth::Accept);
        }
        Ok(Auth::reject())
    }

    async fn auth_publickey_offered(&mut self, user: &str, key: &PublicKey) -> Result<Auth, Self::Error> {
        Ok(match &self.accepts {
            Accepts::Key(k) if user == USER && k.key_data() == key.key_data() => Auth::Accept,
            _ => Auth::reject(),
        })
    }

    async fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<Auth, Self::Error> {
        if let Accepts::Key(k) = &self.accepts {
            if user == USER && k.key_data() == key.key_data() {
                self.user = Some(user.into());
                self.seen().logins.push(format!("key:{user}"));
                return Ok(Auth::Accept);
            }
        }
        Ok(Auth::reject())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        // Kept open for as long as the connection: russh closes a channel whose handle is dropped.
        self.channels.push(channel);
        Ok(true)
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        cols: u32,
        rows: u32,
        _pw: u32,
        _ph: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.seen().pty = Some((term.to_owned(), cols, rows));
        session.channel_success(channel)
    }

    async fn window_change_request(
        &mut self,
        _channel: ChannelId,
        cols: u32,
        rows: u32,
        _pw: u32,
        _ph: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.seen().resizes.push((cols, rows));
        Ok(())
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        session.data(channel, bytes::Bytes::from(b"welcome to the device\r\ndevice$ ".to_vec()))?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let mut out = String::new();
        for command in String::from_utf8_lossy(data).split(';') {
            out.push_str(&self.run(command).0);
        }
        session.data(channel, bytes::Bytes::from(out.into_bytes()))?;
        session.exit_status_request(channel, 0)?;
        session.eof(channel)?;
        session.close(channel)
    }

    async fn data(&mut self, channel: ChannelId, data: &[u8], session: &mut Session) -> Result<(), Self::Error> {
        // A pty echoes what is typed, and runs a line at Enter.
        for &b in data {
            if b == b'\r' || b == b'\n' {
                let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
                let (out, exit) = self.run(&line);
                session.data(channel, bytes::Bytes::from(format!("\r\n{out}").into_bytes()))?;
                if exit {
                    session.exit_status_request(channel, 0)?;
                    session.eof(channel)?;
                    return session.close(channel);
                }
                session.data(channel, bytes::Bytes::from(b"device$ ".to_vec()))?;
            } else {
                self.line.push(b);
                session.data(channel, bytes::Bytes::from(vec![b]))?;
            }
        }
        Ok(())
    }
}
