//! Remote sessions: the ticket a single-use URL stands for, the session row it opens, and what
//! the web proxy needs to forward a session's requests.

use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// The protocols a session can be opened for now (SSH comes with the SSH gateway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Https,
}

impl Protocol {
    pub const SUPPORTED: [Protocol; 2] = [Self::Http, Self::Https];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "HTTP" => Some(Self::Http),
            "HTTPS" => Some(Self::Https),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    /// The `proxy` column of the session list (§8).
    pub fn proxy_name(self) -> &'static str {
        "Web Proxy"
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
    pub host: String,
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
    pub protocol: Protocol,
    pub host: String,
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
    pub device_label: String,
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
    pub screensize: String,
    pub owner: Option<String>,
    pub owner_seen_at: Option<i64>,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
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
            started_at: s.started_at,
            last_seen_at: s.last_seen_at,
        }
    }
}

/// Where the proxy forwards a session, and with what credential. Never shown to the browser.
pub struct SessionTarget {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Zeroizing<String>,
    pub session_settings: Option<Map<String, Value>>,
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
    }
}
