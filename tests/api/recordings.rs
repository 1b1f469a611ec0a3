//! SSH session recordings (issue 15): asciicast v2 of what the device showed, never the
//! password, sealed at rest in chunks that cannot be moved; confined like the session itself;
//! exported and replayed by the CLI; and a recording that cannot be written ends the session.

use std::time::Duration;

use cofre::domain::authorization::Resource;
use cofre::domain::sessions::recording::parse;
use reqwest::{Method, StatusCode};
use sqlx::Row;

use crate::cli::cofre;
use crate::helpers::{Backend, Client, TestApp, error_envelope};
use crate::on_both_stores;
use crate::ssh_sessions::{allow_commands, eventually, fixture, gateway, ssh_app, ticket};
use crate::ssh_target::{Accepts, PASSWORD, SshTarget, USER};
use crate::ssh_user::{Terminal, login};

on_both_stores!(
    an_ssh_session_is_recorded_as_asciicast_without_the_password,
    recordings_are_confined_like_their_sessions,
    a_chunk_moved_to_another_session_does_not_open,
    a_recording_that_cannot_be_written_ends_the_session,
);

const SHORT: Duration = Duration::from_secs(5);

/// Runs one shell session that types `lines`, exits, and is ended: its numeric id.
async fn recorded_session(app: &TestApp, client: &Client, device: &SshTarget, lines: &[&str]) -> String {
    let token = ticket(app, client, "SSH", device.port).await;
    let (handle, _) = login(gateway(app), &token).await.expect("in");
    let mut terminal = Terminal::shell(&handle, 100, 30).await;
    assert!(terminal.read_until("device$ ", SHORT).await);
    for line in lines {
        terminal.type_line(line).await;
    }
    terminal.channel.window_change(120, 40, 0, 0).await.expect("resize");
    terminal.type_line("exit").await;
    assert!(terminal.read_to_end(SHORT).await, "{}", terminal.text());
    let listed = app.call(client, Method::GET, "/iso/session/remotesessions").await;
    listed.body["remote_sessions"][0]["id"].as_str().expect("id").to_owned()
}

async fn download(app: &TestApp, client: &Client, id: &str) -> reqwest::Response {
    let path = format!("/iso/session/remotesessions/{id}/recording");
    app.authed(client, Method::GET, &path).send().await.expect("sent")
}

async fn an_ssh_session_is_recorded_as_asciicast_without_the_password(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let id = recorded_session(&app, &client, &device, &["echo ação-recorded ✓", "whoami"]).await;
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'closed'", 1).await;

    let response = download(&app, &client, &id).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-asciicast");
    assert!(response.headers()["content-disposition"].to_str().expect("ascii").contains(".cast"));
    let body = response.text().await.expect("body");
    let cast = parse(&body).expect("asciicast v2");
    assert_eq!((cast.width, cast.height), (100, 30));
    let output: String = cast.events.iter().filter(|e| e.1 == "o").map(|e| e.2.as_str()).collect();
    assert!(output.contains("welcome to the device"), "{output}");
    assert!(output.contains("ação-recorded ✓\r\n"), "multibyte text whole: {output}");
    assert!(output.contains("operator\r\n"));
    assert!(cast.events.iter().any(|e| e.1 == "r" && e.2 == "120x40"), "{body}");
    assert!(cast.events.windows(2).all(|w| w[0].0 <= w[1].0), "events in time order");
    assert!(!body.contains(PASSWORD), "the password is never recorded");

    // Sealed at rest: the chunks hold none of the output.
    let rows = sqlx::query("SELECT chunk FROM session_recordings").fetch_all(app.state.core.store.pool()).await;
    let rows = rows.expect("chunks");
    assert!(!rows.is_empty());
    for row in rows {
        let chunk: Vec<u8> = row.get("chunk");
        assert!(!String::from_utf8_lossy(&chunk).contains("recorded"), "a chunk in plaintext");
    }

    // The CLI exports the same file and replays it.
    assert_eq!(cofre(&app, &["session", "export", &id]), body);
    let played = cofre(&app, &["session", "play", &id, "--speed", "1000"]);
    assert!(played.contains("ação-recorded ✓") && !played.contains("120x40"), "{played}");
    let admin = app.client(&[Resource::Admin]).await;
    let by_admin = app.authed(&admin, Method::GET, &format!("/api/admin/sessions/{id}/recording")).send().await;
    assert_eq!(by_admin.expect("sent").text().await.expect("body"), body);
    let audited = app.state.core.recent_audit(50).await.expect("audit");
    assert!(audited.iter().all(|r| !r.detail.contains("recorded")), "no recording text in the audit trail");
}

