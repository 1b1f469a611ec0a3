//! Turns the families' operations into one OpenAPI 3.1 document: each family mounted where the
//! router mounts it, path parameters read from the templates, the parameter map's fields as query
//! parameters or as JSON, form and multipart bodies, and each success and error
//! referring to the shared schemas and schemes of `components.rs`.

use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ContentBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr, Required, ResponseBuilder,
    ResponsesBuilder, Schema,
};

use super::components::{components, reference, schema, security};
use super::spec::{Answer, Auth, Family, Field, Input, Kind, Method, Op, Shape};

/// Where each family is mounted, as the router mounts it (`http.rs`).
pub struct Mounted {
    pub prefixes: &'static [&'static str],
    pub family: Family,
}

/// The statuses every operation of this kind may answer besides its own.
fn common_errors(auth: Auth) -> &'static [u16] {
    match auth {
        Auth::Api => &[400, 401, 403, 404, 413, 415, 429, 500, 503],
        Auth::Client => &[400, 401, 413, 415, 429, 503],
        Auth::Open => &[400, 404, 413, 429, 503],
        Auth::Metrics => &[403],
    }
}

pub fn build(mounted: Vec<Mounted>) -> OpenApi {
    let mut paths = PathsBuilder::new();
    let mut tags = Vec::new();
    for Mounted { prefixes, family } in mounted {
        tags.push(TagBuilder::new().name(family.tag).description(Some(family.description)).build());
        for op in &family.ops {
            for prefix in prefixes {
                let path = openapi_path(&format!("{prefix}{}", op.path));
                let item = PathItem::new(http_method(op.method), operation(op, family.tag, &path));
                paths = paths.path(path, item);
            }
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("cofre")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A secrets vault API-compatible with senhasegura (A2A, PAM Core, MySafe, DSM, SCIM 2.0) \
                     and Securden-style API tokens. Every senhasegura family is served under both `/iso` and \
                     `/api`; SCIM also at `/scim/v2`. Parameters may be sent as a JSON, form or multipart body \
                     or in the query string (§1.2 of the contract).",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components()))
        .tags(Some(tags))
        .build()
}

/// axum's `{*rest}` becomes OpenAPI's `{rest}`.
pub fn openapi_path(template: &str) -> String {
    template.replace("{*", "{")
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Patch => HttpMethod::Patch,
        Method::Delete => HttpMethod::Delete,
    }
}

fn operation(op: &Op, tag: &str, path: &str) -> Operation {
    let mut builder = OperationBuilder::new()
        .tag(tag)
        .summary(Some(op.summary))
        .operation_id(Some(operation_id(op.method, path)))
        .parameters(Some(path_parameters(path)));
    if !op.description.is_empty() {
        builder = builder.description(Some(op.description));
    }
    let in_query = op.input == Input::Params && op.method.reads_query();
    if in_query {
        builder = builder.parameters(Some(op.fields.iter().map(query_parameter)));
    } else if op.input != Input::Nothing {
        builder = builder.request_body(Some(request_body(op)));
    }
    builder = builder.responses(responses(op));
    builder.securities(Some(security(op.auth))).build()
}

fn operation_id(method: Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(segment.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }));
    }
    id
}

fn path_parameters(path: &str) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema(json!({"type": "string", "minLength": 1}))))
                .build()
        })
        .collect()
}

fn query_parameter(field: &Field) -> Parameter {
    let mut builder = ParameterBuilder::new()
        .name(field.name)
        .parameter_in(ParameterIn::Query)
        .required(if field.required { Required::True } else { Required::False })
        // In a query string every value is text; lists are comma-separated.
        .schema(Some(schema(match field.kind {
            Kind::Integer => json!({"type": "string", "pattern": "^-?[0-9]+$"}),
            Kind::Boolean => boolean_text(),
            _ => json!({"type": "string"}),
        })));
    if !field.description.is_empty() {
        builder = builder.description(Some(field.description));
    }
    builder.build()
}

fn boolean_text() -> Value {
    // The parameter map reads an empty value as false (http/params.rs).
    json!({"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", ""]})
}

/// The schema of one field in a JSON body, as lenient as the parameter map is (§1.6).
fn field_schema(field: &Field) -> Value {
    let mut value = match field.kind {
        Kind::Text | Kind::Secret => json!({"type": ["string", "number", "boolean"]}),
        Kind::Integer => json!({"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^-?[0-9]+$"}]}),
        Kind::Boolean => json!({"oneOf": [{"type": "boolean"}, {"type": "integer", "enum": [0, 1]}, boolean_text()]}),
        Kind::List => json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
        Kind::Object => json!({"type": "object"}),
        Kind::File => json!({"type": "string", "contentMediaType": "application/octet-stream"}),
    };
    if field.kind == Kind::Secret {
        value["writeOnly"] = json!(true);
    }
    if !field.description.is_empty() {
        value["description"] = json!(field.description);
    }
    value
}

