//! The one error type every route answers with.
//!
//! Policy: business and validation errors carry the contract's 10xx code and text verbatim.
//! Internal failures say only "Unexpected error." with an error id; the cause is logged once,
//! under that id, and never put in a body. Services build these with the intent-named
//! constructors below and speak only of what went wrong (`ErrorKind`): the status, headers and
//! body shape each kind gets are the http layer's one table (http/envelope.rs).

pub mod codes;

use std::borrow::Cow;

use crate::crypto::cipher::CryptoError;
use crate::store::StoreError;

/// What went wrong, in the words of the rules that found it. The http layer's one table
/// (`http::envelope::presentation`) turns each kind into a status, a challenge header and a body
/// shape; nothing here knows HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A business error of the contract, with its 10xx code (`codes`).
    Contract(u16),
    /// Input that cannot be accepted: malformed, wrong type, out of bounds.
    Invalid,
    /// Input refused in the contract's legacy shape, with no exception (session tickets, §8).
    LegacyInvalid,
    /// Input a dashboard refuses (§13.1): 400 with `error: false`, as the contract prints it.
    DashboardInvalid,
    /// An operation the contract answers as a server error with its own words (a drop, §8);
    /// nothing internal went wrong, so nothing is logged under an error id.
    OperationFailed,
    NotFound,
    /// A concurrent change, or a name already taken.
    Conflict,
    /// The caller is known but may not do this (an address or referrer refused, a right missing).
    Forbidden,
    /// The authorization lacks the module (the contract answers this as a server error).
    ModuleNotAuthorized,
    /// A token whose scope lacks the operation.
    InsufficientScope,
    /// No credentials were presented.
    Unauthenticated,
    /// A bearer token that is invalid, expired or superseded.
    InvalidToken,
    /// A signature, API token or password that does not check out.
    AuthenticationFailed,
    /// An OAuth 1.0a signature that does not check out (its own documented wording).
    InvalidSignature,
    /// Too many failed attempts; `retry_after` says when to come back.
    Throttled,
    /// No such route, or not with this method.
    NoRoute,
    MethodNotAllowed,
    TooLarge,
    UnsupportedMediaType,
    /// The request ran out of time, or the store is unreachable: worth retrying.
    TimedOut,
    Unavailable,
    /// Anything else: logged under an error id, never described to the caller.
    Internal,
    /// An RFC 6749 §5.2 error of the token endpoint.
    OAuth(OAuthError),
}

/// The token endpoint's errors (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest,
    UnsupportedGrantType,
    InvalidClient,
}