async fn recordings_are_confined_like_their_sessions(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let id = recorded_session(&app, &client, &device, &["echo mine"]).await;
    let body = |r: reqwest::Response| async move { r.json::<serde_json::Value>().await.expect("json") };

    let other = app.client(&[Resource::Sessions]).await;
    assert_eq!(body(download(&app, &other, &id).await).await, error_envelope(400, 1002, "1002: Session not found"));
    let no_module = app.client(&[Resource::Pam]).await;
    let refused = download(&app, &no_module, &id).await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR, "the module error, as show answers it");
    assert_eq!(
        body(download(&app, &client, "abc").await).await,
        error_envelope(400, 1003, "1003: Unexpected identifier type")
    );

    // A session that never reached its device has no recording.
    allow_commands(&app, &client, USER, PASSWORD).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let token = ticket(&app, &client, "SSH", closed).await;
    let (handle, _) = login(gateway(&app), &token).await.expect("in");
    Terminal::exec(&handle, "whoami").await.read_to_end(SHORT).await;
    let listed = app.call(&client, Method::GET, "/iso/session/remotesessions").await;
    let failed = listed.body["remote_sessions"][0]["id"].as_str().expect("id").to_owned();
    let none = download(&app, &client, &failed).await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    assert!(body(none).await["response"]["message"].as_str().expect("message").contains("no recording"));
}

async fn a_chunk_moved_to_another_session_does_not_open(backend: Backend) {
    let app = ssh_app(backend).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let first = recorded_session(&app, &client, &device, &["echo first"]).await;
    let second = recorded_session(&app, &client, &device, &["echo second"]).await;
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'closed'", 2).await;
    let pool = app.state.core.store.pool();
    // The first session's chunks are moved under the second's, after its own.
    let moved = format!("UPDATE session_recordings SET session = {second}, seq = seq + 1000 WHERE session = {first}");
    sqlx::query(&moved).execute(pool).await.expect("moved");
    let reply = download(&app, &client, &second).await;
    assert_eq!(reply.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = reply.text().await.expect("body");
    assert!(!text.contains("first") && !text.to_lowercase().contains("aead"), "{text}");
}

async fn a_recording_that_cannot_be_written_ends_the_session(backend: Backend) {
    let app = ssh_app(backend.clone()).await;
    let device = SshTarget::start(Accepts::Password).await;
    let client = fixture(&app, None).await;
    let pool = app.state.core.store.pool();
    // The store takes the header, then refuses every further chunk (a full disk, say).
    let refuse: &[&str] = match backend {
        Backend::Sqlite => &["CREATE TRIGGER refuse_chunks BEFORE INSERT ON session_recordings WHEN NEW.seq > 0 \
                              BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
        _ => &[
            "CREATE FUNCTION refuse_chunks() RETURNS trigger AS $$ BEGIN IF NEW.seq > 0 THEN \
             RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_chunks BEFORE INSERT ON session_recordings FOR EACH ROW EXECUTE FUNCTION refuse_chunks()",
        ],
    };
    for sql in refuse {
        sqlx::query(sql).execute(pool).await.expect("trigger");
    }
    let token = ticket(&app, &client, "SSH", device.port).await;
    let (handle, _) = login(gateway(&app), &token).await.expect("in");
    let mut terminal = Terminal::shell(&handle, 80, 24).await;
    terminal.type_line("echo unrecorded").await;
    assert!(terminal.read_to_end(SHORT).await, "the session ends: {}", terminal.text());
    assert!(terminal.text().contains("The session recording could not be written"), "{}", terminal.text());
    eventually(&app, "SELECT COUNT(*) AS n FROM remote_sessions WHERE end_reason = 'failed'", 1).await;
}
