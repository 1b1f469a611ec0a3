//! Host-name rules in allow-lists are looked up with a short cache, so a busy client does not
//! cost a DNS query per request. The cache only saves work: a miss just looks the name up again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 1024;

#[derive(Default)]
pub struct HostResolver {
    cache: Mutex<HashMap<String, (Instant, Vec<IpAddr>)>>,
}

impl HostResolver {
    /// The addresses of all `hosts`; a name that does not resolve contributes none.
    pub async fn resolve_all<'a>(&self, hosts: impl Iterator<Item = &'a str>) -> Vec<IpAddr> {
        let mut all = Vec::new();
        for host in hosts {
            all.extend(self.resolve(host).await);
        }
        all
    }

    async fn resolve(&self, host: &str) -> Vec<IpAddr> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, addrs)) = cache.get(host).filter(|(at, _)| at.elapsed() < TTL) {
                let _ = at;
                return addrs.clone();
            }
        }
        let addrs: Vec<IpAddr> = match tokio::net::lookup_host((host, 0)).await {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(e) => {
                tracing::warn!(host, error = %e, "allow-list host name did not resolve");
                Vec::new()
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(host.to_owned(), (Instant::now(), addrs.clone()));
        }
        addrs
    }
}
