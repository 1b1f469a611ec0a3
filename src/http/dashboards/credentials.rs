//! `GET /iso/coge/credenciais/{s}` and `/iso/dash/credentials/{s}`: expired and in-use counts.

use axum::extract::{Path, State};
use serde_json::{Map, Value};

use super::Lang;
use crate::domain::authorization::Caller;
use crate::error::ApiResult;
use crate::http::envelope::Reply;
use crate::service::dashboards::credentials;
use crate::state::AppState;

pub async fn pt(State(state): State<AppState>, caller: Caller, Path(s): Path<String>) -> ApiResult<Reply> {
    answer(&state, &caller, &s, Lang::Pt).await
}

pub async fn en(State(state): State<AppState>, caller: Caller, Path(s): Path<String>) -> ApiResult<Reply> {
    answer(&state, &caller, &s, Lang::En).await
}

async fn answer(state: &AppState, caller: &Caller, s: &str, lang: Lang) -> ApiResult<Reply> {
    let counts = credentials::counts(&state.core, caller, s).await?;
    let (expired, using) = match lang {
        Lang::En => ("expired", "using"),
        Lang::Pt => ("expiradas", "utilizacao"),
    };
    let mut body = Map::new();
    for (key, count) in [(expired, counts.expired), (using, counts.using)] {
        if let Some(n) = count {
            body.insert(key.into(), n.to_string().into());
        }
    }
    Ok(match lang {
        Lang::En => Reply::ok("Credentials").with("credentials", Value::Object(body)),
        Lang::Pt => Reply::ok("Credenciais").with("credenciais", Value::Object(body)),
    })
}
