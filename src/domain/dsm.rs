//! DevOps Secret Manager data: the input structures of §10.3 and §10.4, and the stored form.
//!
//! A secret is stored as a list of entries; each entry remembers its kind and which field each
//! output key came from, so that renewal knows what to re-issue. Clients see each entry's
//! `values` as one flat string map (`data` is an array of such maps, as every real client
//! decodes it).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    AccessKey,
    Credential,
    KeyValue,
}

/// One entry of a secret: output key → value, and output key → source field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// For access keys: aws, azure or gcp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub values: BTreeMap<String, Option<String>>,
    pub fields: BTreeMap<String, String>,
}

/// Base64 as the clients send it: standard or URL-safe, padded or not, or dsmcli's variant
/// (`+`→`-`, `/`→`_`, `=`→`,`).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let variant = text.replace(',', "=");
    [STANDARD, URL_SAFE]
        .iter()
        .chain([STANDARD_NO_PAD, URL_SAFE_NO_PAD].iter())
        .find_map(|engine| engine.decode(&variant).ok().or_else(|| engine.decode(variant.trim_end_matches('=')).ok()))
}

fn string_field(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{path}.{key} must be a string")),
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| format!("{path} must be an object"))
}

/// Parses `data` of `POST /iso/sctm/secret` (§10.3): `access_keys`, `credentials`, `key_value`.
/// Output keys are the `*_label` values (the field name when a label is absent).
pub fn parse_secret_data(data: &Value) -> Result<Vec<Entry>, String> {
    let root = object(data, "data")?;
    if let Some(unknown) = root.keys().find(|k| !["access_keys", "credentials", "key_value"].contains(&k.as_str())) {
        return Err(format!(
            "data.{unknown} is not part of the secret structure (access_keys, credentials, key_value)"
        ));
    }
    let mut entries = Vec::new();
    for (kind, list_key, item_key, fields) in [
        (EntryKind::AccessKey, "access_keys", "access_key", &["access_key_id", "secret_access_key"][..]),
        (
            EntryKind::Credential,
            "credentials",
            "credential",
            &["user", "host", "password", "additional_information"][..],
        ),
    ] {
        let Some(list) = root.get(list_key) else { continue };
        let list = list.as_array().ok_or_else(|| format!("data.{list_key} must be an array"))?;
        for (i, item) in list.iter().enumerate() {
            let path = format!("data.{list_key}[{i}]");
            let inner = object(item, &path)?.get(item_key).ok_or_else(|| format!("{path}.{item_key} is missing"))?;
            let inner = object(inner, &format!("{path}.{item_key}"))?;
            let provider = string_field(inner, "type", &path)?;
            if kind == EntryKind::AccessKey
                && !provider.as_deref().is_some_and(|p| ["aws", "azure", "gcp"].contains(&p))
            {
                return Err(format!("{path}.{item_key}.type must be aws, azure or gcp"));
            }
            let field_map = object(
                inner.get("fields").ok_or_else(|| format!("{path}.{item_key}.fields is missing"))?,
                &format!("{path}.fields"),
            )?;
            let mut entry = Entry { kind: kind.clone(), provider, values: BTreeMap::new(), fields: BTreeMap::new() };
            for field in fields {
                let fpath = format!("{path}.{item_key}.fields");
                let Some(value) = string_field(field_map, field, &fpath)? else { continue };
                let label = string_field(field_map, &format!("{field}_label"), &fpath)?
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| (*field).to_owned());
                entry.fields.insert(label.clone(), (*field).to_owned());
                entry.values.insert(label, Some(value));
            }
            if let Some(unknown) =
                field_map.keys().find(|k| !fields.iter().any(|f| *k == f || **k == format!("{f}_label")))
            {
                return Err(format!("{path}.{item_key}.fields.{unknown} is not a known field"));
            }
            entries.push(entry);
        }
    }
    if let Some(kv) = root.get("key_value") {
        let kv = object(kv, "data.key_value")?;
        let fields = object(kv.get("fields").ok_or("data.key_value.fields is missing")?, "data.key_value.fields")?;
        let mut entry =
            Entry { kind: EntryKind::KeyValue, provider: None, values: BTreeMap::new(), fields: BTreeMap::new() };
        for (key, value) in fields {
            match value {
                Value::String(s) => entry.values.insert(key.clone(), Some(s.clone())),
                Value::Null => entry.values.insert(key.clone(), None),
                _ => return Err(format!("data.key_value.fields.{key} must be a string")),
            };
        }
        entries.push(entry);
    }
    if entries.is_empty() {
        return Err("data holds no access_keys, credentials or key_value".into());
    }
    Ok(entries)
}

/// `KEY=VALUE` lines (the pipeline's environment), split at the first `=`.
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .collect()
}

