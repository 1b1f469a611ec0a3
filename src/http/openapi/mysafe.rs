//! The MySafe operations (passwords, notes, API secrets and files), as `/openapi.json`
//! describes them.

use super::spec::*;

const UPDATE: &str = "Partial: absent fields are kept; an empty users_allowed or groups_allowed \
                      removes that sharing, which only the owner may change.";

fn sharing() -> Vec<Field> {
    vec![
        text("users_allowed").doc("JSON array of {username, can_edit}, or that array as JSON text"),
        text("groups_allowed").doc("JSON array of {name, can_edit}, or that array as JSON text"),
    ]
}

fn tags() -> Field {
    list("tags").doc("Comma-separated tags")
}

fn password_fields(creating: bool) -> Vec<Field> {
    let must = |f: Field| if creating { f.required() } else { f };
    let mut fields = vec![
        must(text("name")),
        must(text("username")),
        must(secret("password")),
        text("url"),
        secret("secret_key").doc("Base32 TOTP seed; reading answers the current code"),
        secret("notes"),
        tags(),
    ];
    fields.extend(sharing());
    fields
}

fn note_fields(creating: bool) -> Vec<Field> {
    let must = |f: Field| if creating { f.required() } else { f };
    let mut fields = vec![must(text("name")), must(secret("note")).doc("At most 900 characters"), tags()];
    fields.extend(sharing());
    fields
}

fn api_secret_fields(creating: bool) -> Vec<Field> {
    let must = |f: Field| if creating { f.required() } else { f };
    let mut fields = vec![
        must(text("name")),
        must(text("url")),
        must(secret("client_id")),
        must(secret("client_secret")),
        text("identifier_code").doc("Your own code for it, unique among your API secrets"),
        text("method").doc("HTTP method the secret is used with"),
        secret("notes"),
        tags(),
    ];
    fields.extend(sharing());
    fields
}

fn file_fields(creating: bool) -> Vec<Field> {
    let must = |f: Field| if creating { f.required() } else { f };
    let content = if creating { "The content" } else { "New content; the stored content is kept without it" };
    let mut fields = vec![must(text("name")), must(file("file")).doc(content), tags()];
    fields.extend(sharing());
    fields
}

fn list_filters() -> Vec<Field> {
    vec![text("tag").doc("Only items carrying this tag"), text("name").doc("Only names containing this, any case")]
}

pub fn family() -> Family {
    Family {
        tag: "MySafe",
        description: "Personal and team vault items (passwords, notes, API secrets, files), acting as the key's owner.",
        ops: vec![
            get("/mysafe/password", "List passwords").fields(list_filters()).entities("password_on_list"),
            post("/mysafe/password", "Register a password")
                .fields(password_fields(true))
                .created()
                .entity("password_entity")
                .describe("The answer's password_entity carries the notes as `note`."),
            get("/mysafe/password/{key}", "Show a password with its secrets")
                .input(Input::Nothing)
                .entity("password_entity")
                .describe("`token` is the current TOTP code of `secret_key`."),
            put("/mysafe/password/update/{key}", "Update a password")
                .fields(password_fields(false))
                .entity("password_entity")
                .describe(UPDATE),
            post("/mysafe/password/active/{key}", "Activate a password or API secret")
                .input(Input::Nothing)
                .describe("The key may name an API secret too, as the contract's pages print."),
            post("/mysafe/password/inactive/{key}", "Deactivate a password or API secret")
                .input(Input::Nothing)
                .describe("The key may name an API secret too, as the contract's pages print."),
            get("/mysafe/note", "List notes").fields(list_filters()).entities("note_on_list"),
            post("/mysafe/note", "Register a note").fields(note_fields(true)).created().entity("note_entity"),
            get("/mysafe/note/{key}", "Show a note with its text").input(Input::Nothing).entity("note_entity"),
            put("/mysafe/note/update/{key}", "Update a note")
                .fields(note_fields(false))
                .entity("note_entity")
                .describe(UPDATE),
            post("/mysafe/note/active/{key}", "Activate a note").input(Input::Nothing),
            post("/mysafe/note/inactive/{key}", "Deactivate a note").input(Input::Nothing),
            get("/mysafe/secretapi", "List API secrets")
                .fields(list_filters())
                .fields([text("identifier_code").doc("Only the API secret with this code")])
                .entities("api_secret_on_list"),
            post("/mysafe/secretapi", "Register an API secret")
                .fields(api_secret_fields(true))
                .created()
                .entity("api_entity"),
            get("/mysafe/secretapi/{key}", "Show an API secret").input(Input::Nothing).entity("api_entity"),
            put("/mysafe/secretapi/update/{key}", "Update an API secret")
                .fields(api_secret_fields(false))
                .entity("api_entity")
                .describe(UPDATE),
            post("/mysafe/secretapi/active/{key}", "Activate an API secret").input(Input::Nothing),
            post("/mysafe/secretapi/inactive/{key}", "Deactivate an API secret").input(Input::Nothing),
            get("/mysafe/file", "List files").fields(list_filters()).entities("file_on_list"),
            post("/mysafe/file", "Upload a file")
                .fields(file_fields(true))
                .input(Input::Multipart)
                .created()
                .entity("file_entity")
                .describe("Any part with a filename is taken as the content."),
            get("/mysafe/file/{key}", "Show a file with its content")
                .input(Input::Nothing)
                .entity("file_entity")
                .describe("The content is in file_entity.content, base64, streamed."),
            put("/mysafe/file/update/{key}", "Update a file or replace its content")
                .fields(file_fields(false))
                .input(Input::Multipart)
                .entity("file_entity")
                .describe(UPDATE),
            post("/mysafe/file/active/{key}", "Activate a file").input(Input::Nothing),
            post("/mysafe/file/inactive/{key}", "Deactivate a file").input(Input::Nothing),
        ],
    }
}
