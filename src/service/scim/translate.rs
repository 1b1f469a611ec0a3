//! SCIM filters and sorts as store conditions. The attributes that are columns — `id`,
//! `externalId`, a user's `userName` and `active`, a group's `displayName`, `meta.created` and
//! `meta.lastModified` — translate with the meaning `eval::matches` gives them over the
//! resource's JSON (`user_json`/`group_json`): absent values, `ne`, `pr`, `null`, case rules and
//! types included. What does not translate (attributes of the JSON document, value paths,
//! `meta.version`, date values not in the form cofre writes them) makes the list fall back to a
//! bounded scan (`query.rs`).
//!
//! Two known approximations: `userName` compares against the canonical login (trimmed, NFC,
//! lower-cased), which differs from the JSON only for a name given with surrounding spaces or
//! not in NFC; and a group's `displayName` is lower-cased by the database (`LOWER`), so it is
//! translated only for ASCII values, and sorts by it order non-ASCII letters as the database does.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::scim::filter::{AttrPath, Filter, Op};
use crate::service::scim::resources::{ResourceKind, time_text};
use crate::service::scim::schema::USER;
use crate::store::scim::query::{Cmp, Col, Cond, SortKey, Val};

/// The top-level attributes of a group's JSON; any other is absent from every group.
const GROUP_KEYS: [&str; 6] = ["schemas", "id", "externalid", "displayname", "members", "meta"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Attr {
    Id,
    ExternalId,
    UserName,
    Active,
    GroupName,
    Created,
    Modified,
    /// In no resource of the type (a group's `userName`).
    Absent,
}

fn attr(path: &AttrPath, kind: ResourceKind) -> Option<Attr> {
    // A URN names the extension object when the user has one, else the user itself: only the
    // core schema's is sure. Groups have no extension, so any URN is the group itself.
    if kind == ResourceKind::User && path.urn.as_deref().is_some_and(|u| !u.eq_ignore_ascii_case(USER)) {
        return None;
    }
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    let user = kind == ResourceKind::User;
    Some(match (name.as_str(), sub.as_deref()) {
        ("id", None) => Attr::Id,
        ("externalid", None) => Attr::ExternalId,
        ("username", None) if user => Attr::UserName,
        ("active", None) if user => Attr::Active,
        ("displayname", None) if !user => Attr::GroupName,
        ("meta", Some("created")) => Attr::Created,
        ("meta", Some("lastmodified")) => Attr::Modified,
        (other, _) if !user && !GROUP_KEYS.contains(&other) => Attr::Absent,
        _ => return None,
    })
}

/// `filter` exactly, when every attribute it names is a column.
pub fn exact(filter: &Filter, kind: ResourceKind) -> Option<Cond> {
    match filter {
        Filter::And(a, b) => Some(exact(a, kind)?.and(exact(b, kind)?)),
        Filter::Or(a, b) => Some(exact(a, kind)?.or(exact(b, kind)?)),
        Filter::Not(inner) => Some(exact(inner, kind)?.negate()),
        Filter::Present(path) => present(attr(path, kind)?),
        Filter::Compare(path, op, value) => compare(attr(path, kind)?, *op, value),
        Filter::ValuePath(..) => None,
    }
}

/// A condition every match of `filter` meets: its translatable part (all rows when none is).
pub fn narrow(filter: &Filter, kind: ResourceKind) -> Cond {
    match filter {
        Filter::And(a, b) => narrow(a, kind).and(narrow(b, kind)),
        Filter::Or(a, b) => narrow(a, kind).or(narrow(b, kind)),
        other => exact(other, kind).unwrap_or(Cond::True),
    }
}

/// The store's order for `sortBy`. As in the scan's sort, the URN is not looked at.
pub fn sort_key(path: &AttrPath, kind: ResourceKind) -> Option<SortKey> {
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    let user = kind == ResourceKind::User;
    Some(match (name.as_str(), sub.as_deref()) {
        ("id", None) => SortKey::IdText,
        ("externalid", None) => SortKey::ExternalIdLower,
        ("username", None) if user => SortKey::UserName,
        ("displayname", None) if !user => SortKey::NameLower,
        ("meta", Some("created")) => SortKey::Created,
        ("meta", Some("lastmodified")) => SortKey::Modified,
        // Absent from every group: all keys equal, so id order.
        (other, _) if !user && !GROUP_KEYS.contains(&other) => SortKey::Id,
        _ => return None,
    })
}

/// `pr`: a present value (not null, not an empty string).
fn present(attr: Attr) -> Option<Cond> {
    Some(match attr {
        Attr::Id | Attr::UserName | Attr::Created | Attr::Modified => Cond::True,
        Attr::ExternalId => Cond::NotEmpty(Col::ExternalId),
        Attr::GroupName => Cond::NotEmpty(Col::NameLower),
        Attr::Active => Cond::ActiveShown,
        Attr::Absent => Cond::False,
    })
}

fn compare(attr: Attr, op: Op, wanted: &Value) -> Option<Cond> {
    if wanted.is_null() {
        let present = present(attr)?;
        return Some(match op {
            Op::Eq => present.negate(),
            Op::Ne => present,
            _ => Cond::False,
        });
    }
    if op == Op::Ne {
        return Some(compare(attr, Op::Eq, wanted)?.negate());
    }
    // Values of another type never match (a string attribute against a number, say).
    let text = match (attr, wanted) {
        (Attr::Absent, _) => return Some(Cond::False),
        (Attr::Active, Value::Bool(b)) if op == Op::Eq => {
            return Some(Cond::ActiveShown.and(Cond::Cmp(Col::Enabled, Cmp::Eq, Val::Int(i64::from(*b)))));
        }
        (_, Value::String(s)) if attr != Attr::Active => s,
        _ => return Some(Cond::False),
    };
    Some(match attr {
        Attr::Id if op == Op::Eq => match text.parse::<i64>() {
            Ok(id) if id.to_string() == *text => Cond::Cmp(Col::Id, Cmp::Eq, Val::Int(id)),
            _ => Cond::False,
        },
        Attr::Id => strings(Col::IdText, op, text.clone()),
        Attr::ExternalId => strings(Col::ExternalId, op, text.clone()),
        Attr::UserName => strings(Col::UserName, op, text.to_lowercase()),
        Attr::GroupName if text.is_ascii() => strings(Col::NameLower, op, text.to_ascii_lowercase()),
        Attr::Created | Attr::Modified => {
            let col = if attr == Attr::Created { Col::Created } else { Col::Modified };
            Cond::Cmp(col, ordering(op)?, Val::Int(timestamp(text)?))
        }
        _ => return None,
    })
}

fn strings(col: Col, op: Op, text: String) -> Cond {
    match op {
        Op::Co => Cond::Contains(col, text),
        Op::Sw => Cond::StartsWith(col, text),
        Op::Ew => Cond::EndsWith(col, text),
        other => ordering(other).map_or(Cond::False, |cmp| Cond::Cmp(col, cmp, Val::Text(text))),
    }
}

fn ordering(op: Op) -> Option<Cmp> {
    match op {
        Op::Eq => Some(Cmp::Eq),
        Op::Gt => Some(Cmp::Gt),
        Op::Ge => Some(Cmp::Ge),
        Op::Lt => Some(Cmp::Lt),
        Op::Le => Some(Cmp::Le),
        Op::Ne | Op::Co | Op::Sw | Op::Ew => None,
    }
}

/// A date in exactly the form `meta` shows dates (`2024-05-01T10:00:00Z`): compared as text,
/// such dates order as their times do, so comparing the times gives the same answer.
fn timestamp(text: &str) -> Option<i64> {
    let unix = OffsetDateTime::parse(text, &Rfc3339).ok()?.unix_timestamp();
    time_text(unix).eq_ignore_ascii_case(text).then_some(unix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim::filter::parse;

    fn user(f: &str) -> Option<Cond> {
        exact(&parse(f).expect("parses"), ResourceKind::User)
    }

    #[test]
    fn columns_translate_with_their_case_rules() {
        let text = |s: &str| Val::Text(s.into());
        assert_eq!(user(r#"userName eq "BJensen""#), Some(Cond::Cmp(Col::UserName, Cmp::Eq, text("bjensen"))));
        assert_eq!(user(r#"externalId sw "Ext""#), Some(Cond::StartsWith(Col::ExternalId, "Ext".into())));
        assert_eq!(user(r#"id eq "12""#), Some(Cond::Cmp(Col::Id, Cmp::Eq, Val::Int(12))));
        assert_eq!(user(r#"id eq "012""#), Some(Cond::False));
        assert_eq!(user(r#"id gt "3""#), Some(Cond::Cmp(Col::IdText, Cmp::Gt, text("3"))));
        assert_eq!(user("userName eq 3"), Some(Cond::False));
        assert_eq!(user("userName ne 3"), Some(Cond::True));
        assert_eq!(user("externalId eq null"), Some(Cond::NotEmpty(Col::ExternalId).negate()));
        assert_eq!(user("active eq false"), Some(Cond::ActiveShown.and(Cond::Cmp(Col::Enabled, Cmp::Eq, Val::Int(0)))));
        assert_eq!(user(r#"active eq "true""#), Some(Cond::False));
        assert_eq!(
            user(r#"meta.lastModified ge "2024-05-01T10:00:00Z""#),
            Some(Cond::Cmp(Col::Modified, Cmp::Ge, Val::Int(1_714_557_600)))
        );
        assert_eq!(
            user(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName pr and meta.created pr"#),
            Some(Cond::True)
        );
        let group = |f: &str| exact(&parse(f).expect("parses"), ResourceKind::Group);
        assert_eq!(group(r#"displayName eq "Ops""#), Some(Cond::Cmp(Col::NameLower, Cmp::Eq, text("ops"))));
        assert_eq!(group(r#"userName eq "x" or title pr"#), Some(Cond::False));
        assert_eq!(group(r#"not (nickName eq "x")"#), Some(Cond::True));
    }

    #[test]
    fn the_json_document_does_not_translate() {
        for f in [
            r#"emails.value eq "a@b.c""#,
            r#"emails[type eq "work"]"#,
            r#"meta.created gt "2024-05-01""#,
            r#"meta.created co "2024""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName eq "x""#,
            r#"userName eq "a" or name.givenName eq "b""#,
            r#"meta.version eq "W/\"1\"""#,
        ] {
            assert_eq!(user(f), None, "{f}");
        }
        assert_eq!(exact(&parse(r#"displayName eq "Équipe""#).expect("parses"), ResourceKind::Group), None);
        let mixed = parse(r#"userName sw "u1" and (name.givenName eq "x" or not (emails pr))"#).expect("parses");
        assert_eq!(narrow(&mixed, ResourceKind::User), Cond::StartsWith(Col::UserName, "u1".into()));
        let either = parse(r#"userName sw "u1" or name.givenName eq "x""#).expect("parses");
        assert_eq!(narrow(&either, ResourceKind::User), Cond::True);
    }
}
