//! Protected information (contract §7): register or update, read, disable.

use zeroize::Zeroizing;

use crate::crypto::cipher::Aad;
use crate::domain::authorization::{Access, Caller, Resource};
use crate::domain::identifier::{generate_identifier, parse_identifier};
use crate::domain::info::{DEFAULT_INFO_TYPE, InfoInput, InfoRecord, InfoView};
use crate::error::{ApiError, ApiResult, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
use crate::store::StoreError;
use crate::store::pam::info::InfoFields;

/// Larger contents are refused: protected information is text, not files.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
const MAX_FIELD_CHARS: usize = 255;

fn not_found() -> ApiError {
    ApiError::business(codes::INFO_NOT_FOUND, "Information not found")
}

fn inactive() -> ApiError {
    ApiError::business(codes::INFO_INACTIVE, "Inactive information")
}

fn content_aad(uid: &str) -> Aad<'_> {
    Aad::new("protected_info", uid, "content")
}

pub struct Registered {
    pub view: InfoView,
    pub created: bool,
}

/// Registers an item, or updates the caller's item with the same identifier.
pub async fn register(core: &Core, caller: &Caller, input: InfoInput) -> ApiResult<Registered> {
    require_write(caller, Resource::Info)?;
    if input.content.is_empty() {
        return Err(ApiError::business(codes::INFO_CONTENT_NOT_INFORMED, "The content was not informed"));
    }
    if input.content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::bad_request(format!("Parameter 'content' is limited to {MAX_CONTENT_BYTES} bytes.")));
    }
    for (name, value) in
        [("name", &input.name), ("type", &input.info_type), ("service", &input.service), ("url", &input.url)]
    {
        if value.as_ref().is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS) {
            return Err(ApiError::bad_request(format!(
                "Parameter '{name}' is limited to {MAX_FIELD_CHARS} characters."
            )));
        }
    }
    let identifier = parse_identifier(input.identifier.as_deref()).map_err(|_| {
        ApiError::business(
            codes::INVALID_IDENTIFIER,
            "The identifier can only contain letters, numbers, \"_\" and \"-\".",
        )
    })?;
    let now = core.now();
    // A new identifier is one round trip: the insert. A taken one is read, and updated when it
    // is the caller's to write; an insert and a read can both miss only if the item vanished
    // in between, so that happens at most twice.
    for _ in 0..2 {
        let uid = uuid::Uuid::new_v4().to_string();
        let mut record = InfoRecord {
            id: 0,
            sealed_content: core.seal(&content_aad(&uid), input.content.as_bytes()),
            uid,
            identifier: identifier.clone().unwrap_or_else(generate_identifier),
            name: String::new(),
            info_type: DEFAULT_INFO_TYPE.to_owned(),
            service: String::new(),
            url: String::new(),
            users_allowed: String::new(),
            enabled: true,
            created_by: caller.authorization.id,
        };
        merge(&mut record, &input);
        if let Some(id) = core.store.insert_info(&record, now).await? {
            record.id = id;
            return Ok(Registered { view: InfoView { record, content: input.content }, created: true });
        }
        let existing = match core.store.visible_info(caller.authorization.id, &record.identifier, Access::Write).await {
            Ok(found) if found.identifier == record.identifier => found,
            Ok(_) => break,
            Err(StoreError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        if !existing.enabled {
            return Err(inactive());
        }
        // One statement over the item as it is then: concurrent upserts apply one after the
        // other, each keeping the fields the others set and it did not.
        let sealed = core.seal(&content_aad(&existing.uid), input.content.as_bytes());
        fn trimmed(value: &Option<String>) -> Option<&str> {
            value.as_deref().map(str::trim)
        }
        let fields = InfoFields {
            name: trimmed(&input.name),
            info_type: trimmed(&input.info_type).map(|t| if t.is_empty() { DEFAULT_INFO_TYPE } else { t }),
            service: trimmed(&input.service),
            url: trimmed(&input.url),
            users_allowed: trimmed(&input.users_allowed),
        };
        let record = core.store.update_info(existing.id, &existing.uid, &sealed, &fields, now).await?;
        let record = record.ok_or_else(inactive)?;
        return Ok(Registered { view: InfoView { record, content: input.content }, created: false });
    }
    // A taken identifier the caller cannot see (or write) is answered like a missing item.
    Err(not_found().with_reason("identifier held by an item this caller cannot see"))
}

fn merge(record: &mut InfoRecord, input: &InfoInput) {
    let fields = [
        (&mut record.name, &input.name),
        (&mut record.info_type, &input.info_type),
        (&mut record.service, &input.service),
        (&mut record.url, &input.url),
        (&mut record.users_allowed, &input.users_allowed),
    ];
    for (stored, given) in fields {
        if let Some(value) = given {
            value.trim().clone_into(stored);
        }
    }
    if record.info_type.is_empty() {
        DEFAULT_INFO_TYPE.clone_into(&mut record.info_type);
    }
}

/// Reads a visible, active item with its content opened.
pub async fn get(core: &Core, caller: &Caller, key: &str) -> ApiResult<InfoView> {
    require_resource(caller, Resource::Info)?;
    let record = reachable(core, caller, key, Access::Read).await?;
    if !record.enabled {
        return Err(inactive());
    }
    let bytes = core.unseal(&content_aad(&record.uid), &record.sealed_content).await?;
    let content = Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|e| ApiError::internal(&e))?);
    Ok(InfoView { record, content })
}

/// Disables a visible, active item; returns its id.
pub async fn disable(core: &Core, caller: &Caller, key: &str) -> ApiResult<i64> {
    require_write(caller, Resource::Info)?;
    let record = reachable(core, caller, key, Access::Write).await?;
    if !record.enabled {
        return Err(inactive());
    }
    core.store.disable_info(record.id, core.now()).await?;
    Ok(record.id)
}

/// An item the caller may reach for `access`; anything else answers like a missing item.
async fn reachable(core: &Core, caller: &Caller, key: &str, access: Access) -> ApiResult<InfoRecord> {
    match core.store.visible_info(caller.authorization.id, key, access).await {
        Ok(record) => Ok(record),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}
