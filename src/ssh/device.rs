//! cofre's own SSH connection to a device: the device's host key checked against the one pinned
//! for it (pinned on first use), then a login with the vaulted password or private key, which the
//! user never sees. One terminal channel is opened on it for the session.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use russh::client::{self, Msg};
use russh::keys::{PrivateKeyWithHashAlg, decode_secret_key};
use russh::{Channel, Disconnect};

use crate::domain::sessions::failure::FailureCause;
use crate::domain::sessions::host_key::HostKey;
use crate::domain::sessions::{LoginSecret, SessionTarget};
use crate::service::sessions::ssh::{HostKeyCheck, check_host_key};
use crate::ssh::relay::{Command, Pty};
use crate::state::AppState;

/// How long reaching the device and logging in may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no terminal could be opened on the device: one line for the user (no secret in it).
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("cofre could not reach the device {0}: {1}.")]
    Unreachable(String, FailureCause),
    #[error(
        "The device's SSH host key has changed (pinned {pinned}, offered {seen}), so the session was refused. \
         An administrator can set or reset the device's host key."
    )]
    HostKeyChanged { pinned: String, seen: String },
    #[error("The device's SSH host key could not be checked, so the session was refused.")]
    HostKeyUnchecked,
    #[error("cofre may not connect to the device's address ({0}).")]
    Refused(String),
    #[error("The device refused the vaulted credential.")]
    LoginRefused,
    #[error("The vaulted private key could not be read.")]
    BadKey,
    #[error("The SSH connection to the device failed: {0}.")]
    Protocol(String),
}

impl DeviceError {
    /// Why the session failed, for its row and its audit record.
    pub fn cause(&self) -> FailureCause {
        match self {
            Self::Unreachable(_, cause) => *cause,
            Self::HostKeyChanged { .. } | Self::HostKeyUnchecked => FailureCause::HostKey,
            Self::Refused(_) => FailureCause::AddressNotAllowed,
            Self::LoginRefused => FailureCause::LoginRefused,
            Self::BadKey => FailureCause::Credential,
            Self::Protocol(_) => FailureCause::Protocol,
        }
    }
}

/// A logged-in connection to a device.
pub struct DeviceLink {
    handle: client::Handle<HostKeyGuard>,
}

/// Checks the device's host key during the key exchange and keeps why it refused one.
struct HostKeyGuard {
    state: AppState,
    device_id: Option<i64>,
    refusal: Arc<Mutex<Option<DeviceError>>>,
}

impl HostKeyGuard {
    fn refuse(&self, why: DeviceError) -> bool {
        *self.refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
        false
    }
}

impl client::Handler for HostKeyGuard {
    type Error = russh::Error;

    async fn check_server_key(&mut self, offered: &russh::keys::PublicKey) -> Result<bool, Self::Error> {
        let Some(device_id) = self.device_id else { return Ok(self.refuse(DeviceError::HostKeyUnchecked)) };
        let seen = match offered.to_openssh().map_err(|_| ()).and_then(|line| HostKey::parse(&line).map_err(|_| ())) {
            Ok(seen) => seen,
            Err(()) => return Ok(self.refuse(DeviceError::HostKeyUnchecked)),
        };
        Ok(match check_host_key(&self.state.core, device_id, &seen).await {
            Ok(HostKeyCheck::Trusted) => true,
            Ok(HostKeyCheck::Changed { pinned, seen }) => self.refuse(DeviceError::HostKeyChanged { pinned, seen }),
            Err(e) => {
                tracing::warn!(error = %e, "could not check a device host key");
                self.refuse(DeviceError::HostKeyUnchecked)
            }
        })
    }
}

fn client_config() -> Arc<client::Config> {
    Arc::new(client::Config {
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    })
}

/// Connects to the session's device at its address (its `ip`; its hostname when it has none:
/// a hostname is often a label that resolves nowhere) and logs in as the credential. The device
/// is known by its pinned host key, not by a name, so nothing here needs the hostname.
pub async fn connect(state: &AppState, target: &SessionTarget) -> Result<DeviceLink, DeviceError> {
    let address = if target.address.contains(':') {
        format!("[{}]:{}", target.address, target.port)
    } else {
        format!("{}:{}", target.address, target.port)
    };
    let refusal = Arc::new(Mutex::new(None));
    let guard = HostKeyGuard { state: state.clone(), device_id: target.device_id, refusal: refusal.clone() };
    let attempt = async {
        let addresses = state.core.targets.resolve(&target.address, target.port).await.map_err(|refused| {
            if refused.is_policy() {
                DeviceError::Refused(refused.to_string())
            } else {
                DeviceError::Unreachable(address.clone(), FailureCause::NameNotResolved)
            }
        })?;
        let socket = tokio::net::TcpStream::connect(&addresses[..])
            .await
            .map_err(|e| DeviceError::Unreachable(address.clone(), FailureCause::of_io(e.kind())))?;
        let _ = socket.set_nodelay(true);
        let mut handle = client::connect_stream(client_config(), socket, guard).await.map_err(|e| {
            refusal.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap_or(DeviceError::Protocol(short(&e)))
        })?;
        login(&mut handle, target).await?;
        Ok(DeviceLink { handle })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err(DeviceError::Unreachable(address, FailureCause::Timeout)))
}

async fn login(handle: &mut client::Handle<HostKeyGuard>, target: &SessionTarget) -> Result<(), DeviceError> {
    let user = target.username.clone();
    let outcome = match &target.secret {
        LoginSecret::Password(password) => handle.authenticate_password(user, password.as_str()).await,
        LoginSecret::Key { private_key, passphrase } => {
            let given = (!passphrase.is_empty()).then_some(passphrase.as_str());
            let key = decode_secret_key(private_key, given).map_err(|_| DeviceError::BadKey)?;
            let hash = handle.best_supported_rsa_hash().await.map_err(|e| DeviceError::Protocol(short(&e)))?;
            handle.authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash.flatten())).await
        }
    };
    match outcome {
        Ok(result) if result.success() => Ok(()),
        Ok(_) => Err(DeviceError::LoginRefused),
        Err(e) => Err(DeviceError::Protocol(short(&e))),
    }
}

impl DeviceLink {
    /// Opens the session's one channel: a pty when the user asked for one, then a shell or a command.
    pub async fn open(&self, pty: Option<&Pty>, command: &Command) -> Result<Channel<Msg>, DeviceError> {
        let failed = |e: russh::Error| DeviceError::Protocol(short(&e));
        let channel = self.handle.channel_open_session().await.map_err(failed)?;
        if let Some(pty) = pty {
            channel.request_pty(false, &pty.term, pty.cols, pty.rows, 0, 0, &pty.modes).await.map_err(failed)?;
        }
        match command {
            Command::Shell => channel.request_shell(false).await.map_err(failed)?,
            Command::Exec(line) => channel.exec(false, line.clone()).await.map_err(failed)?,
        }
        Ok(channel)
    }

    pub async fn close(self) {
        let _ = self.handle.disconnect(Disconnect::ByApplication, "session ended", "en").await;
    }
}

/// An SSH error as one short line: russh's own text, never a secret (it has none to give).
fn short(e: &russh::Error) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or("unknown error").chars().take(160).collect()
}
