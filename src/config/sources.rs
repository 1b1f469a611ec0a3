//! Where options come from besides the typed struct: their names (the TOML keys, and the
//! `COFRE_*` environment names derived from them), how an environment string becomes a TOML
//! value, and which option a parse error is about.

use super::Config;

/// Option names, as in the TOML file; env names are these upper-cased with a `COFRE_` prefix.
pub(super) const OPTIONS: &[&str] = &[
    "data_dir",
    "database_url",
    "database_max_connections",
    "listen",
    "tls",
    "tls_cert_file",
    "tls_key_file",
    "tls_sans",
    "allow_insecure_http",
    "master_key_file",
    "token_ttl",
    "trusted_proxies",
    "target_networks",
    "body_limit",
    "request_timeout",
    "log_format",
    "oauth1_timestamp_window",
    "sigv4_region",
    "dynamic_token_minutes",
    "auth_failure_limit",
    "auth_failure_limit_per_ip",
    "auth_failure_window",
    "auth_lockout",
    "password_hash_concurrency",
    "rotation_command",
    "rotation_check_interval",
    "rotation_retry",
    "certificate_publish_command",
    "certificate_publish_timeout",
    "tenant",
    "mysafe_file_limit",
    "dsm_run_credential_ttl",
    "public_url",
    "proxy_url",
    "proxy_listen",
    "ssh_listen",
    "session_ticket_ttl",
    "session_idle_timeout",
    "session_max_length",
    "working_hours",
    "record_retention_days",
    "audit_checkpoint_file",
    "audit_checkpoint_interval",
    "audit_sink",
    "audit_sink_ca_file",
    "metrics_token",
];

/// Env values are strings; give numbers, booleans and comma lists their TOML type.
pub(super) fn env_value(option: &str, value: &str) -> toml::Value {
    match option {
        "tls_sans" | "trusted_proxies" | "target_networks" => toml::Value::Array(
            value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| toml::Value::String(s.into())).collect(),
        ),
        "database_max_connections"
        | "token_ttl"
        | "body_limit"
        | "request_timeout"
        | "oauth1_timestamp_window"
        | "dynamic_token_minutes"
        | "auth_failure_limit"
        | "auth_failure_limit_per_ip"
        | "auth_failure_window"
        | "auth_lockout"
        | "password_hash_concurrency"
        | "rotation_check_interval"
        | "rotation_retry"
        | "certificate_publish_timeout"
        | "mysafe_file_limit"
        | "dsm_run_credential_ttl"
        | "session_ticket_ttl"
        | "session_idle_timeout"
        | "session_max_length"
        | "record_retention_days"
        | "audit_checkpoint_interval" => {
            value.trim().parse::<i64>().map_or_else(|_| toml::Value::String(value.into()), toml::Value::Integer)
        }
        "allow_insecure_http" => match value.trim() {
            "true" | "1" | "yes" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "" => toml::Value::Boolean(false),
            _ => toml::Value::String(value.into()),
        },
        _ => toml::Value::String(value.into()),
    }
}

/// serde's message names the bad value, not the option: find the option by trying each alone.
pub(super) fn describe(table: &toml::Table, e: &toml::de::Error) -> String {
    let culprit = table.iter().find(|(key, value)| {
        let single = toml::Table::from_iter([((*key).clone(), (*value).clone())]);
        single.try_into::<Config>().is_err()
    });
    match culprit {
        Some((key, _)) => format!("{key} (COFRE_{}): {}", key.to_ascii_uppercase(), e.message()),
        None => e.message().to_owned(),
    }
}
