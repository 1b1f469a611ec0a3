//! What each operator command does: parse its words, call the service, print.

use std::io::Read;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::{AppCommand, CliResult, CreateApp, DomainCommand, LinkItems, PolicyCommand, TokenCommand};
use crate::domain::authorization::{Access, ItemKind, Resources, Scopes};
use crate::domain::network::IpAllowList;
use crate::domain::pam::Policy;
use crate::service::Core;
use crate::service::admin::apps::{self, AuthMethods, NewApplication};
use crate::service::auth::api_tokens::{self, NewToken};
use crate::service::pam::devices;
use crate::service::pam::policies;

/// `cofre dsm …`: a client of a cofre server, so no store is opened.
pub async fn run_dsm(command: super::DsmCommand) -> CliResult {
    match command {
        super::DsmCommand::Run { connection, tool, output } => super::dsm::run(connection, tool, output).await,
        super::DsmCommand::Exec { connection, command } => super::dsm::exec(connection, command).await,
    }
}

fn rfc3339(flag: &str, value: &str) -> Result<i64, String> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| format!("{flag} {value:?}: {e}"))
}

fn format_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// A secret from standard input, without its trailing newline.
pub(super) fn secret_from_stdin() -> Result<Zeroizing<String>, std::io::Error> {
    let mut text = Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut text)?;
    Ok(Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned()))
}

pub(super) fn print(json_out: bool, value: &Value, text: impl FnOnce() -> String) {
    if json_out { println!("{value}") } else { println!("{}", text()) }
}

async fn create_app(core: &Core, args: CreateApp) -> CliResult {
    let new = NewApplication {
        name: args.name,
        resources: args.resources.into_iter().collect::<Resources>(),
        read_only: args.read_only,
        allowed_ips: IpAllowList::parse(args.ips.iter().map(String::as_str)).map_err(|e| format!("--ip: {e}"))?,
        allowed_referers: args.referers,
        expires_at: args.expires.as_deref().map(|s| rfc3339("--expires", s)).transpose()?,
        methods: AuthMethods::parse_list(&args.auth).map_err(|e| format!("--auth: {e}"))?,
        oauth1_unsigned: args.oauth1_unsigned,
        owner: args.owner,
    };
    let created = apps::create_application(core, new).await?;
    created_ids(&[("application_id", created.application_id), ("authorization_id", created.authorization_id)]);
    let out = created.to_json();
    if args.json {
        println!("{out}");
    } else {
        for (key, value) in out.as_object().into_iter().flatten() {
            println!("{key:<18} {}", value.as_str().unwrap_or_default());
        }
        eprintln!("The secrets are shown only now; cofre keeps only what it needs to verify them.");
    }
    Ok(())
}

pub(super) async fn app(core: &Core, cmd: AppCommand) -> CliResult {
    match cmd {
        AppCommand::Create(args) => create_app(core, args).await?,
        AppCommand::List { json } => {
            for app in apps::list_applications(core).await? {
                for z in &app.authorizations {
                    let line = json!({
                        "application_id": app.id.to_string(),
                        "name": app.name,
                        "enabled": app.enabled,
                        "auth_methods": app.auth_methods,
                        "authorization_id": z.id.to_string(),
                        "client_id": z.client_id,
                        "authorization_enabled": z.enabled,
                        "resources": z.resources.to_stored(),
                        "read_only": z.read_only,
                        "allowed_ips": z.allowed_ips.to_stored(),
                        "expires_at": z.expires_at.map(format_time),
                    });
                    print(json, &line, || {
                        let state = if app.enabled { "enabled" } else { "disabled" };
                        let ro = if z.read_only { " (read-only)" } else { "" };
                        format!("{}\t{}\t{state}\t{}\t{}{ro}", app.id, app.name, z.client_id, z.resources.to_stored())
                    });
                }
            }
        }
        AppCommand::Disable { id } => {
            apps::set_application_enabled(core, id, false).await?;
            println!("application {id} disabled");
        }
        AppCommand::Enable { id } => {
            apps::set_application_enabled(core, id, true).await?;
            println!("application {id} enabled");
        }
        AppCommand::Link { id, items, write } => {
            link(core, id, items, Some(if write { Access::Write } else { Access::Read })).await?;
        }
        AppCommand::Unlink { id, items } => link(core, id, items, None).await?,
    }
    Ok(())
}

async fn link(core: &Core, id: i64, items: LinkItems, access: Option<Access>) -> CliResult {
    let all: Vec<(ItemKind, String)> = items
        .info
        .into_iter()
        .map(|k| (ItemKind::Info, k))
        .chain(items.credential.into_iter().map(|k| (ItemKind::Credential, k)))
        .chain(items.device.into_iter().map(|k| (ItemKind::Device, k)))
        .collect();
    if all.is_empty() {
        return Err(format!("name at least one item for application {id} (--info, --credential or --device)").into());
    }
    for (kind, key) in all {
        let item = apps::set_link(core, id, kind, &key, access).await?;
        let verb = match access {
            Some(Access::Read) => "linked (read)",
            Some(Access::Write) => "linked (read and write)",
            None => "unlinked",
        };
        println!("{verb} {} {item} for application {id}", kind.as_str());
    }
    Ok(())
}

