//! The dashboard operations under the Portuguese `coge` and English `dash` paths, as
//! `/openapi.json` describes them.

use super::spec::*;

fn filters() -> Vec<Field> {
    vec![
        text("data1").doc("First day, YYYY-MM-DD"),
        text("date1").doc("Alias of data1, used when it is absent"),
        text("data2").doc("Last day, YYYY-MM-DD; not before data1"),
        text("date2").doc("Alias of data2, used when it is absent"),
        text("hostname").doc("Device hostname; requires userCredencial"),
        text("userCredencial").doc("Credential username; requires hostname"),
        text("userCredential").doc("Alias of userCredencial, used when it is absent"),
        text("username").doc("Only this user's sessions or reveals"),
        text("protocol").doc("ssh, telnet, rdp, rdpweb, sshweb, vnchttp, rdpgate, jumpserver, sql, http, https or all"),
        text("protocolo").doc("Alias of protocol, used when it is absent"),
    ]
}

fn session_counts(path: &'static str, summary: &'static str) -> Op {
    get(path, summary).fields([text("ativo").doc("1 answers only the open sessions")]).fields(filters()).describe(
        "`{p}`: jumpserver, rdpgate, ssh, rdp, rdpweb, sshweb, http, https or all. \
             Refusals are 400 in the dashboard envelope ({code, response}, error false).",
    )
}

fn risk(path: &'static str, summary: &'static str) -> Op {
    get(path, summary).fields(filters()).describe(
        "`{m}`: all, consultas or queries, acessos or access. \
         Refusals are 400 in the dashboard envelope ({code, response}, error false).",
    )
}

fn credential_counts(path: &'static str, summary: &'static str) -> Op {
    get(path, summary).input(Input::Nothing).describe(
        "`{s}`: all, expiradas or expired, utilizacao or using. \
         Refusals are 400 in the dashboard envelope ({code, response}, error false).",
    )
}

pub fn family() -> Family {
    Family {
        tag: "Dashboards",
        description: "Session, risk and credential counts; `coge` paths answer Portuguese keys, `dash` English.",
        ops: vec![
            session_counts("/coge/sessoes/{p}", "Count sessions per protocol (Portuguese keys)").entity("sessoes"),
            session_counts("/dash/sessions/{p}", "Count sessions per protocol").entity("sessions"),
            risk("/coge/risco/{m}", "List highest-risk reveals and sessions (Portuguese)").entity("maior_risco"),
            risk("/dash/risk/{m}", "List highest-risk reveals and sessions").entity("higher_risk"),
            credential_counts("/coge/credenciais/{s}", "Count expired and in-use credentials (Portuguese)")
                .entity("credenciais"),
            credential_counts("/dash/credentials/{s}", "Count expired and in-use credentials").entity("credentials"),
        ],
    }
}
