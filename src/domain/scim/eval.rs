//! Evaluating SCIM filters against a resource's JSON. Attribute names match without regard
//! to case; string values compare case-insensitively unless the attribute is case-exact.

use serde_json::Value;

use super::filter::{AttrPath, Filter, Op};

/// Case-exact attributes, by lower-cased `name` or `name.sub`.
pub type CaseExact = fn(&str) -> bool;

/// The object holding `path`'s attribute: the resource, or its extension object for a URN.
fn container<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    match &path.urn {
        Some(urn) => {
            let map = resource.as_object()?;
            map.iter().find(|(k, _)| k.eq_ignore_ascii_case(urn)).map(|(_, v)| v).or(Some(resource))
        }
        None => Some(resource),
    }
}

pub fn get_ci<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Every value the path names (multi-valued attributes flattened).
fn values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(attr) = container(resource, path).and_then(|c| get_ci(c, &path.name)) else { return Vec::new() };
    let items: Vec<&Value> = match attr {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    match &path.sub {
        Some(sub) => items.into_iter().filter_map(|v| get_ci(v, sub)).collect(),
        None => items,
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(candidate: &Value, op: Op, wanted: &Value, exact: bool) -> bool {
    match (candidate, wanted) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact { (a.clone(), b.clone()) } else { (a.to_lowercase(), b.to_lowercase()) };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                _ => false,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        _ => false,
    }
}

/// Whether `resource` matches `filter`.
pub fn matches(filter: &Filter, resource: &Value, case_exact: CaseExact) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource, case_exact) && matches(b, resource, case_exact),
        Filter::Or(a, b) => matches(a, resource, case_exact) || matches(b, resource, case_exact),
        Filter::Not(inner) => !matches(inner, resource, case_exact),
        Filter::Present(path) => values(resource, path).into_iter().any(present),
        Filter::Compare(path, op, wanted) => {
            let found = values(resource, path);
            if wanted.is_null() {
                let absent = !found.iter().any(|v| present(v));
                return if *op == Op::Ne { !absent } else { *op == Op::Eq && absent };
            }
            let exact = case_exact(&path.key());
            if *op == Op::Ne {
                return !found.iter().any(|v| compare(v, Op::Eq, wanted, exact));
            }
            found.iter().any(|v| compare(v, *op, wanted, exact))
        }
        Filter::ValuePath(path, inner) => values(resource, &AttrPath { sub: None, ..path.clone() })
            .into_iter()
            .any(|element| matches(inner, element, case_exact)),
    }
}

/// Attribute names a filter mentions (to refuse filters on `password`).
pub fn mentions(filter: &Filter, name: &str) -> bool {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => mentions(a, name) || mentions(b, name),
        Filter::Not(inner) => mentions(inner, name),
        Filter::Present(p) | Filter::Compare(p, _, _) => p.name.eq_ignore_ascii_case(name),
        Filter::ValuePath(p, inner) => p.name.eq_ignore_ascii_case(name) || mentions(inner, name),
    }
}
