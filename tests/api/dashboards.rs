//! Dashboards (§13.1, issue 15): session counts, higher-risk scores and credential counts under
//! the PT `coge` and EN `dash` paths, their filters, and every refusal in the contract's words.

use cofre::clock::Clock;
use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, Reply, TestApp, error_envelope, success_block};
use crate::on_both_stores;
use crate::session_tickets::{PASSWORD, fixture, redeem, token};

on_both_stores!(
    sessions_are_counted_per_protocol_with_filters,
    risk_scores_follow_the_stated_rules,
    credentials_are_counted_expired_and_in_use,
    refusals_use_the_contract_words_and_statuses,
    working_hours_come_from_the_config,
);

/// Moves the clock to the next Monday (never today) at `hour` UTC; tokens are minted after.
fn to_next_monday(app: &TestApp, hour: i64) {
    let now = app.clock.now();
    let day = now.div_euclid(86_400);
    let weekday = (day + 4).rem_euclid(7);
    let ahead = match (1 - weekday).rem_euclid(7) {
        0 => 7,
        n => n,
    };
    app.clock.advance_secs((day + ahead) * 86_400 + hour * 3600 - now);
}

/// The same application with a token minted now (after the clock moved past the old one's life).
async fn renewed(app: &TestApp, client: Client) -> Client {
    let token = app.token_for(&client.app).await;
    Client { token, ..client }
}

async fn get(app: &TestApp, client: &Client, path: &str) -> Reply {
    app.call(client, Method::GET, path).await
}

async fn ok(app: &TestApp, client: &Client, path: &str, message: &str) -> Value {
    let reply = get(app, client, path).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    assert_eq!(reply.body["code"], 200);
    assert_eq!(reply.body["response"], success_block(200, message), "{path}");
    reply.body
}

/// Opens a session through the real ticket flow (entry code never used: it stays open).
async fn open_session(app: &TestApp, sessions: &Client) {
    let token = token(app, sessions).await;
    assert_eq!(redeem(app, &token).await.status(), StatusCode::SEE_OTHER);
}

async fn session_ids(app: &TestApp, sessions: &Client) -> Vec<String> {
    let reply = get(app, sessions, "/iso/session/remotesessions").await;
    let list = reply.body["remote_sessions"].as_array().expect("list").clone();
    list.iter().map(|s| s["session_id"].as_str().expect("id").to_owned()).collect()
}

fn today(app: &TestApp) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(app.clock.now()).expect("time");
    at.date().to_string()
}

