//! Typed configuration: compiled defaults → a TOML file → `COFRE_*` environment variables.
//!
//! Every option can also be read from a file named by `COFRE_<OPTION>_FILE` (for secrets such as a
//! database URL with a password). A bad value fails at start with a message naming the option.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::network::IpRule;
use crate::domain::sessions::origin::SessionOrigins;

mod sources;
mod validate;
use sources::{OPTIONS, describe, env_value};

/// The committed example file; a unit test checks that it parses to the defaults.
pub const EXAMPLE_TOML: &str = include_str!("../config/cofre.toml");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    SelfSigned,
    Files,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Empty means the embedded SQLite file `<data_dir>/cofre.db`.
    pub database_url: String,
    pub database_max_connections: u32,
    pub listen: SocketAddr,
    pub tls: TlsMode,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_sans: Vec<String>,
    /// Binding a non-loopback address with `tls = "off"` needs this explicit opt-in.
    pub allow_insecure_http: bool,
    /// Empty means `<data_dir>/master.key`, generated at first start.
    pub master_key_file: Option<PathBuf>,
    pub token_ttl: u64,
    pub trusted_proxies: Vec<IpRule>,
    /// The networks cofre may connect to on a caller's behalf (sessions, discovery, publication);
    /// empty: all but loopback, link-local and unspecified addresses.
    pub target_networks: Vec<IpRule>,
    pub body_limit: usize,
    pub request_timeout: u64,
    pub log_format: LogFormat,
    /// OAuth 1.0a: how far `oauth_timestamp` may be from now, in seconds.
    pub oauth1_timestamp_window: u64,
    /// Request signing (SigV4): the region in the credential scope; the service is `cofre`.
    pub sigv4_region: String,
    /// Lifetime of tokens from `/api/get_auth_token`, in minutes.
    pub dynamic_token_minutes: u64,
    /// Failed authentications per client id or login, within the window, before a lockout.
    pub auth_failure_limit: u32,
    /// Failed authentications per source IP, within the window, before a lockout.
    pub auth_failure_limit_per_ip: u32,
    pub auth_failure_window: u64,
    pub auth_lockout: u64,
    /// argon2id hashes running at once (each holds about 19 MiB).
    pub password_hash_concurrency: usize,
    /// The command that sets a rotated secret on its target (secret on stdin). Empty: no
    /// automatic rotation runs.
    pub rotation_command: String,
    /// Seconds between looks for credentials due for rotation.
    pub rotation_check_interval: u64,
    /// Seconds before a failed rotation is tried again.
    pub rotation_retry: u64,
    /// The command that installs a certificate on a device (certificate, chain and key on
    /// stdin; device and credential in its environment). Empty: publishing is refused.
    pub certificate_publish_command: String,
    /// Seconds one device's publication may take before it is recorded as failed.
    pub certificate_publish_timeout: u64,
    /// The `tenant` name put in PAM responses.
    pub tenant: String,
    /// Largest MySafe file, in bytes.
    pub mysafe_file_limit: usize,
    /// DSM: how long the client id and secret a re-registration answers stay valid, in seconds.
    pub dsm_run_credential_ttl: u64,
    /// Days that credential reveals and proxied-request records are kept; 0 keeps them forever.
    pub record_retention_days: u64,
    /// The vault's own base URL, as browsers reach it (session URLs point here). Empty: derived
    /// from `listen` and the TLS mode.
    pub public_url: String,
    /// The web proxy's base URL, on its own host name or port so its cookie is never the
    /// vault's. Empty: derived from `proxy_listen` and the TLS mode.
    pub proxy_url: String,
    /// Where the web proxy listens.
    pub proxy_listen: SocketAddr,
    /// Where the SSH gateway listens (session tickets as SSH user names); off unless set.
    pub ssh_listen: Option<SocketAddr>,
    /// Seconds a session URL stays redeemable.
    pub session_ticket_ttl: u64,
    /// Seconds without a request after which a web session ends.
    pub session_idle_timeout: u64,
    /// Seconds after which a web session ends however busy it is.
    pub session_max_length: u64,
    /// Working hours for the risk dashboard, `HH-HH` UTC on weekdays (`08-18`).
    pub working_hours: String,
    /// A file outside the database where the audit chain's head is written down every
    /// `audit_checkpoint_interval` seconds, so that a trail cut short is caught. Unset:
    /// `<data_dir>/audit.checkpoint`.
    pub audit_checkpoint_file: Option<PathBuf>,
    pub audit_checkpoint_interval: u64,
    /// A live copy of the trail for a SIEM: `file:PATH`, `syslog+tcp://HOST:PORT` or
    /// `syslog+tls://HOST:PORT`. Each record is sent once durable, resumed after an outage or a
    /// restart from the last one acknowledged. Empty: none.
    pub audit_sink: String,
    /// Roots (PEM) a `syslog+tls` sink must chain to; unset: the system's.
    pub audit_sink_ca_file: Option<PathBuf>,
    /// A bearer token that lets a scraper outside this machine read `/metrics`. Empty: loopback
    /// clients only.
    pub metrics_token: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            database_max_connections: 16,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls: TlsMode::SelfSigned,
            tls_cert_file: None,
            tls_key_file: None,
            tls_sans: Vec::new(),
            allow_insecure_http: false,
            master_key_file: None,
            token_ttl: 3600,
            trusted_proxies: Vec::new(),
            target_networks: Vec::new(),
            body_limit: 1024 * 1024,
            request_timeout: 30,
            log_format: LogFormat::Text,
            oauth1_timestamp_window: 300,
            sigv4_region: "us-east-1".to_owned(),
            dynamic_token_minutes: 30,
            auth_failure_limit: 5,
            auth_failure_limit_per_ip: 50,
            auth_failure_window: 300,
            auth_lockout: 300,
            password_hash_concurrency: 2,
            rotation_command: String::new(),
            rotation_check_interval: 60,
            rotation_retry: 3600,
            certificate_publish_command: String::new(),
            certificate_publish_timeout: 60,
            tenant: "cofre".to_owned(),
            mysafe_file_limit: 10 * 1024 * 1024,
            dsm_run_credential_ttl: 24 * 3600,
            record_retention_days: 365,
            public_url: String::new(),
            proxy_url: String::new(),
            proxy_listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            ssh_listen: None,
            session_ticket_ttl: 30,
            session_idle_timeout: 900,
            session_max_length: 8 * 3600,
            working_hours: "08-18".into(),
            audit_checkpoint_file: None,
            audit_checkpoint_interval: 300,
            audit_sink: String::new(),
            audit_sink_ca_file: None,
            metrics_token: String::new(),
        }
    }
}

