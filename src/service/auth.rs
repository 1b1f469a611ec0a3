//! Authentication (§2): every scheme — OAuth 2.0, OAuth 1.0a, SigV4, API tokens, password
//! logins — ends in the same gate, and every attempt goes through the same throttle.
//!
//! Every request is checked against its authorization row as of at most half a second ago
//! (`Store::recent_authorization`), so disabling an application, expiring an authorization or
//! rotating its secret stops its tokens at once on the process that made the change, and within
//! one second on every other cofre process.

pub mod api_tokens;
pub mod login;
pub mod oauth1;
pub mod oauth2;
pub mod purge;
pub mod sigv4;
pub mod throttle;

use std::net::IpAddr;

use crate::domain::authorization::{Authorization, Caller, Refusal, Scheme};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;

/// Where a request comes from, as the gate needs it.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub ip: IpAddr,
    pub referer: Option<&'a str>,
}

/// Status, expiry, referrer and source IP (host names looked up): the same gate for every scheme,
/// at token issue and on every request.
pub async fn gate(core: &Core, authorization: &Authorization, origin: Origin<'_>) -> Result<(), Refusal> {
    authorization.admits(core.now(), origin.referer)?;
    let resolved = core.hosts.resolve_all(authorization.allowed_ips.hosts()).await;
    if authorization.allowed_ips.allows(origin.ip, &resolved) { Ok(()) } else { Err(Refusal::IpNotAllowed) }
}

/// Turns an authenticated authorization into a caller, or the refusal every scheme answers alike.
pub async fn admit(
    core: &Core,
    authorization: Authorization,
    acting_user_id: Option<i64>,
    scheme: Scheme,
    origin: Origin<'_>,
) -> ApiResult<Caller> {
    let refusal = match gate(core, &authorization, origin).await {
        Ok(()) => {
            let acting_user_id = acting_user_id.or(authorization.acting_user_id);
            return Ok(Caller { acting_user_id, authorization, client_ip: origin.ip, scheme });
        }
        Err(r @ (Refusal::Disabled | Refusal::Expired)) => ApiError::invalid_token().with_reason(reason(r)),
        Err(Refusal::IpNotAllowed) => ApiError::forbidden("Access denied: this client IP is not authorized."),
        Err(Refusal::RefererNotAllowed) => ApiError::forbidden("Access denied: this HTTP referer is not authorized."),
    };
    Err(refusal.with_caller(authorization.application_id, authorization.id))
}

pub fn reason(r: Refusal) -> &'static str {
    match r {
        Refusal::Disabled => "authorization or application disabled",
        Refusal::Expired => "authorization expired",
        Refusal::IpNotAllowed => "client IP not allowed",
        Refusal::RefererNotAllowed => "referer not allowed",
    }
}
