//! PAM devices (§4): upsert by hostname, read, list, disable (suspending credentials), enable.
//! And the domains a device or credential may name (`cofre domain create`).

use crate::domain::authorization::{Access, Caller, Resource};
use crate::domain::identifier::{generate_identifier, parse_identifier};
use crate::domain::pam::Device;
use crate::error::{ApiError, ApiResult, OrNotFound, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
use crate::service::required::Required;
use crate::store::StoreError;

pub fn device_not_found() -> ApiError {
    ApiError::business(codes::DEVICE_NOT_FOUND, "Device not found")
}

pub fn unknown_domain() -> ApiError {
    ApiError::business(
        codes::DOMAIN_NOT_REGISTERED,
        "It is not possible to enter a domain that has not been previously registered",
    )
}

pub fn invalid_identifier() -> ApiError {
    ApiError::business(codes::INVALID_IDENTIFIER, "The identifier can only contain letters, numbers, \"_\" and \"-\".")
}

/// The fields of a device upsert, already read from the request.
#[derive(Default)]
pub struct DeviceInput {
    pub identifier: Option<String>,
    pub hostname: Option<String>,
    pub ip: Option<String>,
    pub model: Option<String>,
    pub device_type: Option<String>,
    pub vendor: Option<String>,
    pub site: Option<String>,
    pub device_domain: Option<String>,
    pub connectivities: Option<String>,
    pub session_remote_config: Option<String>,
    pub device_tags: Option<String>,
}

/// The contract's error for a device field not informed (`1004`, `1005`, `1019`–`1022`).
pub fn device_field_missing(code: u16, what: &str) -> impl FnOnce() -> ApiError + use<'_> {
    move || ApiError::business(code, &format!("The device's {what} was not informed"))
}

/// A comma list of registered domains, without spaces (§3.3); `DOMAIN_NOT_REGISTERED` otherwise.
pub async fn check_domains(core: &Core, list: &str) -> ApiResult<()> {
    let names: Vec<&str> = list.split(',').filter(|n| !n.is_empty()).collect();
    if names.iter().any(|n| n.contains(char::is_whitespace)) || !core.store.unknown_domains(&names).await?.is_empty() {
        return Err(unknown_domain());
    }
    Ok(())
}

fn check_length(name: &str, value: &str) -> ApiResult<()> {
    if value.chars().count() > 255 {
        return Err(ApiError::bad_request(format!("Parameter '{name}' is limited to 255 characters.")));
    }
    Ok(())
}