/// The database URL may carry a password: never print it.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("token_ttl", &self.token_ttl)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads defaults, then the file (`COFRE_CONFIG`, else `config/cofre.toml` when present), then env.
    pub fn load() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("COFRE_")).collect();
        let file = match env.get("COFRE_CONFIG") {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from("config/cofre.toml")).filter(|p| p.exists()),
        };
        Self::from_sources(file.as_deref(), &env)
    }

    pub fn from_sources(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                text.parse::<toml::Table>().map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        for (key, raw) in env {
            let Some(name) = key.strip_prefix("COFRE_") else {
                continue;
            };
            if name == "CONFIG" {
                continue;
            }
            let (option, value) = match name.strip_suffix("_FILE") {
                // `*_FILE` options that are themselves paths keep their meaning.
                Some(base) if !OPTIONS.contains(&name.to_ascii_lowercase().as_str()) => {
                    let text = std::fs::read_to_string(raw)
                        .map_err(|e| ConfigError(format!("{key}: cannot read {raw}: {e}")))?;
                    (base.to_ascii_lowercase(), text.trim_end_matches(['\r', '\n']).to_owned())
                }
                _ => (name.to_ascii_lowercase(), raw.clone()),
            };
            if !OPTIONS.contains(&option.as_str()) {
                // Other tools share the prefix (COFRE_TEST_POSTGRES_URL); a typo still deserves a word.
                eprintln!("cofre: warning: ignoring {key}, which names no option");
                continue;
            }
            table.insert(option.clone(), env_value(&option, &value));
        }
        let config: Config =
            table.clone().try_into().map_err(|e: toml::de::Error| ConfigError(describe(&table, &e)))?;
        config.validate()?;
        Ok(config)
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}?mode=rwc", self.data_dir.join("cofre.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The vault's base URL without a trailing `/`: `public_url`, else from `listen`.
    pub fn public_base(&self) -> String {
        self.base_url(&self.public_url, self.listen)
    }

    /// The web proxy's wildcard URL without a trailing `/`: `proxy_url`, else
    /// `{scheme}://*.sessions.localhost:{port}` from `proxy_listen` (browsers and curl resolve every
    /// `*.localhost` name to loopback, so per-session origins need nothing configured on one
    /// machine; a wildcard one label below `localhost` is one that TLS clients accept).
    pub fn proxy_base(&self) -> String {
        if !self.proxy_url.is_empty() {
            return self.proxy_url.trim_end_matches('/').to_owned();
        }
        let scheme = if self.tls == TlsMode::Off { "http" } else { "https" };
        format!("{scheme}://*.sessions.localhost:{}", self.proxy_listen.port())
    }

    /// Each session's own origin under the proxy's wildcard host.
    pub fn session_origins(&self) -> SessionOrigins {
        SessionOrigins::parse(&self.proxy_base()).unwrap_or_else(|_| {
            // `validate` refused any other proxy URL before the server started.
            SessionOrigins::parse("https://*.sessions.localhost:8444")
                .unwrap_or_else(|_| unreachable!("a constant parses"))
        })
    }

    fn base_url(&self, configured: &str, listen: SocketAddr) -> String {
        if !configured.is_empty() {
            return configured.trim_end_matches('/').to_owned();
        }
        let scheme = if self.tls == TlsMode::Off { "http" } else { "https" };
        let host = if listen.ip().is_unspecified() { "localhost".to_owned() } else { listen.ip().to_string() };
        let host = if listen.is_ipv6() && !listen.ip().is_unspecified() { format!("[{host}]") } else { host };
        format!("{scheme}://{host}:{}", listen.port())
    }

    /// When a listener takes every address (as in a container) while the links that name it
    /// (session URLs) name localhost: browsers on other machines cannot follow them.
    pub fn local_links_note(&self) -> Option<String> {
        let local = |url: &str, listen: SocketAddr| {
            let host = url.split("://").nth(1).unwrap_or(url).split([':', '/']).next().unwrap_or("");
            listen.ip().is_unspecified() && (host == "localhost" || host.ends_with(".localhost"))
        };
        let mut unset = Vec::new();
        if local(&self.public_base(), self.listen) {
            unset.push("public_url (COFRE_PUBLIC_URL)");
        }
        if local(&self.proxy_base(), self.proxy_listen) {
            unset.push("proxy_url (COFRE_PROXY_URL)");
        }
        (!unset.is_empty()).then(|| {
            format!(
                "session links name localhost while cofre listens on every address: only a browser on this machine \
                 (or the container's host) can follow them; set {} to the names other machines use",
                unset.join(" and ")
            )
        })
    }

    /// Every address cofre listens on: never a target, whatever `target_networks` allows.
    pub fn own_listeners(&self) -> Vec<SocketAddr> {
        [Some(self.listen), Some(self.proxy_listen), self.ssh_listen].into_iter().flatten().collect()
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// Where checkpoints of the audit chain are written and read: `audit_checkpoint_file`, else
    /// `audit.checkpoint` in the data directory.
    pub fn audit_checkpoint_path(&self) -> PathBuf {
        self.audit_checkpoint_file.clone().unwrap_or_else(|| self.data_dir.join("audit.checkpoint"))
    }
}

