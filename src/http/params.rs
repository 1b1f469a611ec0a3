//! One parameter map per request, merged from the query string and the body (JSON, form or
//! multipart), because real clients send the same fields every way (contract §1.2). A name the
//! body gives replaces what the query gave for it; a JSON `null` counts as absent. Values are
//! wiped from memory on drop.
//!
//! Every value of a name is kept, in the order sent, because list parameters arrive repeated:
//! `san[]=a&san[]=b` (PHP, jQuery), `san=a&san=b` (Go's `url.Values`, Python), `san[0]=a`
//! (PHP's `http_build_query`), and the same as repeated JSON keys. The brackets only say "one of
//! several", so `san[]` and `san[0]` are `san`. Scalar reads (`text`, `flag`, `object`,
//! `take_secret`, `raw`) take the last value, as a repeated scalar always did; list reads
//! (`list`, `list_text`) see every value.

use std::collections::{BTreeMap, HashSet};

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

mod bodies;
mod known_names;

pub use bodies::parse_urlencoded;
use bodies::{merge_json, merge_multipart};

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
    /// Each name's values in the order sent; an empty list is a name sent as JSON `null`.
    values: BTreeMap<String, Vec<Value>>,
}

impl Params {
    /// Parameters from text pairs (multipart text fields read by a handler itself).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut params = Self::default();
        let mut source = Source::new(&mut params);
        for (name, value) in pairs {
            source.add(name, Value::String(value));
        }
        params
    }

    /// The value a scalar read sees: the last one sent.
    fn last(&self, name: &str) -> Option<&Value> {
        self.values.get(name).and_then(|values| values.last())
    }

    /// A parameter as text; numbers and booleans are accepted in their text form.
    pub fn text(&self, name: &str) -> ApiResult<Option<String>> {
        match self.last(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ApiError::bad_request(format!("Parameter '{name}' must be a string."))),
        }
    }

    /// Every item of a list parameter, however it was sent: repeated (`tags[]=a&tags[]=b`,
    /// `tags=a&tags=b`, `tags[0]=a&tags[1]=b`), a JSON array, a JSON array as text
    /// (`tags=["a","b"]`, from form clients) or a comma list (`tags=a,b`). Items are trimmed and
    /// empty ones dropped. Text that starts with `[` but is no JSON array (`[::1]:443`) is text.
    pub fn list(&self, name: &str) -> ApiResult<Option<Vec<String>>> {
        let Some(values) = self.values.get(name).filter(|values| !values.is_empty()) else {
            return Ok(None);
        };
        let wrong = || ApiError::bad_request(format!("Parameter '{name}' must be a string or a list of strings."));
        let mut items = Vec::new();
        for value in values {
            match value {
                Value::Array(elements) => push_elements(&mut items, elements).ok_or_else(wrong)?,
                Value::String(text) => match array_text(text) {
                    Some(Ok(elements)) => push_elements(&mut items, &elements).ok_or_else(wrong)?,
                    Some(Err(())) => return Err(wrong()),
                    None => push_split(&mut items, text),
                },
                Value::Number(n) => items.push(n.to_string()),
                Value::Bool(b) => items.push(b.to_string()),
                _ => return Err(wrong()),
            }
        }
        Ok(Some(items))
    }

    /// A list parameter as one comma list (`"a,b"`), for fields stored that way. A single plain
    /// string is kept as sent, spacing and all; anything else is its items joined by commas.
    pub fn list_text(&self, name: &str) -> ApiResult<Option<String>> {
        if let Some([Value::String(text)]) = self.values.get(name).map(Vec::as_slice) {
            if array_text(text).is_none() {
                return Ok(Some(text.clone()));
            }
        }
        Ok(self.list(name)?.map(|items| items.join(",")))
    }

    /// A JSON object parameter; form clients may send it as JSON text, and a one-element array
    /// holding an object is accepted (one documented shape of `additional_settings`).
    pub fn object(&self, name: &str) -> ApiResult<Option<Map<String, Value>>> {
        let wrong = || ApiError::bad_request(format!("Parameter '{name}' must be a JSON object."));
        match self.last(name) {
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
        let text = match self.last(name) {
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

    /// Takes a secret parameter (its last value) out of the map, into memory that is wiped on
    /// drop; earlier values of a repeated name stay in the map and are wiped with it.
    pub fn take_secret(&mut self, name: &str) -> ApiResult<Option<Zeroizing<String>>> {
        match self.values.get_mut(name).and_then(|values| values.last_mut()) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(Zeroizing::new(std::mem::take(s)))),
            // Lenient types (§1.6): `"content": 12345` is the text "12345".
            Some(Value::Number(n)) => Ok(Some(Zeroizing::new(n.to_string()))),
            Some(Value::Bool(b)) => Ok(Some(Zeroizing::new(b.to_string()))),
            Some(_) => Err(ApiError::bad_request(format!("Parameter '{name}' must be a string."))),
        }
    }

    /// The value as sent (the last one), for parameters with a structure of their own.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.last(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.last(name).is_some_and(|v| !v.is_null())
    }

    fn merge_urlencoded(&mut self, input: &[u8]) -> ApiResult<()> {
        let pairs = parse_urlencoded(input)?;
        let mut source = Source::new(self);
        for (name, value) in pairs {
            source.add(name, Value::String(value));
        }
        Ok(())
    }

    /// All parameters, with values masked unless they are plain identifiers, and names masked
    /// unless they are names cofre knows. A repeated name shows each of its values, each masked
    /// on its own.
    fn audit_view(&self, mask: impl Fn(&[u8]) -> String) -> Value {
        let shown = |name: &str, value: &Value| -> Value {
            Value::String(match value {
                Value::String(s) if AUDIT_PLAIN.contains(&name) => s.chars().take(AUDIT_PLAIN_MAX).collect(),
                Value::String(s) => mask(s.as_bytes()),
                other => mask(other.to_string().as_bytes()),
            })
        };
        let view = self
            .values
            .iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(name, values)| {
                let value = match values.as_slice() {
                    [one] => shown(name, one),
                    several => Value::Array(several.iter().map(|v| shown(name, v)).collect()),
                };
                let name = if known_names::is_known(name) { name.clone() } else { mask(name.as_bytes()) };
                (name, value)
            })
            .collect();
        Value::Object(view)
    }
}

