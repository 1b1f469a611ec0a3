//! The one error type every route answers with.
//!
//! Policy: business and validation errors carry the contract's 10xx code and text verbatim and
//! render as the senhasegura envelope (http/envelope.rs). Internal failures render as an opaque
//! "Unexpected error." with an error id; the cause is logged once, under that id, and never put
//! in a body. The token endpoint's failures render in the RFC 6749 §5.2 shape instead.
//! Services build these with the intent-named constructors below and never import axum.

pub mod codes;

use std::borrow::Cow;

use crate::crypto::cipher::CryptoError;
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `code`, `response{…}`, `exception{…}`.
    Envelope,
    /// `{"error": …, "error_description": …}` for `/oauth2/token`.
    OAuth(&'static str),
}

#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    /// The contract's 10xx number, when the error has one.
    pub code: Option<u16>,
    pub message: Cow<'static, str>,
    pub shape: ErrorShape,
    pub www_authenticate: Option<&'static str>,
    pub retry_after: Option<u32>,
    /// Set on internal errors: the id under which the cause was logged.
    pub error_id: Option<String>,
    /// Why a request was refused, for the audit record (never sent to the client).
    pub audit_reason: Option<&'static str>,
    /// The (application, authorization) a refused request identified, for the audit record.
    pub audit_caller: Option<Box<(i64, i64)>>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(status: u16, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code: None,
            message: message.into(),
            shape: ErrorShape::Envelope,
            www_authenticate: None,
            retry_after: None,
            error_id: None,
            audit_reason: None,
            audit_caller: None,
        }
    }

    /// A contract error: 400 with `"NNNN: text"`.
    pub fn business(code: u16, text: &str) -> Self {
        Self { code: Some(code), ..Self::new(400, format!("{code}: {text}")) }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(404, message)
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(409, message)
    }

    /// The authorization lacks the module; the contract lists this under 500.
    pub fn resource_not_authorized() -> Self {
        Self::new(500, "You are not authorized to access this resource.").with_reason("resource not authorized")
    }

    /// A write by a read-only authorization.
    pub fn read_only() -> Self {
        Self::business(codes::READ_ONLY_AUTHORIZATION, "Without PAM Configuration Access permission")
            .with_reason("read-only authorization")
    }

    pub fn no_route(status: u16) -> Self {
        Self::new(status, "No route matched with those values.")
    }

    /// No credentials at all: the gateway's answer, with a challenge that names no error.
    pub fn unauthenticated() -> Self {
        Self { www_authenticate: Some("Bearer realm=\"cofre\""), ..Self::no_route(401) }.with_reason("no credentials")
    }

    pub fn invalid_token() -> Self {
        Self {
            www_authenticate: Some("Bearer realm=\"cofre\", error=\"invalid_token\""),
            ..Self::new(401, "The access token is invalid or has expired.")
        }
        .with_reason("invalid token")
    }

    pub fn forbidden(message: &'static str) -> Self {
        Self::new(403, message).with_reason(message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(413, format!("Request body is larger than the limit of {limit} bytes."))
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "Unsupported Content-Type: send application/json, application/x-www-form-urlencoded or multipart/form-data.",
        )
    }

    /// 403 for a token whose scope lacks the operation (RFC 6750 `insufficient_scope`).
    pub fn insufficient_scope() -> Self {
        Self {
            www_authenticate: Some("Bearer realm=\"cofre\", error=\"insufficient_scope\""),
            ..Self::new(403, "The token's scope does not allow this operation.")
        }
        .with_reason("insufficient scope")
    }

    /// Authentication failed for a non-OAuth2 scheme; says nothing about which part was wrong.
    pub fn authentication_failed(reason: &'static str) -> Self {
        Self::new(401, "Client authentication failed.").with_reason(reason)
    }

    /// OAuth 1.0a's documented failure.
    pub fn invalid_signature(reason: &'static str) -> Self {
        Self::new(401, "Invalid signature").with_reason(reason)
    }

    pub fn too_many_attempts(retry_after: u32) -> Self {
        Self { retry_after: Some(retry_after.max(1)), ..Self::new(429, "Too many failed attempts; try again later.") }
            .with_reason("throttled")
    }

    pub fn timed_out() -> Self {
        Self { retry_after: Some(1), ..Self::new(503, "Request timed out.") }
    }

    pub fn unavailable() -> Self {
        Self { retry_after: Some(2), ..Self::new(503, "Service temporarily unavailable.") }
    }

    /// Logs `cause` once under a fresh error id; the body says only "Unexpected error.".
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        tracing::error!(error.id = %id, error.cause = %cause, "internal error");
        Self { error_id: Some(id), ..Self::new(500, "Unexpected error.") }
    }

    /// RFC 6749 §5.2 errors of the token endpoint.
    pub fn oauth(status: u16, error: &'static str, description: &'static str) -> Self {
        Self { shape: ErrorShape::OAuth(error), ..Self::new(status, description) }.with_reason(error)
    }

    pub fn invalid_client() -> Self {
        Self {
            www_authenticate: Some("Basic realm=\"cofre\""),
            ..Self::oauth(401, "invalid_client", "Client authentication failed")
        }
    }

    /// Names the authorization a refused request identified, so the audit record carries it.
    pub fn with_caller(mut self, application_id: i64, authorization_id: i64) -> Self {
        self.audit_caller = Some(Box::new((application_id, authorization_id)));
        self
    }

    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.audit_reason = Some(reason);
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::conflict("The item changed concurrently; read it again and retry.")
                .with_reason("concurrent change"),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error.cause = %cause, "store unavailable");
                Self::unavailable()
            }
            other => Self::internal(&other),
        }
    }
}

impl From<CryptoError> for ApiError {
    fn from(e: CryptoError) -> Self {
        Self::internal(&e).with_reason("integrity failure")
    }
}
