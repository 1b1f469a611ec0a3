//! `GET /iso/coge/risco/{m}` and `/iso/dash/risk/{m}`: scored reveals and sessions. The contract
//! documents the items' keys in Portuguese only, so both paths use them.

use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::{Lang, raw_filters};
use crate::domain::authorization::Caller;
use crate::domain::dashboards::{AccessEvent, QueryEvent, Risk};
use crate::domain::sessions::hms;
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::http::pam::datetime;
use crate::http::params::Params;
use crate::service::dashboards::risk;
use crate::state::AppState;

pub async fn pt(state: State<AppState>, caller: Caller, m: Path<String>, params: Params) -> ApiResult<Reply> {
    answer(state, caller, m, params, Lang::Pt).await
}

pub async fn en(state: State<AppState>, caller: Caller, m: Path<String>, params: Params) -> ApiResult<Reply> {
    answer(state, caller, m, params, Lang::En).await
}

fn query_json(e: &QueryEvent, r: &Risk) -> Value {
    json!({
        "Cod_Consulta": e.id.to_string(),
        "Risco": r.score.to_string(),
        "Data_Consulta": datetime(Some(e.facts.at)),
        "Cod_Usuario": e.application_id.to_string(),
        "Nome_Usuario": e.application_name,
        "Cod_Credencial": e.credential_id.to_string(),
        "Credencial": e.credential_label,
        "Info_Adicional": r.reasons.join(", "),
        "Dispositivo": e.hostname,
    })
}

fn access_json(e: &AccessEvent, r: &Risk) -> Value {
    let end = datetime(e.ended_at);
    json!({
        "Cod_Sessao": e.id.to_string(),
        "Host": e.host,
        "Porta": e.port.to_string(),
        "Protocolo": e.protocol,
        "Credencial": e.credential_label,
        "Risco": r.score.to_string(),
        "Data_Inicio": datetime(Some(e.facts.started_at)),
        "Data_Fim": if end.is_null() { Value::String(String::new()) } else { end },
        "Duracao": hms(e.facts.duration),
        "Cod_Usuario": e.user_id.to_string(),
        "Nome_Usuario": e.username,
        "Info_Adicional": r.reasons.join(", "),
    })
}

async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(m): Path<String>,
    params: Params,
    lang: Lang,
) -> ApiResult<Reply> {
    let raw = raw_filters(&params)?;
    let scored = risk::scored(&state.core, &caller, &m, raw).await?;
    let (queries, access) = if lang == Lang::En { ("queries", "access") } else { ("consultas", "acessos") };
    let mut body = Map::new();
    if let Some(items) = scored.queries {
        body.insert(queries.into(), items.iter().map(|(e, r)| query_json(e, r)).collect());
    }
    if let Some(items) = scored.access {
        body.insert(access.into(), items.iter().map(|(e, r)| access_json(e, r)).collect());
    }
    Ok(match lang {
        Lang::En => Reply::ok("HigherRisk").with("higher_risk", Value::Object(body)),
        Lang::Pt => Reply::ok("MaiorRisco").with("maior_risco", Value::Object(body)),
    })
}
