//! The legacy password query `GET /iso/coe/senha/{id}` (§3.5), still called by .NET, PHP and
//! Python clients: Portuguese keys and the legacy `response` order (status, mensagem, erro,
//! message, error), errors included.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::authorization::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::http::path::ItemKey;
use crate::service::pam::reveal;
use crate::state::AppState;

fn legacy(status: u16, message: &str, error: bool, entity: Option<Value>) -> Response {
    let mut body =
        json!({"response": {"status": status, "mensagem": message, "erro": error, "message": message, "error": error}});
    if let (Some(entity), Some(map)) = (entity, body.as_object_mut()) {
        map.insert("senha".into(), entity);
    }
    let mut response =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn show(State(state): State<AppState>, caller: Caller, ItemKey(key): ItemKey) -> Response {
    match reveal::reveal(&state.core, &caller, &key).await {
        Ok(r) => {
            let (c, d) = (&r.found.credential, &r.found.device);
            let port = d
                .connectivities
                .split(',')
                .next()
                .and_then(|c| c.split_once(':'))
                .map(|(_, p)| p.to_owned())
                .unwrap_or_default();
            let entity = json!({
                "id": c.id.to_string(),
                "tag": Value::Null,
                "username": c.username,
                "senha": r.password.as_str(),
                "conteudo": r.password.as_str(),
                "hostname": d.hostname,
                "senha_pai_cod": c.parent_id.map(|p| p.to_string()),
                "senha_pai": c.parent_id.map(|p| p.to_string()),
                "adicional": c.additional,
                "dominio": c.domain,
                "ip": d.ip,
                "porta": port,
                "modelo": d.model,
                "datahora_expiracao": if c.expiration_time.is_empty() { Value::Null } else { Value::String(c.expiration_time.clone()) },
            });
            legacy(200, &format!("Senha {}", c.id), false, Some(entity))
        }
        Err(e) => legacy_error(e),
    }
}

fn legacy_error(e: ApiError) -> Response {
    let status = crate::http::envelope::presentation(e.kind).status;
    if status >= 500 && e.kind != ErrorKind::ModuleNotAuthorized {
        return e.into_response();
    }
    let reason = e.audit_reason;
    let mut response = legacy(status, &e.message, true, None);
    if let Some(reason) = reason {
        response.extensions_mut().insert(crate::http::envelope::AuditReason(reason));
    }
    response
}
