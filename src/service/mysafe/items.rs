//! MySafe (§11): personal and team passwords, notes, API secrets and files. Requests act as the
//! user who owns the API key. The owner has every right; a share gives view, or edit with
//! `can_edit`; a group share follows current membership; inactive items vanish for sharees.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::crypto::cipher::Aad;
use crate::crypto::totp;
use crate::domain::authorization::{Caller, Resource};
use crate::domain::mysafe::ItemAccess;
use crate::error::{ApiError, ApiResult, OrNotFound, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
pub use crate::service::mysafe::sharing::ShareInput;
use crate::service::mysafe::sharing::resolve_shares;
use crate::service::required::Required;
use crate::store::StoreError;
use crate::store::mysafe::items::{ItemRow, Share, ShareRows};

pub const MAX_NOTE_CHARS: usize = 900;
const MAX_FIELD_CHARS: usize = 255;
const MAX_SECRET_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafeItemKind {
    Password,
    Note,
    ApiSecret,
    File,
}

impl SafeItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Note => "note",
            Self::ApiSecret => "api_secret",
            Self::File => "file",
        }
    }

    /// The word the contract's messages use ("Password", "Note", "Api secret", "File").
    pub fn label(self) -> &'static str {
        match self {
            Self::Password => "Password",
            Self::Note => "Note",
            Self::ApiSecret => "Api secret",
            Self::File => "File",
        }
    }

    /// Required parameters, in the order they are checked.
    fn required(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["name", "username", "password"],
            Self::Note => &["name", "note"],
            Self::ApiSecret => &["name", "url", "client_id", "client_secret"],
            Self::File => &["name"],
        }
    }
}

pub fn not_informed(name: &str) -> ApiError {
    ApiError::business(codes::PARAMETER_NOT_INFORMED, &format!("Parameter '{name}' was not informed!"))
}

/// The contract prints "1005: Password not found" for every MySafe kind (§11), so clients
/// that match on it work for notes, API secrets and files too.
pub(super) fn not_found(_kind: SafeItemKind) -> ApiError {
    ApiError::business(codes::MYSAFE_ITEM_NOT_FOUND, "Password not found")
}

pub(super) fn no_access() -> ApiError {
    ApiError::business(codes::MYSAFE_NO_ACCESS, "User does not have access").with_reason("no access to the MySafe item")
}

/// What a create or update carries. `None` leaves a field (or a kind of sharing) as it is.
#[derive(Default)]
pub struct ItemInput {
    pub name: Option<String>,
    pub url: Option<String>,
    pub username: Option<String>,
    pub identifier_code: Option<String>,
    pub method: Option<String>,
    pub tags: Option<String>,
    /// Secret fields by name: password, secret_key, notes, note, client_id, client_secret.
    pub secrets: BTreeMap<&'static str, Zeroizing<String>>,
    pub users: Option<Vec<ShareInput>>,
    pub groups: Option<Vec<ShareInput>>,
}

/// A file's content, already sealed in chunks bound to the item's uid.
pub struct SealedFile {
    pub uid: String,
    pub chunks: Vec<Vec<u8>>,
    pub size: i64,
    pub content_type: String,
}

/// An item as answered: its row, the caller's access, its opened secrets and its sharing.
pub struct ItemView {
    pub row: ItemRow,
    pub access: ItemAccess,
    pub secrets: Map<String, Value>,
    pub shares: Vec<Share>,
    pub shared_error: Vec<Value>,
}

impl ItemView {
    /// The current TOTP code (RFC 6238, six digits) of a password item with a base32
    /// `secret_key`; empty without one.
    pub fn totp_code(&self, now: i64) -> String {
        self.secrets
            .get("secret_key")
            .and_then(Value::as_str)
            .and_then(totp::decode_base32)
            .map_or_else(String::new, |key| totp::code(&key, now, 6))
    }
}

impl Drop for ItemView {
    fn drop(&mut self) {
        for value in self.secrets.values_mut() {
            if let Value::String(s) = value {
                zeroize::Zeroize::zeroize(s);
            }
        }
    }
}

