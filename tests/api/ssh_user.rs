//! The user's side of the SSH gateway in the tests: a russh client that logs in with a session
//! ticket as its user name (the `none` method, as OpenSSH tries first), opens a terminal and
//! reads what comes back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client::{self, Handle, Msg};
use russh::{Channel, ChannelMsg};

/// Takes any gateway host key (the tests check the gateway's key separately).
pub struct AnyKey {
    pub seen: Arc<std::sync::Mutex<Option<String>>>,
}

impl client::Handler for AnyKey {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &russh::keys::PublicKey) -> Result<bool, Self::Error> {
        *self.seen.lock().expect("seen") = key.to_openssh().ok();
        Ok(true)
    }
}

/// Logs in to the gateway with `token` as the user name; Err when refused.
pub async fn login(gateway: SocketAddr, token: &str) -> Result<(Handle<AnyKey>, String), String> {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let config = Arc::new(client::Config::default());
    let mut handle =
        client::connect(config, gateway, AnyKey { seen: seen.clone() }).await.map_err(|e| format!("connect: {e}"))?;
    let auth = handle.authenticate_none(token).await.map_err(|e| format!("auth: {e}"))?;
    if !auth.success() {
        return Err("refused".into());
    }
    let host_key = seen.lock().expect("seen").clone().unwrap_or_default();
    Ok((handle, host_key))
}

/// A terminal (or a command) on the session's one channel, and everything it printed.
pub struct Terminal {
    pub channel: Channel<Msg>,
    pub output: Vec<u8>,
    pub exit: Option<u32>,
    pub closed: bool,
}

impl Terminal {
    pub async fn shell(handle: &Handle<AnyKey>, cols: u32, rows: u32) -> Self {
        let channel = handle.channel_open_session().await.expect("channel");
        channel.request_pty(true, "xterm", cols, rows, 0, 0, &[]).await.expect("pty");
        channel.request_shell(true).await.expect("shell");
        Self { channel, output: Vec::new(), exit: None, closed: false }
    }

    pub async fn exec(handle: &Handle<AnyKey>, command: &str) -> Self {
        let channel = handle.channel_open_session().await.expect("channel");
        channel.exec(true, command).await.expect("exec");
        Self { channel, output: Vec::new(), exit: None, closed: false }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    pub async fn type_line(&self, line: &str) {
        self.channel.data(format!("{line}\r").as_bytes()).await.expect("typed");
    }

    /// Reads until the output holds `needle`, the channel closes, or `within` passes.
    pub async fn read_until(&mut self, needle: &str, within: Duration) -> bool {
        let until = Instant::now() + within;
        while !self.text().contains(needle) && !self.closed {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match tokio::time::timeout(left, self.channel.wait()).await {
                Ok(Some(ChannelMsg::Data { data })) | Ok(Some(ChannelMsg::ExtendedData { data, .. })) => {
                    self.output.extend_from_slice(&data)
                }
                Ok(Some(ChannelMsg::ExitStatus { exit_status })) => self.exit = Some(exit_status),
                Ok(Some(ChannelMsg::Close)) | Ok(None) => self.closed = true,
                Ok(Some(_)) => {}
                Err(_) => return false,
            }
        }
        self.text().contains(needle)
    }

    /// Reads until the channel closes (or `within` passes); true when it closed.
    pub async fn read_to_end(&mut self, within: Duration) -> bool {
        self.read_until("\u{0}never\u{0}", within).await;
        self.closed
    }
}
