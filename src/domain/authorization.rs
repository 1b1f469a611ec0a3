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
        // `session` is how operators and the issue name it; `sessions` is its stored form.
        if s == "session" {
            return Ok(Self::Sessions);
        }
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

/// What a token scope allows on one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    Read,
    Write,
}

/// A token scope: the operations, per resource, a token may perform (`info:read,pam:write`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<(Resource, Access)>);

impl Scopes {
    pub fn allows(&self, resource: Resource, access: Access) -> bool {
        self.0.contains(&(resource, access))
    }

    pub fn resources(&self) -> Resources {
        self.0.iter().map(|(r, _)| *r).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn parse_list(s: &str) -> Result<Self, String> {
        s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_scope).collect::<Result<_, _>>().map(Self)
    }

    pub fn to_stored(&self) -> String {
        let names: Vec<String> =
            self.0.iter().map(|(r, a)| format!("{r}:{}", if *a == Access::Read { "read" } else { "write" })).collect();
        names.join(",")
    }
}

fn parse_scope(s: &str) -> Result<(Resource, Access), String> {
    let (resource, access) =
        s.split_once(':').ok_or_else(|| format!("scope {s:?} must be RESOURCE:read or RESOURCE:write"))?;
    let access = match access.trim().to_ascii_lowercase().as_str() {
        "read" => Access::Read,
        "write" => Access::Write,
        other => return Err(format!("scope access {other:?} must be read or write")),
    };
    Ok((resource.parse()?, access))
}

/// The kinds of item an authorization can be linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Info,
    Credential,
    Device,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Credential => "credential",
            Self::Device => "device",
        }
    }
}

/// Changes to an authorization's gate; `None` leaves a field as it is.
#[derive(Default)]
pub struct AuthorizationChanges {
    pub resources: Option<Resources>,
    pub read_only: Option<bool>,
    pub allowed_ips: Option<IpAllowList>,
    pub allowed_referers: Option<Vec<String>>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<i64>>,
    pub enabled: Option<bool>,
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
    /// The user this authorization acts as, if any (MySafe keys, dynamic tokens).
    pub acting_user_id: Option<i64>,
    /// False when the acting user is disabled: their keys stop working with them.
    pub acting_user_enabled: bool,
    /// The DSM application a pipeline's authorization was registered for.
    pub dsm_application_id: Option<i64>,
    /// A token's scope; `None` for applications, which the resources and read-only flag govern.
    pub scopes: Option<Scopes>,
    /// Bumped on every change; a write applies only to the revision it read.
    pub revision: i64,
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
    /// Status, expiry and referrer: checked at token issue and on every request. The source IP
    /// is checked separately, because host-name rules need a lookup.
    pub fn admits(&self, now: i64, referer: Option<&str>) -> Result<(), Refusal> {
        if !self.enabled || !self.application_enabled || !self.acting_user_enabled {
            return Err(Refusal::Disabled);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(Refusal::Expired);
        }
        if !referer_allowed(&self.allowed_referers, referer) {
            return Err(Refusal::RefererNotAllowed);
        }
        Ok(())
    }
}

impl Authorization {
    pub fn admits_referer(&self, referer: Option<&str>) -> bool {
        referer_allowed(&self.allowed_referers, referer)
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

/// How a caller proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    OAuth2,
    OAuth1,
    SigV4,
    ApiToken,
}

/// Who is calling, resolved once per request whatever the scheme: the authorization (and so the
/// application), the user it acts as, and the scope. Every route applies the same checks to it.
#[derive(Clone, Debug)]
pub struct Caller {
    pub authorization: Authorization,
    pub acting_user_id: Option<i64>,
    pub client_ip: IpAddr,
    pub scheme: Scheme,
}

/// An application with its authorizations, as operators list them.
pub struct ApplicationSummary {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub auth_methods: String,
    pub authorizations: Vec<Authorization>,
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
    fn scopes_parse_per_resource_operations() {
        let s = Scopes::parse_list("info:read, pam:WRITE").expect("valid");
        assert!(s.allows(Resource::Info, Access::Read) && !s.allows(Resource::Info, Access::Write));
        assert!(s.allows(Resource::Pam, Access::Write));
        assert_eq!(s.to_stored(), "pam:write,info:read");
        assert!(s.resources().contains(Resource::Pam));
        for bad in ["info", "info:delete", "nope:read"] {
            assert!(Scopes::parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resources_round_trip() {
        let r = Resources::parse_list("info, PAM").expect("valid");
        assert!(r.contains(Resource::Info) && r.contains(Resource::Pam));
        assert_eq!(r.to_stored(), "pam,info");
        assert!(Resources::parse_list("nope").is_err());
    }
}
