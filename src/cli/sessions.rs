//! `cofre session list|show|drop|export|play`: the same service as the API, over every session.

use std::io::Write;

use clap::Subcommand;
use serde_json::{Value, json};

use super::CliResult;
use crate::domain::sessions::recording::{Cast, parse};
use crate::domain::sessions::{RemoteSession, hms};
use crate::service::Core;
use crate::service::audit::AuditSink;
use crate::service::sessions::control::{self, Scope};

#[derive(Subcommand)]
pub enum SessionCommand {
    /// Every session, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One session by its numeric id.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// End a live session (on whichever process holds it) by its 40-hex session id.
    Drop { session_id: String },
    /// Write an SSH session's recording (asciicast v2) to stdout: `> x.cast` plays in asciinema.
    Export { id: String },
    /// Replay an SSH session's recording in this terminal, `--speed` times as fast; pauses are
    /// capped at two seconds (before the speed-up), so idle time is not replayed in full.
    Play {
        id: String,
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
}

fn session_json(s: &RemoteSession, now: i64) -> Value {
    json!({
        "id": s.id,
        "session_id": s.session_id,
        "user": s.username,
        "origin_ip": s.origin_ip,
        "credential": s.credential_label,
        "device": s.device_label,
        "protocol": s.protocol.as_str(),
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "end_reason": s.end_reason,
        "failure": s.failure,
        "drop_requested": s.drop_requested,
        "time": hms(s.ended_at.unwrap_or(now) - s.started_at),
    })
}

fn line(s: &RemoteSession, now: i64) -> String {
    let state = match (&s.end_reason, s.drop_requested) {
        (Some(reason), _) => match &s.failure {
            Some(failure) => format!("ended ({reason}: {failure})"),
            None => format!("ended ({reason})"),
        },
        (None, true) => "dropping".to_owned(),
        (None, false) => "live".to_owned(),
    };
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        s.id,
        s.session_id,
        s.username,
        s.credential_label,
        s.device_label,
        s.protocol.as_str(),
        hms(s.ended_at.unwrap_or(now) - s.started_at),
        state
    )
}

pub async fn run(core: &Core, cmd: SessionCommand) -> CliResult {
    let now = core.now();
    match cmd {
        SessionCommand::List { json } => {
            let all = control::list(core, Scope::All).await?;
            if json {
                println!("{}", Value::Array(all.iter().map(|s| session_json(s, now)).collect()));
            } else {
                for s in &all {
                    println!("{}", line(s, now));
                }
            }
        }
        SessionCommand::Show { id, json } => {
            let s = control::show(core, Scope::All, &id).await?;
            if json { println!("{}", session_json(&s, now)) } else { println!("{}", line(&s, now)) }
        }
        SessionCommand::Drop { session_id } => {
            // Outside a request, the drop and any end it causes are audited through a writer of its own.
            let audit = AuditSink::spawn(core.store.clone(), core.audit_chain_key());
            let dropped = control::drop_session(core, &audit, Scope::All, &session_id, None).await;
            audit.shutdown().await;
            if !dropped? {
                return Err(format!("session {session_id}: no live session has this id").into());
            }
            println!("session {session_id}: drop requested");
        }
        SessionCommand::Export { id } => {
            let (_, cast) = control::recording(core, Scope::All, &id).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(&cast)?;
            out.flush()?;
        }
        SessionCommand::Play { id, speed } => {
            if !(speed.is_finite() && speed > 0.0) {
                return Err("--speed must be a positive number".into());
            }
            let (_, cast) = control::recording(core, Scope::All, &id).await?;
            let cast = parse(&String::from_utf8_lossy(&cast)).ok_or("the recording is not asciicast v2")?;
            play(&cast, speed).await?;
        }
    }
    Ok(())
}

/// The longest pause replayed, before the speed-up.
const MAX_PAUSE_SECS: f64 = 2.0;

async fn play(cast: &Cast, speed: f64) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    let mut last = 0.0;
    for (at, kind, data) in &cast.events {
        let pause = (at - last).clamp(0.0, MAX_PAUSE_SECS) / speed;
        last = *at;
        tokio::time::sleep(std::time::Duration::from_secs_f64(pause)).await;
        if kind == "o" {
            out.write_all(data.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}
