//! Certificate requests (§13.2): every field checked for type, length and meaning before a key
//! is made, with messages that name the field.

use std::net::IpAddr;

use super::keys::{KeySpec, SignatureDigest};

/// What a request names (each field as sent, before checking).
#[derive(Clone, Debug, Default)]
pub struct RawRequest {
    pub certificate_type: Option<String>,
    pub domain_type: Option<String>,
    pub organization: Option<String>,
    pub common_name: Option<String>,
    pub san: Vec<String>,
    pub tags: Vec<String>,
    pub encryption: Option<String>,
    pub encryption_key_size: Option<String>,
    pub certificate_algorithm: Option<String>,
    pub validity: Option<String>,
    pub environments: Vec<String>,
    pub systems: Vec<String>,
    pub project: Option<String>,
    pub external_ip: Option<String>,
    pub hostname_ip: Option<String>,
    pub justification: Option<String>,
    pub responsible: Option<String>,
    pub description: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainType {
    Single,
    Multiple,
    Wildcard,
}

impl DomainType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "SING",
            Self::Multiple => "MULT",
            Self::Wildcard => "WILD",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Single, Self::Multiple, Self::Wildcard].into_iter().find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A checked request: what the key, the CSR and the certificate are made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestFields {
    /// 1 DV, 2 OV, 3 EV.
    pub certificate_type: i64,
    pub domain_type: DomainType,
    pub organization: String,
    pub common_name: String,
    /// Subject alternative names: DNS names and IP addresses, the common name first.
    pub san: Vec<String>,
    pub tags: Vec<String>,
    pub key: KeySpec,
    pub digest: SignatureDigest,
    pub validity_days: i64,
    pub environments: Vec<String>,
    pub systems: Vec<String>,
    pub project: Option<String>,
    pub external_ip: Option<String>,
    pub hostname_ip: Option<String>,
    pub justification: Option<String>,
    pub responsible: Option<String>,
    pub description: Option<String>,
}

/// A request as stored (never its key).
#[derive(Clone, Debug)]
pub struct CertificateRequest {
    pub id: i64,
    pub application_id: i64,
    pub code: String,
    pub fields: RequestFields,
    pub csr_pem: String,
    /// 1 pending, 2 signed.
    pub status: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A request to be stored: its key already made and sealed, its passwords already hashed.
pub struct NewRequest {
    pub application_id: i64,
    pub code: String,
    pub fields: RequestFields,
    pub csr_pem: String,
    pub sealed_key: Vec<u8>,
    pub key_password_hash: Option<String>,
    pub revocation_hash: Option<String>,
}

/// What a request keeps beside its fields: the sealed key and the password hashes.
pub struct RequestSecrets {
    pub sealed_key: Vec<u8>,
    pub key_password_hash: Option<String>,
    pub revocation_hash: Option<String>,
}

/// The filters of `GET /certificate/request/list`.
#[derive(Clone, Debug, Default)]
pub struct RequestFilter {
    pub code: Option<String>,
    pub status: Option<i64>,
    pub common_name: Option<String>,
    pub domain_type: Option<DomainType>,
    pub certificate_type: Option<i64>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

pub const STATUS_PENDING: i64 = 1;
pub const STATUS_SIGNED: i64 = 2;

/// The longest validity cofre signs: ten years.
pub const MAX_VALIDITY_DAYS: i64 = 3650;
/// RFC 5280's upper bound for a common name.
const MAX_COMMON_NAME: usize = 64;
const MAX_TEXT: usize = 255;
const MAX_LIST: usize = 100;

/// A request code (the `{code}` of its path): 1 to 64 letters, digits, `.`, `_` or `-`.
pub fn check_code(code: &str) -> Result<(), String> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err("The request code must be 1 to 64 letters, digits, '.', '_' or '-'.".into()) }
}

impl RawRequest {
    pub fn check(self) -> Result<RequestFields, String> {
        let certificate_type = match required(self.certificate_type, "certificate_type")?.trim() {
            "1" => 1,
            "2" => 2,
            "3" => 3,
            _ => return Err("Parameter 'certificate_type' must be 1 (DV), 2 (OV) or 3 (EV).".into()),
        };
        let domain_type = DomainType::parse(&required(self.domain_type, "domain_type")?)
            .ok_or("Parameter 'domain_type' must be SING, MULT or WILD.")?;
        let organization =
            text(Some(required(self.organization, "organization")?), "organization", MAX_TEXT)?.unwrap_or_default();
        let common_name = required(self.common_name, "common_name")?.trim().to_ascii_lowercase();
        if common_name.len() > MAX_COMMON_NAME {
            return Err(format!("Parameter 'common_name' must be at most {MAX_COMMON_NAME} characters."));
        }
        check_name(&common_name, "common_name", domain_type == DomainType::Wildcard)?;
        let san = alternative_names(&common_name, domain_type, self.san)?;
        let key = KeySpec::parse(
            &required(self.encryption, "encryption")?,
            &required(self.encryption_key_size, "encryption_key_size")?,
        )?;
        let digest = SignatureDigest::parse(&required(self.certificate_algorithm, "certificate_algorithm")?)?;
        key.check_digest(digest)?;
        let validity_days = match required(self.validity, "validity")?.trim().parse::<i64>() {
            Ok(days @ 1..=MAX_VALIDITY_DAYS) => days,
            _ => return Err(format!("Parameter 'validity' must be a number of days from 1 to {MAX_VALIDITY_DAYS}.")),
        };
        let external_ip = text(self.external_ip, "external_ip", MAX_TEXT)?;
        if let Some(ip) = &external_ip
            && ip.parse::<IpAddr>().is_err()
        {
            return Err("Parameter 'external_ip' must be an IP address.".into());
        }
        Ok(RequestFields {
            certificate_type,
            domain_type,
            organization,
            common_name,
            san,
            tags: list(self.tags, "tags")?,
            key,
            digest,
            validity_days,
            environments: list(self.environments, "environments")?,
            systems: list(self.systems, "systems")?,
            project: text(self.project, "project", MAX_TEXT)?,
            external_ip,
            hostname_ip: text(self.hostname_ip, "hostname_ip", MAX_TEXT)?,
            justification: text(self.justification, "justification", 1024)?,
            responsible: text(self.responsible, "responsible", MAX_TEXT)?,
            description: text(self.description, "description", 512)?,
        })
    }
}

