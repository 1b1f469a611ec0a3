//! `GET /iso/coge/sessoes/{p}` and `/iso/dash/sessions/{p}`: session counts per protocol.

use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::{Lang, raw_filters};
use crate::domain::authorization::Caller;
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::service::dashboards::sessions::{self, Counted};
use crate::state::AppState;

pub async fn pt(state: State<AppState>, caller: Caller, p: Path<String>, params: Params) -> ApiResult<Reply> {
    answer(state, caller, p, params, Lang::Pt).await
}

pub async fn en(state: State<AppState>, caller: Caller, p: Path<String>, params: Params) -> ApiResult<Reply> {
    answer(state, caller, p, params, Lang::En).await
}

fn per_label(counts: &[Counted], lang: Lang, pick: fn(&Counted) -> i64) -> Value {
    let label = |c: &Counted| if lang == Lang::En { c.protocol.label_en } else { c.protocol.label };
    let map: Map<String, Value> = counts.iter().map(|c| (label(c).to_owned(), pick(c).to_string().into())).collect();
    Value::Object(map)
}

async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
    params: Params,
    lang: Lang,
) -> ApiResult<Reply> {
    let raw = raw_filters(&params)?;
    let only_active = params.text("ativo")?.is_some_and(|v| v.trim() == "1");
    let counts = sessions::counts(&state.core, &caller, &p, raw).await?;
    let active = per_label(&counts, lang, |c| c.active);
    let historic = per_label(&counts, lang, |c| c.historic);
    let body = match (lang, only_active) {
        (Lang::En, true) => json!({"enabled": active}),
        (Lang::En, false) => json!({"enabled": active, "historic": historic}),
        (Lang::Pt, true) => json!({"ativas": active}),
        (Lang::Pt, false) => json!({"historico": historic, "ativas": active}),
    };
    let key = if lang == Lang::En { "sessions" } else { "sessoes" };
    Ok(Reply::ok("Sessions").with(key, body))
}
