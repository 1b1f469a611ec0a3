//! The senhasegura response envelope (contract §1.3), for successes and errors alike:
//! `code`, then `response{status, message, error, error_code, detail, mensagem, erro, cod_erro}`,
//! then the entity or, on errors, `exception{code, message, detail}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ErrorShape};

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.shape {
            ErrorShape::Envelope => {
                let detail = self.error_id.as_ref().map_or(Value::Null, |id| Value::String(format!("error id {id}")));
                json!({
                    "code": self.status,
                    "response": response_block(self.status, &self.message, true),
                    "exception": {
                        "code": self.code.unwrap_or(self.status),
                        "message": self.message,
                        "detail": detail,
                    },
                })
            }
            ErrorShape::OAuth(error) => json!({
                "error": error,
                "error_description": self.message,
                "message": self.message,
            }),
        };
        let mut response = json_response(self.status, &body);
        let headers = response.headers_mut();
        if let Some(challenge) = self.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self.shape, ErrorShape::OAuth(_)) {
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
