//! Protected information (contract §7): a named piece of text whose `content` is a secret.

use zeroize::Zeroizing;

/// A stored item, with its content still sealed.
#[derive(Clone, Debug)]
pub struct InfoRecord {
    pub id: i64,
    /// Random per-row value bound into the sealed content's associated data.
    pub uid: String,
    pub identifier: String,
    pub name: String,
    pub info_type: String,
    pub service: String,
    pub url: String,
    pub users_allowed: String,
    pub sealed_content: Vec<u8>,
    pub enabled: bool,
    pub created_by: i64,
}

/// What a caller sends to register or update an item; `None` keeps the stored value on update.
pub struct InfoInput {
    pub identifier: Option<String>,
    pub name: Option<String>,
    pub info_type: Option<String>,
    pub service: Option<String>,
    pub url: Option<String>,
    pub users_allowed: Option<String>,
    pub content: Zeroizing<String>,
}

/// An item as returned to its reader, content opened.
pub struct InfoView {
    pub record: InfoRecord,
    pub content: Zeroizing<String>,
}

pub const DEFAULT_INFO_TYPE: &str = "Access credential";
