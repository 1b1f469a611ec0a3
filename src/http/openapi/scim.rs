//! The SCIM operations, as `/openapi.json` describes them.

use super::spec::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The query of a list (`GET /Users`, `/Groups`); keys are matched case-insensitively.
fn list_query() -> Vec<Field> {
    vec![
        text("filter").doc("RFC 7644 filter, e.g. userName eq \"ana\"; never on password"),
        integer("startIndex").doc("1-based; values below 1 count as 1"),
        integer("count").doc("Page size, at most 200 (the default)"),
        list("attributes").doc("Return only these attributes (plus id and schemas)"),
        list("excludedAttributes").doc("Leave these attributes out"),
        text("sortBy").doc("Attribute path to sort by"),
        text("sortOrder").doc("ascending (default) or descending; only with sortBy"),
    ]
}

/// A SearchRequest body: the list query plus its schema.
fn search_body() -> Vec<Field> {
    let mut fields =
        vec![list("schemas").required().doc("Must include urn:ietf:params:scim:api:messages:2.0:SearchRequest")];
    fields.extend(list_query());
    fields
}

/// The shaping query of a single-resource read.
fn projection() -> Vec<Field> {
    vec![
        list("attributes").doc("Return only these attributes (plus id and schemas)"),
        list("excludedAttributes").doc("Leave these attributes out"),
    ]
}

/// A full User document (create or replace); unknown and read-only attributes are ignored.
fn user_body() -> Vec<Field> {
    vec![
        text("userName").required().doc("The login: 1 to 128 printable characters, unique"),
        text("externalId").doc("The provisioning system's own id"),
        object("name").doc("formatted, familyName, givenName, middleName, honorific…"),
        text("displayName"),
        text("nickName"),
        text("title"),
        text("userType"),
        text("preferredLanguage"),
        text("locale"),
        text("timezone"),
        boolean("active").doc("Whether the login is enabled; new users default to true"),
        secret("password").doc("Checked against the password policy; never returned"),
        object("emails").doc("Array of {value, type, primary, display}; primary becomes the email"),
        object("phoneNumbers").doc("Array of {value, type, primary, display}"),
        object("entitlements").doc("Array of {value, type, primary, display}"),
        object("roles").doc("Array of {value, type, primary, display}"),
        object(ENTERPRISE).doc("Enterprise extension: employeeNumber, department, manager…"),
    ]
}

/// A full Group document (create or replace).
fn group_body() -> Vec<Field> {
    vec![
        text("displayName").required().doc("Unique group name, at most 255 characters"),
        text("externalId").doc("The provisioning system's own id"),
        object("members").doc("Array of {value}: each value the id of an existing user"),
    ]
}

/// A PatchOp body (RFC 7644 §3.5.2).
fn patch_body() -> Vec<Field> {
    vec![
        list("schemas").required().doc("Must include urn:ietf:params:scim:api:messages:2.0:PatchOp"),
        object("Operations").doc("Array of {op: add|replace|remove, path, value}; required, or as operations"),
        object("operations").doc("Lower-case alias of Operations"),
    ]
}

pub fn family() -> Family {
    Family {
        tag: "SCIM 2.0",
        description: "SCIM 2.0 (RFC 7643/7644) provisioning of cofre's users and groups, answering in \
                      application/scim+json with SCIM error bodies.",
        ops: vec![
            get("/ServiceProviderConfig", "Describe the SCIM features supported")
                .input(Input::Nothing)
                .answer(Answer::Scim),
            get("/ResourceTypes", "List the resource types").input(Input::Nothing).answer(Answer::Scim),
            get("/ResourceTypes/{name}", "Show one resource type").input(Input::Nothing).answer(Answer::Scim),
            get("/Schemas", "List the schemas").input(Input::Nothing).answer(Answer::Scim),
            get("/Schemas/{id}", "Show one schema by its URN").input(Input::Nothing).answer(Answer::Scim),
        ]
        .into_iter()
        .chain(resource_ops("/Users", USER_SUMMARIES, user_body))
        .chain(resource_ops("/Groups", GROUP_SUMMARIES, group_body))
        .chain([
            post("/Bulk", "Run several operations in one request")
                .fields([
                    list("schemas").required().doc("Must include urn:ietf:params:scim:api:messages:2.0:BulkRequest"),
                    object("Operations").required().doc("Array of {method, path, bulkId, version, data}; at most 1000"),
                    integer("failOnErrors").doc("Stop after this many failed operations"),
                ])
                .input(Input::ScimJson)
                .answer(Answer::Scim)
                .describe(
                    "Each operation's own failure is reported in the BulkResponse, which answers 200; \
                     over 1000 operations or 1 MiB answers 413.",
                ),
            post("/.search", "Search users and groups together")
                .fields(search_body())
                .input(Input::ScimJson)
                .answer(Answer::Scim),
            post("/Users/.search", "Search users").fields(search_body()).input(Input::ScimJson).answer(Answer::Scim),
            post("/Groups/.search", "Search groups").fields(search_body()).input(Input::ScimJson).answer(Answer::Scim),
            get("/Me", "Not supported").input(Input::Nothing).answer(Answer::Scim).errors(&[501]),
            post("/Me", "Not supported").input(Input::Nothing).answer(Answer::Scim).errors(&[501]),
            put("/Me", "Not supported").input(Input::Nothing).answer(Answer::Scim).errors(&[501]),
            patch("/Me", "Not supported").input(Input::Nothing).answer(Answer::Scim).errors(&[501]),
            delete("/Me", "Not supported").input(Input::Nothing).answer(Answer::Scim).errors(&[501]),
        ])
        .collect(),
    }
}

/// Summaries of list, create, show, replace, patch and delete.
type Summaries = [&'static str; 6];
const USER_SUMMARIES: Summaries =
    ["List or filter users", "Provision a user", "Show a user", "Replace a user", "Patch a user", "Deprovision a user"];
const GROUP_SUMMARIES: Summaries =
    ["List or filter groups", "Create a group", "Show a group", "Replace a group", "Patch a group", "Delete a group"];

/// A resource type's collection and members: Users and Groups are served alike.
fn resource_ops(base: &str, summary: Summaries, body: fn() -> Vec<Field>) -> Vec<Op> {
    const IF_MATCH: &str = "An If-Match header that names another version answers 412.";
    let member = format!("{base}/{{id}}");
    vec![
        get(base, summary[0]).fields(list_query()).answer(Answer::Scim),
        post(base, summary[1]).fields(body()).input(Input::ScimJson).answer(Answer::Scim).created().errors(&[409]),
        get(member.clone(), summary[2]).fields(projection()).answer(Answer::Scim),
        put(member.clone(), summary[3])
            .fields(body())
            .input(Input::ScimJson)
            .answer(Answer::Scim)
            .errors(&[409, 412])
            .describe(IF_MATCH),
        patch(member.clone(), summary[4])
            .fields(patch_body())
            .input(Input::ScimJson)
            .answer(Answer::Scim)
            .errors(&[409, 412])
            .describe(IF_MATCH),
        delete(member, summary[5])
            .input(Input::Nothing)
            .answer(Answer::Scim)
            .success_status(204)
            .errors(&[412])
            .describe(IF_MATCH),
    ]
}
