//! SCIM 2.0 users and groups (RFC 7644) over cofre's users and groups: what an identity
//! governance system provisions here is what MySafe sharing and logins use, at once.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::domain::scim::eval::get_ci;
use crate::domain::scim::patch::{self, PatchOp};
use crate::domain::user::{canonical_login, valid_login};
use crate::service::Core;
use crate::service::admin::users::check_password;
use crate::service::scim::error::{ScimResult, bad, error};
use crate::service::scim::schema::{
    ENTERPRISE, ENTERPRISE_ATTRS, GROUP, GROUP_ATTRS, USER, USER_ATTRS, case_exact, clean,
};
use crate::store::StoreError;
use crate::store::scim::resources::{ScimGroupRow, ScimUserRow, ScimUserWrite};

/// A resource kind: what differs between users and groups.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn endpoint(self) -> &'static str {
        if self == Self::User { "Users" } else { "Groups" }
    }
}

/// A unix time as `meta` shows it (RFC 3339, UTC, whole seconds).
pub fn time_text(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn meta(kind: ResourceKind, base: &str, id: i64, created: i64, modified: i64, version: i64) -> Value {
    json!({"resourceType": if kind == ResourceKind::User { "User" } else { "Group" }, "created": time_text(created),
           "lastModified": time_text(modified), "location": format!("{base}/{}/{id}", kind.endpoint()), "version": etag(version)})
}

/// The primary email of a SCIM `emails` list, else its first one.
fn primary_email(emails: Option<&Value>) -> String {
    let list = emails.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let primary = list.iter().find(|e| e["primary"] == true).or_else(|| list.first());
    primary.and_then(|e| e["value"].as_str()).unwrap_or_default().to_owned()
}

pub fn user_json(base: &str, row: &ScimUserRow) -> Value {
    let doc: Map<String, Value> = serde_json::from_str(&row.scim).unwrap_or_default();
    let mut out = Map::new();
    let mut schemas = vec![Value::String(USER.into())];
    if doc.contains_key(ENTERPRISE) {
        schemas.push(Value::String(ENTERPRISE.into()));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::String(row.id.to_string()));
    if let Some(external) = &row.external_id {
        out.insert("externalId".into(), Value::String(external.clone()));
    }
    out.insert("userName".into(), doc.get("userName").cloned().unwrap_or_else(|| Value::String(row.username.clone())));
    for (k, v) in &doc {
        if k != "userName" && k != "active" {
            out.insert(k.clone(), v.clone());
        }
    }
    // The display name and primary email are also cofre's columns, which the admin API changes:
    // they win over the document, so SCIM and the admin API never show two different values.
    if !row.display_name.is_empty() {
        out.insert("displayName".into(), Value::String(row.display_name.clone()));
    }
    let listed = |emails: &Value| emails.as_array().is_some_and(|l| l.iter().any(|e| e["value"] == row.email.as_str()));
    if !row.email.is_empty() && !out.get("emails").is_some_and(listed) {
        out.insert("emails".into(), json!([{"value": row.email, "primary": true}]));
    }
    // A provisioned user shows `active` only when it was given; others show the column.
    if doc.contains_key("active") || !doc.contains_key("userName") {
        out.insert("active".into(), Value::Bool(row.enabled));
    }
    if !row.groups.is_empty() {
        let groups: Vec<Value> = row
            .groups
            .iter()
            .map(|(id, name)| json!({"value": id.to_string(), "display": name, "$ref": format!("{base}/Groups/{id}")}))
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    out.insert("meta".into(), meta(ResourceKind::User, base, row.id, row.created_at, row.updated_at, row.version));
    Value::Object(out)
}

pub fn group_json(base: &str, row: &ScimGroupRow) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP]));
    out.insert("id".into(), Value::String(row.id.to_string()));
    if let Some(external) = &row.external_id {
        out.insert("externalId".into(), Value::String(external.clone()));
    }
    out.insert("displayName".into(), Value::String(row.name.clone()));
    let members: Vec<Value> = row
        .members
        .iter()
        .map(|(id, _)| json!({"value": id.to_string(), "$ref": format!("{base}/Users/{id}")}))
        .collect();
    out.insert("members".into(), Value::Array(members));
    out.insert("meta".into(), meta(ResourceKind::Group, base, row.id, row.created_at, row.updated_at, row.version));
    Value::Object(out)
}

fn parse_id(id: &str) -> ScimResult<i64> {
    id.parse().map_err(|_| error(404, None, format!("Resource {id} not found")))
}

pub async fn user_row(core: &Core, id: &str) -> ScimResult<ScimUserRow> {
    core.store
        .scim_users_by_id(&[parse_id(id)?])
        .await?
        .pop()
        .ok_or_else(|| error(404, None, format!("User {id} not found")))
}

pub async fn group_row(core: &Core, id: &str) -> ScimResult<ScimGroupRow> {
    core.store
        .scim_groups_by_id(&[parse_id(id)?])
        .await?
        .pop()
        .ok_or_else(|| error(404, None, format!("Group {id} not found")))
}

