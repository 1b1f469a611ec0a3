//! `cofre ready`: the health probe of a container (the image's HEALTHCHECK). It asks this
//! configuration's own listener for `/ready` over loopback and succeeds only on 200, without
//! opening the store or reading any key, so it reports what a load balancer would see.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::CliResult;
use crate::config::{Config, TlsMode};

/// Longer than `/ready`'s own deadline for a write (2 s), shorter than the image's check timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn probe(config: &Config) -> CliResult {
    let scheme = if config.tls == TlsMode::Off { "http" } else { "https" };
    let url = format!("{scheme}://{}/ready", loopback(config.listen));
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The certificate names the vault as browsers reach it, not the loopback address the probe
    // dials; the probe sends nothing secret and only reads a status, so it does not check it.
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(PROBE_TIMEOUT)
        .build()
        .map_err(|e| format!("cofre ready: {e}"))?;
    let response = client.get(&url).send().await.map_err(|e| format!("{url}: {}", causes(&e)))?;
    let status = response.status();
    if status.is_success() {
        println!("ready ({url})");
        Ok(())
    } else {
        Err(format!("{url} answered {status}").into())
    }
}

/// An error with its causes: reqwest's own says only that sending failed.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Where a probe on this machine reaches `listen`: loopback when it listens on every address.
fn loopback(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_is_probed_on_loopback() {
        let at = |s: &str| s.parse::<SocketAddr>().expect("address");
        assert_eq!(loopback(at("0.0.0.0:8443")), at("127.0.0.1:8443"));
        assert_eq!(loopback(at("[::]:8443")), at("[::1]:8443"));
        assert_eq!(loopback(at("10.1.2.3:9000")), at("10.1.2.3:9000"));
    }
}
