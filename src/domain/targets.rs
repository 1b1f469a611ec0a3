//! Where cofre may connect on a caller's behalf (`target_networks`): the web proxy, the SSH
//! gateway, certificate discovery and publication all ask here before they connect, so a device
//! row or a scan target cannot turn cofre into a way into its own host (its loopback-only
//! `/metrics`, its API from 127.0.0.1) or the cloud's link-local metadata service.
//!
//! With no `target_networks` configured, every address is allowed except loopback, link-local
//! and unspecified ones. Configured, only the listed CIDRs are. Either way, cofre's own
//! listeners are never a target.

use std::net::{IpAddr, SocketAddr};

use super::network::{IpRule, canonical};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefused {
    #[error("{0} is not in target_networks")]
    Outside(IpAddr),
    #[error("{0} is one of cofre's own listeners")]
    Own(SocketAddr),
    #[error("no address of {0} is in target_networks")]
    NoneAllowed(String),
    #[error("the name {0} could not be resolved")]
    Unresolved(String),
}

impl TargetRefused {
    /// Whether the policy refused (rather than the name not resolving).
    pub fn is_policy(&self) -> bool {
        !matches!(self, Self::Unresolved(_))
    }
}

#[derive(Clone, Debug, Default)]
pub struct TargetNetworks {
    /// Empty: the default rule.
    allowed: Vec<IpRule>,
    /// The addresses cofre itself listens on.
    own: Vec<SocketAddr>,
}

impl TargetNetworks {
    pub fn new(allowed: Vec<IpRule>, own: Vec<SocketAddr>) -> Self {
        Self { allowed, own }
    }

    /// Whether cofre may connect to `addr`.
    pub fn check(&self, addr: SocketAddr) -> Result<(), TargetRefused> {
        let ip = canonical(addr.ip());
        if self.is_own(ip, addr.port()) {
            return Err(TargetRefused::Own(addr));
        }
        let allowed = if self.allowed.is_empty() {
            !(ip.is_loopback() || ip.is_unspecified() || is_link_local(ip))
        } else {
            self.allowed.iter().any(|rule| rule.contains(ip))
        };
        if allowed { Ok(()) } else { Err(TargetRefused::Outside(ip)) }
    }

