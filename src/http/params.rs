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
use std::fmt;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use percent_encoding::percent_decode;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
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
        if params.values.iter().any(|(name, values)| name.contains('\0') || values.iter().any(holds_nul)) {
            return Err(nul_refused());
        }
        Ok(params)
    }
}

/// A JSON object's members, repeated keys included (serde_json's own map would keep only the
/// last), straight into the parameters so that a failure half-way still wipes what was read.
fn merge_json(params: &mut Params, body: &[u8]) -> ApiResult<()> {
    let mut source = Source::new(params);
    let mut json = serde_json::Deserializer::from_slice(body);
    JsonObject(&mut source).deserialize(&mut json).and_then(|()| json.end()).map_err(|e| match e.classify() {
        // Only the top level can have the wrong type: every member is any JSON value.
        serde_json::error::Category::Data => ApiError::bad_request("The JSON body must be an object."),
        // serde_json's messages name the position and the kind of fault, never the input.
        _ => ApiError::bad_request(format!("Malformed JSON body: {e}.")),
    })
}

struct JsonObject<'s, 'p>(&'s mut Source<'p>);

impl<'de> DeserializeSeed<'de> for JsonObject<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for JsonObject<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        while let Some((name, value)) = members.next_entry::<String, Value>()? {
            self.0.add(name, value);
        }
        Ok(())
    }
}

async fn merge_multipart(
    params: &mut Params,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    limit: usize,
) -> ApiResult<()> {
    let malformed = || ApiError::bad_request("Malformed multipart body.");
    let mut multipart = multipart.map_err(|_| malformed())?;
    let mut source = Source::new(params);
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
                source.add(name, Value::String(text));
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

    fn items(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn every_encoding_of_a_list_gives_every_item_and_scalars_the_last() {
        for form in [
            &b"san%5B%5D=a&san%5B%5D=b&san%5B%5D=c"[..],
            b"san[]=a&san[]=b&san[]=c",
            b"san=a&san=b&san=c",
            b"san[0]=a&san[1]=b&san%5B2%5D=c",
            b"san=a,+b,c",
            b"san=%5B%22a%22,%22b%22,%22c%22%5D",
        ] {
            let mut p = Params::default();
            p.merge_urlencoded(form).expect("valid");
            assert_eq!(p.list("san").expect("list"), items(&["a", "b", "c"]), "{}", String::from_utf8_lossy(form));
            assert_eq!(
                p.list_text("san").expect("list text").as_deref().map(|t| t.replace(' ', "")),
                Some("a,b,c".into())
            );
        }
        for json in [
            &br#"{"san[]":"a","san[]":"b","san[]":"c"}"#[..],
            br#"{"san":"a","san":"b","san":"c"}"#,
            br#"{"san[0]":"a","san[1]":"b","san[2]":"c"}"#,
            br#"{"san":"a,b,c"}"#,
            br#"{"san":["a","b","c"]}"#,
            br#"{"san[]":["a","b"],"san[]":"c"}"#,
        ] {
            let mut p = Params::default();
            merge_json(&mut p, json).expect("valid");
            assert_eq!(p.list("san").expect("list"), items(&["a", "b", "c"]), "{}", String::from_utf8_lossy(json));
        }
        // A repeated scalar reads as its last value, as it always did.
        let mut p = Params::default();
        merge_json(&mut p, br#"{"name":"first","name":"second","n[]":1,"n[]":2}"#).expect("valid");
        assert_eq!(p.text("name").expect("text"), Some("second".into()));
        assert_eq!(p.text("n").expect("text"), Some("2".into()));
        assert_eq!(p.list("n").expect("list"), items(&["1", "2"]));
        // A single plain string keeps its spacing; text that merely starts with `[` is text.
        let mut p = Params::default();
        p.merge_urlencoded(b"tags=windows,+lab&targets=%5B::1%5D:443&bad=%5B%7B%7D%5D&other%5Bkey%5D=x")
            .expect("valid");
        assert_eq!(p.list_text("tags").expect("tags"), Some("windows, lab".into()));
        assert_eq!(p.list("targets").expect("targets"), items(&["[::1]:443"]));
        assert!(p.list("bad").is_err(), "a JSON array of objects is no list of strings");
        assert_eq!(p.text("other[key]").expect("text"), Some("x".into()), "only [] and [n] are list brackets");
        assert_eq!(p.list("absent").expect("absent"), None);
    }

    #[test]
    fn the_body_replaces_the_query_per_name_and_nulls_clear() {
        let mut p = Params::default();
        p.merge_urlencoded(b"tags[]=q1&tags[]=q2&keep=query").expect("query");
        merge_json(&mut p, br#"{"tags":["b1"],"tags[]":"b2","gone":null}"#).expect("body");
        assert_eq!(p.list("tags").expect("tags"), items(&["b1", "b2"]));
        assert_eq!(p.text("keep").expect("keep"), Some("query".into()));
        merge_json(&mut p, br#"{"keep":null}"#).expect("body");
        assert!(!p.contains("keep") && !p.contains("gone"));
        assert_eq!(p.list("keep").expect("keep"), None);
    }

    #[test]
    fn the_audit_view_masks_each_value_of_a_repeated_name() {
        let mut p = Params::default();
        p.merge_urlencoded(b"san[]=one.example&san[]=two.example&name=a&name=b&content=secret").expect("valid");
        let view = p.audit_view(|v| format!("hmac:{}", v.len()));
        assert_eq!(view["san"], serde_json::json!(["hmac:11", "hmac:11"]));
        assert_eq!(view["name"], serde_json::json!(["a", "b"]));
        assert_eq!(view["content"], "hmac:6");
        assert!(!view.to_string().contains("example") && !view.to_string().contains("secret"));
    }
}
