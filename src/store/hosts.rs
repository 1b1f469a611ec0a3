//! libpq's multi-host URL, `postgres://h1:5432,h2:5433/db?target_session_attrs=read-write`, which
//! sqlx does not read: split into one single-host URL per host, in the order listed, each keeping
//! the user, password, database and other parameters, and the kind of server a connection must
//! reach. A URL with one host is kept exactly as written.

/// Which server of the list a connection may use: libpq's `target_session_attrs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionAttrs {
    /// The first server that accepts the connection (libpq's default).
    Any,
    /// The first server that takes writes: not a standby, not read-only. `primary` is read the
    /// same way: cofre writes, so a primary that refuses writes is no use to it either.
    ReadWrite,
}

impl SessionAttrs {
    fn parse(value: &str) -> Result<Self, String> {
        match value {
            "any" => Ok(Self::Any),
            "read-write" | "primary" => Ok(Self::ReadWrite),
            other => Err(format!(
                "target_session_attrs={other} is not supported: cofre writes, so it takes read-write (or primary) \
                 or any"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::ReadWrite => "read-write",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Host {
    /// `host:port` as the URL lists it, for messages (never the password).
    pub name: String,
    /// A URL for this host alone, which sqlx accepts.
    pub url: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct PostgresHosts {
    pub hosts: Vec<Host>,
    pub attrs: SessionAttrs,
}

impl PostgresHosts {
    /// Several hosts: the pool must follow whichever of them suits.
    pub fn is_multi_host(&self) -> bool {
        self.hosts.len() > 1
    }

    pub fn parse(url: &str) -> Result<Self, String> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Ok(Self::single(url, url, None));
        };
        let (location, query) = rest.split_once('?').map_or((rest, None), |(l, q)| (l, Some(q)));
        // The password may hold '@' or '/' only percent-encoded, so the last '@' ends it.
        let (userinfo, hosts_and_path) = location.rsplit_once('@').map_or((None, location), |(u, h)| (Some(u), h));
        let (host_list, path) = hosts_and_path.split_once('/').map_or((hosts_and_path, None), |(h, p)| (h, Some(p)));
        let mut attrs = None;
        let mut params = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("target_session_attrs", value)) => attrs = Some(SessionAttrs::parse(value)?),
                _ => params.push(pair),
            }
        }
        if !host_list.contains(',') {
            return Ok(Self::single(host_list, url, attrs));
        }
        let mut hosts = Vec::new();
        for entry in host_list.split(',') {
            check_host(entry, host_list)?;
            let mut url = format!("{scheme}://");
            if let Some(userinfo) = userinfo {
                url.push_str(&format!("{userinfo}@"));
            }
            url.push_str(entry);
            if let Some(path) = path {
                url.push_str(&format!("/{path}"));
            }
            if !params.is_empty() {
                url.push_str(&format!("?{}", params.join("&")));
            }
            hosts.push(Host { name: entry.to_owned(), url });
        }
        Ok(Self { hosts, attrs: attrs.unwrap_or(SessionAttrs::Any) })
    }

    fn single(name: &str, url: &str, attrs: Option<SessionAttrs>) -> Self {
        Self {
            hosts: vec![Host { name: name.to_owned(), url: url.to_owned() }],
            attrs: attrs.unwrap_or(SessionAttrs::Any),
        }
    }
}

/// One entry of a host list: a name or address, an IPv6 address in brackets, each with an
/// optional numeric port.
fn check_host(entry: &str, list: &str) -> Result<(), String> {
    let port = match entry.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, after)) if !address.is_empty() => {
                after.strip_prefix(':').or_else(|| after.is_empty().then_some(""))
            }
            _ => None,
        },
        None if entry.matches(':').count() > 1 => None,
        None => match entry.split_once(':') {
            Some((host, port)) if !host.is_empty() => Some(port),
            Some(_) => None,
            None => (!entry.is_empty()).then_some(""),
        },
    };
    match port {
        Some("") => Ok(()),
        Some(port) if port.parse::<u16>().is_ok_and(|p| p > 0) => Ok(()),
        _ => Err(format!(
            "'{entry}' in the host list '{list}' is not host[:port] (IPv6 addresses go in brackets: [::1]:5432)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(parsed: &PostgresHosts) -> Vec<(&str, &str)> {
        parsed.hosts.iter().map(|h| (h.name.as_str(), h.url.as_str())).collect()
    }

    #[test]
    fn a_single_host_url_is_kept_as_written() {
        for url in [
            "postgres://u:p@db:5432/vault",
            "postgresql://db/vault?sslmode=require",
            "postgres://u@db/vault?target_session_attrs=read-write",
            "postgres:///vault",
        ] {
            let parsed = PostgresHosts::parse(url).expect(url);
            assert!(!parsed.is_multi_host(), "{url}");
            assert_eq!(parsed.hosts[0].url, url);
        }
    }

    #[test]
    fn a_host_list_becomes_one_url_per_host_in_order() {
        let parsed = PostgresHosts::parse(
            "postgres://u:p%40ss@h1:5432,h2:5433,[::1]:5434,h4/vault?sslmode=disable&target_session_attrs=read-write&options=-c%20x%3Dy",
        )
        .expect("parses");
        assert_eq!(parsed.attrs, SessionAttrs::ReadWrite);
        assert_eq!(
            urls(&parsed),
            [
                ("h1:5432", "postgres://u:p%40ss@h1:5432/vault?sslmode=disable&options=-c%20x%3Dy"),
                ("h2:5433", "postgres://u:p%40ss@h2:5433/vault?sslmode=disable&options=-c%20x%3Dy"),
                ("[::1]:5434", "postgres://u:p%40ss@[::1]:5434/vault?sslmode=disable&options=-c%20x%3Dy"),
                ("h4", "postgres://u:p%40ss@h4/vault?sslmode=disable&options=-c%20x%3Dy"),
            ]
        );
    }

    #[test]
    fn without_user_database_or_parameters() {
        let parsed = PostgresHosts::parse("postgresql://h1,h2").expect("parses");
        assert_eq!(parsed.attrs, SessionAttrs::Any, "libpq's default");
        assert_eq!(urls(&parsed), [("h1", "postgresql://h1"), ("h2", "postgresql://h2")]);
    }

    #[test]
    fn target_session_attrs_takes_any_read_write_and_primary() {
        for (value, attrs) in
            [("any", SessionAttrs::Any), ("read-write", SessionAttrs::ReadWrite), ("primary", SessionAttrs::ReadWrite)]
        {
            let parsed = PostgresHosts::parse(&format!("postgres://h1,h2/db?target_session_attrs={value}"));
            assert_eq!(parsed.expect(value).attrs, attrs, "{value}");
        }
        for value in ["read-only", "standby", "prefer-standby", "READ-WRITE", ""] {
            let refused = PostgresHosts::parse(&format!("postgres://h1,h2/db?target_session_attrs={value}"));
            assert!(refused.expect_err(value).contains("target_session_attrs"), "{value}");
            let single = PostgresHosts::parse(&format!("postgres://h1/db?target_session_attrs={value}"));
            assert!(single.is_err(), "{value} on one host");
        }
    }

    #[test]
    fn a_malformed_host_list_is_refused_naming_the_entry() {
        for (url, entry) in [
            ("postgres://h1,,h2/db", "''"),
            ("postgres://h1,h2:x/db", "'h2:x'"),
            ("postgres://h1,h2:70000/db", "'h2:70000'"),
            ("postgres://h1,::1/db", "'::1'"),
            ("postgres://h1,[::1/db", "'[::1'"),
            ("postgres://h1,:5432/db", "':5432'"),
        ] {
            let why = PostgresHosts::parse(url).expect_err(url);
            assert!(why.contains(entry), "{url}: {why}");
        }
    }
}
