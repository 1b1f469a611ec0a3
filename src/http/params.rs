//! One parameter map per request, merged from the query string and the body (JSON, form or
//! multipart), because real clients send the same fields every way (contract §1.2). Body values
//! win over query values; a JSON `null` counts as absent. Values are wiped from memory on drop.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use percent_encoding::percent_decode;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

mod known_names;

use super::middleware::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Parameters recorded verbatim in the audit trail; every other value is recorded as an HMAC.
const AUDIT_PLAIN: &[&str] = &[
    "identifier",
    "name",
    "type",
    "grant_type",
    "client_id",
    "tenant",
    // Why a certificate was signed or revoked, and by which authority (issue 17).
    "reason",
    "motivo",
    "justification",
    "itsm_code",
    "ca",
    "self_signed",
    "auto_assinado",
    "common_name",
    "revocation_reason",
];
const AUDIT_PLAIN_MAX: usize = 128;

#[derive(Default)]
pub struct Params {
    values: Map<String, Value>,
}

impl Params {
    /// Parameters from text pairs (multipart text fields read by a handler itself).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut params = Self::default();
        for (name, value) in pairs {
            params.insert(name, Value::String(value));
        }
        params
    }

    /// A parameter as text; numbers and booleans are accepted in their text form.
    pub fn text(&self, name: &str) -> ApiResult<Option<String>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ApiError::bad_request(format!("Parameter '{name}' must be a string."))),
        }
    }

    /// A comma list given as a string (`"a,b"`) or as an array of strings.
    pub fn list_text(&self, name: &str) -> ApiResult<Option<String>> {
        match self.values.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_owned()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(()),
                })
                .collect::<Result<Vec<_>, ()>>()
                .map(|items| Some(items.join(",")))
                .map_err(|()| {
                    ApiError::bad_request(format!("Parameter '{name}' must be a string or a list of strings."))
                }),
            _ => self.text(name),
        }
    }

    /// A JSON object parameter; form clients may send it as JSON text, and a one-element array
    /// holding an object is accepted (one documented shape of `additional_settings`).
    pub fn object(&self, name: &str) -> ApiResult<Option<Map<String, Value>>> {
        let wrong = || ApiError::bad_request(format!("Parameter '{name}' must be a JSON object."));
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            Some(Value::Array(items)) => match items.as_slice() {
                [Value::Object(map)] => Ok(Some(map.clone())),
                [] => Ok(None),
                _ => Err(wrong()),
            },
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(Some(map)),
                _ => Err(wrong()),
            },
            Some(_) => Err(wrong()),
        }
    }

    /// A boolean: JSON `true`/`false`, or `true`/`false`/`1`/`0`/`yes`/`no` as text or number.
    pub fn flag(&self, name: &str) -> ApiResult<Option<bool>> {
        let text = match self.values.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Bool(b)) => return Ok(Some(*b)),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
            Some(_) => "not a boolean".to_owned(),
        };
        match text.as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" | "" => Ok(Some(false)),
            _ => Err(ApiError::bad_request(format!("Parameter '{name}' must be a boolean."))),
        }
    }

    /// Takes a secret parameter out of the map, into memory that is wiped on drop.
    pub fn take_secret(&mut self, name: &str) -> ApiResult<Option<Zeroizing<String>>> {
        match self.values.get_mut(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(Zeroizing::new(std::mem::take(s)))),
            // Lenient types (§1.6): `"content": 12345` is the text "12345".
            Some(Value::Number(n)) => Ok(Some(Zeroizing::new(n.to_string()))),
            Some(Value::Bool(b)) => Ok(Some(Zeroizing::new(b.to_string()))),
            Some(_) => Err(ApiError::bad_request(format!("Parameter '{name}' must be a string."))),
        }
    }

    /// The value as sent, for parameters with a structure of their own.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| !v.is_null())
    }

    fn insert(&mut self, name: String, value: Value) {
        if value.is_null() {
            self.values.remove(&name);
        } else if let Some(mut old) = self.values.insert(name, value) {
            wipe(&mut old);
        }
    }

    fn merge_urlencoded(&mut self, input: &[u8]) -> ApiResult<()> {
        for (name, value) in parse_urlencoded(input)? {
            self.insert(name, Value::String(value));
        }
        Ok(())
    }

    /// All parameters, with values masked unless they are plain identifiers, and names masked
    /// unless they are names cofre knows.
    fn audit_view(&self, mask: impl Fn(&[u8]) -> String) -> Value {
        let view = self
            .values
            .iter()
            .map(|(name, value)| {
                let shown = match value {
                    Value::String(s) if AUDIT_PLAIN.contains(&name.as_str()) => {
                        s.chars().take(AUDIT_PLAIN_MAX).collect()
                    }
                    Value::String(s) => mask(s.as_bytes()),
                    other => mask(other.to_string().as_bytes()),
                };
                let name = if known_names::is_known(name) { name.clone() } else { mask(name.as_bytes()) };
                (name, Value::String(shown))
            })
            .collect();
        Value::Object(view)
    }
}

