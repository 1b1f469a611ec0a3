//! Publication (§13.2, Portuguese paths): `POST /cert/perfil/{apache|iis|bigip|was}`,
//! `POST /cert/publicar` and `GET /cert/publicar/listar/{id}`.

use axum::extract::State;
use serde_json::{Value, json};

use super::{first, names};
use crate::domain::authorization::Caller;
use crate::domain::certificates::publishing::{Profile, Publication};
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::pam::datetime;
use crate::http::params::Params;
use crate::http::path::Segments;
use crate::service::certificates::publishing::{self, CommandPublisher, ProfileInput, PublishInput};
use crate::state::AppState;

fn profile_json(p: &Profile) -> Value {
    json!({
        "id": p.id.to_string(),
        "tipo": p.kind.as_str(),
        "nome_perfil": p.name,
        "codigo_credencial": p.credential_id.to_string(),
        "dispositivos": p.devices.iter().map(i64::to_string).collect::<Vec<_>>(),
        "key_db_path": p.key_db_path,
        "label": p.label,
        "created_at": datetime(Some(p.created_at)),
        "updated_at": datetime(Some(p.updated_at)),
    })
}

fn publication_json(p: &Publication) -> Value {
    json!({
        "id": p.id.to_string(),
        "codigo_certificado": p.certificate_id.to_string(),
        "codigo_perfil_publicacao": p.profile_id.to_string(),
        "dispositivo": p.device_id.to_string(),
        "hostname": p.hostname,
        "status": if p.succeeded { "published" } else { "failed" },
        "erro": p.error,
        "motivo": p.reason,
        "published_at": datetime(Some(p.published_at)),
    })
}

pub async fn save_profile(
    State(state): State<AppState>,
    caller: Caller,
    Segments(kind): Segments<String>,
    mut params: Params,
) -> ApiResult<Reply> {
    let input = ProfileInput {
        kind,
        name: first(&params, &["nome_perfil", "name"])?,
        credential: first(&params, &["codigo_credencial", "credential"])?,
        devices: names(&params, "dispositivos")?,
        key_db_path: params.text("key_db_path")?,
        key_db_password: params.take_secret("key_db_password")?,
        label: params.text("label")?,
    };
    let (profile, created) = publishing::save_profile(&state.core, &caller, input).await?;
    let reply =
        if created { Reply::created("Publishing profile registered") } else { Reply::ok("Publishing profile updated") };
    Ok(reply.with("profile", profile_json(&profile)))
}

pub async fn publish(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    let input = PublishInput {
        certificate: first(&params, &["codigo_certificado", "certificate"])?,
        profile: first(&params, &["codigo_perfil_publicacao", "profile"])?,
        reason: first(&params, &["motivo", "reason"])?,
        devices: names(&params, "dispositivos")?,
    };
    let publisher = CommandPublisher::from_config(&state.core);
    let publisher = publisher.as_ref().map(|p| p as &dyn publishing::Publisher);
    let outcomes = publishing::publish(&state.core, &caller, publisher, input).await?;
    Ok(Reply::ok("Certificate publication").with("publications", outcomes.iter().map(publication_json).collect()))
}

pub async fn list(State(state): State<AppState>, caller: Caller, Segments(id): Segments<String>) -> ApiResult<Reply> {
    let id = id.trim().parse().map_err(|_| ApiError::not_found("Certificate not found."))?;
    let found = publishing::list(&state.core, &caller, id).await?;
    Ok(Reply::ok("Certificate publications").with("publications", found.iter().map(publication_json).collect()))
}
