//! Signing (`GET /certificate/request/sign/{code}`, `/certificado/request/assinar/{id}`), the
//! certificate list (`GET /certificate/list[/{code}]` by request code or id,
//! `/certificado/listar[/{id}]` by id), export and
//! revocation (cofre's own `POST /certificate/export/{id}` and `/certificate/revoke/{id}`).

use axum::extract::State;

use super::{certificate_json, first, paging};
use crate::domain::authorization::Caller;
use crate::domain::certificates::{CertificateFilter, CertificateStatus, Origin};
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::http::path::Segments;
use crate::service::certificates::signing::{self, SignInput};
use crate::service::certificates::{issued, renewal};
use crate::state::AppState;

pub async fn sign(
    State(state): State<AppState>,
    caller: Caller,
    Segments(code): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    let self_signed = match params.flag("self_signed")? {
        Some(v) => Some(v),
        None => params.flag("auto_assinado")?,
    };
    let input = SignInput {
        code,
        auto_renew: match params.flag("auto_renew")? {
            Some(v) => Some(v),
            None => params.flag("renovacao_automatica")?,
        },
        renewal_days: whole(&params, "renewal_days")?,
        self_signed,
        ca: params.text("ca")?,
        reason: first(&params, &["reason", "motivo"])?,
        justification: first(&params, &["justification", "justificativa"])?,
        itsm_code: params.text("itsm_code")?,
    };
    let certificate = signing::sign(&state.core, &caller, input).await?;
    Ok(Reply::ok("Certificate signed").with("certificate", certificate_json(&certificate, state.core.now())))
}

/// An optional whole-number parameter.
fn whole(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    params
        .text(name)?
        .map(|v| {
            v.trim().parse().map_err(|_| ApiError::bad_request(format!("Parameter '{name}' must be a whole number.")))
        })
        .transpose()
}

/// `POST /certificate/renewal/{id}` (cofre's own): `auto_renew` and `renewal_days`.
pub async fn renewal(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    let id = certificate_id(&id)?;
    let auto_renew = params.flag("auto_renew")?;
    let certificate = renewal::configure(&state.core, &caller, id, auto_renew, whole(&params, "renewal_days")?).await?;
    Ok(Reply::ok("Certificate renewal settings").with("certificate", certificate_json(&certificate, state.core.now())))
}

fn certificate_id(raw: &str) -> ApiResult<i64> {
    raw.trim().parse().map_err(|_| ApiError::not_found("Certificate not found."))
}

/// A date filter: `YYYY-MM-DD` (the day's start, UTC).
fn date(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    let Some(text) = params.text(name)? else { return Ok(None) };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), format)
        .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
        .map_err(|_| ApiError::bad_request(format!("Parameter '{name}' must be a date as YYYY-MM-DD.")))
}

/// Which certificate a list path names.
#[derive(Default)]
struct Named {
    id: Option<i64>,
    request_code: Option<String>,
}

impl Named {
    fn any(&self) -> bool {
        self.id.is_some() || self.request_code.is_some()
    }
}

pub async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    answer_list(&state, &caller, Named::default(), &params).await
}

/// `GET /certificado/listar/{id}`: the Portuguese documentation names the certificate's id.
pub async fn list_id(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    let named = Named { id: Some(certificate_id(&id)?), request_code: None };
    answer_list(&state, &caller, named, &params).await
}

/// `GET /certificate/list/{code}`: the English documentation names the request's code; the
/// certificate's numeric id keeps working.
pub async fn list_code(
    State(state): State<AppState>,
    caller: Caller,
    Segments(code): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    let code = code.trim();
    let named = Named { id: code.parse().ok(), request_code: Some(code.to_owned()) };
    answer_list(&state, &caller, named, &params).await
}

async fn answer_list(state: &AppState, caller: &Caller, named: Named, params: &Params) -> ApiResult<Reply> {
    let (offset, limit) = paging(params)?;
    let status = match params.text("status_certificate")? {
        None => None,
        Some(s) => Some(CertificateStatus::parse(&s).ok_or_else(|| {
            ApiError::bad_request(
                "Parameter 'status_certificate' must be 1 (valid), 2 (revoked), 3 (renewal pending) or 4 (expired).",
            )
        })?),
    };
    let origin = match params.text("origin_certificate")? {
        None => None,
        Some(o) => Some(
            Origin::parse(&o)
                .ok_or_else(|| ApiError::bad_request("Parameter 'origin_certificate' must be SCAN, REQU or IMPO."))?,
        ),
    };
    let one = named.any();
    let filter = CertificateFilter {
        id: named.id,
        request_code: named.request_code,
        status,
        origin,
        common_name: params.text("common_name")?.map(|c| c.trim().to_ascii_lowercase()),
        start_validity: date(params, "start_validity")?,
        end_validity: date(params, "end_validity")?,
        // `active=1`: valid or due for renewal; `active=0`: revoked or expired.
        active: params.flag("active")?,
        offset,
        limit,
    };
    let now = state.core.now();
    let found = issued::list(&state.core, caller, &filter).await?;
    if one && found.is_empty() {
        return Err(ApiError::not_found("Certificate not found."));
    }
    Ok(Reply::ok("Certificates").with("certificates", found.iter().map(|c| certificate_json(c, now)).collect()))
}

pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    mut params: Params,
) -> ApiResult<Reply> {
    let id = certificate_id(&id)?;
    let export = issued::export(&state.core, &caller, id, params.take_secret("key_password")?).await?;
    let mut block = certificate_json(&export.certificate, state.core.now());
    block["private_key"] = serde_json::Value::String(export.encrypted_key.to_string());
    Ok(Reply::ok("Certificate exported").with("certificate", block))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    mut params: Params,
) -> ApiResult<Reply> {
    let id = certificate_id(&id)?;
    let password = params.take_secret("password_revogation")?;
    let reason = first(&params, &["reason", "motivo", "revocation_reason"])?;
    let certificate = issued::revoke(&state.core, &caller, id, password, reason).await?;
    Ok(Reply::ok("Certificate revoked").with("certificate", certificate_json(&certificate, state.core.now())))
}
