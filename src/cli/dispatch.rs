//! The operator commands' one way in: open the vault (make one only for `init`), run the
//! command, and audit it if it changes state (`operator_audit`), whatever its outcome.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::operator_audit::{self, Action};
use super::{AuditCommand, CliResult, Command};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::service::Core;
use crate::service::vault::Opening;

pub async fn run_operator_command(config: Config, command: Command) -> CliResult {
    let action = operator_audit::action(&command);
    if let Command::Restore { file, key_file } = &command {
        return restore(config, file, key_file.as_deref(), action).await;
    }
    let opening = if matches!(command, Command::Init) { Opening::Init } else { Opening::Existing };
    let core = Core::open(config, Arc::new(SystemClock), opening).await?;
    let (result, made) = operator_audit::collecting(run(&core, command)).await;
    let result = audited(&core, action, result, made).await;
    core.close().await;
    result
}

async fn run(core: &Core, command: Command) -> CliResult {
    use super::run::{app, audit_tail, domain, policy, token};
    match command {
        Command::Serve => Ok(()),
        Command::Ready => Err("cofre ready runs without opening the store".into()),
        Command::Init => init(core),
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::App(cmd) => app(core, cmd).await,
        Command::User(cmd) => super::users::user(core, cmd).await,
        Command::Group(cmd) => super::users::group(core, cmd).await,
        Command::Token(cmd) => token(core, cmd).await,
        Command::Audit(AuditCommand::Tail { lines, json }) => audit_tail(core, lines, json).await,
        Command::Audit(cmd) => super::integrity::audit(core, cmd).await,
        Command::Key(cmd) => super::keys::run(core, cmd).await,
        Command::Backup { file } => super::backups::backup(core, &file).await,
        Command::Restore { .. } => Err("restore runs without opening the store first".into()),
        Command::MigrateStore { to } => super::backups::migrate_store(core, &to).await,
        Command::Domain(cmd) => domain(core, cmd).await,
        Command::Policy(cmd) => policy(core, cmd).await,
        Command::Dsm(_) => Err("cofre dsm runs without a server configuration".into()),
        Command::Session(cmd) => super::sessions::run(core, cmd).await,
        Command::Device(cmd) => super::devices::run(core, cmd).await,
        Command::Ca(cmd) => super::certificates::authorities(core, cmd).await,
        Command::Cert(cmd) => super::certificates::certificates(core, cmd).await,
    }
}

/// The vault `Core::open` just made: what the first start of `serve` makes, TLS files included.
fn init(core: &Core) -> CliResult {
    crate::tls::prepare(&core.config)?;
    println!(
        "vault created: master key {} (back it up, away from the database), database {}",
        core.config.master_key_path().display(),
        crate::service::vault::database_name(&core.config.database_url())
    );
    Ok(())
}

/// Audits `action` with `result`. A command that did its work but could not be audited fails,
/// so the operator knows the trail misses it.
async fn audited(core: &Core, action: Option<Action>, result: CliResult, made: Map<String, Value>) -> CliResult {
    let Some(action) = action else { return result };
    match operator_audit::record(core, &action, &result, made).await {
        Ok(()) => result,
        Err(e) => {
            let missing = format!("cofre {}: its audit record could not be written: {e}", action.command);
            match result {
                Ok(()) => Err(missing.into()),
                Err(failed) => {
                    eprintln!("cofre: {missing}");
                    Err(failed)
                }
            }
        }
    }
}

/// A restore loads a whole store, its audit chain with it: the restore is audited into that
/// chain once loaded and checked (so the check counts what the backup held). A restore refused
/// before any vault was there has no trail to go in.
async fn restore(config: Config, file: &Path, key_file: Option<&Path>, action: Option<Action>) -> CliResult {
    let result = super::backups::restore(config.clone(), file, key_file).await;
    match Core::open(config, Arc::new(SystemClock), Opening::Existing).await {
        Ok(core) => {
            let result = audited(&core, action, result, Map::new()).await;
            core.close().await;
            result
        }
        Err(e) => {
            if result.is_ok() {
                return Err(format!("restored, but the restored store does not open to audit it: {e}").into());
            }
            result
        }
    }
}
