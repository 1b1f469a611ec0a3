//! The operator's trail: the dispatcher writes one audit record per state-changing command, with
//! its outcome, into the chain requests extend (origin `cli`, the OS user, the command and what
//! it named). Which commands change state, and which of their words are safe to keep, is said
//! here, once: never a password, a secret or a key, only names, ids and file paths.

use serde_json::{Map, Value, json};

use super::keys::KeyCommand;
use super::{
    AppCommand, AuditCommand, CaCommand, CertCommand, CliResult, Command, DeviceCommand, DomainCommand, GroupCommand,
    HostKeyAction, LinkItems, PolicyCommand, SessionCommand, TokenCommand, UserCommand,
};
use crate::domain::audit::AuditRecord;
use crate::service::Core;

tokio::task_local! {
    /// The ids of what the running command made, for its record (see `created`).
    static CREATED: std::cell::RefCell<Map<String, Value>>;
}

/// Notes the id of something the running command made (`application_id`, …), so its record
/// names it too. Outside the dispatcher, nothing is noted.
pub fn created(name: &str, id: impl Into<Value>) {
    let _ = CREATED.try_with(|c| c.borrow_mut().insert(name.to_owned(), id.into()));
}

/// Runs a command, collecting what it noted with `created`.
pub async fn collecting<F: std::future::Future>(command: F) -> (F::Output, Map<String, Value>) {
    CREATED
        .scope(std::cell::RefCell::default(), async {
            let out = command.await;
            (out, CREATED.with(|c| c.take()))
        })
        .await
}

/// A state-changing command as the trail keeps it.
pub struct Action {
    /// Its words, e.g. `app link`.
    pub command: &'static str,
    /// What it named: ids, names, paths (a JSON object).
    pub targets: Value,
}

/// The action `command` takes, or `None` for a read (lists, shows, the audit trail itself).
pub fn action(command: &Command) -> Option<Action> {
    let (name, targets) = match command {
        Command::Serve | Command::Ready | Command::Dsm(_) => return None,
        Command::Init => ("init", json!({})),
        Command::Migrate => ("migrate", json!({})),
        Command::App(cmd) => app(cmd)?,
        Command::User(cmd) => user(cmd)?,
        Command::Group(cmd) => group(cmd)?,
        Command::Token(cmd) => token(cmd)?,
        Command::Audit(AuditCommand::Tail { .. } | AuditCommand::Verify { .. } | AuditCommand::Export { .. }) => {
            return None;
        }
        // Writes the head outside the database; the trail itself does not change.
        Command::Audit(AuditCommand::Checkpoint { .. }) => return None,
        Command::Backup { file } => ("backup", json!({"file": file})),
        Command::Restore { file, key_file } => ("restore", json!({"file": file, "key_file": key_file})),
        // The URL may carry a database password.
        Command::MigrateStore { to } => ("migrate-store", json!({"to": crate::config::redact_url(to)})),
        Command::Key(cmd) => key(cmd)?,
        Command::Domain(DomainCommand::Create { name }) => ("domain create", json!({"name": name})),
        Command::Domain(DomainCommand::List) => return None,
        Command::Policy(cmd) => policy(cmd)?,
        Command::Session(SessionCommand::Drop { session_id }) => ("session drop", json!({"session_id": session_id})),
        Command::Session(
            SessionCommand::List { .. }
            | SessionCommand::Show { .. }
            | SessionCommand::Export { .. }
            | SessionCommand::Play { .. },
        ) => return None,
        Command::Device(DeviceCommand::HostKey { action }) => match action {
            HostKeyAction::Show { .. } => return None,
            HostKeyAction::Set { device_id, .. } => ("device host-key set", json!({"device_id": device_id})),
            HostKeyAction::Reset { device_id } => ("device host-key reset", json!({"device_id": device_id})),
        },
        Command::Ca(cmd) => ca(cmd)?,
        Command::Cert(cmd) => cert(cmd)?,
    };
    Some(Action { command: name, targets })
}

