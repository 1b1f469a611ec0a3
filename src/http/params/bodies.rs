//! Reading a request body into parameters: form encoding (also the query string's), JSON
//! objects with their repeated keys, and multipart text fields.

use std::fmt;

use axum::extract::Multipart;
use percent_encoding::percent_decode;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::{Params, Source};
use crate::error::{ApiError, ApiResult};

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

/// A JSON object's members, repeated keys included (serde_json's own map would keep only the
/// last), straight into the parameters so that a failure half-way still wipes what was read.
pub(super) fn merge_json(params: &mut Params, body: &[u8]) -> ApiResult<()> {
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

pub(super) async fn merge_multipart(
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