async fn sessions_are_counted_per_protocol_with_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    to_next_monday(&app, 10);
    let sessions = fixture(&app).await;
    let dash = app.client(&[Resource::Dashboards]).await;
    open_session(&app, &sessions).await;
    open_session(&app, &sessions).await;
    // Dropped while nobody holds it: ended at once, so one of two stays active.
    let newest = session_ids(&app, &sessions).await[0].clone();
    let dropped = app.call(&sessions, Method::DELETE, &format!("/iso/session/drop/{newest}")).await;
    assert_eq!(dropped.status, StatusCode::OK, "{}", dropped.body);

    // Each language's documentation labels the protocols its own way.
    let en_zeros = |https: &str| {
        json!({"Jump_Server": "0", "RDP_Gate": "0", "SSH/Telnet": "0", "RDP": "0", "RDP_Web": "0",
               "SSH_Web": "0", "HTTP_VNC": "0", "SQL": "0", "HTTP": "0", "HTTPS": https})
    };
    let pt_zeros = |https: &str| {
        json!({"JumpServer": "0", "RDPGate": "0", "SSH/Telnet": "0", "RDP": "0", "RDP_Web": "0",
               "SSH_Web": "0", "VNC_HTTP": "0", "SQL": "0", "HTTP": "0", "HTTPS": https})
    };
    for prefix in ["/iso", "/api"] {
        let en = ok(&app, &dash, &format!("{prefix}/dash/sessions/all"), "Sessions").await;
        assert_eq!(en["sessions"], json!({"enabled": en_zeros("1"), "historic": en_zeros("2")}), "{en}");
        let pt = ok(&app, &dash, &format!("{prefix}/coge/sessoes/all"), "Sessions").await;
        assert_eq!(pt["sessoes"], json!({"historico": pt_zeros("2"), "ativas": pt_zeros("1")}), "{pt}");
    }
    let gate = ok(&app, &dash, "/iso/dash/sessions/rdpgate", "Sessions").await;
    assert_eq!(gate["sessions"], json!({"enabled": {"RDP_Gate": "0"}, "historic": {"RDP_Gate": "0"}}));
    let gate = ok(&app, &dash, "/iso/coge/sessoes/rdpgate", "Sessions").await;
    assert_eq!(gate["sessoes"], json!({"historico": {"RDPGate": "0"}, "ativas": {"RDPGate": "0"}}));
    let one = ok(&app, &dash, "/iso/dash/sessions/HTTPS", "Sessions").await;
    assert_eq!(one["sessions"], json!({"enabled": {"HTTPS": "1"}, "historic": {"HTTPS": "2"}}));
    let ssh = ok(&app, &dash, "/iso/coge/sessoes/ssh", "Sessions").await;
    assert_eq!(ssh["sessoes"], json!({"historico": {"SSH/Telnet": "0"}, "ativas": {"SSH/Telnet": "0"}}));
    let active = ok(&app, &dash, "/iso/coge/sessoes/https?ativo=1", "Sessions").await;
    assert_eq!(active["sessoes"], json!({"ativas": {"HTTPS": "1"}}));

    let day = today(&app);
    let tomorrow = time::Date::parse(&day, time::macros::format_description!("[year]-[month]-[day]"))
        .expect("date")
        .next_day()
        .expect("next")
        .to_string();
    let counted = |query: String| {
        let (app, dash) = (&app, &dash);
        async move {
            let body = ok(app, dash, &format!("/iso/dash/sessions/https?{query}"), "Sessions").await;
            body["sessions"]["historic"]["HTTPS"].as_str().expect("count").to_owned()
        }
    };
    assert_eq!(counted(format!("data1={day}&data2={day}")).await, "2");
    assert_eq!(counted(format!("date1={day}")).await, "2");
    assert_eq!(counted(format!("data1={tomorrow}")).await, "0");
    assert_eq!(counted(format!("data2={day}")).await, "2");
    assert_eq!(counted("hostname=web01&userCredencial=admin".into()).await, "2");
    assert_eq!(counted("hostname=web02&userCredencial=admin".into()).await, "0");
    assert_eq!(counted("hostname=web01&userCredencial=root".into()).await, "0");
    assert_eq!(counted("username=alice".into()).await, "2");
    assert_eq!(counted("username=bob".into()).await, "0");
}

/// (risk, additional info) of English items.
fn risks(items: &Value) -> Vec<(String, String)> {
    let list = items.as_array().unwrap_or_else(|| panic!("a list: {items}"));
    list.iter()
        .map(|i| {
            (i["risk"].as_str().expect("risk").to_owned(), i["additional_info"].as_str().expect("info").to_owned())
        })
        .collect()
}

