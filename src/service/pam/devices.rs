//! PAM devices (§4): upsert by hostname, read, list, disable (suspending credentials), enable.
//! And the domains a device or credential may name (`cofre domain create`).

use crate::domain::authorization::{Access, Caller, Resource};
use crate::domain::identifier::{generate_identifier, parse_identifier};
use crate::domain::pam::Device;
use crate::error::{ApiError, ApiResult, OrNotFound, codes};
use crate::service::Core;
use crate::service::access::{require_resource, require_write};
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

fn required(value: Option<String>, code: u16, what: &str) -> ApiResult<String> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::business(code, &format!("The device's {what} was not informed")))
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
    let ip = required(input.ip, codes::DEVICE_IP_NOT_INFORMED, "IP")?;
    let hostname = required(input.hostname, codes::DEVICE_HOSTNAME_NOT_INFORMED, "hostname")?;
    let model = required(input.model, codes::DEVICE_MODEL_NOT_INFORMED, "model")?;
    let device_type = required(input.device_type, codes::DEVICE_TYPE_NOT_INFORMED, "type")?;
    let vendor = required(input.vendor, codes::DEVICE_VENDOR_NOT_INFORMED, "vendor")?;
    let site = required(input.site, codes::DEVICE_SITE_NOT_INFORMED, "site")?;
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
    let now = core.now();
    let existing = match core.store.device_by_hostname(&hostname).await {
        Ok(d) => Some(d),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let writable = match &existing {
        Some(d) if d.created_by == caller.authorization.id => true,
        // Linked for writing? An unreachable store is an outage, not "not yours".
        Some(d) => match core.store.visible_device(caller.authorization.id, &d.hostname, Access::Write).await {
            Ok(_) => true,
            Err(StoreError::NotFound) => false,
            Err(e) => return Err(e.into()),
        },
        None => false,
    };
    let mut device = match existing {
        Some(d) if writable => d,
        Some(_) => return Err(device_not_found().with_reason("device belongs to another authorization")),
        None => Device {
            id: 0,
            identifier: identifier.clone().unwrap_or_else(generate_identifier),
            hostname: hostname.clone(),
            ip: String::new(),
            model: String::new(),
            device_type: String::new(),
            vendor: String::new(),
            site: String::new(),
            device_domain: String::new(),
            connectivities: String::new(),
            session_remote_config: String::new(),
            device_tags: String::new(),
            enabled: true,
            created_by: caller.authorization.id,
        },
    };
    let created = device.id == 0;
    device.ip = ip;
    device.model = model;
    device.device_type = device_type;
    device.vendor = vendor;
    device.site = site;
    for (slot, given) in [
        (&mut device.device_domain, input.device_domain),
        (&mut device.connectivities, input.connectivities),
        (&mut device.session_remote_config, input.session_remote_config),
        (&mut device.device_tags, input.device_tags),
    ] {
        if let Some(value) = given {
            *slot = value.trim().to_owned();
        }
    }
    if created {
        device.id = core.store.insert_device(&device, now).await.map_err(|e| match e {
            StoreError::Conflict => ApiError::conflict("A device with this identifier or hostname already exists."),
            other => other.into(),
        })?;
    } else {
        core.store.update_device(&device, now).await?;
    }
    Ok((device, created))
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
