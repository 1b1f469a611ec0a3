//! The PAM Core operations (protected information, credentials, devices, SSH keys, related
//! users), as `/openapi.json` describes them.

use super::spec::*;

const CREDENTIAL_KEY: &str = "The key is a credential id, username@hostname, or an identifier.";

const BODY_TOO: &str = "The parameters may also be sent as a form or JSON body (Ansible does).";

fn credential_upsert() -> Vec<Field> {
    vec![
        text("identifier").doc("Updates the credential holding it; generated when blank"),
        text("username").required().doc("Must be present; an empty string becomes \"usr\""),
        text("hostname").required().doc("Hostname of an existing device"),
        text("ip").required().doc("That device's IP: the device is the one at hostname and ip"),
        secret("content").doc("The password"),
        text("additional"),
        list("tags"),
        text("credential_type").doc("Default \"Local User\""),
        text("type").doc("Alias of credential_type, used when it is absent (Ansible)"),
        text("domain").doc("A registered domain"),
        integer("parent_password").doc("Id of the parent password credential"),
        list("device_domain").doc("Registered domains, without spaces; stored as the device's domains"),
        text("expiration_time").doc("ISO 8601 date-time, e.g. 2025-01-31T17:00:00-03:00"),
        object("execution_settings").doc("Automatic change: plugin, template, authentication credential…"),
        object("session_settings").doc("Allowed protocols, macros, authentication credential"),
        object("additional_settings").doc("Criticality (Low, Medium, High), TOTP seed, notes…"),
        object("jit_settings").doc("Just-in-time creation, deletion, enabling and disabling"),
    ]
}

fn device_upsert() -> Vec<Field> {
    vec![
        text("hostname").required().doc("The device is upserted by hostname"),
        text("ip").required(),
        text("model").required(),
        text("type").required(),
        text("vendor").required(),
        text("site").required(),
        text("identifier").doc("Set on creation only; generated when blank"),
        list("device_domain").doc("Registered domains, without spaces"),
        list("connectivities").doc("Protocol:port pairs, e.g. RDP:3389,SSH:22"),
        text("session_remote_config").doc("e.g. HTTP::"),
        list("device_tags"),
    ]
}

fn key_upsert() -> Vec<Field> {
    vec![
        text("ip").required().doc("The device's IP: the device is the one at hostname and ip"),
        text("hostname").required().doc("Hostname of an existing device"),
        secret("private_key").required().doc("OpenSSH, PKCS#1, SEC1 or PKCS#8; may be encrypted"),
        text("public_key").required().doc("OpenSSH public key matching private_key"),
        secret("password").doc("Passphrase of an encrypted private_key"),
        text("identifier").doc("Updates the key holding it; generated when blank"),
        text("username").doc("Default \"usr\""),
        boolean("enabled").doc("false stores the key inactive"),
        list("devices").doc("Extra hostnames: comma string, array, or [{\"hostname\": …}]"),
        list("tags"),
        text("key_name"),
        text("expiration_time").doc("ISO 8601 date-time"),
        object("session_settings").doc("Replaces the key's session settings, e.g. {\"ssh_exec\": true}"),
    ]
}

fn related_user() -> Vec<Field> {
    vec![
        text("name").doc("Left unchanged when absent or blank"),
        text("username").doc("Left unchanged when absent or blank"),
    ]
}