/// An item with the English documentation's keys, in the Portuguese documentation's words: the
/// same values under the other language's keys, in the same order.
fn in_portuguese(item: &Value, keys: &[&str]) -> Value {
    let object = item.as_object().expect("object");
    Value::Object(keys.iter().map(|k| (*k).to_owned()).zip(object.values().cloned()).collect())
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

async fn risk_scores_follow_the_stated_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    to_next_monday(&app, 10);
    let sessions = fixture(&app).await;
    let dash = app.client(&[Resource::Dashboards]).await;
    let reveal = |client: Client| {
        let app = &app;
        async move {
            let reply = get(app, &client, "/iso/pam/credential/web01-admin").await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            client
        }
    };
    // Monday 10:00: six reveals in an hour, the first from a new IP, the sixth a burst.
    let mut sessions = sessions;
    for _ in 0..6 {
        sessions = reveal(sessions).await;
        app.clock.advance_secs(60);
    }
    // Sessions: the first (new origin) is dropped; the second stays open for ten hours.
    open_session(&app, &sessions).await;
    let first = session_ids(&app, &sessions).await[0].clone();
    app.call(&sessions, Method::DELETE, &format!("/iso/session/drop/{first}")).await;
    open_session(&app, &sessions).await;
    app.clock.advance_secs(10 * 3600);
    // Monday 20:06, outside working hours: one reveal, one session.
    let sessions = renewed(&app, sessions).await;
    let dash = renewed(&app, dash).await;
    let sessions = reveal(sessions).await;
    open_session(&app, &sessions).await;

    let en = ok(&app, &dash, "/iso/dash/risk/all", "HigherRisk").await;
    assert_eq!(
        risks(&en["higher_risk"]["queries"]),
        pairs(&[
            ("40", "outside working hours"),
            ("30", "many reveals in an hour"),
            ("30", "first use of origin IP"),
            ("0", ""),
            ("0", ""),
            ("0", ""),
            ("0", ""),
        ]),
        "{en}"
    );
    let access = risks(&en["higher_risk"]["access"]);
    assert_eq!(access.len(), 3, "{en}");
    assert_eq!(access[0], ("40".to_owned(), "first use of origin IP, dropped".to_owned()));
    assert_eq!(access[1], ("30".to_owned(), "outside working hours".to_owned()));
    // Still open (the holder's sweep may end it, never before its ten hours): long either way.
    assert_eq!(access[2], ("30".to_owned(), "unusually long".to_owned()));

    let query = &en["higher_risk"]["queries"][0];
    assert_eq!(query["credential"], "admin");
    assert_eq!(query["device"], "web01");
    assert_eq!(query["user_id"], sessions.app.application_id.to_string());
    assert_eq!(query["query_date"].as_str().map(|d| &d[11..16]), Some("20:06"));
    let keys = |item: &Value| item.as_object().expect("object").keys().cloned().collect::<Vec<_>>();
    let en_query = ["query_id", "risk", "query_date", "user_id", "username", "credential_id", "credential"]
        .into_iter()
        .chain(["additional_info", "device"]);
    assert_eq!(keys(query), en_query.map(str::to_owned).collect::<Vec<_>>());
    let session = &en["higher_risk"]["access"][0];
    let en_access = ["session_id", "host", "port", "protocol", "credential", "risk", "start_date", "end_date"]
        .into_iter()
        .chain(["duration", "user_id", "username", "additional_info"]);
    assert_eq!(keys(session), en_access.map(str::to_owned).collect::<Vec<_>>());
    assert_eq!(session["host"], "web01");
    assert_eq!(session["port"], "443");
    assert_eq!(session["protocol"], "HTTPS");
    assert_eq!(session["username"], "alice");
    assert_ne!(session["end_date"], "", "a dropped session has ended");
    assert!(!en.to_string().contains(PASSWORD), "never the secret");

    // The Portuguese path: the contract's keys in the contract's order, the same values.
    let pt_query = ["Cod_Consulta", "Risco", "Data_Consulta", "Cod_Usuario", "Nome_Usuario", "Cod_Credencial"]
        .into_iter()
        .chain(["Credencial", "Info_Adicional", "Dispositivo"])
        .collect::<Vec<_>>();
    let pt_access = ["Cod_Sessao", "Host", "Porta", "Protocolo", "Credencial", "Risco", "Data_Inicio", "Data_Fim"]
        .into_iter()
        .chain(["Duracao", "Cod_Usuario", "Nome_Usuario", "Info_Adicional"])
        .collect::<Vec<_>>();
    let translated = |items: &Value, keys: &[&str]| {
        Value::Array(items.as_array().expect("list").iter().map(|i| in_portuguese(i, keys)).collect())
    };
    let pt = ok(&app, &dash, "/iso/coge/risco/consultas", "MaiorRisco").await;
    assert_eq!(pt["maior_risco"].as_object().map(|m| m.len()), Some(1), "{pt}");
    assert_eq!(pt["maior_risco"]["consultas"], translated(&en["higher_risk"]["queries"], &pt_query));
    assert_eq!(keys(&pt["maior_risco"]["consultas"][0]), pt_query.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>());
    let pt = ok(&app, &dash, "/api/coge/risco/acessos", "MaiorRisco").await;
    assert_eq!(pt["maior_risco"]["acessos"], translated(&en["higher_risk"]["access"], &pt_access));
    assert_eq!(pt["maior_risco"]["acessos"][0]["Host"], "web01");
    let only = ok(&app, &dash, "/iso/dash/risk/queries", "HigherRisk").await;
    assert!(only["higher_risk"].get("access").is_none());
    let only = ok(&app, &dash, "/iso/coge/risco/access", "MaiorRisco").await;
    assert!(only["maior_risco"].get("consultas").is_none());

    let count = |body: Value, key: &str| body["higher_risk"][key].as_array().map_or(0, Vec::len);
    let filtered = |query: &str| format!("/iso/dash/risk/all?{query}");
    assert_eq!(count(ok(&app, &dash, &filtered("protocol=https"), "HigherRisk").await, "access"), 3);
    assert_eq!(count(ok(&app, &dash, &filtered("protocol=ssh"), "HigherRisk").await, "access"), 0);
    let by_device = ok(&app, &dash, &filtered("hostname=web01&userCredencial=admin"), "HigherRisk").await;
    assert_eq!((count(by_device.clone(), "queries"), count(by_device, "access")), (7, 3));
    let elsewhere = ok(&app, &dash, &filtered("hostname=db01&userCredencial=admin"), "HigherRisk").await;
    assert_eq!((count(elsewhere.clone(), "queries"), count(elsewhere, "access")), (0, 0));
    let by_user = ok(&app, &dash, &filtered("username=alice"), "HigherRisk").await;
    assert_eq!((count(by_user.clone(), "queries"), count(by_user, "access")), (0, 3), "queries belong to applications");
    let day = today(&app);
    let dated = ok(&app, &dash, &filtered(&format!("data1={day}&data2={day}")), "HigherRisk").await;
    assert_eq!((count(dated.clone(), "queries"), count(dated, "access")), (7, 3));
    let earlier = ok(&app, &dash, &filtered("data1=2020-01-01&data2=2020-01-31"), "HigherRisk").await;
    assert_eq!((count(earlier.clone(), "queries"), count(earlier, "access")), (0, 0));
}

