//! `GET /iso/coge/risco/{m}` and `/iso/dash/risk/{m}`: scored reveals and sessions. The items
//! carry the Portuguese documentation's keys under `coge` and the English one's under `dash`, in
//! the same order.

use axum::extract::{Path, State};
use serde_json::{Map, Value};

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

/// The item keys of one language, in the documentation's order.
struct Keys {
    query: [&'static str; 9],
    access: [&'static str; 12],
}

const PT: Keys = Keys {
    query: [
        "Cod_Consulta",
        "Risco",
        "Data_Consulta",
        "Cod_Usuario",
        "Nome_Usuario",
        "Cod_Credencial",
        "Credencial",
        "Info_Adicional",
        "Dispositivo",
    ],
    access: [
        "Cod_Sessao",
        "Host",
        "Porta",
        "Protocolo",
        "Credencial",
        "Risco",
        "Data_Inicio",
        "Data_Fim",
        "Duracao",
        "Cod_Usuario",
        "Nome_Usuario",
        "Info_Adicional",
    ],
};

const EN: Keys = Keys {
    query: [
        "query_id",
        "risk",
        "query_date",
        "user_id",
        "username",
        "credential_id",
        "credential",
        "additional_info",
        "device",
    ],
    access: [
        "session_id",
        "host",
        "port",
        "protocol",
        "credential",
        "risk",
        "start_date",
        "end_date",
        "duration",
        "user_id",
        "username",
        "additional_info",
    ],
};

fn item<const N: usize>(keys: &[&str; N], values: [Value; N]) -> Value {
    Value::Object(keys.iter().map(|k| (*k).to_owned()).zip(values).collect())
}

fn query_json(keys: &Keys, e: &QueryEvent, r: &Risk) -> Value {
    item(
        &keys.query,
        [
            e.id.to_string().into(),
            r.score.to_string().into(),
            datetime(Some(e.facts.at)),
            e.application_id.to_string().into(),
            e.application_name.clone().into(),
            e.credential_id.to_string().into(),
            e.credential_label.clone().into(),
            r.reasons.join(", ").into(),
            e.hostname.clone().into(),
        ],
    )
}

fn access_json(keys: &Keys, e: &AccessEvent, r: &Risk) -> Value {
    let end = datetime(e.ended_at);
    item(
        &keys.access,
        [
            e.id.to_string().into(),
            e.host.clone().into(),
            e.port.to_string().into(),
            e.protocol.clone().into(),
            e.credential_label.clone().into(),
            r.score.to_string().into(),
            datetime(Some(e.facts.started_at)),
            if end.is_null() { Value::String(String::new()) } else { end },
            hms(e.facts.duration).into(),
            e.user_id.to_string().into(),
            e.username.clone().into(),
            r.reasons.join(", ").into(),
        ],
    )
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
    let (keys, queries, access) =
        if lang == Lang::En { (&EN, "queries", "access") } else { (&PT, "consultas", "acessos") };
    let mut body = Map::new();
    if let Some(items) = scored.queries {
        body.insert(queries.into(), items.iter().map(|(e, r)| query_json(keys, e, r)).collect());
    }
    if let Some(items) = scored.access {
        body.insert(access.into(), items.iter().map(|(e, r)| access_json(keys, e, r)).collect());
    }
    Ok(match lang {
        Lang::En => Reply::ok("HigherRisk").with("higher_risk", Value::Object(body)),
        Lang::Pt => Reply::ok("MaiorRisco").with("maior_risco", Value::Object(body)),
    })
}