impl Drop for Params {
    fn drop(&mut self) {
        for value in self.values.values_mut() {
            wipe(value);
        }
    }
}

/// Whether any text in `value` holds U+0000, which PostgreSQL's text cannot store and no
/// contract field needs.
pub fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

pub fn nul_refused() -> ApiError {
    ApiError::bad_request("Parameters may not contain NUL characters (U+0000).")
}

fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}

/// `a=1&b=2` into decoded pairs, in order; repeated names are kept.
pub fn parse_urlencoded(input: &[u8]) -> ApiResult<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for pair in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut parts = pair.splitn(2, |b| *b == b'=');
        let name = decode_component(parts.next().unwrap_or_default())?;
        let value = decode_component(parts.next().unwrap_or_default())?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// `+` is a space, then percent-decoding; the result must be UTF-8.
fn decode_component(raw: &[u8]) -> ApiResult<String> {
    let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_decode(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::bad_request("A parameter is not valid UTF-8."))
}

impl FromRequest<AppState> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.core.config.body_limit;
        let mut params = Params::default();
        if let Some(query) = req.uri().query() {
            params.merge_urlencoded(query.as_bytes())?;
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .unwrap_or_default();
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_length.is_some_and(|n| n > limit) {
            return Err(ApiError::payload_too_large(limit));
        }
        let context = req.extensions().get::<RequestContext>().cloned();
        if content_type == "multipart/form-data" {
            merge_multipart(&mut params, Multipart::from_request(req, state).await, limit).await?;
        } else {
            let body = Zeroizing::new(
                axum::body::to_bytes(req.into_body(), limit)
                    .await
                    .map_err(|_| ApiError::payload_too_large(limit))?
                    .to_vec(),
            );
            if !body.is_empty() {
                match content_type.as_str() {
                    "application/json" => merge_json(&mut params, &body)?,
                    t if t.starts_with("application/") && t.ends_with("+json") => merge_json(&mut params, &body)?,
                    "application/x-www-form-urlencoded" => params.merge_urlencoded(&body)?,
                    // No declared type: a JSON object is recognisable; anything else is read as a form.
                    "" if body.trim_ascii_start().starts_with(b"{") => merge_json(&mut params, &body)?,
                    "" => params.merge_urlencoded(&body)?,
                    _ => return Err(ApiError::unsupported_media_type()),
                }
            }
        }
        if let Some(context) = context {
            context.note_params(params.audit_view(|v| state.core.audit_mask(v)));
        }
        if params.values.iter().any(|(name, value)| name.contains('\0') || holds_nul(value)) {
            return Err(nul_refused());
        }
        Ok(params)
    }
}

fn merge_json(params: &mut Params, body: &[u8]) -> ApiResult<()> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            for (name, value) in map {
                params.insert(name, value);
            }
            Ok(())
        }
        Ok(mut other) => {
            wipe(&mut other);
            Err(ApiError::bad_request("The JSON body must be an object."))
        }
        // serde_json's messages name the position and the kind of fault, never the input.
        Err(e) => Err(ApiError::bad_request(format!("Malformed JSON body: {e}."))),
    }
}

async fn merge_multipart(
    params: &mut Params,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    limit: usize,
) -> ApiResult<()> {
    let malformed = || ApiError::bad_request("Malformed multipart body.");
    let mut multipart = multipart.map_err(|_| malformed())?;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::payload_too_large(limit)
                    } else {
                        malformed()
                    }
                })?;
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::bad_request("A parameter is not valid UTF-8."))?;
                params.insert(name, Value::String(text));
            }
            Ok(None) => return Ok(()),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::payload_too_large(limit));
            }
            Err(_) => return Err(malformed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_values_decode_and_later_ones_win() {
        let mut p = Params::default();
        p.merge_urlencoded(b"a=1&b=x+y%21&a=2&empty=&flag").expect("valid");
        assert_eq!(p.text("a").expect("text"), Some("2".into()));
        assert_eq!(p.text("b").expect("text"), Some("x y!".into()));
        assert_eq!(p.text("empty").expect("text"), Some(String::new()));
        assert!(p.contains("flag"));
        assert!(p.merge_urlencoded(b"bad=%FF%FE").is_err());
    }

    #[test]
    fn json_nulls_are_absent_and_types_are_checked() {
        let mut p = Params::default();
        merge_json(&mut p, br#"{"a":null,"n":5,"o":{"x":1},"l":["u1","u2"]}"#).expect("valid");
        assert!(!p.contains("a"));
        assert_eq!(p.text("n").expect("text"), Some("5".into()));
        assert!(p.text("o").is_err());
        assert_eq!(p.list_text("l").expect("list"), Some("u1,u2".into()));
        assert!(merge_json(&mut p, b"[1]").is_err());
        assert!(merge_json(&mut p, b"{\"a\":").is_err());
    }
}
