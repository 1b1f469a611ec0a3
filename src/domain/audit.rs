//! The audit trail's record: one per request or background job.

pub mod request;

/// One request's record. Holds no secret value: sensitive parameters arrive here already masked.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditRecord {
    pub at_ms: i64,
    pub request_id: String,
    pub client_ip: String,
    pub application_id: Option<i64>,
    pub authorization_id: Option<i64>,
    pub method: String,
    pub route: String,
    pub status: i64,
    pub outcome: String,
    /// A JSON object: parameter names, masked values, the reason for a refusal.
    pub detail: String,
}

impl AuditRecord {
    /// Whether this record accounts for the writes its request committed: a successful answer
    /// says they happened. Any other answer leaves them to a recovered record
    /// (`AuditRecord::recovered`), which says so.
    pub fn accounts_for_writes(&self) -> bool {
        self.status < 400
    }

    /// A background job's action (a rotation, a renewal), audited like a request: no caller,
    /// `method` and `route` naming what was acted on, `detail` a JSON object.
    pub fn for_job(at_ms: i64, method: &str, route: String, status: i64, detail: serde_json::Value) -> Self {
        Self {
            at_ms,
            request_id: uuid::Uuid::now_v7().to_string(),
            client_ip: "-".into(),
            application_id: None,
            authorization_id: None,
            method: method.into(),
            route,
            status,
            outcome: if status < 400 { "success" } else { "error" }.into(),
            detail: detail.to_string(),
        }
    }

    /// An operator's command through the CLI: no caller or address, `route` naming the
    /// command (`/cli/app/link`), `status` its exit status (0 or 1), and `detail` a JSON object
    /// with `origin: "cli"`, the OS user and what the command named.
    pub fn for_operator(at_ms: i64, route: String, succeeded: bool, detail: serde_json::Value) -> Self {
        Self {
            at_ms,
            request_id: uuid::Uuid::now_v7().to_string(),
            client_ip: "-".into(),
            application_id: None,
            authorization_id: None,
            method: "CLI".into(),
            route,
            status: if succeeded { 0 } else { 1 },
            outcome: if succeeded { "success" } else { "error" }.into(),
            detail: detail.to_string(),
        }
    }
}

/// A record as stored in the chain: its row id, sequence number and MAC.
#[derive(Clone, Debug)]
pub struct ChainedRecord {
    pub id: i64,
    pub seq: i64,
    pub mac: Vec<u8>,
    pub record: AuditRecord,
}

/// The chain's last link: sequence number (also how many records it holds) and MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub mac: Vec<u8>,
    pub at_ms: i64,
}

/// Where the live audit sink sends records: `file:PATH` (JSON lines), or RFC 5424 syslog over
/// `syslog+tcp://HOST:PORT` or `syslog+tls://HOST:PORT` (octet-counted frames, RFC 6587).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkTarget {
    File(std::path::PathBuf),
    Syslog { host: String, port: u16, tls: bool },
}

impl SinkTarget {
    /// `None` for an empty setting (no sink).
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if let Some(path) = text.strip_prefix("file://").or_else(|| text.strip_prefix("file:")) {
            if path.is_empty() {
                return Err("audit_sink file: needs a path".into());
            }
            return Ok(Some(Self::File(path.into())));
        }
        let (tls, rest) = match (text.strip_prefix("syslog+tcp://"), text.strip_prefix("syslog+tls://")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => {
                return Err(format!(
                    "audit_sink {text:?}: use file:PATH, syslog+tcp://HOST:PORT or syslog+tls://HOST:PORT"
                ));
            }
        };
        let (host, port) = rest
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_start_matches('[').trim_end_matches(']'), p.parse::<u16>().ok()?)))
            .filter(|(h, p)| !h.is_empty() && *p > 0)
            .ok_or_else(|| format!("audit_sink {text:?}: needs HOST:PORT"))?;
        Ok(Some(Self::Syslog { host: host.to_owned(), port, tls }))
    }
}