/// The user a MySafe request acts as.
pub(super) fn acting_user(caller: &Caller) -> ApiResult<i64> {
    caller.acting_user_id.ok_or_else(|| {
        ApiError::bad_request("This authorization does not act as a MySafe user (create it with --owner).")
            .with_reason("no acting user")
    })
}

fn secret_aad(uid: &str) -> Aad<'_> {
    Aad::new("mysafe_items", uid, "secret")
}

pub(super) fn seal_secrets(core: &Core, uid: &str, secrets: &Map<String, Value>) -> Vec<u8> {
    let json = Zeroizing::new(Value::Object(secrets.clone()).to_string());
    core.seal(&secret_aad(uid), json.as_bytes())
}

pub(super) async fn open_secrets(core: &Core, row: &ItemRow) -> ApiResult<Map<String, Value>> {
    let bytes = core.unseal(&secret_aad(&row.uid), &row.secret).await?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) | Err(_) => Err(ApiError::internal(&"a MySafe secret did not decode")),
    }
}

pub(super) fn check_lengths(input: &ItemInput) -> ApiResult<()> {
    for (name, value) in [
        ("name", &input.name),
        ("url", &input.url),
        ("username", &input.username),
        ("identifier_code", &input.identifier_code),
        ("method", &input.method),
        ("tags", &input.tags),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS) {
            return Err(ApiError::bad_request(format!(
                "Parameter '{name}' is limited to {MAX_FIELD_CHARS} characters."
            )));
        }
    }
    if let Some(note) = input.secrets.get("note") {
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(ApiError::business(codes::MYSAFE_NOTE_TOO_LONG, "Parameter note limited to 900 characters"));
        }
    }
    if input.secrets.values().any(|s| s.len() > MAX_SECRET_BYTES) {
        return Err(ApiError::bad_request(format!("Secret fields are limited to {MAX_SECRET_BYTES} bytes.")));
    }
    Ok(())
}

pub(super) fn duplicate_code() -> ApiError {
    ApiError::business(codes::MYSAFE_IDENTIFIER_TAKEN, "'Identifier' already found in another API key of this user")
}

/// Creates an item owned by the caller's user.
pub async fn create(
    core: &Core,
    caller: &Caller,
    kind: SafeItemKind,
    mut input: ItemInput,
    file: Option<SealedFile>,
) -> ApiResult<ItemView> {
    require_write(caller, Resource::MySafe)?;
    let owner = acting_user(caller)?;
    let mut required = Required::new();
    for field in kind.required() {
        let given = match *field {
            "name" => input.name.as_deref().is_some_and(|v| !v.trim().is_empty()),
            "url" => input.url.as_deref().is_some_and(|v| !v.trim().is_empty()),
            "username" => input.username.as_deref().is_some_and(|v| !v.trim().is_empty()),
            secret => input.secrets.get(secret).is_some_and(|v| !v.trim().is_empty()),
        };
        required.check(given, || not_informed(field));
    }
    if kind == SafeItemKind::File {
        required.check(file.is_some(), || not_informed("file"));
    }
    required.done()?;
    check_lengths(&input)?;
    let code = input.identifier_code.take().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if let Some(code) = &code {
        if core
            .store
            .mysafe_items(owner, kind.as_str())
            .await?
            .iter()
            .any(|(i, a)| *a == ItemAccess::Owner && i.identifier_code.as_deref() == Some(code))
        {
            return Err(duplicate_code());
        }
    }
    let (users, groups, shared_error) =
        resolve_shares(core, owner, input.users.as_deref(), input.groups.as_deref()).await?;
    let uid = file.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |f| f.uid.clone());
    let secrets: Map<String, Value> =
        input.secrets.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.to_string()))).collect();
    let mut row = ItemRow {
        id: 0,
        secret: seal_secrets(core, &uid, &secrets),
        uid,
        kind: kind.as_str().to_owned(),
        owner_id: owner,
        name: input.name.unwrap_or_default().trim().to_owned(),
        url: input.url.unwrap_or_default(),
        username: input.username.unwrap_or_default(),
        identifier_code: code,
        method: input.method.unwrap_or_default(),
        tags: input.tags.unwrap_or_default(),
        content_type: file.as_ref().map(|f| f.content_type.clone()).unwrap_or_default(),
        file_size: file.as_ref().map_or(0, |f| f.size),
        enabled: true,
        revision: 0,
    };
    let mut shares: ShareRows = users.unwrap_or_default();
    shares.extend(groups.unwrap_or_default());
    let chunks = file.map(|f| f.chunks).unwrap_or_default();
    row.id = core.store.insert_mysafe_item(&row, &shares, &chunks, core.now()).await.map_err(|e| match e {
        StoreError::Conflict => duplicate_code(),
        other => other.into(),
    })?;
    let shares = core.store.mysafe_shares(row.id).await?;
    Ok(ItemView { row, access: ItemAccess::Owner, secrets, shares, shared_error })
}