/// A mapping file (§10.4) applied to an environment: one (identity, engine, entry) per mapping.
pub fn apply_mapping(mapping: &Value, env: &BTreeMap<String, String>) -> Result<Vec<(String, String, Entry)>, String> {
    let root = object(mapping, "map")?;
    let lookup = |var: &str| env.get(var).cloned();
    let mut out = Vec::new();
    for (list_key, kind) in [
        ("access_keys", EntryKind::AccessKey),
        ("credentials", EntryKind::Credential),
        ("key_value", EntryKind::KeyValue),
    ] {
        let Some(list) = root.get(list_key) else { continue };
        let list = list.as_array().ok_or_else(|| format!("map.{list_key} must be an array"))?;
        for (i, item) in list.iter().enumerate() {
            let path = format!("map.{list_key}[{i}]");
            let item = object(item, &path)?;
            let name = string_field(item, "name", &path)?
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("{path}.name is missing"))?;
            let mut entry =
                Entry { kind: kind.clone(), provider: None, values: BTreeMap::new(), fields: BTreeMap::new() };
            match item.get("fields") {
                Some(Value::Object(fields)) => {
                    for (field, var) in fields {
                        let var = var
                            .as_str()
                            .ok_or_else(|| format!("{path}.fields.{field} must name an environment variable"))?;
                        entry.fields.insert(var.to_owned(), field.clone());
                        entry.values.insert(var.to_owned(), lookup(var));
                    }
                }
                Some(Value::Array(vars)) => {
                    for var in vars {
                        let var = var
                            .as_str()
                            .ok_or_else(|| format!("{path}.fields must list environment variable names"))?;
                        entry.values.insert(var.to_owned(), lookup(var));
                    }
                }
                _ => return Err(format!("{path}.fields is missing")),
            }
            if kind == EntryKind::AccessKey {
                entry.provider = string_field(item, "type", &path)?.or(Some("aws".into()));
            }
            let engine = match kind {
                EntryKind::AccessKey => "AWS",
                _ => "Generic",
            };
            out.push((name, engine.to_owned(), entry));
        }
    }
    Ok(out)
}

/// A DSM application as registered (§10.1).
#[derive(Clone, Debug, Default)]
pub struct DsmApp {
    pub id: i64,
    pub application_id: i64,
    /// The application whose authorization registered it; only that registrar may register it again.
    pub registrar_application_id: Option<i64>,
    pub name: String,
    pub system: String,
    pub environment: String,
    pub unique_key: Option<String>,
    pub description: String,
    pub tags: String,
    pub line_of_business: String,
    pub application_type: String,
    /// Bumped on every change; a write applies only to the revision it read.
    pub revision: i64,
}

/// A DSM secret as stored; `data` is sealed.
#[derive(Clone, Debug)]
pub struct DsmSecret {
    pub id: i64,
    pub uid: String,
    pub dsm_application_id: i64,
    pub identity: String,
    pub name: String,
    pub engine: String,
    pub description: String,
    pub expiration_date: String,
    pub version: i64,
    /// Sealed JSON: an array of flat string maps.
    pub data: Vec<u8>,
    pub renew_minutes: Option<i64>,
    pub next_renewal_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_variants_decode_alike() {
        let text = "a?b>c~ =\n";
        let standard = STANDARD.encode(text);
        let variant = standard.replace('+', "-").replace('/', "_").replace('=', ",");
        assert_eq!(decode_base64(&standard).expect("standard"), text.as_bytes());
        assert_eq!(decode_base64(&variant).expect("variant"), text.as_bytes());
        assert!(decode_base64("***").is_none());
    }

    #[test]
    fn secret_data_uses_labels_and_refuses_other_shapes() {
        let data = json!({
            "access_keys": [{"access_key": {"type": "aws", "fields": {"access_key_id": "AKIA", "access_key_id_label": "AWS_ACCESS_KEY_ID",
                                                                      "secret_access_key": "s", "secret_access_key_label": "AWS_SECRET_ACCESS_KEY"}}}],
            "credentials": [{"credential": {"fields": {"user": "u", "user_label": "USERNAME", "password": "p", "password_label": "PASSWORD"}}}],
            "key_value": {"fields": {"CONNECTION_STRING": "x"}}
        });
        let entries = parse_secret_data(&data).expect("valid");
        assert_eq!(entries[0].values["AWS_ACCESS_KEY_ID"].as_deref(), Some("AKIA"));
        assert_eq!(entries[0].fields["AWS_SECRET_ACCESS_KEY"], "secret_access_key");
        assert_eq!(entries[1].values["PASSWORD"].as_deref(), Some("p"));
        assert_eq!(entries[2].values["CONNECTION_STRING"].as_deref(), Some("x"));
        for bad in [
            json!({"key_value": {"fields": {"n": 1}}}),
            json!({"other": []}),
            json!({"key_value": {"fields": {"n": {"deep": "x"}}}}),
            json!({"access_keys": [{"access_key": {"type": "ibm", "fields": {}}}]}),
            json!([]),
        ] {
            assert!(parse_secret_data(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mappings_read_the_environment() {
        let env = parse_env("AWS_KEY=id\nAWS_SECRET=s=e=c\nDB_PASS=pw\n");
        let map = json!({"access_keys": [{"name": "aws", "type": "aws", "fields": {"access_key_id": "AWS_KEY", "secret_access_key": "AWS_SECRET"}}],
                         "key_value": [{"name": "db", "fields": ["DB_PASS", "MISSING"]}]});
        let applied = apply_mapping(&map, &env).expect("valid");
        assert_eq!(applied[0].2.values["AWS_SECRET"].as_deref(), Some("s=e=c"));
        assert_eq!(applied[1].2.values["MISSING"], None);
    }
}
