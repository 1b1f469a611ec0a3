//! The admin operations, as `/openapi.json` describes them.

use super::spec::*;

/// The gate of an authorization, as creation and update set it.
fn gate() -> Vec<Field> {
    vec![
        boolean("read_only").doc("Reads only; default false"),
        list("allowed_ips").doc("IP addresses, CIDR ranges or host names; * for any"),
        list("allowed_referers").doc("Referer values the caller must present"),
        text("expires_at").doc("RFC 3339 time; empty or never for no expiry"),
    ]
}

pub fn family() -> Family {
    Family {
        tag: "Admin",
        description: "Operator API for callers holding the admin resource: applications, users, tokens, PAM \
                      settings, authorities, sessions.",
        ops: vec![
            get("/admin/applications", "List applications and their authorizations")
                .input(Input::Nothing)
                .entities("applications"),
            post("/admin/applications", "Register an application")
                .fields([
                    text("name").required().doc("1 to 200 characters"),
                    list("resources").required().doc("Resources the authorization may use, at least one"),
                    list("auth").doc("oauth2, oauth1 and/or aws; default oauth2"),
                    boolean("oauth1_unsigned").doc("Accept OAuth 1.0a consumer_key+token without a signature"),
                    text("owner").doc("Username the application acts as"),
                ])
                .fields(gate())
                .created()
                .describe("The answer is the only place the new client secret (and OAuth 1.0a/AWS keys) appear.")
                .entity("application"),
            get("/admin/applications/{id}", "Show an application").input(Input::Nothing).entity("application"),
            post("/admin/applications/{id}/enable", "Enable an application").input(Input::Nothing),
            post("/admin/applications/{id}/disable", "Disable an application").input(Input::Nothing),
            post("/admin/applications/{id}/links", "Link items to an application")
                .fields([
                    list("info").doc("Protected information ids or identifiers"),
                    list("credential").doc("Credential ids or identifiers"),
                    list("device").doc("Device ids or identifiers"),
                    boolean("write").doc("Link for reading and writing; default reading only"),
                ])
                .describe("Name at least one item in info, credential or device."),
            delete("/admin/applications/{id}/links/{kind}/{item}", "Unlink an item from an application")
                .input(Input::Nothing)
                .describe("kind is info, credential or device; item is its id or identifier."),
            get("/admin/domains", "List domains").input(Input::Nothing).entities("domains"),
            post("/admin/domains", "Register a domain")
                .fields([text("name").required().doc("One word of at most 255 characters, no commas")])
                .created()
                .errors(&[409])
                .entity("domain"),
            get("/admin/password-policies", "List password policies").input(Input::Nothing).entities("policies"),
            post("/admin/password-policies", "Register a password policy")
                .fields([
                    text("name").required().doc("1 to 100 characters"),
                    integer("length").doc("8 to 256; default 24"),
                    integer("lowercase").doc("Minimum count; -1 leaves the class out; default 1"),
                    integer("uppercase").doc("Minimum count; -1 leaves the class out; default 1"),
                    integer("digits").doc("Minimum count; -1 leaves the class out; default 1"),
                    integer("symbols").doc("Minimum count; -1 leaves the class out; default 1"),
                    text("exclude").doc("Characters never used"),
                    text("key_algorithm").doc("ed25519 (default), rsa-2048, rsa-3072 or rsa-4096"),
                    integer("rotation_interval").doc("Seconds between rotations; empty for none"),
                    boolean("rotate_after_custody").doc("Rotate when a custody ends"),
                ])
                .created()
                .errors(&[409])
                .entity("policy"),
            post("/admin/password-policies/assign", "Assign or remove a password policy").fields([
                text("policy").doc("Policy name; empty removes the assignment"),
                text("credential").doc("One of credential, device or tag is required"),
                text("device").doc("One of credential, device or tag is required"),
                text("tag").doc("One of credential, device or tag is required"),
            ]),
            get("/admin/credentials/{key}/versions", "List a credential's earlier versions")
                .input(Input::Nothing)
                .entities("versions"),
            post("/admin/credentials/{key}/versions/{version}/restore", "Restore an earlier credential version")
                .input(Input::Nothing),
            put("/admin/authorizations/{id}", "Update an authorization's gate")
                .fields([list("resources").doc("Replaces the resources; at least one"), boolean("enabled")])
                .fields(gate())
                .describe("Absent fields are kept; concurrent changes apply one after the other.")
                .entity("authorization"),
            post("/admin/authorizations/{id}/secret", "Regenerate an authorization's client secret")
                .input(Input::Nothing)
                .entity("authorization"),
            get("/admin/users", "List users").input(Input::Nothing).entities("users"),
            post("/admin/users", "Register a user")
                .fields([
                    text("username").required().doc("1 to 128 printable characters"),
                    text("name").doc("Display name"),
                    text("email"),
                    secret("password").doc("Without it the user cannot log in with a password"),
                    list("groups").doc("Existing group names"),
                ])
                .created()
                .errors(&[409])
                .entity("user"),
            get("/admin/users/{username}", "Show a user").input(Input::Nothing).entity("user"),
            put("/admin/users/{username}", "Update a user")
                .fields([text("name").doc("Display name"), text("email"), secret("password"), boolean("enabled")])
                .entity("user"),
            post("/admin/users/{username}/enable", "Enable a user").input(Input::Nothing).entity("user"),
            post("/admin/users/{username}/disable", "Disable a user").input(Input::Nothing).entity("user"),
            get("/admin/groups", "List groups").input(Input::Nothing).entities("groups"),
            post("/admin/groups", "Register a group")
                .fields([text("name").required()])
                .created()
                .errors(&[409])
                .entity("group"),
            put("/admin/groups/{name}/members/{username}", "Add a user to a group")
                .input(Input::Nothing)
                .entity("group"),
            delete("/admin/groups/{name}/members/{username}", "Remove a user from a group")
                .input(Input::Nothing)
                .entity("group"),
            get("/admin/tokens", "List API tokens").input(Input::Nothing).entities("tokens"),
            post("/admin/tokens", "Create an API token")
                .fields([
                    text("name").required().doc("Unique; 1 to 100 printable characters"),
                    list("scope").required().doc("RESOURCE:read or RESOURCE:write entries, at least one"),
                    text("type").doc("static (default) or dynamic"),
                    text("user").doc("Username who draws a dynamic token; required for dynamic"),
                    text("description"),
                    list("allowed_ips").doc("IP addresses, CIDR ranges or host names; default any"),
                    text("expires_at").doc("RFC 3339 time; empty or never for no expiry"),
                ])
                .created()
                .errors(&[409])
                .describe("A static token's value appears only in this answer and on regeneration.")
                .entity("token"),
            put("/admin/tokens/{key}", "Change an API token's expiry")
                .fields([text("expires_at").required().doc("RFC 3339 time; empty or never for no expiry")]),
            delete("/admin/tokens/{key}", "Delete an API token").input(Input::Nothing),
            post("/admin/tokens/{key}/regenerate", "Regenerate a static token's value")
                .input(Input::Nothing)
                .entity("token"),
            get("/admin/devices/{id}/ssh-host-key", "Show a device's pinned SSH host key")
                .input(Input::Nothing)
                .entity("host_key"),
            put("/admin/devices/{id}/ssh-host-key", "Pin a device's SSH host key")
                .fields([text("public_key").required().doc("An OpenSSH public key line")])
                .entity("host_key"),
            delete("/admin/devices/{id}/ssh-host-key", "Reset a device's pinned SSH host key")
                .input(Input::Nothing)
                .describe("The next session pins the key it meets."),
            get("/admin/certificate-authorities", "List certificate authorities")
                .input(Input::Nothing)
                .entities("certificate_authorities"),
            post("/admin/certificate-authorities", "Create or import a certificate authority")
                .fields([
                    text("name").required().doc("1 to 64 characters, not only digits; unique"),
                    text("parent").doc("Id or name of the signing authority, for an intermediate"),
                    text("key_type").doc("ECDSA-P256 (default), ECDSA-P384, RSA-2048, RSA-3072 or RSA-4096"),
                    integer("validity_days").doc("Default 3650; within the parent's validity"),
                    secret("certificate").doc("PEM certificate of an existing CA, to import it"),
                    secret("private_key").doc("PEM key of the imported CA; required with certificate"),
                    secret("password").doc("For an encrypted private_key"),
                ])
                .created()
                .errors(&[409])
                .describe("With certificate and private_key an existing CA is imported; otherwise one is made.")
                .entity("certificate_authority"),
            get("/admin/audit/head", "Show the audit chain's head").input(Input::Nothing).entity("head"),
            get("/admin/sessions", "List all remote sessions").input(Input::Nothing).entities("remote_sessions"),
            get("/admin/sessions/{id}", "Show a remote session").input(Input::Nothing).entities("remote_sessions"),
            get("/admin/sessions/{id}/recording", "Download a session recording")
                .input(Input::Nothing)
                .answer(Answer::Bytes("application/x-asciicast")),
            post("/admin/sessions/{session_id}/drop", "Drop a live remote session").input(Input::Nothing),
        ],
    }
}
