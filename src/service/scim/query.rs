//! SCIM list queries: filter, sort, page (RFC 7644 §3.4.2) and attribute projection.

use serde_json::{Value, json};

use crate::domain::scim::eval::{self, get_ci};
use crate::domain::scim::filter;
use crate::service::scim::error::{ScimResult, bad};
use crate::service::scim::schema::{MAX_RESULTS, case_exact};

pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub start_index: i64,
    pub count: Option<i64>,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

/// Filters, sorts, pages and projects resources into a ListResponse.
pub fn list_response(resources: Vec<Value>, q: &ListQuery) -> ScimResult<Value> {
    let parsed = match q.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(text) => {
            let f = filter::parse(text).map_err(|e| bad("invalidFilter", e))?;
            if eval::mentions(&f, "password") {
                return Err(bad("invalidFilter", "password cannot be filtered on"));
            }
            Some(f)
        }
        None => None,
    };
    let mut hits: Vec<Value> =
        resources.into_iter().filter(|r| parsed.as_ref().is_none_or(|f| eval::matches(f, r, case_exact))).collect();
    if let Some(sort_by) = &q.sort_by {
        let path = filter::parse_attr_path(sort_by).map_err(|e| bad("invalidPath", e))?;
        let key = |r: &Value| -> String {
            let v = get_ci(r, &path.name).map(|v| match (&path.sub, v) {
                (Some(sub), Value::Array(items)) => {
                    items.first().and_then(|i| get_ci(i, sub)).cloned().unwrap_or(Value::Null)
                }
                (Some(sub), other) => get_ci(other, sub).cloned().unwrap_or(Value::Null),
                (None, other) => other.clone(),
            });
            v.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_lowercase)).unwrap_or_default()
        };
        hits.sort_by_key(key);
        if q.descending {
            hits.reverse();
        }
    }
    let total = hits.len();
    let start = q.start_index.max(1);
    let count = q.count.unwrap_or(MAX_RESULTS).clamp(0, MAX_RESULTS);
    let page: Vec<Value> = hits
        .into_iter()
        .skip(usize::try_from(start - 1).unwrap_or(0))
        .take(usize::try_from(count).unwrap_or(0))
        .map(|r| project(r, &q.attributes, &q.excluded))
        .collect();
    Ok(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total, "itemsPerPage": page.len(), "startIndex": start, "Resources": page,
    }))
}

/// `attributes` keeps only the named attributes (with `id` and `schemas`); `excludedAttributes`
/// drops the named ones.
pub fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Value::Object(map) = resource else { return resource };
    let top = |name: &str| -> String {
        let name =
            name.rsplit_once(':').filter(|_| name.to_ascii_lowercase().starts_with("urn:")).map_or(name, |(_, n)| n);
        name.split('.').next().unwrap_or(name).to_ascii_lowercase()
    };
    let keep: Vec<String> = attributes.iter().map(|a| top(a)).collect();
    let drop: Vec<String> = excluded.iter().map(|a| top(a)).collect();
    Value::Object(
        map.into_iter()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                let always = k == "id" || k == "schemas";
                always || ((keep.is_empty() || keep.contains(&k)) && !drop.contains(&k))
            })
            .collect(),
    )
}
