//! Applications, their authorizations, and the caller a request resolves to.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::network::IpAllowList;

/// The modules an authorization may reach (contract §2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Pam,
    Info,
    Users,
    Sessions,
    Dsm,
    Certificates,
    Dashboards,
    MySafe,
    Scim,
    Admin,
}

impl Resource {
    pub const ALL: [Resource; 10] = [
        Self::Pam,
        Self::Info,
        Self::Users,
        Self::Sessions,
        Self::Dsm,
        Self::Certificates,
        Self::Dashboards,
        Self::MySafe,
        Self::Scim,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pam => "pam",
            Self::Info => "info",
            Self::Users => "users",
            Self::Sessions => "sessions",
            Self::Dsm => "dsm",
            Self::Certificates => "certificates",
            Self::Dashboards => "dashboards",
            Self::MySafe => "mysafe",
            Self::Scim => "scim",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Resource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown resource {s:?} (expected one of {})", names.join(", "))
        })
    }
}

/// A set of resources, stored as a comma list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources(BTreeSet<Resource>);

impl Resources {
    pub fn contains(&self, r: Resource) -> bool {
        self.0.contains(&r)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn parse_list(s: &str) -> Result<Self, String> {
        s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect::<Result<_, _>>().map(Self)
    }

    pub fn to_stored(&self) -> String {
        self.0.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
    }
}

impl FromIterator<Resource> for Resources {
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// The kinds of item an authorization can be linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Info,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
        }
    }
}

/// An authorization as read on every request: the gate every caller passes through.
#[derive(Clone, Debug)]
pub struct Authorization {
    pub id: i64,
    pub application_id: i64,
    pub application_name: String,
    pub client_id: String,
    pub enabled: bool,
    pub application_enabled: bool,
    /// Unix seconds; `None` means until disabled.
    pub expires_at: Option<i64>,
    pub resources: Resources,
    pub read_only: bool,
    pub allowed_ips: IpAllowList,
    pub allowed_referers: Vec<String>,
    /// Bumped when the client secret changes, so older tokens stop working at once.
    pub token_generation: i64,
}

/// Why an authorization may not act right now. Callers answer all of these alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Disabled,
    Expired,
    IpNotAllowed,
    RefererNotAllowed,
}

impl Authorization {
    /// Status, expiry, source IP and referrer: checked at token issue and on every request.
    pub fn admits(&self, now: i64, ip: IpAddr, referer: Option<&str>) -> Result<(), Refusal> {
        if !self.enabled || !self.application_enabled {
            return Err(Refusal::Disabled);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(Refusal::Expired);
        }
        if !self.allowed_ips.allows(ip) {
            return Err(Refusal::IpNotAllowed);
        }
        if !referer_allowed(&self.allowed_referers, referer) {
            return Err(Refusal::RefererNotAllowed);
        }
        Ok(())
    }
}

/// An empty list allows any referrer; otherwise the `Referer` must start with an allowed entry,
/// compared without regard to case (scheme and host are case-insensitive).
fn referer_allowed(allowed: &[String], referer: Option<&str>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(referer) = referer else { return false };
    let referer = referer.to_ascii_lowercase();
    allowed.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        referer == a
            || (referer.starts_with(&a) && (a.ends_with('/') || referer[a.len()..].starts_with(['/', '?', '#'])))
    })
}

/// Who is calling, resolved once per request whatever the authentication scheme.
#[derive(Clone, Debug)]
pub struct Caller {
    pub authorization: Authorization,
    pub client_ip: IpAddr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referers_match_by_prefix_on_a_boundary() {
        let allowed = vec!["https://app.example.com".to_owned()];
        assert!(referer_allowed(&allowed, Some("https://APP.example.com/page")));
        assert!(!referer_allowed(&allowed, Some("https://app.example.com.evil.net/")));
        assert!(!referer_allowed(&allowed, None));
        assert!(referer_allowed(&[], None));
    }

    #[test]
    fn resources_round_trip() {
        let r = Resources::parse_list("info, PAM").expect("valid");
        assert!(r.contains(Resource::Info) && r.contains(Resource::Pam));
        assert_eq!(r.to_stored(), "pam,info");
        assert!(Resources::parse_list("nope").is_err());
    }
}