/// Registers a device, or updates the one with this hostname. Returns it and whether it is new.
pub async fn upsert(core: &Core, caller: &Caller, input: DeviceInput) -> ApiResult<(Device, bool)> {
    require_write(caller, Resource::Pam)?;
    // In the contract's order: the first missing field is the error, `detail` names them all.
    let mut required = Required::new();
    let ip = required.text(input.ip, device_field_missing(codes::DEVICE_IP_NOT_INFORMED, "IP"));
    let hostname = required.text(input.hostname, device_field_missing(codes::DEVICE_HOSTNAME_NOT_INFORMED, "hostname"));
    let model = required.text(input.model, device_field_missing(codes::DEVICE_MODEL_NOT_INFORMED, "model"));
    let device_type = required.text(input.device_type, device_field_missing(codes::DEVICE_TYPE_NOT_INFORMED, "type"));
    let vendor = required.text(input.vendor, device_field_missing(codes::DEVICE_VENDOR_NOT_INFORMED, "vendor"));
    let site = required.text(input.site, device_field_missing(codes::DEVICE_SITE_NOT_INFORMED, "site"));
    required.done()?;
    let identifier = parse_identifier(input.identifier.as_deref()).map_err(|_| invalid_identifier())?;
    for (name, value) in [
        ("hostname", &hostname),
        ("ip", &ip),
        ("model", &model),
        ("type", &device_type),
        ("vendor", &vendor),
        ("site", &site),
    ] {
        check_length(name, value)?;
    }
    if let Some(domains) = &input.device_domain {
        check_domains(core, domains).await?;
    }
    let changes = DeviceChanges {
        required: [ip, model, device_type, vendor, site],
        optional: [input.device_domain, input.connectivities, input.session_remote_config, input.device_tags]
            .map(|v| v.map(|v| v.trim().to_owned())),
    };
    // A first upsert of a hostname may race others: the loser of the insert updates instead.
    // An update is one statement over the device as it is then: concurrent upserts apply one
    // after the other, and none fails for it.
    for _ in 0..2 {
        if let Some(device) = writable_device(core, caller, &hostname).await? {
            let required = changes.required.each_ref().map(String::as_str);
            let optional = changes.optional.each_ref().map(Option::as_deref);
            let updated = core.store.set_device_fields(device.id, required, optional, core.now()).await?;
            return Ok((updated, false));
        }
        let mut device = Device {
            id: 0,
            identifier: identifier.clone().unwrap_or_else(generate_identifier),
            hostname: hostname.clone(),
            enabled: true,
            created_by: caller.authorization.id,
            ..Device::default()
        };
        changes.apply(&mut device);
        match core.store.insert_device(&device, core.now()).await {
            Ok(id) => {
                device.id = id;
                return Ok((device, true));
            }
            // Lost the insert of this hostname to a concurrent upsert: update what it created.
            // Otherwise the identifier is another device's.
            Err(StoreError::Conflict) => match core.store.device_by_hostname(&hostname).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => {
                    return Err(ApiError::conflict("A device with this identifier or hostname already exists."));
                }
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    // Inserted and then gone between two reads: only a device deleted at once could do that.
    Err(device_not_found())
}

/// What an upsert sets: the five required fields always, the four optional ones when given.
struct DeviceChanges {
    required: [String; 5],
    optional: [Option<String>; 4],
}

impl DeviceChanges {
    /// A new device's fields.
    fn apply(&self, device: &mut Device) {
        let required =
            [&mut device.ip, &mut device.model, &mut device.device_type, &mut device.vendor, &mut device.site];
        for (slot, value) in required.into_iter().zip(&self.required) {
            slot.clone_from(value);
        }
        let optional = [
            &mut device.device_domain,
            &mut device.connectivities,
            &mut device.session_remote_config,
            &mut device.device_tags,
        ];
        for (slot, value) in optional.into_iter().zip(&self.optional) {
            if let Some(value) = value {
                slot.clone_from(value);
            }
        }
    }
}

/// Whether the caller may change `device`: its creator, or linked to it for writing.
pub async fn may_write_device(core: &Core, caller: &Caller, device: &Device) -> ApiResult<bool> {
    if device.created_by == caller.authorization.id {
        return Ok(true);
    }
    match core.store.visible_device(caller.authorization.id, &device.id.to_string(), Access::Write).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The device with this hostname, if the caller may write it; `DEVICE_NOT_FOUND` if another
/// authorization's. An unreachable store is an outage, not "not yours".
async fn writable_device(core: &Core, caller: &Caller, hostname: &str) -> ApiResult<Option<Device>> {
    let device = match core.store.device_by_hostname(hostname).await {
        Ok(d) => d,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if may_write_device(core, caller, &device).await? {
        Ok(Some(device))
    } else {
        Err(device_not_found().with_reason("device belongs to another authorization"))
    }
}

pub async fn get(core: &Core, caller: &Caller, key: &str) -> ApiResult<Device> {
    require_resource(caller, Resource::Pam)?;
    reachable(core, caller, key, Access::Read).await
}

pub async fn list(core: &Core, caller: &Caller) -> ApiResult<Vec<Device>> {
    require_resource(caller, Resource::Pam)?;
    Ok(core.store.visible_devices(caller.authorization.id).await?)
}

/// Disabling suspends every credential of the device; enabling leaves them suspended.
pub async fn set_enabled(core: &Core, caller: &Caller, key: &str, enabled: bool) -> ApiResult<Device> {
    require_write(caller, Resource::Pam)?;
    let device = reachable(core, caller, key, Access::Write).await?;
    core.store.set_device_enabled(device.id, enabled, core.now()).await?;
    Ok(device)
}

async fn reachable(core: &Core, caller: &Caller, key: &str, access: Access) -> ApiResult<Device> {
    core.store.visible_device(caller.authorization.id, key.trim(), access).await.or_not_found(device_not_found)
}

/// The registered domains, by name.
pub async fn domains(core: &Core) -> ApiResult<Vec<String>> {
    Ok(core.store.domains().await?)
}

/// Registers a domain that devices and credentials may then name.
pub async fn create_domain(core: &Core, name: &str) -> ApiResult<()> {
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains(',') || name.len() > 255 {
        return Err(ApiError::bad_request("A domain name is one word of at most 255 characters, without commas."));
    }
    core.store.insert_domain(name, core.now()).await.map_err(|e| match e {
        StoreError::Conflict => ApiError::conflict(format!("Domain '{name}' already exists.")),
        other => other.into(),
    })?;
    Ok(())
}
