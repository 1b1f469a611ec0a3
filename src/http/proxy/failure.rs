//! When the device cannot be reached: an error the caller records (the session failed, and why)
//! and logs, and a small 502 page for the browser that says in one line what kind of failure it
//! was and nothing else — no address, no certificate detail, no credential.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::sessions::failure::FailureCause;
use crate::domain::targets::TargetRefused;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The device's name did not resolve, or its address refused, was unreachable, or did not
    /// answer in time.
    #[error("device unreachable ({cause}): {detail}")]
    Connect { cause: FailureCause, detail: String },
    /// The device's certificate did not verify against its trust setting and names.
    #[error("device certificate rejected: {0}")]
    Certificate(String),
    /// The TLS handshake failed otherwise (a device that does not speak TLS, no common version).
    #[error("device TLS handshake failed: {0}")]
    Tls(String),
    /// The device's trust setting itself is unusable (an unreadable PEM bundle).
    #[error("device trust setting unusable: {0}")]
    Trust(String),
    /// The connection broke or the device answered something that is not HTTP.
    #[error("device exchange failed: {0}")]
    Exchange(String),
    /// `target_networks` does not allow the device's address (or it is cofre's own listener).
    #[error("device address refused: {0}")]
    Refused(TargetRefused),
    /// The device's answer held the credential cofre injected (an echo such as TRACE's).
    #[error("the device echoed the injected credential")]
    Echoed,
    /// The device compressed its answer although asked not to: it cannot be checked for an echo.
    #[error("the device answered in an encoding the echo guard cannot read")]
    Encoded,
    /// The session was ended (dropped) before the device answered: not the device's fault.
    #[error("session ended before the device answered")]
    SessionEnded,
}

impl UpstreamError {
    /// Sorts a client error by its cause. The request URL reqwest puts in its messages holds no
    /// credential: the credential only ever travels in headers.
    pub(super) fn from_reqwest(error: &reqwest::Error) -> Self {
        // The URL holds the browser's path and query, which may carry the application's tokens:
        // it stays out of the log and the audit record the failure reaches.
        let mut detail = chain(error);
        if let Some(url) = error.url() {
            detail = detail.replace(url.as_str(), &url.origin().ascii_serialization());
        }
        if let Some(refused) = target_refusal(error) {
            Self::from_target(refused)
        } else if has_certificate_error(error) {
            Self::Certificate(detail)
        } else if has_tls_error(error) {
            Self::Tls(detail)
        } else if error.is_timeout() {
            Self::Connect { cause: FailureCause::Timeout, detail }
        } else if error.is_connect() {
            let cause = io_kind(error).map_or(FailureCause::Unreachable, FailureCause::of_io);
            Self::Connect { cause, detail }
        } else {
            Self::Exchange(detail)
        }
    }

    /// A refusal by the target policy; a name that did not resolve is a connection failure.
    pub(super) fn from_target(refused: TargetRefused) -> Self {
        if refused.is_policy() {
            Self::Refused(refused)
        } else {
            Self::Connect { cause: FailureCause::NameNotResolved, detail: refused.to_string() }
        }
    }

    pub(super) fn from_io(error: &std::io::Error) -> Self {
        if has_certificate_error(error) {
            Self::Certificate(chain(error))
        } else if has_tls_error(error) {
            Self::Tls(chain(error))
        } else {
            Self::Connect { cause: FailureCause::of_io(error.kind()), detail: chain(error) }
        }
    }

    /// Whether this is the session's own end rather than a device failure.
    pub fn is_session_end(&self) -> bool {
        matches!(self, Self::SessionEnded)
    }

    /// Why the session failed, for its row and its audit record; None when it was not a failure.
    pub fn cause(&self) -> Option<FailureCause> {
        Some(match self {
            Self::Connect { cause, .. } => *cause,
            Self::Certificate(_) | Self::Tls(_) => FailureCause::Tls,
            Self::Trust(_) => FailureCause::TrustSettings,
            Self::Exchange(_) => FailureCause::Protocol,
            Self::Refused(_) => FailureCause::AddressNotAllowed,
            Self::Echoed => FailureCause::CredentialEchoed,
            Self::Encoded => FailureCause::UnreadableAnswer,
            Self::SessionEnded => return None,
        })
    }

    /// 502 for a device failure, 403 for an address cofre may not connect to; 503 when the
    /// session itself ended.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::SessionEnded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Refused(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    fn browser_message(&self) -> String {
        match self {
            Self::SessionEnded => "This session has ended.".into(),
            Self::Connect { cause, .. } => format!("The application on this device could not be reached: {cause}."),
            Self::Exchange(_) => {
                "The application on this device broke off or answered something that is not HTTP.".into()
            }
            Self::Certificate(_) => "The application on this device presented a certificate that is not trusted \
                                     (TLS)."
                .into(),
            Self::Tls(_) => "The TLS handshake with the application on this device failed.".into(),
            Self::Trust(_) => "The trust settings for this device are not usable.".into(),
            Self::Refused(_) => "cofre may not connect to this device's address.".into(),
            Self::Encoded => {
                "The application answered in an encoding cofre cannot check, so it was not passed on.".into()
            }
            Self::Echoed => "The application's answer held the session's credential, so it was not passed on.".into(),
        }
    }
}

impl IntoResponse for UpstreamError {
    fn into_response(self) -> Response {
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body><h1>{title}</h1><p>{}</p><p>Ask the vault's administrators if this persists.</p></body></html>\n",
            self.browser_message()
        );
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page)
            .into_response()
    }
}

/// The messages of an error and its causes, for the log.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

/// The target policy's refusal, when the resolver gave one somewhere in the chain.
fn target_refusal(error: &(dyn std::error::Error + 'static)) -> Option<TargetRefused> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(refused) = current.downcast_ref::<TargetRefused>() {
            return Some(refused.clone());
        }
        cause = current.source();
    }
    None
}

/// The kind of the first I/O error in the chain (a refused connection, a timeout).
fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cause = current.source();
    }
    None
}

/// Whether rustls failed the handshake somewhere in the chain (wrapped as `is_certificate_error`
/// explains).
fn has_tls_error(error: &(dyn std::error::Error + 'static)) -> bool {
    fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
        error.is::<rustls::Error>()
            || error.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref).is_some_and(|e| is_tls(e))
    }
    let mut cause = Some(error);
    while let Some(current) = cause {
        if is_tls(current) {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Whether rustls rejected the certificate somewhere in the chain. `io::Error` hides the error it
/// wraps from `source()` (and TLS errors arrive wrapped twice), so it is unwrapped by hand.
fn has_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if is_certificate_error(current) {
            return true;
        }
        cause = current.source();
    }
    false
}

fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(rustls::Error::InvalidCertificate(_)) = error.downcast_ref::<rustls::Error>() {
        return true;
    }
    match error.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
        Some(wrapped) => is_certificate_error(wrapped),
        None => false,
    }
}