pub(super) async fn token(core: &Core, cmd: TokenCommand) -> CliResult {
    match cmd {
        TokenCommand::Create { name, description, scopes, ips, expires, kind, user, json } => {
            let new = NewToken {
                name,
                description,
                kind: kind.parse().map_err(|e| format!("--type: {e}"))?,
                scopes: Scopes::parse_list(&scopes.join(",")).map_err(|e| format!("--scope: {e}"))?,
                allowed_ips: IpAllowList::parse(ips.iter().map(String::as_str)).map_err(|e| format!("--ip: {e}"))?,
                expires_at: expires.as_deref().map(|s| rfc3339("--expires", s)).transpose()?,
                user,
            };
            let created = api_tokens::create(core, new).await?;
            created_ids(&[("token_id", created.token_id)]);
            let value = created.token.as_ref().map(|t| t.as_str());
            let out = json!({"token_id": created.token_id.to_string(), "token": value});
            print(json, &out, || match value {
                Some(v) => format!("token {} created; its value, shown only now:\n{v}", created.token_id),
                None => format!("dynamic token {} created; draw values with /api/get_auth_token", created.token_id),
            });
        }
        TokenCommand::List { json } => {
            for t in api_tokens::list(core).await? {
                let line = json!({"token_id": t.row.id.to_string(), "name": t.row.name, "type": t.row.kind,
                                  "scope": t.scopes, "allowed_ips": t.allowed_ips,
                                  "expires_at": t.expires_at.map(format_time), "enabled": t.enabled});
                print(json, &line, || {
                    format!(
                        "{}\t{}\t{}\t{}\t{}",
                        t.row.id,
                        t.row.name,
                        t.row.kind,
                        t.scopes,
                        t.expires_at.map_or_else(|| "never".into(), format_time)
                    )
                });
            }
        }
        TokenCommand::Update { token, expires, never } => {
            let expires_at = match (expires, never) {
                (Some(s), false) => Some(rfc3339("--expires", &s)?),
                (None, true) => None,
                _ => return Err("give --expires RFC3339 or --never".into()),
            };
            api_tokens::set_expiry(core, &token, expires_at).await?;
            println!("token {token} updated");
        }
        TokenCommand::Regenerate { token, json } => {
            let value = api_tokens::regenerate(core, &token).await?;
            let out = json!({"token": value.as_str()});
            print(json, &out, || format!("new value, shown only now:\n{}", value.as_str()));
        }
        TokenCommand::Delete { token } => {
            api_tokens::delete(core, &token).await?;
            println!("token {token} deleted");
        }
    }
    Ok(())
}

pub(super) async fn domain(core: &Core, cmd: DomainCommand) -> CliResult {
    match cmd {
        DomainCommand::Create { name } => {
            devices::create_domain(core, &name).await?;
            println!("domain {} registered", name.trim());
        }
        DomainCommand::List => {
            for name in devices::domains(core).await? {
                println!("{name}");
            }
        }
    }
    Ok(())
}

pub(super) async fn policy(core: &Core, cmd: PolicyCommand) -> CliResult {
    match cmd {
        PolicyCommand::Create {
            name,
            length,
            lowercase,
            uppercase,
            digits,
            symbols,
            exclude,
            key_algorithm,
            rotation_interval,
            rotate_after_custody,
        } => {
            let created = policies::create(
                core,
                Policy {
                    id: 0,
                    name,
                    length,
                    lowercase,
                    uppercase,
                    digits,
                    symbols,
                    exclude,
                    key_algorithm,
                    rotation_interval,
                    rotate_after_custody,
                },
            )
            .await?;
            created_ids(&[("policy_id", created.id)]);
            println!("policy {} created (id {})", created.name, created.id);
        }
        PolicyCommand::List => {
            for p in policies::list(core).await? {
                let every = p.rotation_interval.map_or_else(|| "no schedule".to_owned(), |i| format!("every {i} s"));
                println!("{}\t{}\tlength {}\t{}\t{}", p.id, p.name, p.length, p.key_algorithm, every);
            }
        }
        PolicyCommand::Assign { policy, none, credential, device, tag } => {
            let chosen = if none { None } else { Some(policy.ok_or("name a policy, or --none")?) };
            let (kind, target) = match (credential, device, tag) {
                (Some(c), None, None) => ("credential", c),
                (None, Some(d), None) => ("device", d),
                (None, None, Some(t)) => ("tag", t),
                _ => return Err("give exactly one of --credential, --device, --tag".into()),
            };
            policies::assign(core, chosen.as_deref(), kind, &target).await?;
            println!("policy assignment for {kind} {target} updated");
        }
    }
    Ok(())
}

pub(super) async fn audit_tail(core: &Core, lines: i64, json: bool) -> CliResult {
    for r in core.recent_audit(lines.clamp(1, 10_000)).await? {
        let value = serde_json::to_value(&r)?;
        print(json, &value, || {
            let who = match r.authorization_id {
                Some(id) => format!("authorization {id}"),
                None => operator_of(&r).unwrap_or_else(|| "anonymous".to_owned()),
            };
            format!(
                "{} {} {} {who} {} {} {} {} {}",
                format_time(r.at_ms / 1000),
                r.request_id,
                r.client_ip,
                r.method,
                r.route,
                r.status,
                r.outcome,
                r.detail
            )
        });
    }
    Ok(())
}

/// `cli:USER` for an operator's record (`operator_audit`).
fn operator_of(r: &crate::domain::audit::AuditRecord) -> Option<String> {
    let detail: Value = serde_json::from_str(&r.detail).ok().filter(|_| r.method == "CLI")?;
    Some(format!("cli:{}", detail["os_user"].as_str()?))
}

/// What a command made, for its audit record.
pub(super) fn created_ids(ids: &[(&str, i64)]) {
    for (name, id) in ids {
        super::operator_audit::created(name, *id);
    }
}
