//! People: users (who own MySafe items and log in for dynamic tokens) and groups.

use unicode_normalization::UnicodeNormalization;

/// One canonical form for a login, computed once, used by every lookup, limiter and audit:
/// surrounding whitespace trimmed, Unicode NFC, then lower-cased. `Alice`, ` alice` and an
/// NFD-composed `alice` are one account.
pub fn canonical_login(raw: &str) -> String {
    raw.trim().nfc().collect::<String>().to_lowercase()
}

pub const MAX_LOGIN_CHARS: usize = 128;

/// A canonical login that may name a user: non-empty, bounded, no control characters.
pub fn valid_login(canonical: &str) -> bool {
    !canonical.is_empty() && canonical.chars().count() <= MAX_LOGIN_CHARS && !canonical.chars().any(char::is_control)
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub enabled: bool,
    pub groups: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub members: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_variants_share_one_canonical_form() {
        let nfd = "ali\u{0063}\u{0327}e"; // "aliçe" with a combining cedilla
        let nfc = "ali\u{00e7}e";
        for variant in ["alice", "Alice", " alice", "ALICE\t"] {
            assert_eq!(canonical_login(variant), "alice");
        }
        assert_eq!(canonical_login(nfd), canonical_login(nfc));
        assert!(!valid_login(""));
        assert!(!valid_login("a\u{0000}b"));
    }
}
