//! Publishing profiles and publications (§13.2 `cert/perfil`, `cert/publicar`).

/// The web servers §13.2 names a profile for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    Apache,
    Iis,
    BigIp,
    /// WebSphere: its key database path, password and label go with the profile.
    Was,
}

impl ProfileKind {
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Apache, Self::Iis, Self::BigIp, Self::Was]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apache => "apache",
            Self::Iis => "iis",
            Self::BigIp => "bigip",
            Self::Was => "was",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub id: i64,
    pub application_id: i64,
    /// The authorization that made the profile: its credential is read as this one sees it.
    pub authorization_id: i64,
    pub kind: ProfileKind,
    pub name: String,
    pub credential_id: i64,
    pub devices: Vec<i64>,
    pub key_db_path: Option<String>,
    pub label: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct NewProfile {
    pub application_id: i64,
    pub authorization_id: i64,
    pub kind: ProfileKind,
    pub name: String,
    pub credential_id: i64,
    pub devices: Vec<i64>,
    pub key_db_path: Option<String>,
    /// Sealed under the profile's application and name.
    pub key_db_password: Option<Vec<u8>>,
    pub label: Option<String>,
}

/// One device's outcome of one publication.
#[derive(Debug, Clone)]
pub struct Publication {
    pub id: i64,
    pub certificate_id: i64,
    pub profile_id: i64,
    pub device_id: i64,
    pub hostname: String,
    pub succeeded: bool,
    pub error: Option<String>,
    pub reason: Option<String>,
    pub published_at: i64,
}
