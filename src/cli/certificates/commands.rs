//! The words of `cofre ca …` and `cofre cert …`.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum CaCommand {
    /// Make a root authority, or an intermediate with `--parent`.
    Create {
        name: String,
        /// ECDSA-P256, ECDSA-P384, RSA-2048, RSA-3072 or RSA-4096.
        #[arg(long, default_value = "ECDSA-P256")]
        key_type: String,
        #[arg(long, default_value_t = 3650)]
        validity_days: i64,
        /// The parent authority's id or name.
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every authority.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Write an authority's certificate chain (PEM) to stdout.
    Show { key: String },
    /// Bring in an existing authority with its key (PEM files); an encrypted key's password on stdin.
    Import {
        name: String,
        #[arg(long)]
        certificate: std::path::PathBuf,
        #[arg(long)]
        key: std::path::PathBuf,
        /// The authority held in cofre that signed this one.
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Acting for an application: the authorization whose rules (resources, read-only) apply.
#[derive(clap::Args)]
pub struct ActingAs {
    /// The authorization id to act as (`cofre app list` shows them).
    #[arg(long)]
    pub authorization: i64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum CertCommand {
    /// Certificates, oldest first; `--status` 1 valid, 2 revoked, 3 renewal pending, 4 expired.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One certificate and its chain (PEM), or its details with `--json`; never its key.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Import a PEM, DER or PKCS#12 file; a PKCS#12 (or encrypted key) password is read from stdin.
    Import {
        #[command(flatten)]
        who: ActingAs,
        file: std::path::PathBuf,
        /// PEM, DER or PKCS12 (found from the content when not given).
        #[arg(long)]
        format: Option<String>,
        /// A separate private key file (PEM).
        #[arg(long)]
        key: Option<std::path::PathBuf>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Request a certificate: cofre makes the key pair and the CSR.
    Request {
        #[command(flatten)]
        who: ActingAs,
        code: String,
        #[arg(long)]
        common_name: String,
        #[arg(long)]
        organization: String,
        /// DNS names and IP addresses (repeat, or comma-separated).
        #[arg(long, value_delimiter = ',')]
        san: Vec<String>,
        /// RSA or ECDSA.
        #[arg(long, default_value = "ECDSA")]
        encryption: String,
        /// 2048, 3072 or 4096 for RSA; 256 or 384 for ECDSA.
        #[arg(long, default_value = "256")]
        key_size: String,
        #[arg(long, default_value = "SHA256")]
        algorithm: String,
        /// Days.
        #[arg(long, default_value = "90")]
        validity: String,
        /// SING, MULT or WILD.
        #[arg(long, default_value = "MULT")]
        domain_type: String,
        /// 1 DV, 2 OV, 3 EV.
        #[arg(long, default_value = "1")]
        certificate_type: String,
        /// Read the key password (needed to export the key later) from stdin.
        #[arg(long)]
        key_password_stdin: bool,
    },
    /// Sign a request: with `--ca` (an authority in cofre) or `--self-signed`.
    Sign {
        #[command(flatten)]
        who: ActingAs,
        code: String,
        #[arg(long)]
        ca: Option<String>,
        #[arg(long)]
        self_signed: bool,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        justification: Option<String>,
        #[arg(long)]
        auto_renew: bool,
        #[arg(long)]
        renewal_days: Option<i64>,
    },
    /// Revoke a certificate; its revocation password, if it has one, is read from stdin.
    Revoke {
        #[command(flatten)]
        who: ActingAs,
        id: i64,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Write a certificate, its chain and its key encrypted (PKCS#8) under the key password read from stdin.
    Export {
        #[command(flatten)]
        who: ActingAs,
        id: i64,
    },
    /// Record the certificates that host:port endpoints present in a TLS handshake.
    Scan {
        #[command(flatten)]
        who: ActingAs,
        #[arg(required = true)]
        targets: Vec<String>,
        /// Seconds per target, 1 to 30.
        #[arg(long)]
        timeout: Option<u64>,
    },
}