/// `If-Match` (when given and not `*`) must name the current version.
pub fn check_version(if_match: Option<&str>, version: i64) -> ScimResult<()> {
    match if_match.map(str::trim) {
        Some(tag) if tag != "*" && tag != etag(version) && tag.trim_matches('"') != version.to_string() => {
            Err(error(412, None, "The resource changed: its version no longer matches If-Match"))
        }
        _ => Ok(()),
    }
}

/// Writes a user from a full document (create when `current` is `None`).
pub async fn write_user(
    core: &Core,
    current: Option<&ScimUserRow>,
    doc: &Map<String, Value>,
) -> ScimResult<ScimUserRow> {
    let mut attrs = clean(doc, USER_ATTRS)?;
    let user_name = attrs.get("userName").and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let canonical = canonical_login(&user_name);
    if !valid_login(&canonical) {
        return Err(bad("invalidValue", "userName is required: 1 to 128 printable characters"));
    }
    let taken = core.store.user_id(&canonical).await;
    match (taken, current) {
        (Ok(id), Some(cur)) if id != cur.id => {
            return Err(error(409, Some("uniqueness"), format!("userName {user_name} is taken")));
        }
        (Ok(_), None) => return Err(error(409, Some("uniqueness"), format!("userName {user_name} is taken"))),
        (Err(StoreError::NotFound), _) | (Ok(_), Some(_)) => {}
        (Err(e), _) => return Err(e.into()),
    }
    match get_ci(&Value::Object(doc.clone()), ENTERPRISE) {
        Some(Value::Object(ext)) => {
            attrs.insert(ENTERPRISE.into(), Value::Object(clean(ext, ENTERPRISE_ATTRS)?));
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(bad("invalidValue", format!("'{ENTERPRISE}' must be an object"))),
    }
    // New users are active unless told otherwise, and say so.
    if current.is_none() && !attrs.contains_key("active") {
        attrs.insert("active".into(), Value::Bool(true));
    }
    let active = attrs.get("active").and_then(Value::as_bool).unwrap_or(true);
    let password = attrs.remove("password").and_then(|v| v.as_str().map(|p| Zeroizing::new(p.to_owned())));
    let hash = match password.filter(|p| !p.is_empty()) {
        Some(p) => {
            // The same rules as the admin API and the CLI.
            check_password(&p).map_err(|e| error(400, Some("invalidValue"), e.message))?;
            Some(core.passwords.hash(p).await.map_err(|_| error(500, None, "password hashing failed"))?)
        }
        None => None,
    };
    let external_id = external_id(doc)?;
    attrs.remove("groups");
    let display_name = attrs.get("displayName").and_then(Value::as_str).unwrap_or_default().to_owned();
    let email = primary_email(attrs.get("emails"));
    let scim = Value::Object(attrs).to_string();
    let write = ScimUserWrite {
        username: &canonical,
        password_hash: hash.as_deref(),
        enabled: active,
        external_id: external_id.as_deref(),
        display_name: &display_name,
        email: &email,
        scim: &scim,
    };
    let now = core.now();
    let id = match current {
        Some(cur) => {
            core.store.update_scim_user(cur.id, &write, cur.version, now).await?;
            cur.id
        }
        None => core.store.insert_scim_user(&write, now).await?,
    };
    core.store.scim_users_by_id(&[id]).await?.pop().ok_or_else(|| error(404, None, "User vanished"))
}

/// Writes a group from a full document (create when `current` is `None`).
pub async fn write_group(
    core: &Core,
    current: Option<&ScimGroupRow>,
    doc: &Map<String, Value>,
) -> ScimResult<ScimGroupRow> {
    let attrs = clean(doc, GROUP_ATTRS)?;
    let name = attrs.get("displayName").and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(bad("invalidValue", "displayName is required (at most 255 characters)"));
    }
    let mut members = Vec::new();
    for member in attrs.get("members").and_then(Value::as_array).into_iter().flatten() {
        let value = member.get("value").and_then(Value::as_str).and_then(|v| v.parse::<i64>().ok());
        members.push(value.ok_or_else(|| bad("invalidValue", "each member needs the id of a user as its value"))?);
    }
    members.sort_unstable();
    members.dedup();
    if core.store.live_user_ids(&members).await?.len() != members.len() {
        return Err(bad("invalidValue", "a member is not a known user"));
    }
    let external_id = external_id(doc)?;
    match core.store.group_id(&name).await {
        Ok(existing) if current.is_none_or(|g| g.id != existing) => {
            return Err(error(409, Some("uniqueness"), format!("displayName {name} is taken")));
        }
        Ok(_) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let (id, version) = current.map_or((0, 0), |g| (g.id, g.version));
    let id = core.store.save_scim_group(id, &name, external_id.as_deref(), &members, version, core.now()).await?;
    core.store.scim_groups_by_id(&[id]).await?.pop().ok_or_else(|| error(404, None, "Group vanished"))
}

/// The attributes a PATCH may not touch.
const READ_ONLY: [&str; 4] = ["id", "meta", "groups", "schemas"];

/// Applies a PatchOp request to a resource document (RFC 7644 §3.5.2).
pub fn apply_patch(resource: &Value, request: &Value, kind: ResourceKind) -> ScimResult<Map<String, Value>> {
    let schemas = request.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|v| v == "urn:ietf:params:scim:api:messages:2.0:PatchOp")) {
        return Err(bad("invalidSyntax", "a PATCH body must name the PatchOp schema"));
    }
    let ops = request
        .get("Operations")
        .or(request.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("invalidSyntax", "Operations must be a list"))?;
    let mut doc = resource.as_object().cloned().unwrap_or_default();
    for key in ["meta", "schemas"] {
        doc.remove(key);
    }
    let core_schema = if kind == ResourceKind::User { USER } else { GROUP };
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        let operation = match name.as_str() {
            "add" => PatchOp::Add,
            "replace" => PatchOp::Replace,
            "remove" => PatchOp::Remove,
            _ => return Err(bad("invalidSyntax", format!("unknown op {name:?}"))),
        };
        let path = op.get("path").and_then(Value::as_str);
        if let Some(p) = path {
            let target = patch::parse_path(p).map_err(|e| bad(e.scim_type, e.detail))?;
            if READ_ONLY.iter().any(|r| target.attr.name.eq_ignore_ascii_case(r))
                || (kind == ResourceKind::User && target.attr.name.eq_ignore_ascii_case("groups"))
            {
                return Err(bad("mutability", format!("{} cannot be changed", target.attr.name)));
            }
            if kind == ResourceKind::Group && target.attr.name.eq_ignore_ascii_case("members") && target.sub.is_some() {
                return Err(bad("mutability", "member values are immutable"));
            }
        }
        patch::apply(&mut doc, operation, path, op.get("value").cloned(), core_schema, case_exact)
            .map_err(|e| bad(e.scim_type, e.detail))?;
    }
    Ok(doc)
}