/// One source of parameters (the query string, then the body): the first time it names a
/// parameter it replaces what an earlier source gave; within it, repeats accumulate.
struct Source<'a> {
    params: &'a mut Params,
    named: HashSet<String>,
}

impl<'a> Source<'a> {
    fn new(params: &'a mut Params) -> Self {
        Self { params, named: HashSet::new() }
    }

    fn add(&mut self, name: String, value: Value) {
        let name = match base_name(&name) {
            base if base.len() == name.len() => name,
            base => base.to_owned(),
        };
        let values = self.params.values.entry(name.clone()).or_default();
        if self.named.insert(name) || value.is_null() {
            values.iter_mut().for_each(wipe);
            values.clear();
        }
        if !value.is_null() {
            values.push(value);
        }
    }
}

/// `san[]` and `san[3]` are `san`; any other name (`a[b]`, `[]`) is itself.
fn base_name(name: &str) -> &str {
    match name.strip_suffix(']').and_then(|n| n.rsplit_once('[')) {
        Some((base, index)) if !base.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    }
}

/// The elements of text that is a JSON array (`Some(Err)` when one is not a string or number);
/// `None` for any other text.
fn array_text(text: &str) -> Option<Result<Vec<Value>, ()>> {
    if !text.trim_start().starts_with('[') {
        return None;
    }
    match serde_json::from_str::<Vec<Value>>(text) {
        Ok(elements) if elements.iter().all(|e| e.is_string() || e.is_number()) => Some(Ok(elements)),
        Ok(_) => Some(Err(())),
        Err(_) => None,
    }
}

/// Appends an array's items (strings, each maybe a comma list, or numbers); `None` for any other.
fn push_elements(items: &mut Vec<String>, elements: &[Value]) -> Option<()> {
    for element in elements {
        match element {
            Value::String(text) => push_split(items, text),
            Value::Number(n) => items.push(n.to_string()),
            _ => return None,
        }
    }
    Some(())
}

fn push_split(items: &mut Vec<String>, text: &str) {
    items.extend(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned));
}

impl Drop for Params {
    fn drop(&mut self) {
        for values in self.values.values_mut() {
            values.iter_mut().for_each(wipe);
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
        if params.values.iter().any(|(name, values)| name.contains('\0') || values.iter().any(holds_nul)) {
            return Err(nul_refused());
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests;
