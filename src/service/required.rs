//! Required fields, checked together so that a request missing several is told every one at
//! once, not one per round trip. The contract answers a missing field with one error (its 10xx
//! code and text); with several missing, the error is the first one's, verbatim, and `detail`
//! names each of them with its code.

use crate::error::{ApiError, ApiResult};

#[derive(Default)]
pub struct Required {
    missing: Vec<ApiError>,
}

impl Required {
    pub fn new() -> Self {
        Self::default()
    }

    /// `value` trimmed; when it is absent or blank, "" and `missing` noted.
    pub fn text(&mut self, value: Option<String>, missing: impl FnOnce() -> ApiError) -> String {
        match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
            Some(value) => value,
            None => {
                self.missing.push(missing());
                String::new()
            }
        }
    }

    /// Notes `missing` unless the field was `given`.
    pub fn check(&mut self, given: bool, missing: impl FnOnce() -> ApiError) {
        if !given {
            self.missing.push(missing());
        }
    }

    /// Nothing missing; or the first missing field's error, its `detail` listing every one
    /// when there are several.
    pub fn done(self) -> ApiResult<()> {
        let mut missing = self.missing.into_iter();
        let Some(first) = missing.next() else { return Ok(()) };
        let rest: Vec<String> = missing.map(|e| e.message.into_owned()).collect();
        if rest.is_empty() {
            return Err(first);
        }
        let every = std::iter::once(first.message.to_string()).chain(rest).collect::<Vec<_>>().join("; ");
        Err(first.with_detail(every))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes;

    fn missing(code: u16, what: &str) -> impl FnOnce() -> ApiError {
        move || ApiError::business(code, &format!("The device's {what} was not informed"))
    }

    #[test]
    fn one_missing_field_is_the_contracts_error_as_is() {
        let mut required = Required::new();
        assert_eq!(
            required.text(Some(" web01 ".into()), missing(codes::DEVICE_HOSTNAME_NOT_INFORMED, "hostname")),
            "web01"
        );
        required.text(Some("  ".into()), missing(codes::DEVICE_SITE_NOT_INFORMED, "site"));
        let e = required.done().expect_err("missing");
        assert_eq!(e.code(), Some(codes::DEVICE_SITE_NOT_INFORMED));
        assert_eq!(e.detail, None);
    }

    #[test]
    fn several_missing_fields_are_named_at_once() {
        let mut required = Required::new();
        required.text(None, missing(codes::DEVICE_MODEL_NOT_INFORMED, "model"));
        required.check(false, missing(codes::DEVICE_SITE_NOT_INFORMED, "site"));
        let e = required.done().expect_err("missing");
        assert_eq!(e.code(), Some(codes::DEVICE_MODEL_NOT_INFORMED));
        assert_eq!(e.message, "1020: The device's model was not informed");
        assert_eq!(
            e.detail.as_deref(),
            Some("1020: The device's model was not informed; 1019: The device's site was not informed")
        );
        assert!(Required::new().done().is_ok());
    }
}
