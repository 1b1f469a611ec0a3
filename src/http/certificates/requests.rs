//! `POST /certificate/request/{code}` (create or modify) and `GET /certificate/request/list[/{code}]`.

use axum::extract::State;
use serde_json::{Value, json};

use super::{first, names, paging};
use crate::domain::authorization::Caller;
use crate::domain::certificates::requests::{CertificateRequest, DomainType, RawRequest, RequestFilter};
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::pam::datetime;
use crate::http::params::Params;
use crate::http::path::Segments;
use crate::service::certificates::requests::{self, RequestInput};
use crate::state::AppState;

pub fn request_json(r: &CertificateRequest) -> Value {
    let f = &r.fields;
    json!({
        "id": r.id.to_string(),
        "code": r.code,
        "certificate_type": f.certificate_type.to_string(),
        "domain_type": f.domain_type.as_str(),
        "organization": f.organization,
        "common_name": f.common_name,
        "san": f.san,
        "tags": f.tags,
        "encryption": f.key.encryption(),
        "encryption_key_size": f.key.bits().to_string(),
        "certificate_algorithm": f.digest.as_str(),
        "validity": f.validity_days.to_string(),
        "environments": f.environments,
        "systems": f.systems,
        "project": f.project,
        "external_ip": f.external_ip,
        "hostname_ip": f.hostname_ip,
        "justification": f.justification,
        "responsible": f.responsible,
        "description": f.description,
        "status_request": r.status.to_string(),
        "csr": r.csr_pem,
        "created_at": datetime(Some(r.created_at)),
        "updated_at": datetime(Some(r.updated_at)),
    })
}

pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Segments(code): Segments<String>,
    mut params: Params,
) -> ApiResult<Reply> {
    let raw = RawRequest {
        certificate_type: params.text("certificate_type")?,
        domain_type: params.text("domain_type")?,
        organization: params.text("organization")?,
        common_name: params.text("common_name")?,
        san: names(&params, "san")?,
        tags: names(&params, "tags")?,
        encryption: params.text("encryption")?,
        encryption_key_size: params.text("encryption_key_size")?,
        certificate_algorithm: params.text("certificate_algorithm")?,
        validity: params.text("validity")?,
        environments: names(&params, "environments")?,
        systems: names(&params, "systems")?,
        project: params.text("project")?,
        external_ip: params.text("external_ip")?,
        hostname_ip: params.text("hostname_ip")?,
        justification: params.text("justification")?,
        responsible: params.text("responsible")?,
        description: params.text("description")?,
    };
    let input = RequestInput {
        code,
        raw,
        key_password: params.take_secret("key_password")?,
        password_revogation: params.take_secret("password_revogation")?,
    };
    let (request, created) = requests::submit(&state.core, &caller, input).await?;
    let reply = if created {
        Reply::created("Certificate request registered")
    } else {
        Reply::ok("Certificate request updated")
    };
    Ok(reply.with("certificate", request_json(&request)))
}

pub async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    answer_list(&state, &caller, None, &params).await
}

pub async fn list_code(
    State(state): State<AppState>,
    caller: Caller,
    Segments(code): Segments<String>,
    params: Params,
) -> ApiResult<Reply> {
    answer_list(&state, &caller, Some(code), &params).await
}

async fn answer_list(state: &AppState, caller: &Caller, code: Option<String>, params: &Params) -> ApiResult<Reply> {
    let (offset, limit) = paging(params)?;
    let number = |name: &str| -> ApiResult<Option<i64>> {
        params
            .text(name)?
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("Parameter '{name}' must be a number.")))
            })
            .transpose()
    };
    let domain_type = match params.text("domain_type")? {
        None => None,
        Some(d) => Some(
            DomainType::parse(&d)
                .ok_or_else(|| ApiError::bad_request("Parameter 'domain_type' must be SING, MULT or WILD."))?,
        ),
    };
    let filter = RequestFilter {
        code,
        status: number("status_request")?,
        common_name: first(params, &["common_name"])?.map(|c| c.trim().to_ascii_lowercase()),
        domain_type,
        certificate_type: number("certificate_type")?,
        organization: params.text("organization")?,
        project: params.text("project")?,
        offset,
        limit,
    };
    let found = requests::list(&state.core, caller, &filter).await?;
    Ok(Reply::ok("Certificate requests").with("certificates", found.iter().map(request_json).collect()))
}
