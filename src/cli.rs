//! The command line: `serve` (the default), `init`, `migrate`, and the operator commands. They
//! share the server's configuration and call the same service functions as the admin API, so
//! they work while the server runs; each that changes state is audited (`operator_audit`).

pub mod backups;
pub mod certificates;
pub mod devices;
pub mod dispatch;
pub mod dsm;
pub mod integrity;
pub mod keys;
pub mod operator_audit;
pub mod ready;
pub mod run;
pub mod sessions;
pub mod users;

pub use certificates::{ActingAs, CaCommand, CertCommand};
pub use devices::{DeviceCommand, HostKeyAction};
pub use integrity::AuditCommand;
pub use keys::KeyCommand;
pub use sessions::SessionCommand;

use clap::{Args, Parser, Subcommand};

use crate::domain::authorization::Resource;

/// What every command answers: nothing, or an error printed for the operator.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(name = "cofre", version, about = "A self-hosted secrets vault, API-compatible with senhasegura")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (the default). On its first start, in an empty (or absent) data
    /// directory, it makes the vault: the master key and the database.
    Serve,
    /// Make a new vault (master key and database) where none is; refuses a store that has one.
    /// Every other command opens an existing vault and never makes one.
    Init,
    /// Apply database migrations and exit.
    Migrate,
    /// Exit 0 when the server this configuration describes answers /ready with 200 (its store
    /// takes a write): the container image's health check. Opens no store and reads no key.
    Ready,
    /// Applications and their authorizations.
    #[command(subcommand)]
    App(AppCommand),
    /// People who own MySafe items and draw dynamic tokens.
    #[command(subcommand)]
    User(UserCommand),
    /// Groups of users.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Named API tokens (static or dynamic).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write a consistent backup of the store to FILE while cofre serves; sealed whole, it
    /// opens only with this master key.
    Backup { file: std::path::PathBuf },
    /// Load a backup into an empty store, then check every count, sealed value and the audit
    /// chain.
    Restore {
        file: std::path::PathBuf,
        /// The master key the backup was made with, when a rotation has retired it (restore
        /// also finds it as `<key file>.retired-<id>`, where the rotation kept it); the data
        /// keys are re-wrapped under the current master key.
        #[arg(long)]
        key_file: Option<std::path::PathBuf>,
    },
    /// Move this installation to another (empty) store, e.g. from SQLite to PostgreSQL, ids,
    /// versions and the audit chain intact.
    MigrateStore {
        /// The target database URL (postgres://… or sqlite:…).
        #[arg(long)]
        to: String,
    },
    /// The master key and the data keys: rotation while cofre serves.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Domains that devices and credentials may name.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Password policies and automatic rotation.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The DevOps Secret Manager pipeline flow, as a client of a cofre server.
    #[command(subcommand)]
    Dsm(DsmCommand),
    /// Remote sessions: list, show, drop.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Devices: the SSH host key pinned for each.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Certificate authorities held in cofre.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Certificates of every application.
    #[command(subcommand)]
    Cert(CertCommand),
}

