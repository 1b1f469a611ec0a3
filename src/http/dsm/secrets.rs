//! DSM secret routes (§10): the application block, `/sctm/secret`, `/cicd/variables`, and
//! provisioning.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::domain::authorization::Caller;
use crate::domain::dsm::DsmApp;
use crate::domain::dsm::{apply_mapping, decode_base64, parse_env, parse_secret_data};
use crate::error::{ApiError, ApiResult};
use crate::http::envelope::Reply;
use crate::http::params::Params;
use crate::service::dsm::secrets::{self, SecretInput, SecretView, not_informed};
use crate::service::required::Required;
use crate::state::AppState;

/// A parameter under its documented name or a capitalised one (one user script sends `Name`).
pub(super) fn text(params: &Params, name: &str) -> ApiResult<Option<String>> {
    let mut capitalised = name.to_owned();
    if let Some(first) = capitalised.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    Ok(params.text(name)?.or(params.text(&capitalised)?).filter(|v| !v.trim().is_empty()))
}

pub(super) fn required(params: &Params, name: &str) -> ApiResult<String> {
    let [value] = required_all(params, [name])?;
    Ok(value)
}

/// Parameters that must all be given, checked together: every one missing is named at once.
pub(super) fn required_all<const N: usize>(params: &Params, names: [&str; N]) -> ApiResult<[String; N]> {
    let mut required = Required::new();
    let mut values = [const { String::new() }; N];
    for (slot, name) in values.iter_mut().zip(names) {
        *slot = required.text(text(params, name)?, || not_informed(name));
    }
    required.done()?;
    Ok(values)
}

pub fn secret_json(view: &SecretView) -> Value {
    let s = &view.secret;
    json!({
        "secret_id": s.id.to_string(),
        "secret_name": s.name,
        "identity": s.identity,
        "version": s.version.to_string(),
        "description": s.description,
        "expiration_date": s.expiration_date,
        "engine": s.engine,
        "data": view.data,
    })
}

pub(super) fn application_json(app: &DsmApp, secrets: &[SecretView]) -> Value {
    let tags: Vec<&str> = app.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    json!({
        "name": app.name,
        "description": app.description,
        "tags": tags,
        "system": app.system,
        "environment": app.environment,
        "secrets": secrets.iter().map(secret_json).collect::<Vec<_>>(),
    })
}

/// `data` as base64 of JSON (either base64 variant) or as a JSON object.
fn secret_data(params: &Params) -> ApiResult<Value> {
    let raw = params.raw("data").or(params.raw("Data")).ok_or_else(|| not_informed("data"))?;
    let bad_json = || ApiError::bad_request("Parameter 'data' must be JSON, raw or base64-encoded.");
    match raw {
        Value::Object(_) => Ok(raw.clone()),
        Value::String(text) if text.trim_start().starts_with('{') => serde_json::from_str(text).map_err(|_| bad_json()),
        Value::String(text) => {
            let bytes =
                decode_base64(text).ok_or_else(|| ApiError::bad_request("Parameter 'data' is not valid base64."))?;
            serde_json::from_slice(&bytes).map_err(|_| bad_json())
        }
        _ => Err(bad_json()),
    }
}

fn minutes(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    match text(params, name)? {
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("Parameter '{name}' must be a number of minutes."))),
        None => Ok(None),
    }
}

pub async fn put_secret(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    super::module(&caller)?;
    let mut required = Required::new();
    let identity = required.text(text(&params, "identity")?, || not_informed("identity"));
    required.check(params.raw("data").or(params.raw("Data")).is_some(), || not_informed("data"));
    required.done()?;
    let entries = parse_secret_data(&secret_data(&params)?)
        .map_err(|e| ApiError::bad_request(format!("Parameter 'data': {e}.")))?;
    let renew = [
        minutes(&params, "renew_cloud_time")?,
        minutes(&params, "renew_credential_time")?,
        minutes(&params, "renew_ephemeral_credential_time")?,
    ]
    .into_iter()
    .flatten()
    .min();
    let input = SecretInput {
        identity,
        name: text(&params, "name")?,
        engine: text(&params, "engine")?,
        description: text(&params, "description")?,
        expiration_date: params.text("expiration_date")?.or(params.text("Expiration_date")?),
        entries,
        renew_minutes: renew,
    };
    let (created, app, secrets) = secrets::put_secret(&state.core, &caller, input).await?;
    let reply = if created {
        Reply::created("Secret created successfully.")
    } else {
        Reply::ok("Secret updated successfully.")
    };
    Ok(reply.with("application", application_json(&app, &secrets)))
}

pub async fn list_secrets(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply> {
    let secrets = secrets::list_secrets(&state.core, &caller).await?;
    Ok(Reply::ok(format!("{} secrets found", secrets.len()))
        .with("secrets", Value::Array(secrets.iter().map(secret_json).collect())))
}

/// GET one secret; its identity may contain `/`.
pub async fn show_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(identity): Path<String>,
) -> ApiResult<Reply> {
    let view = secrets::get_secret(&state.core, &caller, &identity).await?;
    Ok(Reply::ok(format!("Secret {}", view.secret.identity)).with("secret", secret_json(&view)))
}

/// `env` and `map`, base64 (either variant) of the environment and of the mapping file. The
/// mapping is optional: dsmcli without `SENHASEGURA_MAPPING_FILE` posts `map=` empty, and then
/// the variables are received and nothing is saved as a secret. (`helm`, from older dsmcli, is
/// accepted and ignored.)
pub async fn variables(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    super::module(&caller)?;
    let decode = |name: &str, text: String| -> ApiResult<String> {
        let bytes = decode_base64(&text)
            .ok_or_else(|| ApiError::bad_request(format!("Parameter '{name}' is not valid base64.")))?;
        String::from_utf8(bytes).map_err(|_| ApiError::bad_request(format!("Parameter '{name}' is not UTF-8 text.")))
    };
    let env = zeroize::Zeroizing::new(decode("env", required(&params, "env")?)?);
    let mapped = match text(&params, "map")? {
        Some(map) => {
            let map: Value = serde_json::from_str(&decode("map", map)?)
                .map_err(|_| ApiError::bad_request("Parameter 'map' must hold a JSON mapping file."))?;
            apply_mapping(&map, &parse_env(&env))
                .map_err(|e| ApiError::bad_request(format!("Parameter 'map': {e}.")))?
        }
        None => Vec::new(),
    };
    let count = secrets::post_variables(&state.core, &caller, mapped).await?;
    Ok(Reply::ok(format!("Variables successfully registered ({count} secrets)")))
}

fn pod(params: &Params) -> ApiResult<(String, String, String)> {
    let [pod_name, deploy, namespace] = required_all(params, ["pod_name", "deploy", "namespace"])?;
    Ok((pod_name, deploy, namespace))
}

pub async fn provision(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    super::module(&caller)?;
    let (pod_name, deploy, namespace) = pod(&params)?;
    let (app, secrets) = secrets::provision(&state.core, &caller, &pod_name, &deploy, &namespace).await?;
    Ok(Reply::ok("Pod successfully provisioned").with("application", application_json(&app, &secrets)))
}

pub async fn deprovision(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Reply> {
    super::module(&caller)?;
    let (pod_name, deploy, namespace) = pod(&params)?;
    secrets::deprovision(&state.core, &caller, &pod_name, &deploy, &namespace).await?;
    Ok(Reply::ok("Pod successfully deprovisioned"))
}
