//! The DevOps Secret Manager operations, as `/openapi.json` describes them.

use super::spec::*;

const CAPITALISED: &str =
    "Text parameters are also accepted capitalised (Application, Identity…), as one user script sends them.";

fn pod() -> Vec<Field> {
    vec![text("pod_name").required(), text("deploy").required(), text("namespace").required()]
}

fn renew(name: &'static str) -> Field {
    integer(name).doc("Minutes, 10 to a year; the shortest renew_* given applies")
}

pub fn family() -> Family {
    Family {
        tag: "DSM",
        description: "DevOps Secret Manager: application registration, secrets, CI/CD variables and pod provisioning.",
        ops: vec![
            get("/dapp/application", "Read the caller's application with its secrets")
                .input(Input::Nothing)
                .entity("application"),
            post("/dapp/application", "Register or update an application")
                .fields([
                    text("application").required().doc("The application's name"),
                    text("system").required(),
                    text("environment").required(),
                    text("unique_key").doc("Finds the application by this key when given"),
                    text("description"),
                    list("tags"),
                    text("line_of_business"),
                    text("application_type"),
                    list("allowed_ips").doc("Addresses or CIDRs within the registrar's own"),
                    list("allowed_http_referers").doc("Referrers within the registrar's own"),
                    text("expiration_date").doc("YYYY-MM-DD HH:MM:SS, not after the registrar's expiry"),
                ])
                .errors(&[409])
                .describe(
                    "Answers id and signature: a new client id and secret for the application. \
                     Text parameters are also accepted capitalised.",
                ),
            delete("/dapp/application/authorization", "Inactivate the calling authorization").input(Input::Nothing),
            get("/sctm/secret", "List the caller's application secrets").input(Input::Nothing).entities("secrets"),
            post("/sctm/secret", "Create or update a secret")
                .fields([
                    text("identity").required().doc("1 to 512 printable characters; may contain /"),
                    object("data").required().doc("access_keys, credentials, key_value; or base64 of that JSON"),
                    text("name").doc("Default the identity"),
                    text("engine").doc("A registered engine, e.g. Generic (default), Kubernetes, AWS"),
                    text("description"),
                    text("expiration_date").doc("YYYY-MM-DD HH:MM:SS"),
                    renew("renew_cloud_time"),
                    renew("renew_credential_time"),
                    renew("renew_ephemeral_credential_time"),
                ])
                .created()
                .describe(
                    "Answers 201 when created and 200 when updated (a new version). \
                     Text parameters are also accepted capitalised.",
                )
                .entity("application"),
            get("/sctm/secret/{*identity}", "Read one secret by identity").input(Input::Nothing).entity("secret"),
            post("/cicd/variables", "Save CI/CD variables as secrets")
                .fields([
                    secret("env").required().doc("Base64 of the environment, one NAME=value a line"),
                    text("map").doc("Base64 of the mapping-file JSON; without it nothing is saved"),
                ])
                .describe(
                    "Base64 may be standard, URL-safe, unpadded or dsmcli's variant with ',' padding. \
                     Text parameters are also accepted capitalised.",
                ),
            post("/coe/dapp/provision", "Record a provisioned pod")
                .fields(pod())
                .describe(CAPITALISED)
                .entity("application"),
            post("/coe/dapp/deprovision", "Remove a provisioned pod").fields(pod()).describe(CAPITALISED),
            post("/dapp/deprovision", "Remove a provisioned pod").fields(pod()).describe(CAPITALISED),
        ],
    }
}
