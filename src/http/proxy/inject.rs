//! The credential as the headers cofre adds to every request it forwards.
//!
//! By default that is HTTP Basic. A credential whose `session_settings` holds a `headers` object
//! gets those headers instead, each value a template:
//!
//! ```json
//! {"headers": {"Authorization": "Bearer {{password}}", "X-User": "{{username}}"}}
//! ```
//!
//! `{{username}}` and `{{password}}` (spaces inside the braces allowed) are replaced by the
//! credential's; any other `{{…}}`, an unclosed `{{`, a value that is not a string, a name that is
//! not a header name, a rendered value that is not a valid header value (a line break, say), and
//! the headers the engine itself owns (`Host`, `Cookie`, `Content-Length`, hop-by-hop headers) are
//! errors. Every rendered value is marked sensitive, so it is never logged.

use axum::http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::headers::is_engine_owned;

/// The key of `session_settings` that holds the header templates.
const HEADERS_KEY: &str = "headers";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("session_settings.headers must be an object of header names to strings")]
    NotAnObject,
    #[error("session_settings.headers.{0}: not a valid header name")]
    BadName(String),
    #[error("session_settings.headers.{0}: cofre sets this header itself")]
    Reserved(String),
    #[error("session_settings.headers.{0}: the template must be a string")]
    NotAString(String),
    #[error(
        "session_settings.headers.{name}: unknown placeholder {{{{{placeholder}}}}} (use {{{{username}}}} or {{{{password}}}})"
    )]
    UnknownPlaceholder { name: String, placeholder: String },
    #[error("session_settings.headers.{0}: unclosed {{{{")]
    Unclosed(String),
    // The rendered value is never part of the message: it may hold the password.
    #[error("session_settings.headers.{0}: the rendered value is not a valid header value")]
    BadValue(String),
}

/// `Authorization: Basic base64(username:password)`, marked sensitive.
pub fn basic_auth(username: &str, password: &str) -> HeaderValue {
    let pair = Zeroizing::new(format!("{username}:{password}"));
    let encoded = Zeroizing::new(format!("Basic {}", STANDARD.encode(pair.as_bytes())));
    let mut value = HeaderValue::from_str(&encoded).expect("base64 is always a valid header value");
    value.set_sensitive(true);
    value
}

/// The headers to inject for a credential: its `session_settings.headers` templates when it has
/// them, HTTP Basic otherwise.
pub fn credential_headers(
    session_settings: Option<&Map<String, Value>>,
    username: &str,
    password: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, TemplateError> {
    match session_settings.and_then(|settings| settings.get(HEADERS_KEY)) {
        Some(Value::Object(templates)) => header_template(templates, username, password),
        Some(_) => Err(TemplateError::NotAnObject),
        None => Ok(vec![(AUTHORIZATION, basic_auth(username, password))]),
    }
}

/// Renders a `headers` template object (see the module documentation for the format).
pub fn header_template(
    templates: &Map<String, Value>,
    username: &str,
    password: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, TemplateError> {
    templates
        .iter()
        .map(|(name, template)| {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| TemplateError::BadName(name.clone()))?;
            if is_engine_owned(&header) {
                return Err(TemplateError::Reserved(name.clone()));
            }
            let template = template.as_str().ok_or_else(|| TemplateError::NotAString(name.clone()))?;
            let rendered = render(name, template, username, password)?;
            let mut value = HeaderValue::from_str(&rendered).map_err(|_| TemplateError::BadValue(name.clone()))?;
            value.set_sensitive(true);
            Ok((header, value))
        })
        .collect()
}

fn render(name: &str, template: &str, username: &str, password: &str) -> Result<Zeroizing<String>, TemplateError> {
    let mut out = Zeroizing::new(String::with_capacity(template.len() + password.len()));
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| TemplateError::Unclosed(name.to_owned()))?;
        match after[..end].trim() {
            "username" => out.push_str(username),
            "password" => out.push_str(password),
            other => {
                return Err(TemplateError::UnknownPlaceholder { name: name.to_owned(), placeholder: other.to_owned() });
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn templates(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn basic_is_rfc7617_and_sensitive() {
        let value = basic_auth("Aladdin", "open sesame");
        assert_eq!(value, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(value.is_sensitive());
    }

    #[test]
    fn templates_render_both_placeholders() {
        let t = templates(json!({"Authorization": "Bearer {{password}}", "X-User": "{{ username }}@corp"}));
        let headers = header_template(&t, "ana", "s3cret").expect("renders");
        assert_eq!(headers[0].0, "authorization");
        assert_eq!(headers[0].1, "Bearer s3cret");
        assert_eq!(headers[1].1, "ana@corp");
        assert!(headers.iter().all(|(_, v)| v.is_sensitive()));
    }

    #[test]
    fn bad_templates_are_errors_that_never_show_the_password() {
        let cases = [
            (json!({"X": "{{token}}"}), "unknown placeholder {{token}}"),
            (json!({"X": "Bearer {{password"}), "unclosed"),
            (json!({"X": 5}), "must be a string"),
            (json!({"bad name": "x"}), "not a valid header name"),
            (json!({"Host": "x"}), "sets this header itself"),
            (json!({"Cookie": "x"}), "sets this header itself"),
            (json!({"X": "{{password}}"}), "not a valid header value"),
        ];
        for (template, expected) in cases {
            let error = header_template(&templates(template), "ana", "line\nbreak").expect_err("rejected");
            let message = error.to_string();
            assert!(message.contains(expected), "{message}");
            assert!(!message.contains("line\nbreak"));
        }
    }

    #[test]
    fn settings_choose_between_basic_and_templates() {
        let basic = credential_headers(None, "ana", "pw").expect("basic");
        assert_eq!(basic, vec![(AUTHORIZATION, basic_auth("ana", "pw"))]);
        let other_settings = templates(json!({"use_own_credential_to_connect": true}));
        assert_eq!(credential_headers(Some(&other_settings), "ana", "pw").expect("basic").len(), 1);
        let not_object = templates(json!({"headers": "Bearer {{password}}"}));
        assert_eq!(credential_headers(Some(&not_object), "ana", "pw"), Err(TemplateError::NotAnObject));
    }
}
