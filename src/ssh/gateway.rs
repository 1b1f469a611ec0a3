//! The SSH gateway (`ssh_listen`): `ssh -p PORT TICKET@vault` — the session ticket's token is the
//! SSH user name, redeemed once (and throttled like any login). Then the client's one session
//! channel is relayed to the device, logged in with the vaulted credential. Port, agent and X11
//! forwarding, further channels and subsystems (SFTP) are refused: only the recorded terminal. A
//! command (exec) is accepted here and judged by the relay, which tells the user why it refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::server::{self, Auth, Msg, Session};
use russh::{Channel, ChannelId, ChannelMsg, MethodKind, MethodSet};
use tokio_util::sync::CancellationToken;

use crate::domain::sessions::LiveSession;
use crate::service::sessions::ssh::{gateway_host_key_seed, open_native};
use crate::ssh::relay::{self, Command, Pty, UserEvent, UserInput, UserOutput};
use crate::state::AppState;

/// How long a client may stay connected after its session's channel closed.
const LINGER_AFTER_END: Duration = Duration::from_secs(5);
/// How long a client may take to ask for its shell or command after opening its channel.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The server configuration, with the gateway's host key (the same for every process).
pub async fn config(state: &AppState) -> Result<Arc<server::Config>, crate::error::ApiError> {
    let seed = gateway_host_key_seed(&state.core).await?;
    let keypair = russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed);
    let key = russh::keys::PrivateKey::from(keypair);
    Ok(Arc::new(server::Config {
        keys: vec![key],
        methods: MethodSet::from(&[MethodKind::None, MethodKind::KeyboardInteractive, MethodKind::Password][..]),
        auth_rejection_time: Duration::from_secs(1),
        auth_rejection_time_initial: Some(Duration::ZERO),
        max_auth_attempts: 3,
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    }))
}

