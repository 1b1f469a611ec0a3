//! The SCIM schemas cofre serves: one attribute table per resource, used both to publish
//! `/Schemas` and to clean what clients send (unknown attributes dropped, read-only ones
//! ignored, types checked). What is published is exactly what is stored and returned.

use serde_json::{Map, Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    Str,
    Bool,
    Complex,
    Reference,
}

pub struct Attr {
    pub name: &'static str,
    pub kind: AttrType,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: &'static str,
    pub returned: &'static str,
    pub uniqueness: &'static str,
    pub sub: &'static [Attr],
    /// For references: the resource types they may point at.
    pub refs: &'static [&'static str],
}

const fn s(name: &'static str) -> Attr {
    Attr {
        name,
        kind: AttrType::Str,
        multi: false,
        required: false,
        case_exact: false,
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        sub: &[],
        refs: &[],
    }
}

const fn b(name: &'static str) -> Attr {
    Attr { kind: AttrType::Bool, ..s(name) }
}

const fn complex(name: &'static str, sub: &'static [Attr]) -> Attr {
    Attr { kind: AttrType::Complex, sub, ..s(name) }
}

const fn multi(name: &'static str, sub: &'static [Attr]) -> Attr {
    Attr { kind: AttrType::Complex, multi: true, sub, ..s(name) }
}

const MULTI_SUB: &[Attr] = &[s("value"), s("display"), s("type"), b("primary")];

pub const USER_ATTRS: &[Attr] = &[
    Attr { required: true, uniqueness: "server", ..s("userName") },
    complex(
        "name",
        &[s("formatted"), s("familyName"), s("givenName"), s("middleName"), s("honorificPrefix"), s("honorificSuffix")],
    ),
    s("displayName"),
    s("nickName"),
    s("title"),
    s("userType"),
    s("preferredLanguage"),
    s("locale"),
    s("timezone"),
    b("active"),
    Attr { mutability: "writeOnly", returned: "never", case_exact: true, ..s("password") },
    multi("emails", MULTI_SUB),
    multi("phoneNumbers", MULTI_SUB),
    multi("entitlements", MULTI_SUB),
    multi("roles", MULTI_SUB),
    Attr {
        mutability: "readOnly",
        ..multi(
            "groups",
            &[
                Attr { mutability: "readOnly", ..s("value") },
                Attr { mutability: "readOnly", kind: AttrType::Reference, refs: &["Group"], ..s("$ref") },
                Attr { mutability: "readOnly", ..s("display") },
            ],
        )
    },
];

pub const ENTERPRISE_ATTRS: &[Attr] = &[
    s("employeeNumber"),
    s("costCenter"),
    s("organization"),
    s("division"),
    s("department"),
    complex(
        "manager",
        &[
            s("value"),
            Attr { kind: AttrType::Reference, refs: &["User"], ..s("$ref") },
            Attr { mutability: "readOnly", ..s("displayName") },
        ],
    ),
];

pub const GROUP_ATTRS: &[Attr] = &[
    Attr { required: true, ..s("displayName") },
    multi(
        "members",
        &[
            Attr { mutability: "immutable", case_exact: true, ..s("value") },
            Attr { mutability: "immutable", kind: AttrType::Reference, refs: &["User"], ..s("$ref") },
            Attr { mutability: "readOnly", ..s("display") },
        ],
    ),
];

/// Case-exact attributes of either resource (`id`, `externalId`, member and group values).
pub fn case_exact(key: &str) -> bool {
    matches!(key, "id" | "externalid" | "password" | "members.value" | "groups.value" | "meta.version")
}

fn attr_json(a: &Attr) -> Value {
    let kind = match a.kind {
        AttrType::Str => "string",
        AttrType::Bool => "boolean",
        AttrType::Complex => "complex",
        AttrType::Reference => "reference",
    };
    let mut v = json!({
        "name": a.name, "type": kind, "multiValued": a.multi, "description": a.name, "required": a.required,
        "caseExact": a.case_exact, "mutability": a.mutability, "returned": a.returned, "uniqueness": a.uniqueness,
    });
    if let Some(map) = v.as_object_mut() {
        if a.kind == AttrType::Complex {
            map.insert("subAttributes".into(), Value::Array(a.sub.iter().map(attr_json).collect()));
        }
        if a.kind == AttrType::Reference {
            map.insert("referenceTypes".into(), json!(a.refs));
        }
    }
    v
}

pub fn schema_json(id: &str, base: &str) -> Option<Value> {
    let (name, attrs) = match id {
        USER => ("User", USER_ATTRS),
        GROUP => ("Group", GROUP_ATTRS),
        ENTERPRISE => ("EnterpriseUser", ENTERPRISE_ATTRS),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id, "name": name, "description": name,
        "attributes": attrs.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    }))
}

pub fn resource_types_json(base: &str) -> Vec<Value> {
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User", "endpoint": "/Users",
               "description": "User Account", "schema": USER,
               "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
               "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group", "endpoint": "/Groups",
               "description": "Group", "schema": GROUP, "schemaExtensions": [],
               "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}}),
    ]
}

pub const MAX_RESULTS: i64 = 200;
pub const MAX_BULK_OPERATIONS: usize = 1000;
pub const MAX_BULK_PAYLOAD: usize = 1024 * 1024;

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/cofre/cofre/blob/main/docs/API.md",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_BULK_OPERATIONS, "maxPayloadSize": MAX_BULK_PAYLOAD},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
            "description": "A bearer token from /iso/oauth2/token for an authorization holding the scim resource", "primary": true}],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

/// A cleaning failure: the SCIM error type and a detail.
pub struct Invalid(pub &'static str, pub String);

/// Keeps the known, writable attributes of `input`, under their canonical names, checking
/// types. Read-only attributes are ignored, as RFC 7644 §3.5.1 asks.
pub fn clean(input: &Map<String, Value>, attrs: &[Attr]) -> Result<Map<String, Value>, Invalid> {
    let mut out = Map::new();
    for (key, value) in input {
        let Some(attr) = attrs.iter().find(|a| a.name.eq_ignore_ascii_case(key)) else { continue };
        if attr.mutability == "readOnly" || value.is_null() {
            continue;
        }
        out.insert(attr.name.to_owned(), check(attr, value)?);
    }
    Ok(out)
}

fn check(attr: &Attr, value: &Value) -> Result<Value, Invalid> {
    let wrong = |what: &str| Invalid("invalidValue", format!("'{}' must be {what}", attr.name));
    if attr.multi {
        let items = value.as_array().ok_or_else(|| wrong("a list"))?;
        let single = Attr { multi: false, ..*attr };
        return items.iter().map(|item| check(&single, item)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    match attr.kind {
        AttrType::Str | AttrType::Reference => value.as_str().map(|_| value.clone()).ok_or_else(|| wrong("a string")),
        AttrType::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                Ok(Value::Bool(s.eq_ignore_ascii_case("true")))
            }
            _ => Err(wrong("a boolean")),
        },
        AttrType::Complex => {
            let map = value.as_object().ok_or_else(|| wrong("an object"))?;
            clean(map, attr.sub).map(Value::Object)
        }
    }
}
