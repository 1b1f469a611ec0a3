//! The senhasegura response envelope (contract §1.3), for successes and errors alike:
//! `code`, then `response{status, message, error, error_code, detail, mensagem, erro, cod_erro}`,
//! then the entity or, on errors, `exception{code, message, detail}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ErrorKind, OAuthError};

/// Put on responses so the audit middleware can record why a request was refused.
#[derive(Clone, Copy, Debug)]
pub struct AuditReason(pub &'static str);

/// Put on responses so the audit middleware can record whom it refused: (application, authorization).
#[derive(Clone, Copy, Debug)]
pub struct AuditCaller(pub i64, pub i64);

/// A successful answer: status, message and the entities under their contract keys.
pub struct Reply {
    status: u16,
    message: String,
    /// Extra keys inside `response` (e.g. `changed`, which Ansible reads).
    response_extra: Vec<(&'static str, Value)>,
    entities: Vec<(&'static str, Value)>,
}

impl Reply {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), response_extra: Vec::new(), entities: Vec::new() }
    }

    pub fn ok(message: impl Into<String>) -> Self {
        Self::new(200, message)
    }

    pub fn created(message: impl Into<String>) -> Self {
        Self::new(201, message)
    }

    pub fn with(mut self, key: &'static str, entity: Value) -> Self {
        self.entities.push((key, entity));
        self
    }

    pub fn with_response_field(mut self, key: &'static str, value: Value) -> Self {
        self.response_extra.push((key, value));
        self
    }
}

fn response_block(status: u16, message: &str, error: bool) -> Value {
    let flag = i32::from(error);
    json!({
        "status": status,
        "message": message,
        "error": error,
        "error_code": flag,
        "detail": "",
        "mensagem": message,
        "erro": error,
        "cod_erro": flag,
    })
}

/// Every envelope may carry a secret, so none may be cached.
fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("code".into(), self.status.into());
        let mut block = response_block(self.status, &self.message, false);
        if let Some(map) = block.as_object_mut() {
            map.extend(self.response_extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        }
        body.insert("response".into(), block);
        for (key, entity) in self.entities {
            body.insert(key.into(), entity);
        }
        json_response(self.status, &Value::Object(body))
    }
}

/// How an error kind is presented over HTTP: its status, the challenge it carries, and whether
/// it is answered in the token endpoint's RFC 6749 shape instead of the envelope.
pub struct Presentation {
    pub status: u16,
    pub challenge: Option<&'static str>,
    pub oauth: Option<&'static str>,
    pub shape: Shape,
}

/// Which envelope an error is answered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The current envelope with `exception`.
    Current,
    /// The legacy envelope (§1.3: status, mensagem, erro, message, error; no `exception`).
    Legacy,
    /// The dashboards' refusals (§1.7): the current `response` block with the error flags
    /// false, and no `exception`.
    Dashboard,
}

/// The one table from what went wrong to how it is answered.
pub fn presentation(kind: ErrorKind) -> Presentation {
    let plain = |status| Presentation { status, challenge: None, oauth: None, shape: Shape::Current };
    match kind {
        ErrorKind::Contract(_) | ErrorKind::Invalid => plain(400),
        ErrorKind::LegacyInvalid => Presentation { shape: Shape::Legacy, ..plain(400) },
        ErrorKind::DashboardInvalid => Presentation { shape: Shape::Dashboard, ..plain(400) },
        ErrorKind::OperationFailed => plain(500),
        ErrorKind::NotFound | ErrorKind::NoRoute => plain(404),
        ErrorKind::MethodNotAllowed => plain(405),
        ErrorKind::Conflict => plain(409),
        ErrorKind::Forbidden => plain(403),
        ErrorKind::ModuleNotAuthorized | ErrorKind::Internal => plain(500),
        ErrorKind::InsufficientScope => Presentation {
            status: 403,
            challenge: Some("Bearer realm=\"cofre\", error=\"insufficient_scope\""),
            oauth: None,
            shape: Shape::Current,
        },
        ErrorKind::Unauthenticated => {
            Presentation { status: 401, challenge: Some("Bearer realm=\"cofre\""), oauth: None, shape: Shape::Current }
        }
        ErrorKind::InvalidToken => Presentation {
            status: 401,
            challenge: Some("Bearer realm=\"cofre\", error=\"invalid_token\""),
            oauth: None,
            shape: Shape::Current,
        },
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidSignature => plain(401),
        ErrorKind::Throttled => plain(429),
        ErrorKind::TooLarge => plain(413),
        ErrorKind::UnsupportedMediaType => plain(415),
        ErrorKind::TimedOut | ErrorKind::Unavailable => plain(503),
        ErrorKind::OAuth(OAuthError::InvalidClient) => Presentation {
            status: 401,
            challenge: Some("Basic realm=\"cofre\""),
            oauth: Some(OAuthError::InvalidClient.as_str()),
            shape: Shape::Current,
        },
        ErrorKind::OAuth(other) => Presentation { oauth: Some(other.as_str()), ..plain(400) },
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let shown = presentation(self.kind);
        let body = match shown.oauth {
            None if shown.shape == Shape::Dashboard => json!({
                "code": shown.status,
                "response": response_block(shown.status, &self.message, false),
            }),
            None if shown.shape == Shape::Legacy => json!({
                "response": {
                    "status": shown.status,
                    "mensagem": self.message,
                    "erro": true,
                    "message": self.message,
                    "error": true,
                },
            }),
            None => {
                let mut response = response_block(shown.status, &self.message, true);
                if let Some(detail) = &self.detail {
                    response["detail"] = Value::String(detail.clone());
                }
                let detail = match (&self.error_id, &self.detail) {
                    (Some(id), _) => Value::String(format!("error id {id}")),
                    (None, Some(detail)) => Value::String(detail.clone()),
                    (None, None) => Value::Null,
                };
                json!({
                    "code": shown.status,
                    "response": response,
                    "exception": {
                        "code": self.code().unwrap_or(shown.status),
                        "message": self.message,
                        "detail": detail,
                    },
                })
            }
            Some(error) => json!({
                "error": error,
                "error_description": self.message,
                "message": self.message,
            }),
        };
        let mut response = json_response(shown.status, &body);
        let headers = response.headers_mut();
        if let Some(challenge) = shown.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if shown.oauth.is_some() {
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        }
        if let Some(reason) = self.audit_reason {
            response.extensions_mut().insert(AuditReason(reason));
        }
        if let Some(caller) = self.audit_caller {
            response.extensions_mut().insert(AuditCaller(caller.0, caller.1));
        }
        response
    }
}
