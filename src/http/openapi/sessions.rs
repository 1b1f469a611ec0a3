//! The remote-session operations (tickets, session records, recordings, drops), as
//! `/openapi.json` describes them.

use super::spec::*;

pub fn family() -> Family {
    Family {
        tag: "Sessions",
        description: "Web-proxy session tickets, the sessions opened with them, their recordings and drops.",
        ops: vec![
            post("/remote/session", "Create a single-use session URL")
                .fields([
                    text("user").required().doc("The vault user the session is for"),
                    text("credential").required().doc("Credential id, identifier, or username on the device"),
                    text("device").required().doc("Hostname or IP of the credential's device"),
                    text("protocol").required().doc("HTTP, HTTPS or SSH; must suit the credential"),
                    integer("port").doc("Default: the device's connectivity for the protocol"),
                    text("remoteAddr").doc("The user's IP address"),
                    text("remoteaddr").doc("Alias of remoteAddr, used when it is absent"),
                    text("screensize").doc("WIDTHxHEIGHT, default 1920x1080"),
                ])
                .describe("Refusals use the legacy envelope; the URL is single-use and expires (30 s by default).")
                .legacy_errors()
                .entity("session"),
            get("/session/remotesessions", "List remote sessions")
                .input(Input::Nothing)
                .entities("remote_sessions")
                .describe(
                    "Items carry cofre's own `failure`: why a failed session failed (`connection_refused`, `tls`, \
                     …), empty otherwise.",
                ),
            get("/session/remotesessions/{id}", "Show a remote session")
                .input(Input::Nothing)
                .entities("remote_sessions")
                .describe("`id` is the numeric id, not session_id; the answer is a one-item remote_sessions array."),
            get("/session/remotesessions/{id}/recording", "Download a session's recording")
                .input(Input::Nothing)
                .answer(Answer::Bytes("application/x-asciicast"))
                .describe("An asciicast v2 file; only SSH sessions are recorded, others answer 404."),
            delete("/session/drop/{session_id}", "Drop a live session")
                .input(Input::Nothing)
                .describe("An unknown, foreign, ended or already dropped session answers 500, as the contract does."),
        ],
    }
}