fn required(value: Option<String>, name: &str) -> Result<String, String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("Parameter '{name}' is required.")),
    }
}

fn text(value: Option<String>, name: &str, max: usize) -> Result<Option<String>, String> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.chars().count() > max => Err(format!("Parameter '{name}' must be at most {max} characters.")),
        Some(v) if v.chars().any(char::is_control) => {
            Err(format!("Parameter '{name}' must not hold control characters."))
        }
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn list(items: Vec<String>, name: &str) -> Result<Vec<String>, String> {
    if items.len() > MAX_LIST {
        return Err(format!("Parameter '{name}' may hold at most {MAX_LIST} items."));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = text(Some(item), name, MAX_TEXT)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// A DNS name (its labels letters, digits and inner hyphens; `*.` first when wildcards are
/// allowed) or an IP address.
fn check_name(name: &str, field: &str, wildcard: bool) -> Result<(), String> {
    if name.parse::<IpAddr>().is_ok() {
        return if wildcard {
            Err(format!("Parameter '{field}' of a WILD request must start with '*.'."))
        } else {
            Ok(())
        };
    }
    let rest = match (wildcard, name.strip_prefix("*.")) {
        (true, Some(rest)) => rest,
        (true, None) => return Err(format!("Parameter '{field}' of a WILD request must start with '*.'.")),
        (false, _) => name,
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if rest.len() <= 253 && rest.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("Parameter '{field}' must be a DNS name or an IP address: {name:?} is neither."))
    }
}

/// The names a certificate covers: the common name first, then the other SANs, once each.
fn alternative_names(common_name: &str, domain_type: DomainType, san: Vec<String>) -> Result<Vec<String>, String> {
    let mut names = vec![common_name.to_owned()];
    if san.len() > MAX_LIST {
        return Err(format!("Parameter 'san' may hold at most {MAX_LIST} names."));
    }
    for raw in san {
        let name = raw.trim().to_ascii_lowercase();
        if name.is_empty() || names.contains(&name) {
            continue;
        }
        check_name(&name, "san", name.starts_with("*."))?;
        names.push(name);
    }
    if domain_type == DomainType::Single && names.len() > 1 {
        return Err("A SING request covers its common name only: use MULT for more names.".into());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawRequest {
        RawRequest {
            certificate_type: Some("1".into()),
            domain_type: Some("MULT".into()),
            organization: Some("Example".into()),
            common_name: Some("www.example.com".into()),
            san: vec!["api.example.com".into(), "10.0.0.1".into()],
            encryption: Some("RSA".into()),
            encryption_key_size: Some("2048".into()),
            certificate_algorithm: Some("SHA256".into()),
            validity: Some("90".into()),
            ..RawRequest::default()
        }
    }

    #[test]
    fn a_full_request_is_accepted() {
        let f = raw().check().expect("valid");
        assert_eq!(f.san, ["www.example.com", "api.example.com", "10.0.0.1"]);
        assert_eq!(f.key, KeySpec::Rsa(2048));
        assert_eq!(f.validity_days, 90);
    }

    /// One corruption of a valid request and the words its refusal must contain.
    type BadCase = (fn(&mut RawRequest), &'static str);

    #[test]
    fn each_bad_field_is_named() {
        let cases: [BadCase; 8] = [
            (|r| r.common_name = None, "'common_name' is required"),
            (|r| r.common_name = Some("a".repeat(10_000)), "at most 64"),
            (|r| r.common_name = Some("bad name!".into()), "DNS name or an IP"),
            (|r| r.certificate_type = Some("9".into()), "'certificate_type'"),
            (|r| r.domain_type = Some("SING".into()), "SING request covers"),
            (|r| r.validity = Some("0".into()), "'validity'"),
            (|r| r.encryption = Some("DSA".into()), "DSA keys are not supported"),
            (|r| r.description = Some("d".repeat(513)), "'description' must be at most 512"),
        ];
        for (spoil, expected) in cases {
            let mut r = raw();
            spoil(&mut r);
            let err = r.check().expect_err(expected);
            assert!(err.contains(expected), "{err:?} should contain {expected:?}");
        }
    }

    #[test]
    fn wildcards_need_a_wild_request() {
        let mut r = raw();
        r.domain_type = Some("WILD".into());
        r.common_name = Some("*.example.com".into());
        r.san.clear();
        assert!(r.clone().check().is_ok());
        r.domain_type = Some("MULT".into());
        assert!(r.check().is_err());
    }

    #[test]
    fn codes_are_short_and_plain() {
        assert!(check_code("web-01").is_ok());
        assert!(check_code("").is_err());
        assert!(check_code("a/b").is_err());
    }
}
