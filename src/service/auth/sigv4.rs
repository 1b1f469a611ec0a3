//! Request signing, AWS Signature Version 4, over an application's access key (service
//! `cofre`, region from the configuration). The date must be within 15 minutes of the server's,
//! the scope must match, `host` must be signed, the payload hash must match the body, and a
//! write's signature is accepted once (a repeated read within the window is let through).

use crate::crypto::ct_eq;
use crate::crypto::sigv4_signature::{self, AuthHeader};
use crate::domain::authorization::{Authorization, Caller, Scheme};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::auth::oauth1::secret_aad;
use crate::service::auth::throttle::{self, Proof};
use crate::service::auth::{Origin, admit};
use crate::store::StoreError;

pub const SERVICE: &str = "cofre";
const MAX_SKEW_SECS: i64 = 15 * 60;

pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// Every header, lower-case name and value.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

pub async fn verify_request(
    core: &Core,
    auth: AuthHeader,
    request: SignedRequest<'_>,
    origin: Origin<'_>,
) -> ApiResult<Caller> {
    let subject = format!("aws:{}", auth.access_key_id);
    let authorization = throttle::guard(core, "sigv4", Some(&subject), origin.ip, check(core, &auth, &request)).await?;
    admit(core, authorization, None, Scheme::SigV4, origin).await
}

async fn check(core: &Core, auth: &AuthHeader, request: &SignedRequest<'_>) -> ApiResult<Proof<Authorization>> {
    let fail = |reason: &'static str| Ok(Proof::Invalid(ApiError::authentication_failed(reason)));
    let header = |name: &str| request.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let Some(amz_date) = header("x-amz-date") else { return fail("x-amz-date missing") };
    let Some(signed_at) = parse_amz_date(amz_date) else { return fail("x-amz-date malformed") };
    let now = core.now();
    if now.abs_diff(signed_at) > MAX_SKEW_SECS.unsigned_abs() {
        return fail("RequestTimeTooSkewed");
    }
    if !amz_date.starts_with(&auth.date) || auth.region != core.config.sigv4_region || auth.service != SERVICE {
        return fail("credential scope mismatch");
    }
    if !auth.signed_headers.iter().any(|h| h == "host") || !auth.signed_headers.iter().any(|h| h == "x-amz-date") {
        return fail("host and x-amz-date must be signed");
    }
    let payload_hash = sigv4_signature::sha256_hex(request.body);
    if header("x-amz-content-sha256").is_some_and(|claimed| claimed != payload_hash) {
        return fail("payload hash mismatch");
    }
    let (authorization, sealed_secret) = match core.store.authorization_by_access_key(&auth.access_key_id).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return fail("unknown access key"),
        Err(e) => return Err(e.into()),
    };
    let secret = core.unseal(&secret_aad(&authorization.client_id, "aws_secret_access_key"), &sealed_secret).await?;
    let secret = std::str::from_utf8(&secret).map_err(|e| ApiError::internal(&e))?;
    let canonical = sigv4_signature::canonical_request(
        request.method,
        request.raw_path,
        request.raw_query,
        &request.headers,
        &auth.signed_headers,
        &payload_hash,
    );
    let scope = format!("{}/{}/{}/aws4_request", auth.date, auth.region, auth.service);
    let expected = sigv4_signature::signature(
        secret,
        &auth.date,
        &auth.region,
        &auth.service,
        &sigv4_signature::string_to_sign(amz_date, &scope, &canonical),
    );
    if !ct_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return fail("signature mismatch");
    }
    // Identical reads signed within the same second carry the same signature, and repeating a
    // read changes nothing (AWS lets it through too); a repeated write is a replay.
    if !is_read(request.method)
        && !core.store.consume_once(&format!("sigv4:{}", auth.signature), now + 2 * MAX_SKEW_SECS, now).await?
    {
        return Ok(Proof::Replayed(ApiError::authentication_failed("signature replayed")));
    }
    Ok(Proof::Valid(authorization))
}

fn is_read(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// `YYYYMMDDTHHMMSSZ` → unix seconds.
fn parse_amz_date(s: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, format).ok().map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    #[test]
    fn amz_dates_parse() {
        assert_eq!(super::parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(super::parse_amz_date("2015-08-30"), None);
    }
}