#[derive(Subcommand)]
pub enum DsmCommand {
    /// Register, fetch the secrets and write them in a CI tool's syntax.
    Run {
        #[command(flatten)]
        connection: dsm::Connection,
        #[arg(long, value_enum, default_value = "linux")]
        tool: dsm::Tool,
        #[arg(long, default_value = ".runb.vars")]
        output: std::path::PathBuf,
    },
    /// Register, fetch the secrets and run a command with them in its environment.
    Exec {
        #[command(flatten)]
        connection: dsm::Connection,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum DomainCommand {
    Create {
        #[arg(long)]
        name: String,
    },
    List,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Create a policy. Class minimums take a count, or -1 to leave the class out.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 24)]
        length: i64,
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        lowercase: i64,
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        uppercase: i64,
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        digits: i64,
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        symbols: i64,
        /// Characters never to use.
        #[arg(long, default_value = "")]
        exclude: String,
        /// For SSH keys: ed25519, rsa-2048, rsa-3072 or rsa-4096.
        #[arg(long, default_value = "ed25519")]
        key_algorithm: String,
        /// Rotate every this many seconds.
        #[arg(long)]
        rotation_interval: Option<i64>,
        /// Rotate when custody is released.
        #[arg(long)]
        rotate_after_custody: bool,
    },
    List,
    /// Apply a policy to a credential, a device or a tag (or remove it with --none).
    Assign {
        policy: Option<String>,
        #[arg(long, conflicts_with = "policy")]
        none: bool,
        #[arg(long)]
        credential: Option<String>,
        #[arg(long)]
        device: Option<String>,
        #[arg(long)]
        tag: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AppCommand {
    /// Create an application with one authorization; prints its secrets once.
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
    /// Link items to an application's authorizations, so it may see them (and, with --write,
    /// change, enable and disable them).
    Link {
        id: i64,
        #[command(flatten)]
        items: LinkItems,
        /// Also let the application change the items; without it a link grants reading only.
        #[arg(long)]
        write: bool,
    },
    /// Remove links made with `link`.
    Unlink {
        id: i64,
        #[command(flatten)]
        items: LinkItems,
    },
}

#[derive(Args)]
pub struct LinkItems {
    /// Protected-information id or identifier (repeatable).
    #[arg(long = "info")]
    pub info: Vec<String>,
    /// Credential or SSH key: id, identifier or username@hostname (repeatable).
    #[arg(long = "credential")]
    pub credential: Vec<String>,
    /// Device: id, identifier or hostname (repeatable).
    #[arg(long = "device")]
    pub device: Vec<String>,
}

#[derive(Args)]
pub struct CreateApp {
    #[arg(long)]
    pub name: String,
    /// Authorized resource (repeatable): pam, info, users, sessions, dsm, certificates,
    /// dashboards, mysafe, scim, admin.
    #[arg(long = "resource", required = true)]
    pub resources: Vec<Resource>,
    #[arg(long)]
    pub read_only: bool,
    /// Allowed source: IP, CIDR, range a.b.c.d-e.f.g.h or host name (repeatable); `*` (the
    /// default) allows any.
    #[arg(long = "ip")]
    pub ips: Vec<String>,
    /// Allowed HTTP referrer prefix (repeatable); none allows any.
    #[arg(long = "referer")]
    pub referers: Vec<String>,
    /// Expiry of the authorization, RFC 3339 (e.g. 2027-01-31T00:00:00Z).
    #[arg(long)]
    pub expires: Option<String>,
    /// Authentication methods, a comma list of oauth2 (the default), oauth1, aws.
    #[arg(long, default_value = "oauth2")]
    pub auth: String,
    /// OAuth 1: also accept unsigned requests carrying the consumer key and token.
    #[arg(long)]
    pub oauth1_unsigned: bool,
    /// The user the authorization acts as (a MySafe API key).
    #[arg(long)]
    pub owner: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; with --password-stdin the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        password_stdin: bool,
        /// Group to join (repeatable; the group must exist).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a new password, read from standard input.
    Password {
        username: String,
    },
    Disable {
        username: String,
    },
    Enable {
        username: String,
    },
}

#[derive(Subcommand)]
pub enum GroupCommand {
    Create {
        #[arg(long)]
        name: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add users to a group.
    Add { group: String, usernames: Vec<String> },
    /// Remove users from a group.
    Remove { group: String, usernames: Vec<String> },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; a static token's value is printed once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// RESOURCE:read or RESOURCE:write (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Allowed source: IP, CIDR, range or host name (repeatable).
        #[arg(long = "ip")]
        ips: Vec<String>,
        /// Valid until (RFC 3339); never expires when absent.
        #[arg(long)]
        expires: Option<String>,
        /// static (the default) or dynamic.
        #[arg(long = "type", default_value = "static")]
        kind: String,
        /// For dynamic tokens: the user who draws values with /api/get_auth_token.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a token's lifetime: --expires RFC3339, or --never.
    Update {
        token: String,
        #[arg(long, conflicts_with = "never")]
        expires: Option<String>,
        #[arg(long)]
        never: bool,
    },
    /// Give a static token a new value; the old one stops working at once.
    Regenerate {
        token: String,
        #[arg(long)]
        json: bool,
    },
    Delete {
        token: String,
    },
}
