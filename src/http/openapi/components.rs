//! What every operation refers to: the security schemes and the shared schemas (the envelope
//! of §1.3, the legacy one, SCIM's message, the token response), and the helpers that write a
//! schema as JSON Schema in utoipa's model.

use serde_json::{Value, json};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, Http, HttpAuthScheme, OAuth2, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{ComponentsBuilder, RefOr, Schema};

use super::spec::Auth;

pub(super) fn security(auth: Auth) -> Vec<SecurityRequirement> {
    let schemes: &[&str] = match auth {
        Auth::Api => &["oauth2", "bearer", "oauth1", "apiToken", "sigv4"],
        Auth::Metrics => &["bearer"],
        Auth::Client => &["clientBasic"],
        Auth::Open => &[],
    };
    let mut requirements: Vec<SecurityRequirement> =
        schemes.iter().map(|name| SecurityRequirement::new(*name, Vec::<String>::new())).collect();
    // Loopback callers and token clients that post their credentials in the body need none.
    if matches!(auth, Auth::Metrics | Auth::Client | Auth::Open) {
        requirements.push(SecurityRequirement::default());
    }
    requirements
}

pub(super) fn components() -> utoipa::openapi::Components {
    let oauth2 = OAuth2::with_description(
        [Flow::ClientCredentials(ClientCredentials::new("/api/oauth2/token", Scopes::new()))],
        "OAuth 2.0 client credentials (RFC 6749 §4.4); the token is sent as a bearer.",
    );
    let bearer = Http::builder()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some("An access token from /api/oauth2/token, or the metrics token on /metrics."))
        .build();
    let oauth1 = Http::builder()
        .scheme(HttpAuthScheme::OAuth)
        .description(Some(
            "OAuth 1.0a (RFC 5849), HMAC-SHA1 or HMAC-SHA256, in the Authorization header, the query or a \
             form body.",
        ))
        .build();
    let api_token = ApiKey::Header(ApiKeyValue::with_description(
        "authtoken",
        "A Securden-style API token from /api/get_auth_token or the admin API.",
    ));
    let sigv4 = ApiKey::Header(ApiKeyValue::with_description(
        "Authorization",
        "AWS Signature Version 4 (AWS4-HMAC-SHA256 …) over the request, with X-Amz-Date.",
    ));
    let client_basic = Http::builder()
        .scheme(HttpAuthScheme::Basic)
        .description(Some("The client's id and secret (or sent as client_id and client_secret in the body)."))
        .build();
    ComponentsBuilder::new()
        .security_scheme("oauth2", SecurityScheme::OAuth2(oauth2))
        .security_scheme("bearer", SecurityScheme::Http(bearer))
        .security_scheme("oauth1", SecurityScheme::Http(oauth1))
        .security_scheme("apiToken", SecurityScheme::ApiKey(api_token))
        .security_scheme("sigv4", SecurityScheme::ApiKey(sigv4))
        .security_scheme("clientBasic", SecurityScheme::Http(client_basic))
        .schema("Envelope", schema(envelope()))
        .schema("ResponseBlock", schema(response_block()))
        .schema(
            "LegacyEnvelope",
            schema(json!({
                "type": "object",
                "description": "The legacy envelope (§1.3): status, mensagem, erro, message, error and the entity.",
            })),
        )
        .schema(
            "ScimMessage",
            schema(json!({
                "type": "object",
                "description": "A SCIM resource, list response or error (RFC 7644).",
                "properties": {"schemas": {"type": "array", "items": {"type": "string"}}},
            })),
        )
        .schema(
            "TokenResponse",
            schema(json!({
                "type": "object",
                "required": ["access_token", "token_type", "expires_in"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"},
                },
            })),
        )
        .schema(
            "TokenError",
            schema(json!({
                "type": "object",
                "description": "An RFC 6749 §5.2 error, or the envelope on refusals the contract answers so.",
            })),
        )
        .build()
}

/// The envelope of §1.3: `code`, the `response` block, the entity under its contract key, and
/// `exception` on errors.
fn envelope() -> Value {
    json!({
        "type": "object",
        "required": ["code", "response"],
        "properties": {
            "code": {"type": "integer"},
            "response": {"$ref": "#/components/schemas/ResponseBlock"},
            "exception": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "detail": {"type": ["string", "null"]},
                },
            },
        },
    })
}

fn response_block() -> Value {
    json!({
        "type": "object",
        "required": ["status", "message", "error", "error_code", "detail", "mensagem", "erro", "cod_erro"],
        "properties": {
            "status": {"type": "integer"},
            "message": {"type": "string"},
            "error": {"type": "boolean"},
            "error_code": {"type": "integer"},
            "detail": {"type": "string"},
            "mensagem": {"type": "string"},
            "erro": {"type": "boolean"},
            "cod_erro": {"type": "integer"},
        },
    })
}

pub(super) fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// A schema written as JSON Schema, in utoipa's model.
pub(super) fn schema(value: Value) -> RefOr<Schema> {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("a schema in openapi/document.rs does not parse: {e}"))
}