/// Accepts connections until `stop` fires.
pub async fn serve(
    state: AppState,
    config: Arc<server::Config>,
    listener: tokio::net::TcpListener,
    stop: CancellationToken,
) {
    loop {
        let (socket, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "SSH gateway could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let connection = Connection { state: state.clone(), peer, session: None, tried: false, channel: None };
        let config = config.clone();
        tokio::spawn(async move {
            let _ = socket.set_nodelay(true);
            match server::run_stream(config, socket, connection).await {
                Ok(running) => {
                    if let Err(e) = running.await {
                        tracing::debug!(error = %e, "SSH gateway connection ended with an error");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "SSH gateway handshake failed"),
            }
        });
    }
}

/// One client connection.
struct Connection {
    state: AppState,
    peer: SocketAddr,
    /// The session the ticket opened (russh asks the auth hooks more than once).
    session: Option<LiveSession>,
    /// A ticket was tried: a connection gets one.
    tried: bool,
    /// The one session channel, once opened.
    channel: Option<ChannelId>,
}

impl Connection {
    async fn admit(&mut self, user: &str) -> Auth {
        if self.session.is_some() {
            return Auth::Accept;
        }
        if self.tried {
            return Auth::reject();
        }
        self.tried = true;
        match open_native(&self.state.core, &self.state.audit, user.trim(), self.peer.ip()).await {
            Ok(session) => {
                self.session = Some(session);
                Auth::Accept
            }
            Err(_) => Auth::reject(),
        }
    }

    fn ours(&self, channel: ChannelId) -> bool {
        self.channel == Some(channel)
    }
}

impl server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, user: &str) -> Result<Auth, Self::Error> {
        Ok(self.admit(user).await)
    }

    async fn auth_password(&mut self, user: &str, _password: &str) -> Result<Auth, Self::Error> {
        Ok(self.admit(user).await)
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        _response: Option<server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.admit(user).await)
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        _key: &russh::keys::PublicKey,
    ) -> Result<Auth, Self::Error> {
        Ok(Auth::reject())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        let Some(live) = self.session.clone() else { return Ok(false) };
        if self.channel.is_some() {
            return Ok(false);
        }
        self.channel = Some(channel.id());
        let (state, handle) = (self.state.clone(), session.handle());
        tokio::spawn(async move { serve_channel(state, live, channel, handle).await });
        Ok(true)
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.answer(channel, true, session)
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        self.answer(channel, true, session)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.answer(channel, true, session)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.answer(channel, false, session)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.answer(channel, false, session)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.answer(channel, false, session)
    }

    async fn agent_request(&mut self, _channel: ChannelId, _session: &mut Session) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn tcpip_forward(
        &mut self,
        _address: &str,
        _port: &mut u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn streamlocal_forward(&mut self, _path: &str, _session: &mut Session) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<Msg>,
        _host_to_connect: &str,
        _port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        _channel: Channel<Msg>,
        _socket_path: &str,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn channel_open_x11(
        &mut self,
        _channel: Channel<Msg>,
        _originator_address: &str,
        _originator_port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

impl Connection {
    /// Answers a channel request: only on the session's own channel, and only what it allows.
    fn answer(&mut self, channel: ChannelId, allowed: bool, session: &mut Session) -> Result<(), russh::Error> {
        if allowed && self.ours(channel) { session.channel_success(channel) } else { session.channel_failure(channel) }
    }
}

/// Waits for the client's pty and shell (or command) on its channel, then runs the relay.
async fn serve_channel(state: AppState, session: LiveSession, channel: Channel<Msg>, handle: server::Handle) {
    state.live.entry(&session.session_id).mark_terminal();
    let (mut reader, writer) = channel.split();
    let mut output = ClientOutput { writer, handle, exited: false };
    let started = tokio::time::timeout(START_TIMEOUT, async {
        let mut pty = None;
        loop {
            match reader.wait().await {
                Some(ChannelMsg::RequestPty { term, col_width, row_height, terminal_modes, .. }) => {
                    pty = Some(Pty::new(&term, col_width, row_height, terminal_modes));
                }
                Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                    if let Some(p) = pty.as_mut() {
                        *p = Pty::new(&p.term, col_width, row_height, std::mem::take(&mut p.modes));
                    }
                }
                Some(ChannelMsg::RequestShell { .. }) => return Some((pty, Command::Shell)),
                Some(ChannelMsg::Exec { command, .. }) => return Some((pty, Command::Exec(command))),
                Some(ChannelMsg::Close) | Some(ChannelMsg::Eof) | None => return None,
                Some(_) => {}
            }
        }
    })
    .await;
    match started {
        Ok(Some((pty, command))) => {
            relay::run(&state, &session, pty, command, ClientInput { reader }, output).await;
        }
        _ => {
            output.end(Some("No shell or command was asked for.")).await;
            let _ = crate::service::sessions::proxy::end_because(
                &state.core,
                &state.audit,
                &session.session_id,
                crate::domain::sessions::EndReason::Closed,
                "no shell or command asked for",
            )
            .await;
        }
    }
}

struct ClientInput {
    reader: russh::ChannelReadHalf,
}

impl UserInput for ClientInput {
    async fn next(&mut self) -> UserEvent {
        loop {
            match self.reader.wait().await {
                Some(ChannelMsg::Data { data }) => return UserEvent::Input(data),
                Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                    return UserEvent::Resize(col_width, row_height);
                }
                Some(ChannelMsg::Eof) => return UserEvent::Eof,
                Some(ChannelMsg::Close) | None => return UserEvent::Gone,
                Some(_) => {}
            }
        }
    }
}

struct ClientOutput {
    writer: russh::ChannelWriteHalf<Msg>,
    handle: server::Handle,
    exited: bool,
}

impl UserOutput for ClientOutput {
    async fn output(&mut self, data: &[u8], stderr: bool) -> std::io::Result<()> {
        let sent = if stderr { self.writer.extended_data(1, data).await } else { self.writer.data(data).await };
        sent.map_err(|e| std::io::Error::new(std::io::ErrorKind::BrokenPipe, e.to_string()))
    }

    async fn exit_status(&mut self, code: u32) {
        self.exited = true;
        let _ = self.writer.exit_status(code).await;
    }

    async fn end(&mut self, why: Option<&str>) {
        if let Some(why) = why {
            let line = format!("\r\ncofre: {why}\r\n");
            let _ = self.writer.extended_data(1, line.as_bytes()).await;
        }
        if !self.exited {
            let _ = self.writer.exit_status(if why.is_some() { 255 } else { 0 }).await;
        }
        let _ = self.writer.eof().await;
        let _ = self.writer.close().await;
        // A client leaves when its one channel closes (and exits with the status it was sent);
        // one that stays connected anyway is cut off a little later.
        let handle = self.handle.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LINGER_AFTER_END).await;
            let _ = handle.disconnect(russh::Disconnect::ByApplication, "session ended".into(), "en".into()).await;
        });
    }
}