/// An item the caller may see: `MYSAFE_ITEM_NOT_FOUND` when missing (or inactive for a sharee),
/// `MYSAFE_NO_ACCESS` when not theirs.
pub(super) async fn find(
    core: &Core,
    user: i64,
    kind: SafeItemKind,
    identifier: &str,
) -> ApiResult<(ItemRow, ItemAccess)> {
    let id: i64 = identifier.trim().parse().map_err(|_| not_found(kind))?;
    let (row, access) = core.store.mysafe_item(user, kind.as_str(), id).await.or_not_found(|| not_found(kind))?;
    match access {
        ItemAccess::None => Err(no_access()),
        ItemAccess::View | ItemAccess::Edit if !row.enabled => Err(not_found(kind)),
        _ => Ok((row, access)),
    }
}

/// The uid of an item the caller may edit (to seal new content to it before the update).
pub async fn editable_uid(core: &Core, caller: &Caller, kind: SafeItemKind, identifier: &str) -> ApiResult<String> {
    require_write(caller, Resource::MySafe)?;
    let user = acting_user(caller)?;
    let (row, access) = find(core, user, kind, identifier).await?;
    if access < ItemAccess::Edit {
        return Err(no_access());
    }
    Ok(row.uid)
}

/// One item with its secrets opened.
pub async fn get(core: &Core, caller: &Caller, kind: SafeItemKind, identifier: &str) -> ApiResult<ItemView> {
    require_resource(caller, Resource::MySafe)?;
    let user = acting_user(caller)?;
    let (row, access) = find(core, user, kind, identifier).await?;
    let secrets = open_secrets(core, &row).await?;
    let shares = core.store.mysafe_shares(row.id).await?;
    Ok(ItemView { row, access, secrets, shares, shared_error: Vec::new() })
}

pub struct ListFilter {
    pub tag: Option<String>,
    pub name: Option<String>,
    pub identifier_code: Option<String>,
}

/// The items of `kind` the caller's user owns or is shared, filtered.
pub async fn list(
    core: &Core,
    caller: &Caller,
    kind: SafeItemKind,
    filter: &ListFilter,
) -> ApiResult<Vec<(ItemRow, ItemAccess)>> {
    require_resource(caller, Resource::MySafe)?;
    let user = acting_user(caller)?;
    let items = core.store.mysafe_items(user, kind.as_str()).await?;
    Ok(items
        .into_iter()
        .filter(|(row, _)| {
            filter.tag.as_deref().is_none_or(|t| row.tags.split(',').any(|x| x.trim().eq_ignore_ascii_case(t.trim())))
                && filter.name.as_deref().is_none_or(|n| row.name.to_lowercase().contains(&n.trim().to_lowercase()))
                && filter.identifier_code.as_deref().is_none_or(|c| row.identifier_code.as_deref() == Some(c.trim()))
        })
        .collect())
}