type Described = Option<(&'static str, Value)>;

fn app(cmd: &AppCommand) -> Described {
    Some(match cmd {
        AppCommand::Create(a) => (
            "app create",
            json!({"name": a.name, "resources": a.resources.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                   "read_only": a.read_only, "auth": a.auth, "owner": a.owner}),
        ),
        AppCommand::List { .. } => return None,
        AppCommand::Disable { id } => ("app disable", json!({"application_id": id})),
        AppCommand::Enable { id } => ("app enable", json!({"application_id": id})),
        AppCommand::Link { id, items, write } => {
            let mut targets = linked(*id, items);
            targets["access"] = json!(if *write { "write" } else { "read" });
            ("app link", targets)
        }
        AppCommand::Unlink { id, items } => ("app unlink", linked(*id, items)),
    })
}

fn linked(id: i64, items: &LinkItems) -> Value {
    json!({"application_id": id, "info": items.info, "credential": items.credential, "device": items.device})
}

fn user(cmd: &UserCommand) -> Described {
    Some(match cmd {
        UserCommand::Create { username, groups, .. } => {
            ("user create", json!({"username": username, "groups": groups}))
        }
        UserCommand::List { .. } => return None,
        UserCommand::Password { username } => ("user password", json!({"username": username})),
        UserCommand::Disable { username } => ("user disable", json!({"username": username})),
        UserCommand::Enable { username } => ("user enable", json!({"username": username})),
    })
}

fn group(cmd: &GroupCommand) -> Described {
    Some(match cmd {
        GroupCommand::Create { name } => ("group create", json!({"group": name})),
        GroupCommand::List { .. } => return None,
        GroupCommand::Add { group, usernames } => ("group add", json!({"group": group, "usernames": usernames})),
        GroupCommand::Remove { group, usernames } => ("group remove", json!({"group": group, "usernames": usernames})),
    })
}

/// A token is named by its id or name here, never by its value.
fn token(cmd: &TokenCommand) -> Described {
    Some(match cmd {
        TokenCommand::Create { name, scopes, kind, user, expires, .. } => {
            ("token create", json!({"name": name, "type": kind, "scopes": scopes, "user": user, "expires": expires}))
        }
        TokenCommand::List { .. } => return None,
        TokenCommand::Update { token, expires, never } => {
            ("token update", json!({"token": token, "expires": expires, "never": never}))
        }
        TokenCommand::Regenerate { token, .. } => ("token regenerate", json!({"token": token})),
        TokenCommand::Delete { token } => ("token delete", json!({"token": token})),
    })
}

/// Key files are named by path; their contents never leave them.
fn key(cmd: &KeyCommand) -> Described {
    Some(match cmd {
        KeyCommand::Rotate { new_key_file } => ("key rotate", json!({"new_key_file": new_key_file})),
        KeyCommand::NewDataKey => ("key new-data-key", json!({})),
        KeyCommand::Reseal { rate } => ("key reseal", json!({"rate": rate})),
        KeyCommand::RetireDataKey { id } => ("key retire-data-key", json!({"data_key_id": id})),
        KeyCommand::List => return None,
    })
}

fn policy(cmd: &PolicyCommand) -> Described {
    Some(match cmd {
        PolicyCommand::Create { name, rotation_interval, .. } => {
            ("policy create", json!({"name": name, "rotation_interval": rotation_interval}))
        }
        PolicyCommand::List => return None,
        PolicyCommand::Assign { policy, none, credential, device, tag } => (
            "policy assign",
            json!({"policy": policy, "none": none, "credential": credential, "device": device, "tag": tag}),
        ),
    })
}

fn ca(cmd: &CaCommand) -> Described {
    Some(match cmd {
        CaCommand::Create { name, key_type, parent, .. } => {
            ("ca create", json!({"name": name, "key_type": key_type, "parent": parent}))
        }
        CaCommand::List { .. } | CaCommand::Show { .. } => return None,
        CaCommand::Import { name, certificate, parent, .. } => {
            ("ca import", json!({"name": name, "certificate": certificate, "parent": parent}))
        }
    })
}

/// The certificate commands act as an authorization: it is kept with what they named. An
/// export is kept too: a private key leaves the vault, if encrypted.
fn cert(cmd: &CertCommand) -> Described {
    Some(match cmd {
        CertCommand::List { .. } | CertCommand::Show { .. } => return None,
        CertCommand::Import { who, file, .. } => {
            ("cert import", json!({"authorization_id": who.authorization, "file": file}))
        }
        CertCommand::Request { who, code, common_name, .. } => {
            ("cert request", json!({"authorization_id": who.authorization, "code": code, "common_name": common_name}))
        }
        CertCommand::Sign { who, code, ca, self_signed, reason, .. } => (
            "cert sign",
            json!({"authorization_id": who.authorization, "code": code, "ca": ca, "self_signed": self_signed,
                   "reason": reason}),
        ),
        CertCommand::Revoke { who, id, reason, .. } => {
            ("cert revoke", json!({"authorization_id": who.authorization, "certificate_id": id, "reason": reason}))
        }
        CertCommand::Export { who, id } => {
            ("cert export", json!({"authorization_id": who.authorization, "certificate_id": id}))
        }
        CertCommand::Scan { who, targets, .. } => {
            ("cert scan", json!({"authorization_id": who.authorization, "targets": targets}))
        }
    })
}

/// Who runs this process: the login name the user database gives its uid, else `USER` or
/// `LOGNAME` (which the user may set at will, so the uid is kept beside it).
pub fn os_user() -> (String, Option<u32>) {
    let uid = process_uid();
    let named = uid.and_then(passwd_name);
    let from_env = || ["USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
    let name = named.or_else(from_env).unwrap_or_else(|| uid.map_or_else(|| "unknown".into(), |u| format!("uid {u}")));
    (name, uid)
}

/// The uid that owns this process (Linux: the owner of `/proc/self`).
#[cfg(unix)]
fn process_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn process_uid() -> Option<u32> {
    None
}

fn passwd_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let owner = fields.nth(1)?.parse::<u32>().ok()?;
        (owner == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// Appends `action`'s record, with how the command ended and the ids of what it made, to
/// `core`'s audit chain.
pub async fn record(
    core: &Core,
    action: &Action,
    outcome: &CliResult,
    made: Map<String, Value>,
) -> crate::error::ApiResult<()> {
    let (os_user, uid) = os_user();
    let mut detail = json!({"origin": "cli", "os_user": os_user, "uid": uid, "command": action.command,
                            "targets": action.targets});
    if !made.is_empty() {
        detail["created"] = Value::Object(made);
    }
    if let Err(e) = outcome {
        // The error as the operator saw it: service errors carry no secret, nor do the CLI's own.
        detail["error"] = json!(e.to_string().chars().take(300).collect::<String>());
    }
    let route = format!("/cli/{}", action.command.replace(' ', "/"));
    let record = AuditRecord::for_operator(core.clock.now_ms(), route, outcome.is_ok(), detail);
    let key = core.audit_chain_key();
    core.store.append_audit(&[record], |prev, seq, r| key.link(prev, seq, r)).await?;
    Ok(())
}
