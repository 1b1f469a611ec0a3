//! The command line: `serve` (the default), `migrate`, and the operator commands. They share the
//! server's configuration and call the same service functions as the API, so they work while
//! the server runs.

use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::authorization::{Resource, Resources};
use crate::domain::network::IpAllowList;
use crate::service::Core;
use crate::service::apps::{self, NewApplication};

#[derive(Parser)]
#[command(name = "cofre", version, about = "A self-hosted secrets vault, API-compatible with senhasegura")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Applications and their authorizations.
    #[command(subcommand)]
    App(AppCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
pub enum AppCommand {
    /// Create an application with one authorization; prints its client secret once.
    Create(CreateApp),
    /// List applications and their authorizations.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an application: its tokens stop working at once.
    Disable { id: i64 },
    /// Enable a disabled application.
    Enable { id: i64 },
    /// Link items to an application's authorizations.
    Link {
        id: i64,
        /// Protected-information id or identifier (repeatable).
        #[arg(long = "info")]
        info: Vec<String>,
    },
}

#[derive(Args)]
pub struct CreateApp {
    #[arg(long)]
    name: String,
    /// Authorized resource (repeatable): pam, info, users, sessions, dsm, certificates,
    /// dashboards, mysafe, scim, admin.
    #[arg(long = "resource", required = true)]
    resources: Vec<Resource>,
    #[arg(long)]
    read_only: bool,
    /// Allowed source IP or CIDR (repeatable); `*` (the default) allows any.
    #[arg(long = "ip")]
    ips: Vec<String>,
    /// Allowed HTTP referrer prefix (repeatable); none allows any.
    #[arg(long = "referer")]
    referers: Vec<String>,
    /// Expiry of the authorization, RFC 3339 (e.g. 2027-01-31T00:00:00Z).
    #[arg(long)]
    expires: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Print the most recent records, oldest first.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: i64,
        #[arg(long)]
        json: bool,
    },
}

pub type CliResult = Result<(), Box<dyn std::error::Error>>;

pub async fn run_operator_command(config: Config, command: Command) -> CliResult {
    let core = Core::open(config, Arc::new(SystemClock)).await?;
    let result = match command {
        Command::Serve => Ok(()),
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::App(cmd) => app_command(&core, cmd).await,
        Command::Audit(AuditCommand::Tail { lines, json }) => audit_tail(&core, lines, json).await,
    };
    core.store.close().await;
    result
}

async fn app_command(core: &Core, cmd: AppCommand) -> CliResult {
    match cmd {
        AppCommand::Create(args) => {
            let expires_at = match &args.expires {
                Some(s) => Some(
                    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("--expires {s:?}: {e}"))?.unix_timestamp(),
                ),
                None => None,
            };
            let new = NewApplication {
                name: args.name,
                resources: args.resources.into_iter().collect::<Resources>(),
                read_only: args.read_only,
                allowed_ips: IpAllowList::parse(args.ips.iter().map(String::as_str))
                    .map_err(|e| format!("--ip: {e}"))?,
                allowed_referers: args.referers,
                expires_at,
            };
            let created = apps::create_application(core, new).await?;
            if args.json {
                let out = json!({
                    "application_id": created.application_id.to_string(),
                    "authorization_id": created.authorization_id.to_string(),
                    "client_id": created.client_id,
                    "client_secret": created.client_secret.as_str(),
                });
                println!("{out}");
            } else {
                println!("application_id:   {}", created.application_id);
                println!("authorization_id: {}", created.authorization_id);
                println!("client_id:        {}", created.client_id);
                println!("client_secret:    {}", created.client_secret.as_str());
                eprintln!("The client secret is shown only now; cofre keeps only a hash of it.");
            }
        }
        AppCommand::List { json } => {
            for app in apps::list_applications(core).await? {
                for z in &app.authorizations {
                    let line = json!({
                        "application_id": app.id.to_string(),
                        "name": app.name,
                        "enabled": app.enabled,
                        "authorization_id": z.id.to_string(),
                        "client_id": z.client_id,
                        "authorization_enabled": z.enabled,
                        "resources": z.resources.to_stored(),
                        "read_only": z.read_only,
                        "allowed_ips": z.allowed_ips.to_stored(),
                        "expires_at": z.expires_at.map(format_time),
                    });
                    if json {
                        println!("{line}");
                    } else {
                        println!(
                            "{}\t{}\t{}\t{}\t{}{}",
                            app.id,
                            app.name,
                            if app.enabled { "enabled" } else { "disabled" },
                            z.client_id,
                            z.resources.to_stored(),
                            if z.read_only { " (read-only)" } else { "" }
                        );
                    }
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
        AppCommand::Link { id, info } => {
            if info.is_empty() {
                return Err("name at least one item to link (--info ID)".into());
            }
            for key in info {
                let item = apps::link_info(core, id, &key).await?;
                println!("linked protected information {item} to application {id}");
            }
        }
    }
    Ok(())
}

async fn audit_tail(core: &Core, lines: i64, json: bool) -> CliResult {
    for r in core.store.recent_audit(lines.clamp(1, 10_000)).await? {
        if json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            let who = r.authorization_id.map_or_else(|| "anonymous".to_owned(), |id| format!("authorization {id}"));
            println!(
                "{} {} {} {} {} {} {} {} {}",
                format_time(r.at_ms / 1000),
                r.request_id,
                r.client_ip,
                who,
                r.method,
                r.route,
                r.status,
                r.outcome,
                r.detail
            );
        }
    }
    Ok(())
}

fn format_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}
