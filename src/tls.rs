//! HTTPS by default: a configured certificate, or a self-signed one generated on first start.

use std::path::{Path, PathBuf};

use axum_server::tls_rustls::RustlsConfig;

use crate::config::{Config, TlsMode};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS: {path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
}

/// `None` when TLS is off.
pub async fn server_config(config: &Config) -> Result<Option<RustlsConfig>, TlsError> {
    let (cert, key) = match config.tls {
        TlsMode::Off => return Ok(None),
        TlsMode::Files => {
            (config.tls_cert_file.clone().unwrap_or_default(), config.tls_key_file.clone().unwrap_or_default())
        }
        TlsMode::SelfSigned => {
            // The sessions' own hosts (`s-<id>.sessions.localhost`, or under the configured wildcard).
            let mut names = config.tls_sans.clone();
            names.push(config.session_origins().wildcard_host());
            ensure_self_signed(&config.data_dir.join("tls"), &names)?
        }
    };
    let loaded = RustlsConfig::from_pem_file(&cert, &key).await.map_err(|cause| TlsError::Io { path: cert, cause })?;
    Ok(Some(loaded))
}

/// Makes the self-signed certificate now, when that is the mode (`cofre init`: what the first
/// start would make).
pub fn prepare(config: &Config) -> Result<(), TlsError> {
    if config.tls == TlsMode::SelfSigned {
        ensure_self_signed(&config.data_dir.join("tls"), &config.tls_sans)?;
    }
    Ok(())
}

/// Creates `cert.pem` and `key.pem` (0600) for localhost, 127.0.0.1, ::1 and `extra` names,
/// unless they exist and cover every name; returns their paths.
fn ensure_self_signed(dir: &Path, extra: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if key_path.exists() && std::fs::read(&cert_path).is_ok_and(|pem| covers(&pem, extra)) {
        return Ok((cert_path, key_path));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |cause| TlsError::Io { path, cause }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    names.extend(extra.iter().filter(|n| !names.contains(n)).cloned().collect::<Vec<_>>());
    let generated = rcgen::generate_simple_self_signed(names)?;
    write_private(&key_path, generated.signing_key.serialize_pem().as_bytes()).map_err(io(&key_path))?;
    std::fs::write(&cert_path, generated.cert.pem()).map_err(io(&cert_path))?;
    eprintln!(
        "cofre: generated a self-signed TLS certificate at {} (trust it with SSL_CERT_FILE or curl --cacert)",
        cert_path.display()
    );
    Ok((cert_path, key_path))
}

/// Whether a generated certificate names every one of `names` (one made before a name was
/// added, such as the sessions' wildcard, is generated again).
fn covers(pem: &[u8], names: &[String]) -> bool {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok(block) = ::pem::parse(pem) else { return false };
    let Ok((_, cert)) = X509Certificate::from_der(block.contents()) else { return false };
    let Ok(Some(san)) = cert.subject_alternative_name() else { return false };
    let listed: Vec<&str> = san
        .value
        .general_names
        .iter()
        .filter_map(|n| if let GeneralName::DNSName(d) = n { Some(*d) } else { None })
        .collect();
    names.iter().filter(|n| n.parse::<std::net::IpAddr>().is_err()).all(|n| listed.contains(&n.as_str()))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
