//! User-chosen identifiers: `[a-zA-Z0-9-_.]`, a UUID when left blank (contract §1.6).

pub const MAX_IDENTIFIER_LEN: usize = 128;

#[derive(Debug, PartialEq, Eq)]
pub struct InvalidIdentifier;

/// `Ok(None)` for blank (the caller generates one), `Err` for anything outside the alphabet.
pub fn parse_identifier(raw: Option<&str>) -> Result<Option<String>, InvalidIdentifier> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let valid = s.len() <= MAX_IDENTIFIER_LEN
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid { Ok(Some(s.to_owned())) } else { Err(InvalidIdentifier) }
}

pub fn generate_identifier() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked_against_the_alphabet() {
        assert_eq!(parse_identifier(Some("db-prod_1.main")), Ok(Some("db-prod_1.main".into())));
        assert_eq!(parse_identifier(Some("  ")), Ok(None));
        assert_eq!(parse_identifier(None), Ok(None));
        for bad in ["a/b", "../x", "a b", "x;DROP", "ação", "a%2e"] {
            assert!(parse_identifier(Some(bad)).is_err(), "{bad}");
        }
        assert!(parse_identifier(Some(&"a".repeat(129))).is_err());
    }
}