async fn credentials_are_counted_expired_and_in_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pam = app.client(&[Resource::Pam]).await;
    crate::pam::device(&app, &pam, "db01").await;
    for (name, expiration) in [("old", "2020-01-01T00:00:00-03:00"), ("new", "2999-01-01T00:00:00+00:00"), ("none", "")]
    {
        let body = json!({"username": name, "hostname": "db01", "ip": "10.0.0.5", "content": "pw", "identifier": name,
                          "expiration_time": expiration});
        let reply = app.post_json(&pam, "/api/pam/credential", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let dash = app.client(&[Resource::Dashboards]).await;
    let before = ok(&app, &dash, "/iso/dash/credentials/all", "Credentials").await;
    assert_eq!(before["credentials"], json!({"expired": "1", "using": "0"}));
    // A reveal starts custody: the credential is in use.
    assert_eq!(get(&app, &pam, "/iso/pam/credential/new").await.status, StatusCode::OK);
    let en = ok(&app, &dash, "/iso/dash/credentials/all", "Credentials").await;
    assert_eq!(en["credentials"], json!({"expired": "1", "using": "1"}));
    let pt = ok(&app, &dash, "/api/coge/credenciais/all", "Credenciais").await;
    assert_eq!(pt["credenciais"], json!({"expiradas": "1", "utilizacao": "1"}));
    let pt = ok(&app, &dash, "/iso/coge/credenciais/expiradas", "Credenciais").await;
    assert_eq!(pt["credenciais"], json!({"expiradas": "1"}));
    let en = ok(&app, &dash, "/iso/dash/credentials/using", "Credentials").await;
    assert_eq!(en["credentials"], json!({"using": "1"}));
    let en = ok(&app, &dash, "/iso/dash/credentials/expired", "Credentials").await;
    assert_eq!(en["credentials"], json!({"expired": "1"}));
    let pt = ok(&app, &dash, "/iso/coge/credenciais/utilizacao", "Credenciais").await;
    assert_eq!(pt["credenciais"], json!({"utilizacao": "1"}));
}

async fn refusals_use_the_contract_words_and_statuses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dash = app.client(&[Resource::Dashboards]).await;
    let refused = |message: &str| json!({"code": 400, "response": success_block(400, message)});
    let cases = [
        ("/iso/dash/sessions/all?data1=2024-02-01&data2=2024-01-31", "Date1 greater than date2"),
        ("/iso/coge/risco/all?date1=2024-02-01&date2=2024-01-31", "Date1 greater than date2"),
        ("/iso/coge/sessoes/all?userCredencial=admin", "hostname parameter is missing"),
        ("/iso/coge/risco/all?userCredencial=admin", "hostname parameter is missing"),
        ("/iso/dash/sessions/all?hostname=web01", "userCredencial parameter is missing"),
        ("/api/dash/risk/access?hostname=web01", "userCredencial parameter is missing"),
        ("/iso/coge/risco/all?protocol=gopher", "Invalid protocol"),
        ("/iso/dash/sessions/gopher", "Invalid request"),
        ("/iso/coge/risco/everything", "Invalid request"),
        ("/iso/dash/risk/higher", "Invalid request"),
        ("/iso/coge/credenciais/vencidas", "Invalid request"),
        ("/api/dash/credentials/old", "Invalid request"),
        ("/iso/dash/sessions/all?data1=01/02/2024", "Invalid request"),
        // The path parameter is judged before the query.
        ("/iso/dash/risk/everything?protocol=gopher&hostname=web01", "Invalid request"),
        ("/iso/coge/sessoes/gopher?data1=2024-02-01&data2=2024-01-31", "Invalid request"),
    ];
    for (path, message) in cases {
        let reply = get(&app, &dash, path).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(reply.body, refused(message), "{path}");
    }
    for path in ["/iso/coge/sessoes", "/iso/dash/sessions", "/api/coge/risco", "/iso/coge/credenciais"] {
        let reply = get(&app, &dash, path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.body, error_envelope(404, 404, "Resource/sub-resource not found"), "{path}");
    }
    // The module is checked before anything else (§1.5: 500); read-only may read.
    let pam = app.client(&[Resource::Pam, Resource::Sessions]).await;
    for path in
        ["/iso/dash/sessions/all", "/iso/coge/risco/all?data1=2024-02-01&data2=2024-01-01", "/iso/dash/credentials/x"]
    {
        let reply = get(&app, &pam, path).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(reply.body, error_envelope(500, 500, "You are not authorized to access this resource."));
    }
    let read_only = app.create_app(&[Resource::Dashboards], true, &["*"]).await;
    let reader = Client { token: app.token_for(&read_only).await, app: read_only };
    ok(&app, &reader, "/iso/dash/credentials/all", "Credentials").await;
    ok(&app, &reader, "/iso/coge/risco/all", "MaiorRisco").await;
}

async fn working_hours_come_from_the_config(backend: Backend) {
    for (hours, expected) in [
        ("08-18", ("70", "outside working hours, first use of origin IP")),
        ("00-24", ("30", "first use of origin IP")),
    ] {
        let app = TestApp::spawn_with(backend.clone(), |c| c.working_hours = hours.into()).await;
        to_next_monday(&app, 3);
        let sessions = fixture(&app).await;
        let dash = app.client(&[Resource::Dashboards]).await;
        // The legacy query reveals too.
        let id = get(&app, &sessions, "/iso/pam/credential/web01-admin").await.body["credential"]["id"].clone();
        let legacy = get(&app, &sessions, &format!("/iso/coe/senha/{}", id.as_str().expect("id"))).await;
        assert_eq!(legacy.status, StatusCode::OK, "{}", legacy.body);
        let body = ok(&app, &dash, "/iso/dash/risk/queries", "HigherRisk").await;
        let scored = risks(&body["higher_risk"]["queries"]);
        assert_eq!(scored.len(), 2, "{body}");
        assert_eq!(scored[0], (expected.0.to_owned(), expected.1.to_owned()), "{hours}");
    }
}
