//! Discovery (`origin_certificate` SCAN): a TLS handshake with each `host:port`, trusting
//! nothing and sending nothing after it, records the certificate the endpoint presents, so
//! certificates nobody registered are monitored too. Each target has a bounded time; one that
//! never answers is reported, not waited for.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::imports::by_id;
use super::require_change;
use crate::crypto::x509::import::describe_chain;
use crate::domain::authorization::Caller;
use crate::domain::certificates::{Certificate, DEFAULT_RENEWAL_DAYS, NewCertificate, Origin};
use crate::domain::targets::TargetNetworks;
use crate::error::{ApiError, ApiResult};
use crate::service::Core;

/// The most targets one scan takes, and how many it handshakes with at once.
pub const MAX_TARGETS: usize = 64;
const PARALLEL: usize = 8;
/// Seconds each target may take (connect and handshake), unless the caller asks for 1 to 30.
pub const DEFAULT_TIMEOUT: u64 = 5;

pub struct ScanInput {
    pub targets: Vec<String>,
    pub timeout_seconds: Option<u64>,
}

/// What one target gave: the certificate recorded (and whether this scan found it first), or
/// why there was none.
pub struct Finding {
    pub target: String,
    pub outcome: Result<(Certificate, bool), String>,
    /// `target_networks` refused the target: cofre never connected.
    pub refused: bool,
}

/// Why a target had no certificate.
enum Miss {
    Refused(String),
    Failed(String),
}

/// `host:port` with a port from 1 to 65535; IPv6 hosts in brackets.
fn check_target(raw: &str) -> ApiResult<(String, u16, String)> {
    let target = raw.trim();
    let bad = || ApiError::bad_request(format!("Target {target:?} must be host:port with a port from 1 to 65535."));
    let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?;
    if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad());
    }
    Ok((host.to_owned(), port, target.to_owned()))
}

pub async fn scan(core: &Core, caller: &Caller, input: ScanInput) -> ApiResult<Vec<Finding>> {
    require_change(caller)?;
    if input.targets.is_empty() || input.targets.len() > MAX_TARGETS {
        return Err(ApiError::bad_request(format!(
            "Parameter 'targets' must list 1 to {MAX_TARGETS} host:port entries."
        )));
    }
    let timeout = match input.timeout_seconds {
        None => DEFAULT_TIMEOUT,
        Some(t @ 1..=30) => t,
        Some(_) => return Err(ApiError::bad_request("Parameter 'timeout' must be 1 to 30 seconds.")),
    };
    let targets = input.targets.iter().map(|t| check_target(t)).collect::<ApiResult<Vec<_>>>()?;
    let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut probes = tokio::task::JoinSet::new();
    for (index, (host, port, target)) in targets.into_iter().enumerate() {
        let (permits, policy) = (Arc::clone(&permits), core.targets.clone());
        probes.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let presented = tokio::time::timeout(Duration::from_secs(timeout), handshake(&policy, &host, port))
                .await
                .unwrap_or_else(|_| Err(Miss::Failed(format!("No answer within {timeout} seconds."))));
            (index, target, presented)
        });
    }
    let mut done = probes.join_all().await;
    done.sort_by_key(|(index, ..)| *index);
    let mut findings = Vec::with_capacity(done.len());
    for (_, target, presented) in done {
        let (outcome, refused) = match presented {
            Ok(chain) => (record(core, caller, chain).await, false),
            Err(Miss::Refused(why)) => (Err(why), true),
            Err(Miss::Failed(why)) => (Err(why), false),
        };
        findings.push(Finding { target, outcome, refused });
    }
    Ok(findings)
}

async fn record(core: &Core, caller: &Caller, chain: Vec<Vec<u8>>) -> Result<(Certificate, bool), String> {
    let d = describe_chain(&chain)?;
    let new = NewCertificate {
        uid: uuid::Uuid::now_v7().to_string(),
        application_id: caller.authorization.application_id,
        request_id: None,
        authority_id: None,
        origin: Origin::Scanned,
        fingerprint: d.fingerprint,
        self_signed: d.self_signed,
        serial: d.serial,
        organization: String::new(),
        key: None,
        auto_renew: false,
        renewal_days: DEFAULT_RENEWAL_DAYS,
        common_name: d.common_name,
        san: d.san,
        certificate_pem: d.certificate_pem,
        chain_pem: d.chain_pem,
        sealed_key: None,
        key_password_hash: None,
        revocation_hash: None,
        not_before: d.not_before,
        not_after: d.not_after,
        sign_reason: None,
        sign_justification: None,
        itsm_code: None,
    };
    let stored = core.store.insert_certificate(&new, core.now()).await;
    let (id, new) = stored.map_err(|e| ApiError::from(e).to_string())?;
    let certificate = by_id(core, caller.authorization.application_id, id).await.map_err(|e| e.to_string())?;
    Ok((certificate, new))
}

/// The certificates `host:port` presents in a TLS handshake, at an address `target_networks`
/// allows (a refused target is never connected to, so a scan cannot map what is closed to it).
async fn handshake(targets: &TargetNetworks, host: &str, port: u16) -> Result<Vec<Vec<u8>>, Miss> {
    let addresses = targets.resolve(host, port).await.map_err(|refused| {
        if refused.is_policy() {
            Miss::Refused(format!("Refused: cofre may not connect there ({refused})."))
        } else {
            Miss::Failed(format!("Connection failed: {refused}."))
        }
    })?;
    let failed = |why: String| Miss::Failed(why);
    let tcp =
        tokio::net::TcpStream::connect(&addresses[..]).await.map_err(|e| failed(format!("Connection failed: {e}.")))?;
    let name = ServerName::try_from(host.to_owned()).map_err(|_| failed(format!("{host:?} is not a host name.")))?;
    let tls = tokio_rustls::TlsConnector::from(accept_anything())
        .connect(name, tcp)
        .await
        .map_err(|e| failed(format!("TLS handshake failed: {e}.")))?;
    let (_, session) = tls.get_ref();
    let chain = session.peer_certificates().ok_or_else(|| failed("The endpoint presented no certificate.".into()))?;
    Ok(chain.iter().map(|c| c.to_vec()).collect())
}

/// A client that takes whatever certificate it is shown: discovery records it, trusts nothing.
fn accept_anything() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(RecordOnly(Arc::clone(&provider)));
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Arc::new(config)
    }))
}

/// Accepts any certificate (nothing is sent over the connection) but still checks the
/// handshake's signatures, so the endpoint holds the key of what it presented.
#[derive(Debug)]
struct RecordOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for RecordOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::check_target;

    #[test]
    fn targets_are_host_and_port() {
        assert_eq!(check_target(" shop.example.com:443 ").expect("ok").0, "shop.example.com");
        assert_eq!(check_target("[::1]:8443").expect("ok").0, "::1");
        for bad in ["shop.example.com", "host:0", "host:70000", ":443", "a b:443"] {
            assert!(check_target(bad).is_err(), "{bad}");
        }
    }
}