impl OAuthError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidClient => "invalid_client",
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: Cow<'static, str>,
    /// Seconds after which a retry may succeed (throttling, time-outs, an unreachable store).
    pub retry_after: Option<u32>,
    /// Set on internal errors: the id under which the cause was logged.
    pub error_id: Option<String>,
    /// Why a request was refused, for the audit record (never sent to the client).
    pub audit_reason: Option<&'static str>,
    /// The (application, authorization) a refused request identified, for the audit record.
    pub audit_caller: Option<Box<(i64, i64)>>,
    /// More than the message says, for the caller: the envelope's `detail` (e.g. every
    /// required field missing, where the message names the first).
    pub detail: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            error_id: None,
            audit_reason: None,
            audit_caller: None,
            detail: None,
        }
    }

    /// The contract's 10xx number, when the error has one.
    pub fn code(&self) -> Option<u16> {
        match self.kind {
            ErrorKind::Contract(code) => Some(code),
            _ => None,
        }
    }

    /// A contract error: `"NNNN: text"`.
    pub fn business(code: u16, text: &str) -> Self {
        Self::new(ErrorKind::Contract(code), format!("{code}: {text}"))
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// A refusal in the legacy envelope shape, without `exception` (§8 session tickets).
    pub fn legacy(message: &'static str) -> Self {
        Self::new(ErrorKind::LegacyInvalid, message).with_reason(message)
    }

    /// A 500 whose text the contract fixes (it is not an internal failure).
    pub fn operation_failed(message: &'static str) -> Self {
        Self::new(ErrorKind::OperationFailed, message).with_reason(message)
    }

    /// A dashboard refusal (§1.7: status 400 with `erro`/`error` false, no `exception`).
    pub fn dashboard(message: &'static str) -> Self {
        Self::new(ErrorKind::DashboardInvalid, message).with_reason(message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A write based on a read that another caller's change made stale.
    pub fn concurrent_change() -> Self {
        Self::conflict("The item changed concurrently; read it again and retry.").with_reason("concurrent change")
    }

    /// The authorization lacks the module.
    pub fn resource_not_authorized() -> Self {
        Self::new(ErrorKind::ModuleNotAuthorized, "You are not authorized to access this resource.")
            .with_reason("resource not authorized")
    }

    /// A write by a read-only authorization.
    pub fn read_only() -> Self {
        Self::business(codes::READ_ONLY_AUTHORIZATION, "Without PAM Configuration Access permission")
            .with_reason("read-only authorization")
    }

    pub fn no_route() -> Self {
        Self::new(ErrorKind::NoRoute, NO_ROUTE)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(ErrorKind::MethodNotAllowed, NO_ROUTE)
    }

    /// No credentials at all: the gateway's answer.
    pub fn unauthenticated() -> Self {
        Self::new(ErrorKind::Unauthenticated, NO_ROUTE).with_reason("no credentials")
    }

    pub fn invalid_token() -> Self {
        Self::new(ErrorKind::InvalidToken, "The access token is invalid or has expired.").with_reason("invalid token")
    }

    pub fn forbidden(message: &'static str) -> Self {
        Self::new(ErrorKind::Forbidden, message).with_reason(message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(ErrorKind::TooLarge, format!("Request body is larger than the limit of {limit} bytes."))
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            ErrorKind::UnsupportedMediaType,
            "Unsupported Content-Type: send application/json, application/x-www-form-urlencoded or multipart/form-data.",
        )
    }

    /// A token whose scope lacks the operation (RFC 6750 `insufficient_scope`).
    pub fn insufficient_scope() -> Self {
        Self::new(ErrorKind::InsufficientScope, "The token's scope does not allow this operation.")
            .with_reason("insufficient scope")
    }

    /// Authentication failed for a non-OAuth2 scheme; says nothing about which part was wrong.
    pub fn authentication_failed(reason: &'static str) -> Self {
        Self::new(ErrorKind::AuthenticationFailed, "Client authentication failed.").with_reason(reason)
    }

    /// OAuth 1.0a's documented failure.
    pub fn invalid_signature(reason: &'static str) -> Self {
        Self::new(ErrorKind::InvalidSignature, "Invalid signature").with_reason(reason)
    }

    pub fn too_many_attempts(retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(ErrorKind::Throttled, "Too many failed attempts; try again later.")
        }
        .with_reason("throttled")
    }

    pub fn timed_out() -> Self {
        Self { retry_after: Some(1), ..Self::new(ErrorKind::TimedOut, "Request timed out.") }
    }

    pub fn unavailable() -> Self {
        Self { retry_after: Some(2), ..Self::new(ErrorKind::Unavailable, "Service temporarily unavailable.") }
    }

    /// Logs `cause` once under a fresh error id; the body says only "Unexpected error.".
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        tracing::error!(error.id = %id, error.cause = %cause, "internal error");
        Self { error_id: Some(id), ..Self::new(ErrorKind::Internal, "Unexpected error.") }
    }

    /// RFC 6749 §5.2 errors of the token endpoint.
    pub fn oauth(error: OAuthError, description: &'static str) -> Self {
        Self::new(ErrorKind::OAuth(error), description).with_reason(error.as_str())
    }

    pub fn invalid_client() -> Self {
        Self::oauth(OAuthError::InvalidClient, "Client authentication failed")
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

    /// The envelope's `detail` (in `response` and `exception`).
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// The gateway's answer when nothing matches (and when no credentials were presented).
const NO_ROUTE: &str = "No route matched with those values.";

/// A store read whose "no such row" has an answer of its own; any other store failure converts
/// as usual (an outage is never reported as "not found").
pub trait OrNotFound<T> {
    fn or_not_found(self, answer: impl FnOnce() -> ApiError) -> ApiResult<T>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, answer: impl FnOnce() -> ApiError) -> ApiResult<T> {
        self.map_err(|e| match e {
            StoreError::NotFound => answer(),
            other => other.into(),
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict | StoreError::Stale => Self::concurrent_change(),
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
