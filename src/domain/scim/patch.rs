//! SCIM PATCH (RFC 7644 §3.5.2): paths with value filters, and add / replace / remove applied
//! to a resource's JSON. The caller validates the result (mutability, uniqueness) afterwards.

use serde_json::{Map, Value};

use super::eval::{CaseExact, matches};
use super::filter::{AttrPath, Filter, parse, parse_attr_path};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchOp {
    Add,
    Replace,
    Remove,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter: `emails[type eq "work"].value`.
    pub sub: Option<String>,
}

/// A failed operation: the SCIM error type and a detail.
#[derive(Debug, PartialEq, Eq)]
pub struct PatchError {
    pub scim_type: &'static str,
    pub detail: String,
}

fn invalid_path(detail: impl Into<String>) -> PatchError {
    PatchError { scim_type: "invalidPath", detail: detail.into() }
}

fn invalid_value(detail: impl Into<String>) -> PatchError {
    PatchError { scim_type: "invalidValue", detail: detail.into() }
}

pub fn parse_path(text: &str) -> Result<PatchPath, PatchError> {
    let text = text.trim();
    match text.find('[') {
        Some(open) => {
            let close = text.rfind(']').filter(|c| *c > open).ok_or_else(|| invalid_path("missing ']'"))?;
            let attr = parse_attr_path(&text[..open]).map_err(invalid_path)?;
            let filter =
                parse(&text[open + 1..close]).map_err(|e| invalid_path(format!("in the value filter: {e}")))?;
            let rest = &text[close + 1..];
            let sub = match rest.strip_prefix('.') {
                Some(sub)
                    if !sub.is_empty() && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') =>
                {
                    Some(sub.to_owned())
                }
                None if rest.is_empty() => None,
                _ => return Err(invalid_path(format!("invalid text after the filter: {rest:?}"))),
            };
            if attr.sub.is_some() {
                return Err(invalid_path("a value filter applies to an attribute, not a sub-attribute"));
            }
            Ok(PatchPath { attr, filter: Some(filter), sub })
        }
        None => Ok(PatchPath { attr: parse_attr_path(text).map_err(invalid_path)?, filter: None, sub: None }),
    }
}

/// The key as stored in `map` (any case), or `name` itself.
fn key_in(map: &Map<String, Value>, name: &str) -> String {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

/// The object a path's attribute lives in: the resource, or an extension object named by URN.
fn target<'a>(
    resource: &'a mut Map<String, Value>,
    path: &PatchPath,
    core_schema: &str,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, PatchError> {
    let Some(urn) = path.attr.urn.as_deref().filter(|u| !u.eq_ignore_ascii_case(core_schema)) else {
        return Ok(Some(resource));
    };
    let key = key_in(resource, urn);
    if !resource.contains_key(&key) {
        if !create {
            return Ok(None);
        }
        resource.insert(key.clone(), Value::Object(Map::new()));
    }
    match resource.get_mut(&key) {
        Some(Value::Object(ext)) => Ok(Some(ext)),
        _ => Err(invalid_path(format!("{urn} is not an extension object"))),
    }
}

/// Adds `value` under `key`: arrays append, objects merge, anything else replaces.
fn add_value(map: &mut Map<String, Value>, key: &str, value: Value) {
    let key = key_in(map, key);
    match (map.get_mut(&key), value) {
        (Some(Value::Array(existing)), Value::Array(new)) => {
            for v in new {
                if !existing.contains(&v) {
                    existing.push(v);
                }
            }
        }
        (Some(Value::Array(existing)), v) => {
            if !existing.contains(&v) {
                existing.push(v);
            }
        }
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                let k = key_in(existing, &k);
                existing.insert(k, v);
            }
        }
        (_, v) => {
            map.insert(key, v);
        }
    }
}