pub fn family() -> Family {
    Family {
        tag: "PAM Core",
        description: "Protected information, credentials with custody, devices, SSH keys and related users.",
        ops: vec![
            post("/pam/info", "Register or update protected information")
                .fields([
                    secret("content").required().doc("Text only, at most 64 KiB"),
                    text("identifier").doc("Updates the caller's item holding it; generated when blank"),
                    text("name"),
                    text("type").doc("Default \"Access credential\""),
                    text("service"),
                    text("url"),
                    list("users_allowed").doc("Usernames allowed to see the item"),
                ])
                .created()
                .entity("info"),
            get("/pam/info/{key}", "Read protected information with its content")
                .input(Input::Nothing)
                .describe("The key is an id or an identifier.")
                .entity("info"),
            delete("/pam/info/{key}", "Disable protected information").input(Input::Nothing),
            get("/pam/credential", "List credentials, or reveal one")
                .fields([text("credential").doc("When given, answers that credential as GET /pam/credential/{key}")])
                .describe("The list includes SSH keys (type \"SSH Key\"); revealing starts custody."),
            post("/pam/credential", "Register or update a credential")
                .fields(credential_upsert())
                .created()
                .entity("credential")
                .describe("Answers 201 on update too, with response.changed \"true\" or \"false\"."),
            delete("/pam/credential", "Disable a credential named by a parameter")
                .fields([
                    text("identifier").doc("Credential key; or credential, or id"),
                    text("credential").doc("Alternative to identifier"),
                    text("id").doc("Alternative to identifier"),
                ])
                .describe(BODY_TOO),
            get("/pam/credential/{key}", "Reveal a credential and take custody")
                .input(Input::Nothing)
                .describe(CREDENTIAL_KEY)
                .entity("credential"),
            put("/pam/credential/{key}", "Enable a credential").input(Input::Nothing).describe(CREDENTIAL_KEY),
            delete("/pam/credential/{key}", "Disable a credential").input(Input::Nothing).describe(CREDENTIAL_KEY),
            delete("/pam/credential/custody/{key}", "Release a credential's custody")
                .input(Input::Nothing)
                .describe(CREDENTIAL_KEY),
            get("/coe/senha/{key}", "Reveal a credential (legacy shape)")
                .input(Input::Nothing)
                .answer(Answer::Legacy)
                .describe("Portuguese keys under senha; refusals also answer in the legacy envelope."),
            get("/pam/device", "List devices").input(Input::Nothing).entities("devices"),
            post("/pam/device", "Register or update a device")
                .fields(device_upsert())
                .created()
                .errors(&[409])
                .entity("device"),
            delete("/pam/device", "Disable a device named by a parameter")
                .fields([
                    text("device").doc("Hostname, identifier or id; or hostname, identifier, id"),
                    text("hostname").doc("Alternative to device"),
                    text("identifier").doc("Alternative to device"),
                    text("id").doc("Alternative to device"),
                ])
                .describe(BODY_TOO),
            get("/pam/device/{key}", "Read a device")
                .input(Input::Nothing)
                .describe("The key is an id, identifier or hostname.")
                .entity("device"),
            put("/pam/device/{key}", "Enable a device")
                .input(Input::Nothing)
                .describe("Its credentials stay suspended."),
            delete("/pam/device/{key}", "Disable a device and suspend its credentials").input(Input::Nothing),
            post("/pam/key", "Register or update an SSH key").fields(key_upsert()).created().entity("key"),
            get("/pam/key/{key}", "Reveal an SSH key")
                .input(Input::Nothing)
                .describe("The private key is shown with CRLF line breaks.")
                .entity("key"),
            put("/pam/key/{key}", "Enable an SSH key").input(Input::Nothing),
            delete("/pam/key/{key}", "Disable an SSH key").input(Input::Nothing),
            get("/user/related", "List related users").input(Input::Nothing).entities("relatedUsers"),
            post("/user/related", "Register a related user")
                .fields([text("name").required(), text("username").required()])
                .describe("Answers 200 (not 201), with relatedUsers.id as an integer.")
                .entity("relatedUsers"),
            put("/user/related", "Update a related user named in the body")
                .fields([text("id").required().doc("The related user's id")])
                .fields(related_user())
                .entity("relatedUsers"),
            get("/user/related/{id}", "Read a related user")
                .input(Input::Nothing)
                .describe("The user is an object under the plural key relatedUsers.")
                .entity("relatedUsers"),
            put("/user/related/{id}", "Update a related user").fields(related_user()).entity("relatedUsers"),
            delete("/user/related/{id}", "Deactivate a related user").input(Input::Nothing),
        ],
    }
}
