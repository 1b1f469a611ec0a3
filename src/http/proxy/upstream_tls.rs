//! Verified TLS to devices, only at addresses `target_networks` allows. One rustls configuration
//! per distinct trust setting (and, for a device reached at its address, per device) serves both
//! the reqwest client (plain exchanges) and the WebSocket connector, so both trust exactly the
//! same roots and names; both are built once and cached, never per request. Device names are
//! resolved through the target policy, so a name is only ever connected at an address it allows;
//! a device's address (its `ip`) is checked by the same policy before any connection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::Upstream;
use super::device_names::DeviceNames;
use super::failure::UpstreamError;
use crate::domain::sessions::failure::FailureCause;
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

/// How one exchange reaches its device: the client to use, and the addresses to connect to when
/// the device is reached at its address rather than through its name.
pub(super) struct Route {
    pub trusted: TrustedClient,
    /// None: `base`'s host is connected to as it is (an address literal, or a name resolved
    /// through the policy).
    pub addresses: Option<Vec<SocketAddr>>,
}

/// A device reached at its address under its name: the name (`base`'s host, in SNI, `Host` and
/// the certificate check), the allowed addresses it stands for, and the address as the
/// certificate may also name it.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Pinned {
    name: String,
    addresses: Vec<SocketAddr>,
    address: String,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    trust: Option<[u8; 32]>,
    pinned: Option<Pinned>,
}

/// Clients kept at most: one per trust setting, plus one per device reached at its address. Past
/// this the cache starts over (a client in use lives on in its exchange).
const MAX_CLIENTS: usize = 256;

/// One [`TrustedClient`] per distinct [`UpstreamTls`] (and pinned device), built on first use.
/// Keep one for the proxy's lifetime: connections to a device are pooled inside its client.
pub struct UpstreamClients {
    system_roots: Arc<RootCertStore>,
    by_key: Mutex<HashMap<ClientKey, TrustedClient>>,
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
        Self { system_roots: Arc::new(system_roots), by_key: Mutex::new(HashMap::new()), targets }
    }

    /// How to reach `upstream`: at its `address` when that is not `base`'s host (each address
    /// checked against the policy, with its port), otherwise at `base`'s host.
    pub(super) async fn route(&self, upstream: &Upstream) -> Result<Route, UpstreamError> {
        let base = &upstream.base;
        let name = base.host_str().map(bare).ok_or_else(|| no_address("no host"))?;
        let address = upstream.address.as_deref().map(bare).filter(|a| !same_host(a, name));
        let Some(address) = address else {
            self.admit(base)?;
            return Ok(Route { trusted: self.client(&upstream.tls, None)?, addresses: None });
        };
        let port = base.port_or_known_default().ok_or_else(|| no_address("no port"))?;
        let addresses = self.targets.resolve(address, port).await.map_err(UpstreamError::from_target)?;
        let pinned = Pinned { name: name.to_owned(), addresses: addresses.clone(), address: address.to_owned() };
        Ok(Route { trusted: self.client(&upstream.tls, Some(pinned))?, addresses: Some(addresses) })
    }

    /// The addresses of the device at `base` that may be connected to.
    pub(super) async fn addresses(&self, base: &Url) -> Result<Vec<SocketAddr>, UpstreamError> {
        let host = base.host_str().ok_or_else(|| no_address("no host"))?;
        let port = base.port_or_known_default().ok_or_else(|| no_address("no port"))?;
        self.targets.resolve(host, port).await.map_err(UpstreamError::from_target)
    }

    /// Checks an address literal, which reqwest connects to without asking its resolver; names
    /// are checked by the resolver, on every lookup reqwest makes.
    fn admit(&self, base: &Url) -> Result<(), UpstreamError> {
        let host = bare(base.host_str().unwrap_or_default());
        let Ok(ip) = host.parse::<IpAddr>() else { return Ok(()) };
        let port = base.port_or_known_default().unwrap_or(0);
        self.targets.check(SocketAddr::new(ip, port)).map_err(UpstreamError::from_target)
    }

    fn client(&self, trust: &UpstreamTls, pinned: Option<Pinned>) -> Result<TrustedClient, UpstreamError> {
        let key = ClientKey {
            trust: match trust {
                UpstreamTls::Default => None,
                UpstreamTls::Roots(pem) => Some(Sha256::digest(pem).into()),
            },
            pinned,
        };
        let mut cache = self.by_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let roots = match trust {
            UpstreamTls::Default => Arc::clone(&self.system_roots),
            UpstreamTls::Roots(pem) => Arc::new(roots_from_pem(pem)?),
        };
        let client = build(roots, Arc::clone(&self.targets), key.pinned.as_ref())?;
        if cache.len() >= MAX_CLIENTS {
            cache.clear();
        }
        cache.insert(key, client.clone());
        Ok(client)
    }
}

/// A host without the brackets of an IPv6 literal.
fn bare(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// Whether two hosts are one: the same name, or the same address however written.
fn same_host(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => crate::domain::network::canonical(a) == crate::domain::network::canonical(b),
        _ => a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.')),
    }
}

fn no_address(detail: &str) -> UpstreamError {
    UpstreamError::Connect { cause: FailureCause::Unreachable, detail: detail.to_owned() }
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

fn build(
    roots: Arc<RootCertStore>,
    targets: Arc<TargetNetworks>,
    pinned: Option<&Pinned>,
) -> Result<TrustedClient, UpstreamError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Trust(e.to_string()))?;
    let also_named = pinned.and_then(|p| ServerName::try_from(p.address.clone()).ok());
    let mut tls = match also_named {
        Some(address) => {
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| UpstreamError::Trust(e.to_string()))?;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(DeviceNames::new(webpki, address)))
        }
        None => builder.with_root_certificates(roots),
    }
    .with_no_client_auth();
    // HTTP/1.1 only: WebSocket upgrades need it, and one protocol keeps the relay simple.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut http = reqwest::Client::builder()
        .use_preconfigured_tls(tls.clone())
        .http1_only()
        // The engine relays redirects to the browser (rewritten); following them here would
        // carry the credential to wherever the device points.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment must not see the injected credential.
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .dns_resolver(Arc::new(PolicyResolver(targets)));
    if let Some(pinned) = pinned {
        // The device's name stands for its checked addresses: no lookup of the name is made.
        http = http.resolve_to_addrs(&pinned.name, &pinned.addresses);
    }
    let http = http.build().map_err(|e| UpstreamError::Trust(e.to_string()))?;
    Ok(TrustedClient { http, tls: Arc::new(tls) })
}
