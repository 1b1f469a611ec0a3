//! One browser origin per session. The proxy's URL names a wildcard host
//! (`https://*.sessions.example:8444`); session `abc` lives at `https://s-abc.sessions.example:8444`.
//! The browser's same-origin policy then keeps each session's cookies, storage and Service Workers
//! away from every other session's, including the terminal page of a later SSH session.

/// The label that stands before the wildcard's domain: `s-` and the session id.
const LABEL_PREFIX: &str = "s-";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOrigins {
    scheme: String,
    /// The wildcard's domain with its leading dot, lower case: `.sessions.example`.
    domain: String,
    /// The port as written in the URL (absent for the scheme's default).
    port: Option<u16>,
}

impl SessionOrigins {
    /// Parses a proxy URL of the form `scheme://*.domain[:port]`; the error says what is wrong.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim_end_matches('/');
        let (scheme, rest) = url.split_once("://").ok_or("must start with https:// or http://")?;
        if scheme != "https" && scheme != "http" {
            return Err("must start with https:// or http://".into());
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse::<u16>().map_err(|_| format!("port {port:?} is not valid"))?)),
            None => (rest, None),
        };
        let domain = host.strip_prefix('*').filter(|d| d.starts_with('.') && d.len() > 1).ok_or(
            "must name a wildcard host, e.g. https://*.sessions.example:8444, so that each session has its own origin",
        )?;
        let valid_label = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !domain[1..].split('.').all(valid_label) {
            return Err(format!("{domain:?} is not a host name"));
        }
        // Browsers leave the scheme's default port out of `Origin`: so must the origins made here.
        let default = if scheme == "https" { 443 } else { 80 };
        let port = port.filter(|p| *p != default);
        Ok(Self { scheme: scheme.to_owned(), domain: domain.to_ascii_lowercase(), port })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// The wildcard host a certificate must cover: `*.sessions.example`.
    pub fn wildcard_host(&self) -> String {
        format!("*{}", self.domain)
    }

    /// `https://s-<id>.sessions.example:8444`.
    pub fn origin_of(&self, session_id: &str) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{LABEL_PREFIX}{session_id}{}{port}", self.scheme, self.domain)
    }

    /// The session id a request's host (`Host` or `:authority`, port included or not) names, or
    /// `None` for any host that is not one session's.
    pub fn session_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        let cut = name.len().checked_sub(self.domain.len())?;
        let (label, domain) = (name.get(..cut)?, name.get(cut..)?);
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        let id = label.strip_prefix(LABEL_PREFIX)?;
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_session_has_its_own_host() {
        let origins = SessionOrigins::parse("https://*.sessions.example:8444/").expect("parses");
        assert_eq!(origins.origin_of("ab12"), "https://s-ab12.sessions.example:8444");
        assert_eq!(origins.session_of("s-ab12.sessions.example:8444"), Some("ab12"));
        assert_eq!(origins.session_of("s-ab12.SESSIONS.example"), Some("ab12"));
        assert_eq!(origins.wildcard_host(), "*.sessions.example");
        for other in [
            "sessions.example:8444",
            "s-.sessions.example",
            "s-ab12.other.example",
            "x.s-ab12.sessions.example",
            "s-AB12.sessions.example",
            "s-zz.sessions.example",
            "ab12.sessions.example",
            "s-ab12.evilsessions.example",
        ] {
            assert_eq!(origins.session_of(other), None, "{other}");
        }
        let spelled = SessionOrigins::parse("https://*.sessions.example:443").expect("parses");
        assert_eq!(spelled.origin_of("ab12"), "https://s-ab12.sessions.example", "as a browser's Origin names it");
        assert_eq!(spelled.session_of("s-ab12.sessions.example:443"), Some("ab12"));
        let plain = SessionOrigins::parse("http://*.localhost").expect("parses");
        assert_eq!(plain.origin_of("ff"), "http://s-ff.localhost");
        assert!(!plain.is_https());
    }

    #[test]
    fn a_url_without_a_wildcard_is_refused() {
        for bad in ["https://proxy.example:8444", "https://*", "https://*.", "ftp://*.x", "https://*.x:port", "*.x"] {
            assert!(SessionOrigins::parse(bad).is_err(), "{bad}");
        }
    }
}
