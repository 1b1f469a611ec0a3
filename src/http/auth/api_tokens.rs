//! `/api/get_auth_token` (Securden style): a user's login and password for a short-lived value of
//! their dynamic API token. Answers in plain JSON, as token endpoints do.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::http::middleware::RequestContext;
use crate::http::params::Params;
use crate::service::auth::Origin;
use crate::service::auth::api_tokens::draw_dynamic;
use crate::state::AppState;

pub async fn get_auth_token(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    mut params: Params,
) -> ApiResult<Response> {
    let login = params.text("login_name")?.filter(|l| !l.trim().is_empty());
    let password = params.take_secret("password")?;
    let (Some(login), Some(password)) = (login, password) else {
        return Err(ApiError::bad_request("Parameters 'login_name' and 'password' are required."));
    };
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let origin = Origin { ip: context.client_ip, referer };
    let domain = params.text("domain_name")?;
    let name = params.text("token_name")?;
    let drawn = draw_dynamic(&state.core, &login, password, domain.as_deref(), name.as_deref(), origin).await?;
    let body = json!({"auth_token": drawn.value.as_str(), "token_type": "dynamic", "expires_in": drawn.expires_in});
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
