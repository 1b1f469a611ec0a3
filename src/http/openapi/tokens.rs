//! The tokens operations, as `/openapi.json` describes them.

use super::spec::*;

fn client_credentials() -> Vec<Field> {
    vec![
        text("grant_type").required().doc("Must be client_credentials"),
        text("client_id").doc("With client_secret, unless HTTP Basic is used"),
        secret("client_secret").doc("With client_id, unless HTTP Basic is used"),
    ]
}

fn user_login() -> Vec<Field> {
    vec![
        text("login_name").required().doc("The user's login"),
        secret("password").required().doc("The user's password"),
        text("domain_name").doc("Only local (or empty) is accepted; others fail as a wrong login"),
        text("token_name").doc("Which of the user's dynamic tokens; default the newest"),
    ]
}

const CLIENT_AUTH: &str = "The client authenticates in the body (client_id, client_secret) or by HTTP Basic, \
                           never both; scope and tenant are ignored.";

const DYNAMIC: &str = "Answers {auth_token, token_type: \"dynamic\", expires_in} for the user's login and \
                       password (no HTTP Basic); send the value as the authtoken header.";

pub fn family() -> Family {
    Family {
        tag: "Tokens",
        description: "Token endpoints: OAuth 2.0 client credentials and Securden-style dynamic API tokens.",
        ops: vec![
            get("/oauth2/token", "Issue an OAuth 2.0 access token")
                .fields(client_credentials())
                .auth(Auth::Client)
                .answer(Answer::Token)
                .describe(CLIENT_AUTH),
            post("/oauth2/token", "Issue an OAuth 2.0 access token")
                .fields(client_credentials())
                .auth(Auth::Client)
                .answer(Answer::Token)
                .describe(CLIENT_AUTH),
            get("/get_auth_token", "Draw a dynamic API token value")
                .fields(user_login())
                .auth(Auth::Open)
                .errors(&[401, 403])
                .answer(Answer::Json)
                .describe(DYNAMIC),
            post("/get_auth_token", "Draw a dynamic API token value")
                .fields(user_login())
                .auth(Auth::Open)
                .errors(&[401, 403])
                .answer(Answer::Json)
                .describe(DYNAMIC),
        ],
    }
}