/// One resource as JSON, with its version.
pub async fn get(core: &Core, kind: ResourceKind, base: &str, id: &str) -> ScimResult<(Value, i64)> {
    Ok(match kind {
        ResourceKind::User => {
            let row = user_row(core, id).await?;
            (user_json(base, &row), row.version)
        }
        ResourceKind::Group => {
            let row = group_row(core, id).await?;
            (group_json(base, &row), row.version)
        }
    })
}

/// How a write builds the new document from the current resource.
pub enum Change<'a> {
    Replace(&'a Map<String, Value>),
    Patch(&'a Value),
}

pub async fn create(core: &Core, kind: ResourceKind, base: &str, doc: &Map<String, Value>) -> ScimResult<Value> {
    Ok(match kind {
        ResourceKind::User => user_json(base, &write_user(core, None, doc).await?),
        ResourceKind::Group => group_json(base, &write_group(core, None, doc).await?),
    })
}

/// PUT or PATCH, after the `If-Match` check.
pub async fn update(
    core: &Core,
    kind: ResourceKind,
    base: &str,
    id: &str,
    if_match: Option<&str>,
    change: Change<'_>,
) -> ScimResult<Value> {
    // One read of the current row serves the If-Match check, the PATCH base and the write.
    let doc = |current: &Value| -> ScimResult<Map<String, Value>> {
        match &change {
            Change::Replace(doc) => Ok((*doc).clone()),
            Change::Patch(request) => apply_patch(current, request, kind),
        }
    };
    Ok(match kind {
        ResourceKind::User => {
            let row = user_row(core, id).await?;
            check_version(if_match, row.version)?;
            user_json(base, &write_user(core, Some(&row), &doc(&user_json(base, &row))?).await?)
        }
        ResourceKind::Group => {
            let row = group_row(core, id).await?;
            check_version(if_match, row.version)?;
            group_json(base, &write_group(core, Some(&row), &doc(&group_json(base, &row))?).await?)
        }
    })
}

pub async fn delete(core: &Core, kind: ResourceKind, id: &str, if_match: Option<&str>) -> ScimResult<()> {
    match kind {
        ResourceKind::User => {
            let row = user_row(core, id).await?;
            check_version(if_match, row.version)?;
            core.store.delete_scim_user(row.id, row.version, core.now()).await?;
        }
        ResourceKind::Group => {
            let row = group_row(core, id).await?;
            check_version(if_match, row.version)?;
            core.store.delete_group(row.id, row.version).await?;
        }
    }
    Ok(())
}

/// A ListResponse holding every item (discovery endpoints do not page).
pub fn list_of(items: Vec<Value>) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": items.len(),
           "itemsPerPage": items.len(), "startIndex": 1, "Resources": items})
}

/// `externalId`: a string, or absent (null counts as absent); anything else is refused, not dropped.
fn external_id(doc: &Map<String, Value>) -> ScimResult<Option<String>> {
    match doc.iter().find(|(k, _)| k.eq_ignore_ascii_case("externalId")).map(|(_, v)| v) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => Ok(Some(id.clone())),
        Some(_) => Err(bad("invalidValue", "'externalId' must be a string")),
    }
}
