//! `cofre device host-key show|set|reset ID`: the SSH host key pinned for a device, through the
//! same service as the admin API.

use super::{CliResult, DeviceCommand, HostKeyAction};
use crate::service::Core;
use crate::service::sessions::ssh;

pub async fn run(core: &Core, cmd: DeviceCommand) -> CliResult {
    let DeviceCommand::HostKey { action } = cmd;
    match action {
        HostKeyAction::Show { device_id } => match ssh::host_key(core, device_id).await? {
            Some(k) => println!("{}\t{}\t{}\tpinned at {}", k.public_key, k.fingerprint, k.source, k.pinned_at),
            None => println!("no host key pinned for device {device_id}: the next SSH session pins the one it meets"),
        },
        HostKeyAction::Set { device_id, key } => {
            let k = ssh::set_host_key(core, device_id, &key).await?;
            println!("host key of device {device_id} set: {}", k.fingerprint);
        }
        HostKeyAction::Reset { device_id } => {
            if ssh::reset_host_key(core, device_id).await? {
                println!("host key of device {device_id} reset: the next SSH session pins the one it meets");
            } else {
                println!("no host key was pinned for device {device_id}");
            }
        }
    }
    Ok(())
}
