//! SCIM Bulk (RFC 7644 §3.7): operations run in order, `bulkId:` references resolved to the ids
//! of resources created earlier in the request, and `failOnErrors` honoured.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::service::Core;
use crate::service::scim::error::{ScimError, ScimResult, error};
use crate::service::scim::resources::{self, ResourceKind};
use crate::service::scim::schema::{MAX_BULK_OPERATIONS, MAX_BULK_PAYLOAD};

/// Replaces `"bulkId:x"` strings with the ids created for them; an unknown one is an error.
fn resolve(value: &mut Value, ids: &HashMap<String, String>) -> ScimResult<()> {
    match value {
        Value::String(s) => {
            if let Some(key) = s.strip_prefix("bulkId:") {
                *s = ids.get(key).cloned().ok_or_else(|| {
                    error(409, Some("invalidValue"), format!("bulkId {key} names no earlier operation"))
                })?;
            }
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| resolve(v, ids))?,
        Value::Object(map) => map.values_mut().try_for_each(|v| resolve(v, ids))?,
        _ => {}
    }
    Ok(())
}

fn error_json(e: &ScimError) -> Value {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": e.status.to_string(), "detail": e.detail});
    if let (Some(t), Some(map)) = (e.scim_type, body.as_object_mut()) {
        map.insert("scimType".into(), t.into());
    }
    body
}

pub async fn run(core: &Core, base: &str, request: &Value, size: usize) -> ScimResult<Value> {
    let schemas = request.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|v| v == "urn:ietf:params:scim:api:messages:2.0:BulkRequest")) {
        return Err(error(400, Some("invalidSyntax"), "a Bulk body must name the BulkRequest schema"));
    }
    let ops = request
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| error(400, Some("invalidSyntax"), "Operations must be a list"))?;
    if ops.len() > MAX_BULK_OPERATIONS || size > MAX_BULK_PAYLOAD {
        return Err(error(
            413,
            None,
            format!("Bulk requests are limited to {MAX_BULK_OPERATIONS} operations and {MAX_BULK_PAYLOAD} bytes"),
        ));
    }
    let fail_on_errors = request.get("failOnErrors").and_then(Value::as_i64).filter(|n| *n > 0);
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::new();
    let mut errors = 0;
    for op in ops {
        let method = op.get("method").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
        let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_owned);
        let outcome = run_one(core, base, op, &method, bulk_id.as_deref(), &mut ids).await;
        let mut entry = Map::new();
        entry.insert("method".into(), Value::String(method.clone()));
        if let Some(id) = &bulk_id {
            entry.insert("bulkId".into(), Value::String(id.clone()));
        }
        match outcome {
            Ok((status, resource)) => {
                if let Some(r) = resource {
                    entry.insert("location".into(), r["meta"]["location"].clone());
                    entry.insert("version".into(), r["meta"]["version"].clone());
                }
                entry.insert("status".into(), Value::String(status.to_string()));
            }
            Err(e) => {
                errors += 1;
                entry.insert("status".into(), Value::String(e.status.to_string()));
                entry.insert("response".into(), error_json(&e));
            }
        }
        results.push(Value::Object(entry));
        if fail_on_errors.is_some_and(|n| errors >= n) {
            break;
        }
    }
    Ok(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": results}))
}

async fn run_one(
    core: &Core,
    base: &str,
    op: &Value,
    method: &str,
    bulk_id: Option<&str>,
    ids: &mut HashMap<String, String>,
) -> ScimResult<(u16, Option<Value>)> {
    let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let kind = match parts.next().unwrap_or_default() {
        "Users" => ResourceKind::User,
        "Groups" => ResourceKind::Group,
        other => return Err(error(400, Some("invalidPath"), format!("unknown bulk path /{other}"))),
    };
    let mut target = parts.next().map(|s| Value::String(s.to_owned()));
    if let Some(t) = &mut target {
        resolve(t, ids)?;
    }
    let mut data = op.get("data").cloned().unwrap_or(Value::Null);
    resolve(&mut data, ids)?;
    let version = op.get("version").and_then(Value::as_str);
    let data_map =
        || data.as_object().cloned().ok_or_else(|| error(400, Some("invalidSyntax"), "data must be an object"));
    let id = target.as_ref().and_then(Value::as_str).unwrap_or_default().to_owned();
    match method {
        "POST" => {
            let bulk_id = bulk_id.ok_or_else(|| error(400, Some("invalidSyntax"), "POST operations need a bulkId"))?;
            let resource = resources::create(core, kind, base, &data_map()?).await?;
            ids.insert(bulk_id.to_owned(), resource["id"].as_str().unwrap_or_default().to_owned());
            Ok((201, Some(resource)))
        }
        "PUT" => Ok((
            200,
            Some(resources::update(core, kind, base, &id, version, resources::Change::Replace(&data_map()?)).await?),
        )),
        "PATCH" => {
            Ok((200, Some(resources::update(core, kind, base, &id, version, resources::Change::Patch(&data)).await?)))
        }
        "DELETE" => {
            resources::delete(core, kind, &id, version).await?;
            Ok((204, None))
        }
        _ => Err(error(400, Some("invalidSyntax"), format!("unknown bulk method {method:?}"))),
    }
}