    /// The addresses of `host` cofre may connect to, in the resolver's order; an address literal
    /// (IPv6 with or without brackets) is checked as it is. Connect to these, never to the name,
    /// so a second lookup cannot answer differently.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, TargetRefused> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let addr = SocketAddr::new(ip, port);
            return self.check(addr).map(|()| vec![addr]);
        }
        let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| TargetRefused::Unresolved(bare.to_owned()))?
            .collect();
        if found.is_empty() {
            return Err(TargetRefused::Unresolved(bare.to_owned()));
        }
        let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| self.check(*a).is_ok()).collect();
        match (allowed.is_empty(), found.as_slice()) {
            (false, _) => Ok(allowed),
            (true, [only]) => Err(self.check(*only).err().unwrap_or(TargetRefused::NoneAllowed(bare.to_owned()))),
            (true, _) => Err(TargetRefused::NoneAllowed(bare.to_owned())),
        }
    }

    /// The policy's verdict on `host` (a name that does not resolve is not refused here: the
    /// connection will fail and say so).
    pub async fn refuses(&self, host: &str, port: u16) -> Option<TargetRefused> {
        self.resolve(host, port).await.err().filter(TargetRefused::is_policy)
    }

    /// The first refusal among several names for one device (its IP and its host name, either of
    /// which a tool acting for cofre may use).
    pub async fn refuses_any(&self, hosts: &[&str], port: u16) -> Option<TargetRefused> {
        for host in hosts.iter().filter(|h| !h.is_empty()) {
            if let Some(refused) = self.refuses(host, port).await {
                return Some(refused);
            }
        }
        None
    }

    /// Whether cofre may connect to `ip` on a port not known here (a resolver's answer for a
    /// name): the policy, and no address any of cofre's listeners is bound to, whatever the port.
    pub fn check_any_port(&self, ip: IpAddr) -> Result<(), TargetRefused> {
        let ip = canonical(ip);
        let own = self.own.iter().find(|l| canonical(l.ip()) == ip || (l.ip().is_unspecified() && is_this_host(ip)));
        if let Some(listener) = own {
            return Err(TargetRefused::Own(SocketAddr::new(ip, listener.port())));
        }
        self.check(SocketAddr::new(ip, 0))
    }

    /// A listener on this host at `port` that `ip` would reach: one bound to `ip` itself, or to
    /// the unspecified address when `ip` is one of this host's.
    fn is_own(&self, ip: IpAddr, port: u16) -> bool {
        self.own.iter().any(|listener| {
            listener.port() == port
                && (canonical(listener.ip()) == ip || (listener.ip().is_unspecified() && is_this_host(ip)))
        })
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Loopback, unspecified (which reaches this host), or an address of one of its interfaces
/// (binding to it succeeds only then).
fn is_this_host(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn the_default_keeps_this_host_and_link_local_out() {
        let targets = TargetNetworks::new(Vec::new(), vec![addr("127.0.0.1:8443")]);
        for refused in ["127.0.0.1:80", "127.9.9.9:22", "[::1]:22", "0.0.0.0:80", "169.254.169.254:80", "[fe80::1]:22"]
        {
            assert!(matches!(targets.check(addr(refused)), Err(TargetRefused::Outside(_))), "{refused}");
        }
        assert!(matches!(targets.check(addr("[::ffff:127.0.0.1]:80")), Err(TargetRefused::Outside(_))));
        for allowed in ["192.0.2.10:443", "10.1.2.3:22", "[2001:db8::5]:443"] {
            assert_eq!(targets.check(addr(allowed)), Ok(()), "{allowed}");
        }
    }

    #[test]
    fn a_list_allows_only_itself_and_never_cofres_listeners() {
        let allowed = vec!["127.0.0.0/8".parse().expect("rule"), "10.0.0.0/8".parse().expect("rule")];
        let targets = TargetNetworks::new(allowed, vec![addr("127.0.0.1:8443"), addr("0.0.0.0:2222")]);
        assert_eq!(targets.check(addr("127.0.0.1:8080")), Ok(()));
        assert_eq!(targets.check(addr("10.9.9.9:22")), Ok(()));
        assert!(matches!(targets.check(addr("192.0.2.1:443")), Err(TargetRefused::Outside(_))));
        assert!(matches!(targets.check(addr("127.0.0.1:8443")), Err(TargetRefused::Own(_))));
        assert!(matches!(targets.check(addr("127.0.0.1:2222")), Err(TargetRefused::Own(_))));
        assert_eq!(targets.check(addr("10.9.9.9:2222")), Ok(()), "not this host");
    }

    #[test]
    fn a_name_never_reaches_an_address_cofre_listens_on() {
        let allowed = vec!["127.0.0.0/8".parse().expect("rule")];
        let targets = TargetNetworks::new(allowed, vec![addr("127.0.0.1:8443")]);
        assert!(matches!(targets.check_any_port("127.0.0.1".parse().expect("ip")), Err(TargetRefused::Own(_))));
        assert_eq!(targets.check_any_port("127.0.0.2".parse().expect("ip")), Ok(()));
    }

    #[tokio::test]
    async fn names_are_resolved_and_each_address_checked() {
        let targets = TargetNetworks::default();
        assert!(matches!(
            targets.resolve("localhost", 80).await,
            Err(TargetRefused::Outside(_) | TargetRefused::NoneAllowed(_))
        ));
        assert_eq!(targets.resolve("[2001:db8::5]", 443).await, Ok(vec![addr("[2001:db8::5]:443")]));
        assert!(targets.refuses("127.0.0.1", 80).await.is_some());
        assert!(targets.refuses("no-such-host.invalid", 80).await.is_none(), "unresolved is not a policy refusal");
    }
}