/// Applies one operation to `resource`.
pub fn apply(
    resource: &mut Map<String, Value>,
    op: PatchOp,
    path: Option<&str>,
    value: Option<Value>,
    core_schema: &str,
    case_exact: CaseExact,
) -> Result<(), PatchError> {
    // A path that is a whole extension schema names the extension object itself.
    if let Some(urn) = path
        .map(str::trim)
        .filter(|p| p.to_ascii_lowercase().starts_with("urn:") && !p.eq_ignore_ascii_case(core_schema))
    {
        if urn.to_ascii_lowercase().contains(":extension:")
            && urn
                .rsplit(':')
                .next()
                .is_some_and(|last| last.chars().next().is_some_and(char::is_uppercase) && !last.contains('.'))
        {
            let key = key_in(resource, urn);
            return match (op, value) {
                (PatchOp::Remove, _) => {
                    resource.remove(&key);
                    Ok(())
                }
                (PatchOp::Add, Some(v @ Value::Object(_))) => {
                    add_value(resource, &key, v);
                    Ok(())
                }
                (PatchOp::Replace, Some(v @ Value::Object(_))) => {
                    resource.insert(key, v);
                    Ok(())
                }
                _ => Err(invalid_value("an extension takes an object")),
            };
        }
    }
    let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
        return match (op, value) {
            (PatchOp::Remove, _) => Err(PatchError { scim_type: "noTarget", detail: "remove needs a path".into() }),
            (_, Some(Value::Object(attrs))) => {
                for (k, v) in attrs {
                    if k.to_ascii_lowercase().starts_with("urn:")
                        && v.is_object()
                        && !k.eq_ignore_ascii_case(core_schema)
                    {
                        let existing = key_in(resource, &k);
                        match (op, resource.get_mut(&existing)) {
                            (PatchOp::Add, Some(Value::Object(_))) | (PatchOp::Replace, Some(Value::Object(_))) => {
                                add_value(resource, &k, v)
                            }
                            _ => {
                                resource.insert(existing, v);
                            }
                        }
                    } else if op == PatchOp::Add {
                        add_value(resource, &k, v);
                    } else {
                        let key = key_in(resource, &k);
                        resource.insert(key, v);
                    }
                }
                Ok(())
            }
            _ => Err(invalid_value("without a path, the value must be an object of attributes")),
        };
    };
    let path = parse_path(path)?;
    let Some(map) = target(resource, &path, core_schema, op != PatchOp::Remove)? else { return Ok(()) };
    let name = key_in(map, &path.attr.name);
    match (&path.filter, &path.attr.sub) {
        (None, None) => match op {
            PatchOp::Remove => {
                map.remove(&name);
            }
            PatchOp::Add => add_value(map, &name, value.ok_or_else(|| invalid_value("add needs a value"))?),
            PatchOp::Replace => {
                map.insert(name, value.ok_or_else(|| invalid_value("replace needs a value"))?);
            }
        },
        (None, Some(sub)) => {
            if op == PatchOp::Remove {
                match map.get_mut(&name) {
                    Some(Value::Object(inner)) => {
                        let k = key_in(inner, sub);
                        inner.remove(&k);
                    }
                    Some(Value::Array(items)) => {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            let k = key_in(item, sub);
                            item.remove(&k);
                        }
                    }
                    _ => {}
                }
                return Ok(());
            }
            let value = value.ok_or_else(|| invalid_value("the operation needs a value"))?;
            let entry = map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(inner) => {
                    let k = key_in(inner, sub);
                    inner.insert(k, value);
                }
                Value::Null => *entry = Value::Object(Map::from_iter([(sub.clone(), value)])),
                _ => return Err(invalid_path(format!("{} has no sub-attribute {sub}", path.attr.name))),
            }
        }
        (Some(filter), _) => {
            let Some(Value::Array(items)) = map.get_mut(&name) else {
                return Err(PatchError {
                    scim_type: "noTarget",
                    detail: format!("{} holds no values to filter", path.attr.name),
                });
            };
            let hits: Vec<usize> =
                items.iter().enumerate().filter(|(_, v)| matches(filter, v, case_exact)).map(|(i, _)| i).collect();
            if hits.is_empty() {
                return if op == PatchOp::Remove {
                    Ok(())
                } else {
                    Err(PatchError { scim_type: "noTarget", detail: "the value filter matched nothing".into() })
                };
            }
            match (op, &path.sub) {
                (PatchOp::Remove, None) => {
                    for i in hits.into_iter().rev() {
                        items.remove(i);
                    }
                }
                (PatchOp::Remove, Some(sub)) => {
                    for i in hits {
                        if let Some(item) = items[i].as_object_mut() {
                            let k = key_in(item, sub);
                            item.remove(&k);
                        }
                    }
                }
                (_, Some(sub)) => {
                    let value = value.ok_or_else(|| invalid_value("the operation needs a value"))?;
                    for i in hits {
                        if let Some(item) = items[i].as_object_mut() {
                            let k = key_in(item, sub);
                            item.insert(k, value.clone());
                        }
                    }
                }
                (_, None) => {
                    let value = value.ok_or_else(|| invalid_value("the operation needs a value"))?;
                    for i in hits {
                        match (op, &mut items[i], &value) {
                            (PatchOp::Add, Value::Object(item), Value::Object(new)) => {
                                for (k, v) in new {
                                    let key = key_in(item, k);
                                    item.insert(key, v.clone());
                                }
                            }
                            (_, slot, _) => *slot = value.clone(),
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn exact(_: &str) -> bool {
        false
    }

    fn resource() -> Map<String, Value> {
        json!({"userName": "a", "name": {"givenName": "Ann"},
               "emails": [{"value": "a@work", "type": "work"}, {"value": "a@home", "type": "home"}]})
        .as_object()
        .cloned()
        .expect("object")
    }

    fn run(op: PatchOp, path: Option<&str>, value: Option<Value>) -> Result<Map<String, Value>, PatchError> {
        let mut r = resource();
        apply(&mut r, op, path, value, CORE, exact)?;
        Ok(r)
    }

    #[test]
    fn the_patch_matrix() {
        let r = run(PatchOp::Add, Some("emails"), Some(json!([{"value": "new", "type": "other"}]))).expect("add");
        assert_eq!(r["emails"].as_array().map(Vec::len), Some(3));
        let r = run(PatchOp::Replace, Some("emails"), Some(json!([{"value": "only"}]))).expect("replace");
        assert_eq!(r["emails"], json!([{"value": "only"}]));
        let r =
            run(PatchOp::Replace, Some(r#"emails[type eq "work"].value"#), Some(json!("b@work"))).expect("filtered");
        assert_eq!(r["emails"][0]["value"], "b@work");
        let r = run(PatchOp::Remove, Some(r#"emails[type eq "home"]"#), None).expect("remove filtered");
        assert_eq!(r["emails"].as_array().map(Vec::len), Some(1));
        let r = run(PatchOp::Replace, Some("name.familyName"), Some(json!("Smith"))).expect("sub");
        assert_eq!(r["name"], json!({"givenName": "Ann", "familyName": "Smith"}));
        let r = run(PatchOp::Remove, Some("name.givenName"), None).expect("remove sub");
        assert_eq!(r["name"], json!({}));
        let r = run(PatchOp::Replace, None, Some(json!({"userName": "b", "active": false}))).expect("no path");
        assert_eq!((r["userName"].as_str(), r["active"].as_bool()), (Some("b"), Some(false)));
        let r = run(
            PatchOp::Add,
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            Some(json!("IT")),
        )
        .expect("ext");
        assert_eq!(r["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "IT");
        assert_eq!(run(PatchOp::Remove, None, None).expect_err("no path").scim_type, "noTarget");
        assert_eq!(
            run(PatchOp::Replace, Some(r#"emails[type eq "fax"].value"#), Some(json!("x")))
                .expect_err("no match")
                .scim_type,
            "noTarget"
        );
        assert_eq!(
            run(PatchOp::Add, Some("emails[type eq"), Some(json!("x"))).expect_err("bad").scim_type,
            "invalidPath"
        );
        assert_eq!(run(PatchOp::Add, Some("bad path!"), Some(json!("x"))).expect_err("bad").scim_type, "invalidPath");
    }
}
