//! Remote sessions: the ticket a single-use URL stands for, the session row it opens, and what
//! the web proxy needs to forward a session's requests.

pub mod exec;
pub mod failure;
pub mod host_key;
pub mod origin;
pub mod recording;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::domain::pam::CredentialKind;

/// The protocols a session can be opened for: web applications through the web proxy, and
/// terminals through the SSH gateway (a native SSH client or the browser terminal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Https,
    Ssh,
}

impl Protocol {
    pub const SUPPORTED: [Protocol; 3] = [Self::Http, Self::Https, Self::Ssh];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "HTTP" => Some(Self::Http),
            "HTTPS" => Some(Self::Https),
            "SSH" => Some(Self::Ssh),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
            Self::Ssh => "SSH",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
            Self::Ssh => 22,
        }
    }

    /// The `proxy` column of the session list (§8).
    pub fn proxy_name(self) -> &'static str {
        match self {
            Self::Http | Self::Https => "Web Proxy",
            Self::Ssh => "SSH Proxy",
        }
    }

    /// Whether a credential of this kind can open a session of this protocol: web applications
    /// take a password; SSH takes a password or a private key.
    pub fn accepts(self, kind: CredentialKind) -> bool {
        matches!((self, kind), (_, CredentialKind::Password) | (Self::Ssh, CredentialKind::SshKey))
    }

    /// The port a device's `connectivities` (`HTTPS:443,SSH:22`) names for this protocol.
    pub fn port_in(self, connectivities: &str) -> Option<u16> {
        connectivities.split(',').find_map(|entry| {
            let (name, port) = entry.trim().split_once(':')?;
            if name.trim().eq_ignore_ascii_case(self.as_str()) { port.trim().parse().ok() } else { None }
        })
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The user or the proxy closed it.
    Closed,
    /// An operator dropped it.
    Dropped,
    /// Idle timeout, maximum length, or an entry code never used.
    Expired,
    /// The target could not be reached or refused the connection.
    Failed,
    /// The process holding it died.
    Interrupted,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Dropped => "dropped",
            Self::Expired => "expired",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A ticket to store: everything the session it opens will need, fixed when it was issued.
#[derive(Clone, Debug)]
pub struct NewTicket {
    pub token_hash: Vec<u8>,
    pub authorization_id: i64,
    pub application_id: i64,
    pub user_id: i64,
    pub credential_id: i64,
    pub device_id: i64,
    pub protocol: Protocol,
    /// The device's name: its hostname (its `ip` when it has none).
    pub host: String,
    /// Where to connect: the device's `ip` (its hostname when it has none).
    pub address: String,
    pub port: u16,
    pub remote_addr: Option<String>,
    pub screensize: String,
    pub expires_at: i64,
}

/// A ticket as its redemption returned it.
#[derive(Clone, Debug)]
pub struct RedeemedTicket {
    pub token_hash: Vec<u8>,
    pub authorization_id: i64,
    pub application_id: i64,
    pub user_id: i64,
    pub credential_id: i64,
    pub device_id: i64,
    pub protocol: Protocol,
    pub host: String,
    /// None on tickets made before tickets named an address.
    pub address: Option<String>,
    pub port: u16,
    pub screensize: String,
}

/// A session row.
#[derive(Clone, Debug)]
pub struct RemoteSession {
    pub id: i64,
    pub session_id: String,
    pub authorization_id: i64,
    pub application_id: i64,
    pub user_id: i64,
    pub username: String,
    pub origin_ip: String,
    pub credential_id: i64,
    pub credential_label: String,
    /// None on rows opened before sessions named their device.
    pub device_id: Option<i64>,
    pub device_label: String,
    pub host: String,
    /// Where the session connects; None on rows opened before sessions named it (they connect
    /// to `host`).
    pub address: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
    pub screensize: String,
    pub owner: Option<String>,
    pub owner_seen_at: Option<i64>,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    /// Why a failed session failed ([`failure::FailureCause::as_str`]).
    pub failure: Option<String>,
    pub drop_requested: bool,
}

/// A session a cookie holds, as the proxy sees it.
#[derive(Clone, Debug)]
pub struct LiveSession {
    pub id: i64,
    pub session_id: String,
    pub authorization_id: i64,
    pub application_id: i64,
    pub user_id: i64,
    pub username: String,
    pub origin_ip: String,
    pub credential_id: i64,
    pub device_label: String,
    pub protocol: Protocol,
    pub screensize: String,
    pub started_at: i64,
    pub last_seen_at: i64,
}

impl From<RemoteSession> for LiveSession {
    fn from(s: RemoteSession) -> Self {
        Self {
            id: s.id,
            session_id: s.session_id,
            authorization_id: s.authorization_id,
            application_id: s.application_id,
            user_id: s.user_id,
            username: s.username,
            origin_ip: s.origin_ip,
            credential_id: s.credential_id,
            device_label: s.device_label,
            protocol: s.protocol,
            screensize: s.screensize,
            started_at: s.started_at,
            last_seen_at: s.last_seen_at,
        }
    }
}

/// Where the proxy or the gateway forwards a session, and with what credential. Never shown to
/// the user.
pub struct SessionTarget {
    pub protocol: Protocol,
    /// The device's name: what its TLS certificate names and what `Host` says.
    pub host: String,
    /// Where to connect: the device's `ip`, or `host` when it has none.
    pub address: String,
    pub port: u16,
    /// The device, whose SSH host key is pinned (None on rows older than that).
    pub device_id: Option<i64>,
    pub username: String,
    pub secret: LoginSecret,
    pub session_settings: Option<Map<String, Value>>,
}

/// What logs in to the device: a password, or (SSH only) a private key and its passphrase.
pub enum LoginSecret {
    Password(Zeroizing<String>),
    Key { private_key: Zeroizing<String>, passphrase: Zeroizing<String> },
}

impl LoginSecret {
    /// The password of a password credential; a key has none (empty).
    pub fn password(&self) -> &str {
        match self {
            Self::Password(p) => p,
            Self::Key { .. } => "",
        }
    }
}

/// The largest terminal cofre opens on a device; bigger asks are clamped (an enormous window
/// would only make the device and the recording allocate for nothing).
pub const MAX_TERMINAL_COLS: u32 = 1000;
pub const MAX_TERMINAL_ROWS: u32 = 500;

/// A terminal size as asked for, clamped to 1..=MAX; zero (unknown) becomes 80x24.
pub fn terminal_size(cols: u32, rows: u32) -> (u32, u32) {
    let fit = |v: u32, default: u32, max: u32| if v == 0 { default } else { v.min(max) };
    (fit(cols, 80, MAX_TERMINAL_COLS), fit(rows, 24, MAX_TERMINAL_ROWS))
}

/// A ticket's `screensize` (`1920x1080`, pixels) as a terminal size, at 8x16 pixels a cell.
pub fn screensize_terminal(screensize: &str) -> (u32, u32) {
    let (w, h) = screensize.split_once(['x', 'X']).unwrap_or(("", ""));
    let px = |v: &str| v.trim().parse::<u32>().unwrap_or(0);
    terminal_size(px(w) / 8, px(h) / 16)
}

/// One proxied request, as recorded (sealed): never bodies, never credential values.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestNote {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// `HH:MM:SS` of a duration in seconds (hours may exceed 24).
pub fn hms(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_and_ports() {
        assert_eq!(Protocol::parse("https"), Some(Protocol::Https));
        assert_eq!(Protocol::parse("RDP"), None);
        assert_eq!(Protocol::Https.port_in("SSH:22, https:8443"), Some(8443));
        assert_eq!(Protocol::Http.port_in("SSH:22"), None);
        assert_eq!(hms(3 * 3600 + 62), "03:01:02");
        assert_eq!(Protocol::parse("ssh"), Some(Protocol::Ssh));
        assert_eq!(Protocol::Ssh.port_in("HTTPS:443,SSH:2222"), Some(2222));
        assert!(Protocol::Ssh.accepts(CredentialKind::SshKey));
        assert!(!Protocol::Https.accepts(CredentialKind::SshKey));
    }

    #[test]
    fn terminal_sizes_are_clamped() {
        assert_eq!(terminal_size(0, 0), (80, 24));
        assert_eq!(terminal_size(100_000, 100_000), (MAX_TERMINAL_COLS, MAX_TERMINAL_ROWS));
        assert_eq!(screensize_terminal("1920x1080"), (240, 67));
        assert_eq!(screensize_terminal("garbage"), (80, 24));
    }
}