/// `postgres://user:pass@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_to_localhost_are_noted_only_when_listening_everywhere() {
        let everywhere = Config {
            listen: "0.0.0.0:8443".parse().expect("addr"),
            proxy_listen: "0.0.0.0:8444".parse().expect("addr"),
            ..Config::default()
        };
        let note = everywhere.local_links_note().expect("noted");
        assert!(note.contains("public_url (COFRE_PUBLIC_URL) and proxy_url (COFRE_PROXY_URL)"), "{note}");
        let named = Config {
            public_url: "https://vault.example:8443".into(),
            proxy_url: "https://*.sessions.example:8444".into(),
            ..everywhere.clone()
        };
        assert_eq!(named.local_links_note(), None);
        let proxy_only = Config { public_url: "https://vault.example:8443".into(), ..everywhere };
        assert!(!proxy_only.local_links_note().expect("noted").contains("public_url"));
        assert_eq!(Config::default().local_links_note(), None, "loopback listeners: localhost is right");
    }

    #[test]
    fn example_file_parses_to_the_defaults() {
        let table: toml::Table = EXAMPLE_TOML.parse().expect("example parses");
        let parsed: Config = table.try_into().expect("example matches the schema");
        assert!(parsed == Config::default(), "config/cofre.toml drifted from the defaults");
    }

    #[test]
    fn env_overrides_and_names_bad_options() {
        let env = BTreeMap::from([("COFRE_TOKEN_TTL".to_owned(), "60".to_owned())]);
        assert_eq!(Config::from_sources(None, &env).expect("valid").token_ttl, 60);

        let env = BTreeMap::from([("COFRE_TOKEN_TTL".to_owned(), "soon".to_owned())]);
        let err = Config::from_sources(None, &env).expect_err("invalid").to_string();
        assert!(err.contains("token_ttl"), "{err}");

        let env = BTreeMap::from([("COFRE_LISTEN".to_owned(), "nowhere".to_owned())]);
        let err = Config::from_sources(None, &env).expect_err("invalid").to_string();
        assert!(err.contains("listen"), "{err}");

        let env = BTreeMap::from([("COFRE_TRUSTED_PROXIES".to_owned(), "10.0.0.0/8,127.000.0.1".to_owned())]);
        let err = Config::from_sources(None, &env).expect_err("invalid").to_string();
        assert!(err.contains("trusted_proxies"), "{err}");

        let env = BTreeMap::from([("COFRE_WORKING_HOURS".to_owned(), "18-08".to_owned())]);
        let err = Config::from_sources(None, &env).expect_err("invalid").to_string();
        assert!(err.contains("working_hours"), "{err}");
        let env = BTreeMap::from([("COFRE_WORKING_HOURS".to_owned(), "09-17".to_owned())]);
        assert_eq!(Config::from_sources(None, &env).expect("valid").working_hours, "09-17");

        let env = BTreeMap::from([("COFRE_NOPE".to_owned(), "1".to_owned())]);
        assert!(Config::from_sources(None, &env).is_ok(), "unknown variables are ignored with a warning");
    }

    #[test]
    fn database_url_takes_a_postgres_host_list_and_names_what_it_refuses() {
        let url = |u: &str| BTreeMap::from([("COFRE_DATABASE_URL".to_owned(), u.to_owned())]);
        let listed = "postgres://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write";
        assert_eq!(Config::from_sources(None, &url(listed)).expect("valid").database_url, listed);
        for (refused, why) in [
            ("postgres://h1,h2/db?target_session_attrs=standby", "target_session_attrs=standby"),
            ("postgres://h1,h2:x/db", "'h2:x'"),
            ("sqlite:///d/cofre.db?target_session_attrs=read-write", "sqlite:"),
        ] {
            let err = Config::from_sources(None, &url(refused)).expect_err(refused).to_string();
            assert!(err.contains("database_url") && err.contains(why), "{refused}: {err}");
        }
    }

    #[test]
    fn file_suffix_reads_secrets_from_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("url");
        std::fs::write(&path, "postgres://u:hunter2@localhost/db\n").expect("write");
        let env = BTreeMap::from([("COFRE_DATABASE_URL_FILE".to_owned(), path.display().to_string())]);
        let config = Config::from_sources(None, &env).expect("valid");
        assert_eq!(config.database_url, "postgres://u:hunter2@localhost/db");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
