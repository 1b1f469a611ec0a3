//! `cofre device host-key show|set|reset ID`: the SSH host key pinned for a device, through the
//! same service as the admin API.

use clap::Subcommand;

use super::CliResult;
use crate::service::Core;
use crate::service::sessions::ssh;

#[derive(Subcommand)]
pub enum DeviceCommand {
    /// A device's pinned SSH host key: show it, set it (an OpenSSH public key line, e.g. from
    /// `ssh-keyscan -t ed25519 HOST`), or reset it so the next session pins what it meets.
    HostKey {
        #[command(subcommand)]
        action: HostKeyAction,
    },
}

#[derive(Subcommand)]
pub enum HostKeyAction {
    Show {
        device_id: i64,
    },
    Set {
        device_id: i64,
        #[arg(long)]
        key: String,
    },
    Reset {
        device_id: i64,
    },
}

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
