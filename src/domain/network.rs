//! Network identity: allow-list rules and the one place where the client IP is resolved.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// One allow-list entry: an address (a /32 or /128) or a CIDR block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRule(IpNet);

impl IpRule {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

impl FromStr for IpRule {
    type Err = String;

    /// Std's parsers refuse leading-zero octets (`127.000.0.1`), which keeps octal ambiguity out.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        s.parse::<IpAddr>().map(|ip| Self(IpNet::from(canonical(ip)))).map_err(|_| format!("invalid IP or CIDR: {s:?}"))
    }
}

impl fmt::Display for IpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpNet::V4(n) if n.prefix_len() == 32 => write!(f, "{}", n.addr()),
            IpNet::V6(n) if n.prefix_len() == 128 => write!(f, "{}", n.addr()),
            net => write!(f, "{net}"),
        }
    }
}

impl<'de> Deserialize<'de> for IpRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// One entry of an allow-list: an address or CIDR, an inclusive range `a.b.c.d-e.f.g.h`, or a
/// host name whose addresses are looked up (with a short cache) when a request is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    Net(IpRule),
    Range(IpAddr, IpAddr),
    Host(String),
}

impl FromStr for AllowEntry {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some((from, to)) = s.split_once('-').filter(|(a, _)| a.parse::<IpAddr>().is_ok()) {
            let from = canonical(from.trim().parse().map_err(|_| format!("invalid IP range: {s:?}"))?);
            let to = canonical(to.trim().parse().map_err(|_| format!("invalid IP range: {s:?}"))?);
            if from.is_ipv4() != to.is_ipv4() || from > to {
                return Err(format!("invalid IP range: {s:?}"));
            }
            return Ok(Self::Range(from, to));
        }
        if let Ok(rule) = s.parse::<IpRule>() {
            return Ok(Self::Net(rule));
        }
        let host = s.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if host.len() <= 253 && host.split('.').all(label_ok) && host.bytes().any(|b| b.is_ascii_alphabetic()) {
            return Ok(Self::Host(host));
        }
        Err(format!("invalid IP, CIDR, range or host name: {s:?}"))
    }
}

impl AllowEntry {
    /// The first and last address an address entry covers; `None` for a host name.
    fn span(&self) -> Option<(IpAddr, IpAddr)> {
        match self {
            Self::Net(rule) => Some((rule.0.network(), rule.0.broadcast())),
            Self::Range(from, to) => Some((*from, *to)),
            Self::Host(_) => None,
        }
    }

    fn is_within(&self, outer: &AllowEntry) -> bool {
        match (self, outer) {
            (Self::Host(a), Self::Host(b)) => a == b,
            _ => match (self.span(), outer.span()) {
                (Some((a, b)), Some((c, d))) => a.is_ipv4() == c.is_ipv4() && c <= a && b <= d,
                _ => false,
            },
        }
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net(rule) => rule.fmt(f),
            Self::Range(from, to) => write!(f, "{from}-{to}"),
            Self::Host(host) => f.write_str(host),
        }
    }
}

/// An authorization's allowed source addresses; `*` (the default) allows any.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum IpAllowList {
    #[default]
    Any,
    Only(Vec<AllowEntry>),
}

impl IpAllowList {
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut rules = Vec::new();
        for entry in entries.into_iter().flat_map(|e| e.split(',')).map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                return Ok(Self::Any);
            }
            rules.push(entry.parse()?);
        }
        Ok(if rules.is_empty() { Self::Any } else { Self::Only(rules) })
    }

    /// The host names to look up before `allows` can decide.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        let entries = match self {
            Self::Any => &[][..],
            Self::Only(entries) => entries.as_slice(),
        };
        entries.iter().filter_map(|e| match e {
            AllowEntry::Host(h) => Some(h.as_str()),
            _ => None,
        })
    }

    /// `resolved` holds the addresses of the list's host names.
    pub fn allows(&self, ip: IpAddr, resolved: &[IpAddr]) -> bool {
        let ip = canonical(ip);
        match self {
            Self::Any => true,
            Self::Only(entries) => entries.iter().any(|e| match e {
                AllowEntry::Net(rule) => rule.contains(ip),
                AllowEntry::Range(from, to) => *from <= ip && ip <= *to && from.is_ipv4() == ip.is_ipv4(),
                AllowEntry::Host(_) => resolved.iter().any(|r| canonical(*r) == ip),
            }),
        }
    }

    /// Whether every address this list allows is also allowed by `outer`: a list handed to a
    /// new authorization must never be broader than its issuer's. Host names are within only
    /// the same host name, since their addresses change.
    pub fn is_within(&self, outer: &IpAllowList) -> bool {
        let Self::Only(outer) = outer else { return true };
        let Self::Only(inner) = self else { return false };
        inner.iter().all(|entry| outer.iter().any(|o| entry.is_within(o)))
    }

    /// The stored form: `*` or a comma list.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Any => "*".to_owned(),
            Self::Only(rules) => rules.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        }
    }
}

/// IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`) are treated as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Resolves the client address: the socket peer, unless the peer is a trusted proxy, in which
/// case the `X-Forwarded-For` chain is walked from the right and the first untrusted hop wins.
/// Several headers are concatenated in order. A malformed entry from a trusted peer is an error.
pub fn resolve_client_ip<'a>(
    peer: SocketAddr,
    trusted: &[IpRule],
    forwarded_for: impl Iterator<Item = &'a str>,
) -> Result<IpAddr, String> {
    let peer_ip = canonical(peer.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer_ip) {
        return Ok(peer_ip);
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|h| h.split(',')).map(str::trim).filter(|h| !h.is_empty()).collect();
    let mut client = peer_ip;
    for hop in hops.iter().rev() {
        let ip = parse_hop(hop).ok_or_else(|| format!("malformed X-Forwarded-For entry: {hop:?}"))?;
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Ok(client)
}

/// Accepts `a.b.c.d`, `a.b.c.d:port`, `v6` and `[v6]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allow_list_is_within_only_a_list_that_covers_it() {
        let list = |s: &str| IpAllowList::parse([s]).expect("valid");
        let outer = list("10.0.0.0/24, 192.168.1.5, 172.16.0.1-172.16.0.9, ci.example.com");
        assert!(list("10.0.0.7").is_within(&outer));
        assert!(list("10.0.0.128/25, 172.16.0.2-172.16.0.3, 192.168.1.5").is_within(&outer));
        assert!(list("ci.example.com").is_within(&outer));
        assert!(list("anything.example.com").is_within(&IpAllowList::Any));
        assert!(!IpAllowList::Any.is_within(&outer), "* is broader than any list");
        assert!(!list("10.0.0.0/23").is_within(&outer));
        assert!(!list("172.16.0.5-172.16.0.10").is_within(&outer));
        assert!(!list("10.0.1.1").is_within(&outer));
        assert!(!list("other.example.com").is_within(&outer));
        assert!(!list("::ffff:10.0.1.1").is_within(&outer));
    }

    fn rules(s: &[&str]) -> Vec<IpRule> {
        s.iter().map(|r| r.parse().expect("rule")).collect()
    }

    #[test]
    fn rules_parse_addresses_and_blocks() {
        assert!("127.0.0.2".parse::<IpRule>().expect("v4").contains("127.0.0.2".parse().expect("ip")));
        assert!(!"127.0.0.2".parse::<IpRule>().expect("v4").contains("127.0.0.3".parse().expect("ip")));
        assert!("::1".parse::<IpRule>().expect("v6").contains("::1".parse().expect("ip")));
        assert!("127.000.0.2".parse::<IpRule>().is_err());
        assert!("10.0.0.0/33".parse::<IpRule>().is_err());
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().expect("ip");
        assert!("127.0.0.0/24".parse::<IpRule>().expect("cidr").contains(mapped));
    }

    #[test]
    fn allow_lists_take_addresses_blocks_ranges_and_hosts() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(IpAllowList::parse(["*"]).expect("any"), IpAllowList::Any);
        let only = IpAllowList::parse(["10.0.0.0/8, 192.168.1.1", "172.16.0.10-172.16.0.20", "Vault.Example.com."])
            .expect("list");
        assert!(only.allows(ip("10.2.3.4"), &[]));
        assert!(!only.allows(ip("11.2.3.4"), &[]));
        assert!(only.allows(ip("172.16.0.15"), &[]) && only.allows(ip("::ffff:172.16.0.20"), &[]));
        assert!(!only.allows(ip("172.16.0.21"), &[]));
        assert_eq!(only.hosts().collect::<Vec<_>>(), ["vault.example.com"]);
        assert!(only.allows(ip("198.51.100.4"), &[ip("198.51.100.4")]));
        assert_eq!(only.to_stored(), "10.0.0.0/8,192.168.1.1,172.16.0.10-172.16.0.20,vault.example.com");
        for bad in ["10.0.0.5-10.0.0.1", "10.0.0.1-::1", "300.1.1.1", "bad host", "-x.com", "127.000.0.1"] {
            assert!(IpAllowList::parse([bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_peers() {
        let peer: SocketAddr = "127.0.0.3:5000".parse().expect("addr");
        let none: Vec<IpRule> = Vec::new();
        assert_eq!(resolve_client_ip(peer, &none, ["127.0.0.2"].into_iter()), Ok("127.0.0.3".parse().expect("ip")));

        let trusted = rules(&["127.0.0.3", "10.0.0.0/8"]);
        let got = resolve_client_ip(peer, &trusted, ["203.0.113.9, 198.51.100.1", "10.1.1.1"].into_iter());
        assert_eq!(got, Ok("198.51.100.1".parse().expect("ip")));
        assert!(resolve_client_ip(peer, &trusted, ["garbage"].into_iter()).is_err());
        // All hops trusted: the left-most one is the best we know.
        let got = resolve_client_ip(peer, &trusted, ["10.9.9.9"].into_iter());
        assert_eq!(got, Ok("10.9.9.9".parse().expect("ip")));
    }
}