/// The parameter map reads a JSON `null` as absent, which an optional field may be.
fn nullable_unless_required(field: &Field) -> Value {
    let schema = field_schema(field);
    if field.required || field.kind == Kind::File {
        return schema;
    }
    json!({"anyOf": [schema, {"type": "null"}]})
}

fn body_schema(fields: &[Field]) -> Value {
    let properties: serde_json::Map<String, Value> =
        fields.iter().map(|field| (field.name.to_owned(), nullable_unless_required(field))).collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.name).collect();
    let mut body = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        body["required"] = json!(required);
    }
    body
}

fn request_body(op: &Op) -> utoipa::openapi::request_body::RequestBody {
    let body = schema(body_schema(&op.fields));
    let content = || ContentBuilder::new().schema(Some(body.clone())).build();
    let media: &[&str] = match op.input {
        Input::Multipart => &["multipart/form-data"],
        Input::ScimJson => &["application/scim+json", "application/json"],
        _ => &["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    };
    // A multipart route reads its body as multipart even when every field in it is optional.
    let required = op.input == Input::Multipart || op.fields.iter().any(|f| f.required);
    media
        .iter()
        .fold(RequestBodyBuilder::new(), |builder, media| builder.content(*media, content()))
        .required(Some(if required { Required::True } else { Required::False }))
        .build()
}

fn responses(op: &Op) -> utoipa::openapi::Responses {
    let (media, success) = match op.answer {
        Answer::Envelope if !op.entities.is_empty() => ("application/json", with_entities(&op.entities)),
        Answer::Envelope => ("application/json", reference("Envelope")),
        Answer::Legacy => ("application/json", reference("LegacyEnvelope")),
        Answer::Scim => ("application/scim+json", reference("ScimMessage")),
        Answer::Token => ("application/json", reference("TokenResponse")),
        Answer::Bytes(media) => (media, schema(json!({"type": "string", "contentMediaType": media}))),
        Answer::Html | Answer::Redirect => ("text/html", schema(json!({"type": "string"}))),
        Answer::Json => ("application/json", schema(json!({"type": "object"}))),
        Answer::Metrics => ("text/plain", schema(json!({"type": "string"}))),
    };
    let (error_media, error) = match op.answer {
        Answer::Scim => ("application/scim+json", reference("ScimMessage")),
        Answer::Token => ("application/json", reference("TokenError")),
        _ if op.legacy_errors => ("application/json", reference("LegacyEnvelope")),
        Answer::Legacy => ("application/json", reference("LegacyEnvelope")),
        Answer::Redirect | Answer::Metrics => ("text/plain", schema(json!({"type": "string"}))),
        _ => ("application/json", reference("Envelope")),
    };
    let success_response = ResponseBuilder::new().description(success_description(op.success));
    let success_response = match op.answer {
        _ if op.success == 204 => success_response,
        Answer::Redirect => success_response,
        _ => success_response.content(media, ContentBuilder::new().schema(Some(success)).build()),
    };
    let mut builder = ResponsesBuilder::new().response(op.success.to_string(), success_response);
    let mut statuses: Vec<u16> = common_errors(op.auth).iter().chain(&op.errors).copied().collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses.into_iter().filter(|s| *s != op.success) {
        builder = builder.response(
            status.to_string(),
            ResponseBuilder::new()
                .description(error_description(status))
                .content(error_media, ContentBuilder::new().schema(Some(error.clone())).build()),
        );
    }
    builder.build()
}

/// The envelope with the operation's entity keys required, each an object or an array.
fn with_entities(entities: &[(&str, Shape)]) -> RefOr<Schema> {
    let properties: serde_json::Map<String, Value> = entities
        .iter()
        .map(|(key, shape)| {
            let kind = match shape {
                Shape::One => "object",
                Shape::Many => "array",
            };
            ((*key).to_owned(), json!({"type": kind}))
        })
        .collect();
    let required: Vec<&str> = entities.iter().map(|(key, _)| *key).collect();
    schema(json!({
        "allOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {"type": "object", "required": required, "properties": properties},
        ],
    }))
}

fn success_description(status: u16) -> &'static str {
    match status {
        201 => "Created",
        204 => "No content",
        302 | 303 => "Redirect",
        _ => "Success",
    }
}

fn error_description(status: u16) -> &'static str {
    match status {
        200 => "Success",
        201 => "Created",
        204 => "No content",
        302 | 303 => "Redirect",
        400 => "Invalid request: a missing, malformed or contradictory parameter",
        401 => "Not authenticated: no credentials, or credentials that do not verify",
        403 => "Authenticated but not allowed: resource, scope, IP, referer or linked item",
        404 => "Unknown id, or a resource the caller cannot see",
        405 => "Method not allowed",
        409 => "Conflicts with the current state",
        412 => "A precondition (version) failed",
        413 => "Body too large",
        415 => "Unsupported media type",
        422 => "Well-formed but refused",
        429 => "Throttled: too many failures from this caller",
        500 => "The contract's own 500s (e.g. a module not authorized); never internal detail",
        501 => "Not implemented (SCIM feature not supported)",
        503 => "The store is unavailable or timed out",
        _ => "Error",
    }
}
