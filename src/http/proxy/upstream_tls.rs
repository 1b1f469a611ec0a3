//! Verified TLS to devices, only at addresses `target_networks` allows. One rustls configuration
//! per distinct trust setting serves both the reqwest client (plain exchanges) and the WebSocket
//! connector, so both trust exactly the same roots; both are built once and cached, never per
//! request. Device names are resolved through the target policy, so a name is only ever
//! connected at an address it allows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::failure::UpstreamError;
use crate::domain::targets::{TargetNetworks, TargetRefused};

/// How long a TCP connection (and TLS handshake) to a device may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a device's certificate must chain to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum UpstreamTls {
    /// The operating system's trusted roots.
    #[default]
    Default,
    /// Only the certificates of this PEM bundle: the device's own CA, or its self-signed
    /// certificate itself (which pins it). The system roots are not trusted for such a device.
    Roots(Vec<u8>),
}

/// The clients for one trust setting.
#[derive(Clone)]
pub(super) struct TrustedClient {
    pub http: reqwest::Client,
    pub tls: Arc<rustls::ClientConfig>,
}

/// One [`TrustedClient`] per distinct [`UpstreamTls`], built on first use. Keep one for the
/// proxy's lifetime: connections to a device are pooled inside its client.
pub struct UpstreamClients {
    system_roots: Arc<RootCertStore>,
    by_trust: Mutex<HashMap<Option<[u8; 32]>, TrustedClient>>,
    targets: Arc<TargetNetworks>,
}

impl UpstreamClients {
    /// Loads the system roots once; unreadable ones are skipped (rustls-native-certs reports them
    /// per file), leaving devices with their own `Roots` unaffected.
    pub fn new(targets: TargetNetworks) -> Self {
        let mut system_roots = RootCertStore::empty();
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(%error, "proxy: a system root certificate could not be loaded");
        }
        system_roots.add_parsable_certificates(loaded.certs);
        let targets = Arc::new(targets);
        Self { system_roots: Arc::new(system_roots), by_trust: Mutex::new(HashMap::new()), targets }
    }

    /// The addresses of the device at `base` that may be connected to.
    pub(super) async fn addresses(&self, base: &Url) -> Result<Vec<std::net::SocketAddr>, UpstreamError> {
        let host = base.host_str().ok_or_else(|| UpstreamError::Connect("no host".into()))?;
        let port = base.port_or_known_default().ok_or_else(|| UpstreamError::Connect("no port".into()))?;
        self.targets.resolve(host, port).await.map_err(UpstreamError::from_target)
    }

    /// Checks an address literal, which reqwest connects to without asking its resolver; names
    /// are checked by the resolver, on every lookup reqwest makes.
    pub(super) fn admit(&self, base: &Url) -> Result<(), UpstreamError> {
        let host = base.host_str().unwrap_or_default();
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let Ok(ip) = bare.parse::<std::net::IpAddr>() else { return Ok(()) };
        let port = base.port_or_known_default().unwrap_or(0);
        self.targets.check(std::net::SocketAddr::new(ip, port)).map_err(UpstreamError::from_target)
    }

    pub(super) fn for_trust(&self, trust: &UpstreamTls) -> Result<TrustedClient, UpstreamError> {
        let key = match trust {
            UpstreamTls::Default => None,
            UpstreamTls::Roots(pem) => Some(Sha256::digest(pem).into()),
        };
        let mut cache = self.by_trust.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let roots = match trust {
            UpstreamTls::Default => Arc::clone(&self.system_roots),
            UpstreamTls::Roots(pem) => Arc::new(roots_from_pem(pem)?),
        };
        let client = build(roots, Arc::clone(&self.targets))?;
        cache.insert(key, client.clone());
        Ok(client)
    }
}

fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore, UpstreamError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UpstreamError::Trust(format!("unreadable PEM: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(UpstreamError::Trust("the PEM bundle holds no usable certificate".into()));
    }
    Ok(roots)
}

/// reqwest's resolver for device names: only the addresses the target policy allows. It does
/// not know the port, so an address any of cofre's listeners is bound to is refused outright:
/// a name can never lead back to cofre, however its answers change between lookups.
struct PolicyResolver(Arc<TargetNetworks>);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let targets = Arc::clone(&self.0);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| TargetRefused::Unresolved(host.clone()))?
                .filter(|a| targets.check_any_port(a.ip()).is_ok())
                .collect();
            if found.is_empty() {
                return Err(Box::new(TargetRefused::NoneAllowed(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

fn build(roots: Arc<RootCertStore>, targets: Arc<TargetNetworks>) -> Result<TrustedClient, UpstreamError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Trust(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // HTTP/1.1 only: WebSocket upgrades need it, and one protocol keeps the relay simple.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls.clone())
        .http1_only()
        // The engine relays redirects to the browser (rewritten); following them here would
        // carry the credential to wherever the device points.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment must not see the injected credential.
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .dns_resolver(Arc::new(PolicyResolver(targets)))
        .build()
        .map_err(|e| UpstreamError::Trust(e.to_string()))?;
    Ok(TrustedClient { http, tls: Arc::new(tls) })
}
