//! The checks a loaded configuration must pass before cofre starts: each names the option it
//! refuses and what it accepts.

use super::{Config, ConfigError, TlsMode};
use crate::domain::sessions::origin::SessionOrigins;
use crate::store::hosts::PostgresHosts;

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.token_ttl == 0 || self.token_ttl > 86_400 {
            return Err(ConfigError("token_ttl (COFRE_TOKEN_TTL): must be between 1 and 86400 seconds".into()));
        }
        if self.body_limit < 1024 {
            return Err(ConfigError("body_limit (COFRE_BODY_LIMIT): must be at least 1024 bytes".into()));
        }
        if self.request_timeout == 0 {
            return Err(ConfigError("request_timeout (COFRE_REQUEST_TIMEOUT): must be positive".into()));
        }
        if self.oauth1_timestamp_window == 0 || self.oauth1_timestamp_window > 3600 {
            return Err(ConfigError("oauth1_timestamp_window: must be between 1 and 3600 seconds".into()));
        }
        if self.sigv4_region.is_empty() || !self.sigv4_region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ConfigError("sigv4_region (COFRE_SIGV4_REGION): letters, digits and '-' only".into()));
        }
        if self.dynamic_token_minutes == 0 || self.dynamic_token_minutes > 24 * 60 {
            return Err(ConfigError("dynamic_token_minutes: must be between 1 and 1440".into()));
        }
        if self.auth_failure_limit == 0 || self.auth_failure_limit_per_ip == 0 || self.auth_failure_window == 0 {
            return Err(ConfigError(
                "auth_failure_limit, auth_failure_limit_per_ip and auth_failure_window must be positive".into(),
            ));
        }
        if self.certificate_publish_timeout == 0 {
            return Err(ConfigError("certificate_publish_timeout must be positive".into()));
        }
        crate::domain::audit::SinkTarget::parse(&self.audit_sink).map_err(ConfigError)?;
        if self.audit_checkpoint_interval == 0 {
            return Err(ConfigError("audit_checkpoint_interval must be positive".into()));
        }
        if self.rotation_check_interval == 0 || self.rotation_retry == 0 {
            return Err(ConfigError("rotation_check_interval and rotation_retry must be positive".into()));
        }
        if self.password_hash_concurrency == 0 {
            return Err(ConfigError("password_hash_concurrency: must be positive".into()));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError("database_max_connections: must be positive".into()));
        }
        if self.tls == TlsMode::Files && (self.tls_cert_file.is_none() || self.tls_key_file.is_none()) {
            return Err(ConfigError("tls = \"files\" needs COFRE_TLS_CERT_FILE and COFRE_TLS_KEY_FILE".into()));
        }
        if !self.database_url.is_empty()
            && !["sqlite:", "postgres:", "postgresql:"].iter().any(|s| self.database_url.starts_with(s))
        {
            return Err(ConfigError("database_url (COFRE_DATABASE_URL): scheme must be sqlite: or postgres:".into()));
        }
        self.check_database_hosts()?;
        if self.session_ticket_ttl == 0 || self.session_idle_timeout == 0 || self.session_max_length == 0 {
            return Err(ConfigError(
                "session_ticket_ttl, session_idle_timeout and session_max_length must be positive".into(),
            ));
        }
        if crate::domain::dashboards::WorkingHours::parse(&self.working_hours).is_none() {
            return Err(ConfigError("working_hours (COFRE_WORKING_HOURS): expected HH-HH, start before end".into()));
        }
        if !(self.public_url.is_empty()
            || self.public_url.starts_with("https://")
            || self.public_url.starts_with("http://"))
        {
            return Err(ConfigError("public_url: must start with https:// or http://".into()));
        }
        if !self.proxy_url.is_empty() {
            SessionOrigins::parse(&self.proxy_url)
                .map_err(|why| ConfigError(format!("proxy_url (COFRE_PROXY_URL): {why}")))?;
        } else if !(self.proxy_listen.ip().is_loopback() || self.proxy_listen.ip().is_unspecified()) {
            return Err(ConfigError(
                "proxy_url (COFRE_PROXY_URL): needed when proxy_listen is not a loopback address: a wildcard URL \
                 such as https://*.sessions.example:8444 whose names reach the proxy"
                    .into(),
            ));
        }
        if self.tls == TlsMode::Off && !self.listen.ip().is_loopback() && !self.allow_insecure_http {
            return Err(ConfigError(
                "tls (COFRE_TLS): plain HTTP on a non-loopback address needs COFRE_ALLOW_INSECURE_HTTP=true".into(),
            ));
        }
        Ok(())
    }

    /// A PostgreSQL URL may list several hosts with libpq's `target_session_attrs`; a SQLite URL
    /// names one file.
    fn check_database_hosts(&self) -> Result<(), ConfigError> {
        let url = &self.database_url;
        if url.starts_with("sqlite:") && url.contains("target_session_attrs") {
            return Err(ConfigError(
                "database_url (COFRE_DATABASE_URL): target_session_attrs and host lists are PostgreSQL's; a sqlite: \
                 URL names one file"
                    .into(),
            ));
        }
        if url.starts_with("postgres") {
            PostgresHosts::parse(url)
                .map_err(|why| ConfigError(format!("database_url (COFRE_DATABASE_URL): {why}")))?;
        }
        Ok(())
    }
}
