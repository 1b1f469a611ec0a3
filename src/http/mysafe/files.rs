//! MySafe files (no public shape exists; built in the style of the other MySafe items):
//! `/mysafe/file` multipart upload and list, `/mysafe/file/{identifier}` (with the content,
//! base64), `/mysafe/file/update/{identifier}`, `/mysafe/file/active|inactive/{identifier}`.
//! Content is sealed in 64 KiB chunks as it arrives, and opened chunk by chunk as it is sent,
//! so it is never whole in memory in clear.

use axum::Extension;
use axum::extract::{Multipart, OriginalUri, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::domain::authorization::Caller;
use crate::domain::mysafe::ItemAccess;
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::middleware::RequestContext;
use crate::http::mysafe::download;
use crate::http::mysafe::items::{note_sharing, shares, sharing_json};
use crate::http::params::Params;
use crate::http::path::ItemKey;
use crate::service::mysafe::activation;
use crate::service::mysafe::edit;
use crate::service::mysafe::files::{FILE_CHUNK as CHUNK, chunk_aad, open_file};
use crate::service::mysafe::items::{self, ItemInput, ItemView, ListFilter, SafeItemKind, SealedFile};
use crate::state::AppState;

fn multipart_error(e: &axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(limit)
    } else {
        ApiError::bad_request("Malformed multipart body.")
    }
}

/// A multipart body, with rejections in the envelope: 415 unless the request is
/// `multipart/form-data` with a boundary.
pub struct Upload(Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Multipart::from_request(req, state).await.map(Self).map_err(|_| {
            let mut refused = ApiError::unsupported_media_type();
            refused.message = "Send the file as multipart/form-data with a boundary.".into();
            refused
        })
    }
}

/// Reads the multipart body: text fields into parameters, the `file` part sealed chunk by chunk.
async fn read_upload(
    state: &AppState,
    uid: &str,
    Upload(mut multipart): Upload,
) -> ApiResult<(ItemInput, Option<SealedFile>)> {
    let limit = state.core.config.mysafe_file_limit;
    let mut pairs = Vec::new();
    let mut file: Option<SealedFile> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| multipart_error(&e, limit))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" && field.file_name().is_none() {
            let text = field.text().await.map_err(|e| multipart_error(&e, limit))?;
            pairs.push((name, text));
            continue;
        }
        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
        let (mut chunks, mut size) = (Vec::new(), 0usize);
        let mut buffer = Zeroizing::new(Vec::with_capacity(CHUNK));
        while let Some(bytes) = field.chunk().await.map_err(|e| multipart_error(&e, limit))? {
            size += bytes.len();
            if size > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            let mut rest: &[u8] = &bytes;
            while !rest.is_empty() {
                let take = (CHUNK - buffer.len()).min(rest.len());
                buffer.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if buffer.len() == CHUNK {
                    let row = format!("{uid}:{}", chunks.len());
                    chunks.push(state.core.seal(&chunk_aad(&row), &buffer));
                    buffer.clear();
                }
            }
        }
        if !buffer.is_empty() {
            let row = format!("{uid}:{}", chunks.len());
            chunks.push(state.core.seal(&chunk_aad(&row), &buffer));
        }
        file = Some(SealedFile {
            uid: uid.to_owned(),
            chunks,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            content_type,
        });
    }
    let params = Params::from_pairs(pairs);
    let input = ItemInput {
        name: params.text("name")?,
        tags: params.list_text("tags")?,
        users: shares(&params, "users_allowed", "username")?,
        groups: shares(&params, "groups_allowed", "name")?,
        ..ItemInput::default()
    };
    Ok((input, file))
}

fn file_json(view: &ItemView, content: Option<String>) -> Value {
    let (users, groups) = sharing_json(view);
    let mut entity = json!({
        "identifier": view.row.id.to_string(), "name": view.row.name, "tags": view.row.tags, "size": view.row.file_size,
        "content_type": view.row.content_type, "users_allowed": users, "groups_allowed": groups,
    });
    if let Some(map) = entity.as_object_mut() {
        match content {
            Some(content) => map.insert("content".into(), content.into()),
            None => map.insert("shared_error".into(), Value::Array(view.shared_error.clone())),
        };
    }
    entity
}

pub async fn upload(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    caller: Caller,
    multipart: Upload,
) -> ApiResult<Reply> {
    let (input, file) = read_upload(&state, &uuid::Uuid::new_v4().to_string(), multipart).await?;
    let view = items::create(&state.core, &caller, SafeItemKind::File, input, file).await?;
    note_sharing(&context, &view);
    Ok(Reply::created("File successfully registered").with("file_entity", file_json(&view, None)))
}

pub async fn update(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    caller: Caller,
    ItemKey(key): ItemKey,
    multipart: Upload,
) -> ApiResult<Reply> {
    // New content is sealed to the item it replaces, so check access before reading it.
    let uid = items::editable_uid(&state.core, &caller, SafeItemKind::File, &key).await?;
    let (input, file) = read_upload(&state, &uid, multipart).await?;
    let view = edit::update(&state.core, &caller, SafeItemKind::File, &key, input, file).await?;
    note_sharing(&context, &view);
    Ok(Reply::ok("File successfully updated").with("file_entity", file_json(&view, None)))
}

/// The file with its content, base64, streamed chunk by chunk from the sealed store.
pub async fn show(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    method: Method,
    caller: Caller,
    ItemKey(key): ItemKey,
) -> ApiResult<Response> {
    let view = items::get(&state.core, &caller, SafeItemKind::File, &key).await?;
    let reader = open_file(&state.core, &view).await?;
    // A random value no stored field can equal; the content takes its place as it is streamed.
    let marker = format!("content-{}", uuid::Uuid::new_v4().simple());
    let envelope = Reply::ok("Success").with("file_entity", file_json(&view, Some(marker.clone()))).into_response();
    let origin = download::Origin {
        context,
        caller: (caller.authorization.application_id, caller.authorization.id),
        method: method.to_string(),
        route: uri.path().to_owned(),
    };
    download::stream(state, origin, envelope, &marker, reader).await
}

pub async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    let filter = ListFilter { tag: params.text("tag")?, name: params.text("name")?, identifier_code: None };
    let items = items::list(&state.core, &caller, SafeItemKind::File, &filter).await?;
    let rows: Vec<Value> = items
        .iter()
        .map(|(r, access)| {
            json!({"identifier": r.id.to_string(), "name": r.name, "tags": r.tags, "size": r.file_size, "content_type": r.content_type,
                   "need_justify": "0", "need_approval": "0", "can_view": true, "can_write": *access >= ItemAccess::Edit, "active": r.enabled})
        })
        .collect();
    Ok(Reply::ok("").with("file_on_list", Value::Array(rows)))
}

pub async fn activate(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    activation::set_active(&state.core, &caller, SafeItemKind::File, &key, true).await?;
    Ok(Reply::ok("File successfully activated"))
}

pub async fn deactivate(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> ApiResult<Reply> {
    activation::set_active(&state.core, &caller, SafeItemKind::File, &key, false).await?;
    Ok(Reply::ok("File successfully deactivated"))
}
