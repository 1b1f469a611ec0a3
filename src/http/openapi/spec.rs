//! The vocabulary each family's description is written in: an operation is a method, a path
//! (relative to where its family is mounted), a summary, the fields it reads, how they arrive
//! and how it answers. `document.rs` turns these into OpenAPI.

/// What a field holds, as the parameter map reads it (`http/params.rs`): text also accepts a
/// JSON number or boolean, a list is a comma string or an array of strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Boolean,
    List,
    /// A secret: text that is never echoed back and is wiped after use.
    Secret,
    /// A JSON object (settings, SCIM resources).
    Object,
    /// An uploaded file (multipart).
    File,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

fn field(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false, description: "" }
}

pub fn text(name: &'static str) -> Field {
    field(name, Kind::Text)
}
pub fn integer(name: &'static str) -> Field {
    field(name, Kind::Integer)
}
pub fn boolean(name: &'static str) -> Field {
    field(name, Kind::Boolean)
}
pub fn list(name: &'static str) -> Field {
    field(name, Kind::List)
}
pub fn secret(name: &'static str) -> Field {
    field(name, Kind::Secret)
}
pub fn object(name: &'static str) -> Field {
    field(name, Kind::Object)
}
pub fn file(name: &'static str) -> Field {
    field(name, Kind::File)
}

impl Field {
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn doc(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }
}

/// How the fields arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The parameter map: the query string on GET and DELETE; on POST, PUT and PATCH a JSON, form
    /// or multipart body (or the query string, which the map merges).
    Params,
    /// A multipart upload (MySafe files) whose text fields are parameters too.
    Multipart,
    /// A SCIM resource or message as `application/scim+json` (or `application/json`).
    ScimJson,
    /// Nothing beyond the path.
    Nothing,
}

/// How the operation answers on success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The senhasegura envelope (§1.3) with the entity under its contract key.
    Envelope,
    /// The legacy envelope of `/coe/senha` (§1.3).
    Legacy,
    /// A SCIM resource, list or message.
    Scim,
    /// The OAuth 2.0 token response (RFC 6749 §5.1).
    Token,
    /// Bytes of the given media type (recordings, files, CRLs).
    Bytes(&'static str),
    /// A page (the API browser).
    Html,
    /// A redirect with no body (the session ticket); refusals are plain text.
    Redirect,
    /// Free-form JSON that is not an envelope (health, the OpenAPI document).
    Json,
    /// Prometheus text exposition.
    Metrics,
}

/// Who may call it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Any of the four schemes: OAuth 2.0 bearer, OAuth 1.0a, API token, SigV4.
    Api,
    /// A token endpoint: the client authenticates with its own credentials.
    Client,
    /// Open, or credentialed by something in the request itself (a single-use ticket).
    Open,
    /// Loopback, or the configured metrics token as a bearer.
    Metrics,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether the parameter map is read from the query string rather than a body.
    pub fn reads_query(self) -> bool {
        matches!(self, Method::Get | Method::Delete)
    }
}

#[derive(Clone, Debug)]
pub struct Op {
    pub method: Method,
    /// In axum's template syntax, relative to the family's mount (`/pam/credential/{key}`).
    pub path: String,
    pub summary: &'static str,
    pub description: &'static str,
    pub fields: Vec<Field>,
    pub input: Input,
    pub answer: Answer,
    pub auth: Auth,
    /// The status of a success: 200, or 201 for the contract's creations.
    pub success: u16,
    /// Statuses this operation answers besides the common ones for its `auth`.
    pub errors: Vec<u16>,
    /// Whether its refusals come in the legacy envelope (§1.3) rather than the current one.
    pub legacy_errors: bool,
    /// The contract keys a success always carries beside `code` and `response` (§1.4), and
    /// whether each holds an object or an array.
    pub entities: Vec<(&'static str, Shape)>,
}

/// What an entity key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    One,
    Many,
}

fn op(method: Method, path: impl Into<String>, summary: &'static str) -> Op {
    Op {
        method,
        path: path.into(),
        summary,
        description: "",
        fields: Vec::new(),
        input: Input::Params,
        answer: Answer::Envelope,
        auth: Auth::Api,
        success: 200,
        errors: Vec::new(),
        legacy_errors: false,
        entities: Vec::new(),
    }
}

pub fn get(path: impl Into<String>, summary: &'static str) -> Op {
    op(Method::Get, path, summary)
}
pub fn post(path: impl Into<String>, summary: &'static str) -> Op {
    op(Method::Post, path, summary)
}
pub fn put(path: impl Into<String>, summary: &'static str) -> Op {
    op(Method::Put, path, summary)
}
pub fn patch(path: impl Into<String>, summary: &'static str) -> Op {
    op(Method::Patch, path, summary)
}
pub fn delete(path: impl Into<String>, summary: &'static str) -> Op {
    op(Method::Delete, path, summary)
}

impl Op {
    pub fn fields(mut self, fields: impl IntoIterator<Item = Field>) -> Self {
        self.fields.extend(fields);
        self
    }

    pub fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    pub fn input(mut self, input: Input) -> Self {
        self.input = input;
        self
    }

    pub fn answer(mut self, answer: Answer) -> Self {
        self.answer = answer;
        self
    }

    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    pub fn created(mut self) -> Self {
        self.success = 201;
        self
    }

    pub fn success_status(mut self, status: u16) -> Self {
        self.success = status;
        self
    }

    /// The success always carries `key` holding one object.
    pub fn entity(mut self, key: &'static str) -> Self {
        self.entities.push((key, Shape::One));
        self
    }

    /// The success always carries `key` holding an array.
    pub fn entities(mut self, key: &'static str) -> Self {
        self.entities.push((key, Shape::Many));
        self
    }

    pub fn legacy_errors(mut self) -> Self {
        self.legacy_errors = true;
        self
    }

    pub fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }
}

/// A family's operations under one tag.
pub struct Family {
    pub tag: &'static str,
    pub description: &'static str,
    pub ops: Vec<Op>,
}
