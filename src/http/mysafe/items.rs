//! MySafe item routes (§11): passwords, notes and API secrets (`secretapi`), with the
//! contract's entity keys and messages, and the sharing parameters files use too.
use axum::Extension;
use axum::extract::State;
use serde_json::{Value, json};

use crate::domain::authorization::Caller;
use crate::domain::mysafe::ItemAccess;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::middleware::RequestContext;
use crate::http::params::Params;
use crate::http::path::ItemKey;
use crate::service::mysafe::activation;
use crate::service::mysafe::edit;
use crate::service::mysafe::items::{self, ItemInput, ItemView, ListFilter, SafeItemKind, ShareInput};
use crate::state::AppState;

/// `users_allowed` / `groups_allowed`: a list of `{username|name, can_edit?}` (JSON, or JSON
/// text from form clients). `can_edit` omitted means view only.
pub fn shares(params: &Params, param: &str, key: &str) -> ApiResult<Option<Vec<ShareInput>>> {
    let wrong =
        || ApiError::bad_request(format!("Parameter '{param}' must be a list of {{\"{key}\", \"can_edit\"}} objects."));
    let value = match params.raw(param) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Value::Array(Vec::new()),
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|_| wrong())?,
        Some(other) => other.clone(),
    };
    let Value::Array(items) = value else { return Err(wrong()) };
    items
        .iter()
        .map(|item| {
            let name = item.get(key).and_then(Value::as_str).filter(|n| !n.trim().is_empty()).ok_or_else(wrong)?;
            let can_edit = match item.get("can_edit") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(ApiError::bad_request(format!("'can_edit' in '{param}' must be a boolean."))),
            };
            Ok(ShareInput { name: name.trim().to_owned(), can_edit })
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// The fields every kind reads, plus its secret fields.
pub fn item_input(params: &mut Params, secret_fields: &[&'static str]) -> ApiResult<ItemInput> {
    let mut input = ItemInput {
        name: params.text("name")?,
        url: params.text("url")?,
        username: params.text("username")?,
        identifier_code: params.text("identifier_code")?,
        method: params.text("method")?,
        tags: params.list_text("tags")?,
        users: shares(params, "users_allowed", "username")?,
        groups: shares(params, "groups_allowed", "name")?,
        ..ItemInput::default()
    };
    for field in secret_fields {
        if let Some(value) = params.take_secret(field)? {
            input.secrets.insert(field, value);
        }
    }
    Ok(input)
}

pub fn sharing_json(view: &ItemView) -> (Value, Value) {
    let pick = |kind: &str, key: &str| {
        Value::Array(
            view.shares
                .iter()
                .filter(|s| s.principal_kind == kind)
                .map(|s| json!({key: s.name, "can_edit": s.can_edit}))
                .collect(),
        )
    };
    (pick("user", "username"), pick("group", "name"))
}

fn secret(view: &ItemView, key: &str) -> Value {
    view.secrets.get(key).cloned().unwrap_or(Value::String(String::new()))
}

/// Records who an item is shared with (names are not secrets); the acting user is recorded for
/// every request by the authentication layer.
pub fn note_sharing(context: &RequestContext, view: &ItemView) {
    let (users, groups) = sharing_json(view);
    context.note("shared_with", json!({"users": users, "groups": groups}));
}

fn entity(kind: SafeItemKind, view: &ItemView, reveal: bool, core_now: i64) -> Value {
    let (users, groups) = sharing_json(view);
    let r = &view.row;
    let mut e = match kind {
        SafeItemKind::Password if reveal => {
            let token = view.totp_code(core_now);
            json!({"identifier": r.id.to_string(), "name": r.name, "url": r.url, "username": r.username,
                   "password": secret(view, "password"), "secret_key": secret(view, "secret_key"), "token": token,
                   "notes": secret(view, "notes"), "tags": r.tags, "users_allowed": users, "groups_allowed": groups})
        }
        SafeItemKind::Password => {
            json!({"identifier": r.id.to_string(), "name": r.name, "url": r.url, "username": r.username,
                                 "note": secret(view, "notes"), "tags": r.tags, "users_allowed": users, "groups_allowed": groups})
        }
        SafeItemKind::Note if reveal => {
            json!({"identifier": r.id.to_string(), "name": r.name, "note": secret(view, "note"), "tags": r.tags,
                                       "users_allowed": users, "groups_allowed": groups})
        }
        SafeItemKind::Note => {
            json!({"identifier": r.id.to_string(), "name": r.name, "tags": r.tags, "users_allowed": users, "groups_allowed": groups})
        }
        SafeItemKind::ApiSecret | SafeItemKind::File => {
            json!({"identifier": r.id.to_string(), "name": r.name, "url": r.url,
                                 "client_secret": secret(view, "client_secret"), "client_id": secret(view, "client_id"),
                                 "identifier_code": r.identifier_code.clone().unwrap_or_default(), "method": r.method, "tags": r.tags,
                                 "notes": secret(view, "notes"), "users_allowed": users, "groups_allowed": groups})
        }
    };
    if !reveal {
        if let Some(map) = e.as_object_mut() {
            map.insert("shared_error".into(), Value::Array(view.shared_error.clone()));
        }
    }
    e
}

struct Shape {
    kind: SafeItemKind,
    entity_key: &'static str,
    list_key: &'static str,
    secrets: &'static [&'static str],
    created: &'static str,
    updated: &'static str,
}

const PASSWORD: Shape = Shape {
    kind: SafeItemKind::Password,
    entity_key: "password_entity",
    list_key: "password_on_list",
    secrets: &["password", "secret_key", "notes"],
    created: "Password successfully registered",
    updated: "Password successfully updated",
};
const NOTE: Shape = Shape {
    kind: SafeItemKind::Note,
    entity_key: "note_entity",
    list_key: "note_on_list",
    secrets: &["note"],
    created: "Note successfully registered",
    updated: "Note successfully updated",
};
const API_SECRET: Shape = Shape {
    kind: SafeItemKind::ApiSecret,
    entity_key: "api_entity",
    list_key: "api_secret_on_list",
    secrets: &["client_id", "client_secret", "notes"],
    created: "Api secret successfully registered",
    updated: "Api secret updated successfully",
};

async fn create(
    state: &AppState,
    context: &RequestContext,
    caller: &Caller,
    shape: &Shape,
    mut params: Params,
) -> ApiResult<Reply> {
    let input = item_input(&mut params, shape.secrets)?;
    let view = items::create(&state.core, caller, shape.kind, input, None).await?;
    note_sharing(context, &view);
    Ok(Reply::created(shape.created).with(shape.entity_key, entity(shape.kind, &view, false, state.core.now())))
}

async fn update(
    state: &AppState,
    context: &RequestContext,
    caller: &Caller,
    shape: &Shape,
    key: &str,
    mut params: Params,
) -> ApiResult<Reply> {
    let input = item_input(&mut params, shape.secrets)?;
    let view = edit::update(&state.core, caller, shape.kind, key, input, None).await?;
    note_sharing(context, &view);
    Ok(Reply::ok(shape.updated).with(shape.entity_key, entity(shape.kind, &view, false, state.core.now())))
}

async fn show(
    state: &AppState,
    context: &RequestContext,
    caller: &Caller,
    shape: &Shape,
    key: &str,
) -> ApiResult<Reply> {
    let view = items::get(&state.core, caller, shape.kind, key).await?;
    if let Some(user) = caller.acting_user_id {
        context.note("acting_user_id", user.to_string());
    }
    Ok(Reply::ok("Success").with(shape.entity_key, entity(shape.kind, &view, true, state.core.now())))
}

async fn list(state: &AppState, caller: &Caller, shape: &Shape, params: &Params) -> ApiResult<Reply> {
    let filter = ListFilter {
        tag: params.text("tag")?,
        name: params.text("name")?,
        identifier_code: params.text("identifier_code")?,
    };
    let items = items::list(&state.core, caller, shape.kind, &filter).await?;
    let rows: Vec<Value> = items
        .iter()
        .map(|(r, access)| {
            let mut item = json!({"identifier": r.id.to_string(), "name": r.name});
            if let Some(map) = item.as_object_mut() {
                if shape.kind == SafeItemKind::Password {
                    map.insert("url".into(), r.url.clone().into());
                    map.insert("username".into(), r.username.clone().into());
                }
                if shape.kind != SafeItemKind::ApiSecret {
                    map.insert("tags".into(), r.tags.clone().into());
                }
                map.insert("need_justify".into(), "0".into());
                map.insert("need_approval".into(), "0".into());
                map.insert("can_view".into(), true.into());
                map.insert("can_write".into(), (*access >= ItemAccess::Edit).into());
                map.insert("active".into(), r.enabled.into());
            }
            item
        })
        .collect();
    Ok(Reply::ok("").with(shape.list_key, Value::Array(rows)))
}

async fn set_active(
    state: &AppState,
    caller: &Caller,
    kind: SafeItemKind,
    key: &str,
    active: bool,
) -> ApiResult<Reply> {
    activation::set_active(&state.core, caller, kind, key, active).await?;
    Ok(activation_reply(kind, active))
}

fn activation_reply(kind: SafeItemKind, active: bool) -> Reply {
    let word = if active { "activated" } else { "deactivated" };
    Reply::ok(format!("{} successfully {word}", kind.label()))
}

/// The generated handlers of one kind: create, list, show, update, activate, deactivate.
macro_rules! kind_routes {
    ($module:ident, $shape:expr) => {
        pub mod $module {
            use super::*;

            pub async fn create(
                State(s): State<AppState>,
                Extension(c): Extension<RequestContext>,
                caller: Caller,
                p: Params,
            ) -> ApiResult<Reply> {
                super::create(&s, &c, &caller, &$shape, p).await
            }
            pub async fn list(State(s): State<AppState>, caller: Caller, p: Params) -> ApiResult<Reply> {
                super::list(&s, &caller, &$shape, &p).await
            }
            pub async fn show(
                State(s): State<AppState>,
                Extension(c): Extension<RequestContext>,
                caller: Caller,
                ItemKey(k): ItemKey,
            ) -> ApiResult<Reply> {
                super::show(&s, &c, &caller, &$shape, &k).await
            }
            pub async fn update(
                State(s): State<AppState>,
                Extension(c): Extension<RequestContext>,
                caller: Caller,
                ItemKey(k): ItemKey,
                p: Params,
            ) -> ApiResult<Reply> {
                super::update(&s, &c, &caller, &$shape, &k, p).await
            }
            pub async fn activate(State(s): State<AppState>, caller: Caller, ItemKey(k): ItemKey) -> ApiResult<Reply> {
                super::set_active(&s, &caller, $shape.kind, &k, true).await
            }
            pub async fn deactivate(
                State(s): State<AppState>,
                caller: Caller,
                ItemKey(k): ItemKey,
            ) -> ApiResult<Reply> {
                super::set_active(&s, &caller, $shape.kind, &k, false).await
            }
        }
    };
}

kind_routes!(passwords, PASSWORD);
kind_routes!(notes, NOTE);
kind_routes!(api_secrets, API_SECRET);

/// The API-secret pages print the password paths for (de)activation: accept an API secret's
/// identifier there too.
pub async fn password_path_active(State(s): State<AppState>, caller: Caller, ItemKey(k): ItemKey) -> ApiResult<Reply> {
    either_kind(&s, &caller, &k, true).await
}

pub async fn password_path_inactive(
    State(s): State<AppState>,
    caller: Caller,
    ItemKey(k): ItemKey,
) -> ApiResult<Reply> {
    either_kind(&s, &caller, &k, false).await
}

async fn either_kind(state: &AppState, caller: &Caller, key: &str, active: bool) -> ApiResult<Reply> {
    let kind = activation::set_active_password_or_api_secret(&state.core, caller, key, active).await?;
    Ok(activation_reply(kind, active))
}
