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

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde::de::{self, Deserializer, Visitor};

    use super::*;

    /// A deserializer that only records the field names a struct asks for.
    struct FieldNames<'a>(&'a mut Vec<&'static str>);

    #[derive(Debug)]
    struct Recorded;

    impl std::fmt::Display for Recorded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("recorded")
        }
    }

    impl std::error::Error for Recorded {}

    impl de::Error for Recorded {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Recorded
        }
    }

    impl<'de> Deserializer<'de> for FieldNames<'_> {
        type Error = Recorded;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Recorded> {
            Err(Recorded)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Recorded> {
            self.0.extend_from_slice(fields);
            Err(Recorded)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    #[test]
    fn the_option_names_are_the_configs_fields() {
        let mut fields = Vec::new();
        let _ = Config::deserialize(FieldNames(&mut fields));
        let (mut fields, mut options) = (fields, OPTIONS.to_vec());
        fields.sort_unstable();
        options.sort_unstable();
        assert_eq!(options, fields, "OPTIONS lists every Config field, and only those");
    }

    #[test]
    fn env_values_get_the_type_their_option_takes() {
        // A number, boolean or list option left as text fails as "invalid type: string".
        for option in OPTIONS {
            let table = toml::Table::from_iter([((*option).to_owned(), env_value(option, "1"))]);
            if let Err(e) = table.try_into::<Config>() {
                assert!(!e.message().contains("invalid type: string"), "{option}: {}", e.message());
            }
        }
    }
}
