//! The relay between a user's terminal (a native SSH client through the gateway, or the browser
//! terminal over a WebSocket) and the device: keystrokes go to the device, the device's output
//! comes back and is recorded (output only, never input, so typed passwords are not captured).
//! A recording that cannot be written ends the session; so does a drop, at once, with a line for
//! the user that says so. Writes wait for the other side's window: a flood is slowed, not buffered.
//! A command (exec) runs only where the credential's settings allow it and is no file transfer;
//! its command line and exit status are recorded and audited, its output recorded like a shell's.

use std::time::Duration;

use bytes::Bytes;
use russh::ChannelMsg;

use crate::domain::sessions::exec::{self, Exit};
use crate::domain::sessions::failure::FailureCause;
use crate::domain::sessions::{EndReason, LiveSession, terminal_size};
use crate::service::sessions::live::LiveEntry;
use crate::service::sessions::recording::Recorder;
use crate::service::sessions::{ACTIVITY_EVERY_SECS, exec as exec_audit, proxy};
use crate::ssh::device;
use crate::state::AppState;

/// How often what was recorded is written out.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The pseudo-terminal the user asked for (clamped to sane sizes).
#[derive(Clone, Debug)]
pub struct Pty {
    pub term: String,
    pub cols: u32,
    pub rows: u32,
    pub modes: Vec<(russh::Pty, u32)>,
}

impl Pty {
    pub fn new(term: &str, cols: u32, rows: u32, modes: Vec<(russh::Pty, u32)>) -> Self {
        let (cols, rows) = terminal_size(cols, rows);
        // russh hands the modes over padded with end markers; only those before the first count.
        let modes = modes.into_iter().take_while(|(mode, _)| *mode != russh::Pty::TTY_OP_END).collect();
        let term = if term.is_empty() || term.len() > 64 { "xterm-256color" } else { term };
        Self { term: term.to_owned(), cols, rows, modes }
    }
}

/// What runs on the device.
#[derive(Clone, Debug)]
pub enum Command {
    Shell,
    Exec(Vec<u8>),
}

/// What the user did.
pub enum UserEvent {
    Input(Bytes),
    Resize(u32, u32),
    /// No more input (the command's stdin is closed); output still flows.
    Eof,
    /// The user went away.
    Gone,
}

/// The user's side of the relay, as the relay reads it. `next` must be cancel-safe.
pub trait UserInput: Send {
    fn next(&mut self) -> impl Future<Output = UserEvent> + Send;
}

/// The user's side of the relay, as the relay writes it.
pub trait UserOutput: Send {
    /// Device output (`stderr` for its error stream); waits while the user's side is full.
    fn output(&mut self, data: &[u8], stderr: bool) -> impl Future<Output = std::io::Result<()>> + Send;
    fn exit_status(&mut self, code: u32) -> impl Future<Output = ()> + Send;
    /// Ends the user's side, with a line that says why when there is one.
    fn end(&mut self, why: Option<&str>) -> impl Future<Output = ()> + Send;
}

/// How the relay ended, and who ends the session row.
enum Finish {
    /// The holder cut it (drop, expiry): the holder ends the row.
    Cut,
    /// It ended by itself: the relay ends the row with this reason.
    Ended(EndReason, String),
    /// It failed: the relay ends the row as failed, with the cause, and tells the user why.
    Failed(FailureCause, String),
}

/// Runs a session's terminal from start to end, and ends its row unless the holder cut it.
pub async fn run(
    state: &AppState,
    session: &LiveSession,
    pty: Option<Pty>,
    command: Command,
    input: impl UserInput,
    mut output: impl UserOutput,
) {
    let finish = relay(state, session, pty, command, input, &mut output).await;
    state.live.forget(&session.session_id);
    let ended = match finish {
        Finish::Cut => return,
        Finish::Ended(reason, why) => {
            output.end(None).await;
            proxy::end_because(&state.core, &state.audit, &session.session_id, reason, &why).await
        }
        Finish::Failed(cause, why) => {
            tracing::warn!(session = %session.session_id, failure = cause.as_str(), error = %why, "SSH session failed");
            output.end(Some(why.as_str())).await;
            proxy::fail(&state.core, &state.audit, &session.session_id, cause, &why).await
        }
    };
    if let Err(e) = ended {
        tracing::warn!(error = %e, "could not end an SSH session");
    }
}

async fn relay(
    state: &AppState,
    session: &LiveSession,
    pty: Option<Pty>,
    command: Command,
    mut input: impl UserInput,
    output: &mut impl UserOutput,
) -> Finish {
    let live = state.live.entry(&session.session_id);
    let failed = Finish::Failed;
    let target = match proxy::target(&state.core, session).await {
        Ok(target) => target,
        Err(_) => return failed(FailureCause::Credential, "The session's credential is not available.".into()),
    };
    if let Command::Exec(line) = &command {
        if let Err(why) = exec::check(target.session_settings.as_ref(), line) {
            if let Err(e) = exec_audit::refused(&state.core, &state.audit, session, line, why).await {
                tracing::warn!(error = %e, "could not audit a refused SSH command");
            }
            return failed(FailureCause::CommandRefused, why.message().into());
        }
    }
    let link = tokio::select! {
        why = live.cut() => { output.end(Some(why.message())).await; return Finish::Cut }
        link = device::connect(state, &target) => match link {
            Ok(link) => link,
            Err(e) => return failed(e.cause(), e.to_string()),
        },
    };
    drop(target);
    let (cols, rows) = pty.as_ref().map_or((80, 24), |p| (p.cols, p.rows));
    let mut recorder = match Recorder::start(&state.core, session.id, &session.session_id, cols, rows).await {
        Ok(recorder) => recorder,
        Err(_) => {
            link.close().await;
            return failed(FailureCause::Recording, "The session could not be recorded, so it was not opened.".into());
        }
    };
    if let Command::Exec(line) = &command {
        if note_command(state, session, &mut recorder, line).await.is_err() {
            link.close().await;
            return failed(FailureCause::Recording, "The command could not be recorded, so it was not run.".into());
        }
    }
    let mut exit = Exit::default();
    let finish = match link.open(pty.as_ref(), &command).await {
        Ok(channel) => pump(state, session, channel, &mut recorder, &mut input, output, &mut exit).await,
        Err(e) => failed(e.cause(), e.to_string()),
    };
    link.close().await;
    let finish = match recorder.finish(&state.core).await {
        Err(_) if matches!(finish, Finish::Ended(EndReason::Closed, _)) => {
            failed(FailureCause::Recording, "The end of the session recording could not be written.".into())
        }
        _ => finish,
    };
    if let Command::Exec(line) = &command {
        if let Err(e) = exec_audit::exited(&state.core, &state.audit, session, line, &exit).await {
            tracing::warn!(error = %e, "could not audit the end of an SSH command");
        }
    }
    finish
}

/// Records and audits a command line before it is sent to the device (written out at once, so
/// a command never runs unrecorded).
async fn note_command(
    state: &AppState,
    session: &LiveSession,
    recorder: &mut Recorder,
    line: &[u8],
) -> crate::error::ApiResult<()> {
    let label = format!("exec: {}", String::from_utf8_lossy(line));
    recorder.marker(&state.core, &label).await?;
    recorder.flush(&state.core).await?;
    exec_audit::started(&state.core, &state.audit, session, line).await
}

const NOT_RECORDED: &str = "The session recording could not be written, so the session was ended.";

/// Records device output, then shows it to the user (waiting for room, unless the session is cut).
async fn show(
    core: &crate::service::Core,
    live: &LiveEntry,
    recorder: &mut Recorder,
    output: &mut impl UserOutput,
    data: &[u8],
    stderr: bool,
) -> Result<(), Finish> {
    if recorder.output(core, data).await.is_err() {
        return Err(Finish::Failed(FailureCause::Recording, NOT_RECORDED.into()));
    }
    tokio::select! {
        why = live.cut() => {
            output.end(Some(why.message())).await;
            Err(Finish::Cut)
        }
        sent = output.output(data, stderr) => sent.map_err(|_| Finish::Ended(EndReason::Closed, "closed".into())),
    }
}

/// Moves bytes both ways until either side ends, the holder cuts the session or recording fails.
async fn pump(
    state: &AppState,
    session: &LiveSession,
    channel: russh::Channel<russh::client::Msg>,
    recorder: &mut Recorder,
    input: &mut impl UserInput,
    output: &mut impl UserOutput,
    exit: &mut Exit,
) -> Finish {
    let core = &state.core;
    let live = state.live.entry(&session.session_id);
    let (mut from_device, to_device) = channel.split();
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    let mut last_touch = core.now();
    let closed = || Finish::Ended(EndReason::Closed, "closed".into());
    loop {
        tokio::select! {
            biased;
            why = live.cut() => {
                output.end(Some(why.message())).await;
                return Finish::Cut;
            }
            message = from_device.wait() => match message {
                Some(ChannelMsg::Data { data }) => {
                    if let Err(finish) = show(core, &live, recorder, output, &data, false).await { return finish }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    if let Err(finish) = show(core, &live, recorder, output, &data, true).await { return finish }
                }
                Some(ChannelMsg::ExitStatus { exit_status: code }) => {
                    exit.status = Some(code);
                    if recorder.marker(core, &format!("exit status {code}")).await.is_err() {
                        return Finish::Failed(FailureCause::Recording, NOT_RECORDED.into());
                    }
                    output.exit_status(code).await;
                }
                // Killed by a signal: recorded, and the user gets 255 (as OpenSSH reports it), not 0.
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    // A device names its own signals: at most a short word reaches the record.
                    let name = match signal_name { russh::Sig::Custom(name) => name, known => format!("{known:?}") };
                    let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect();
                    if recorder.marker(core, &format!("exit signal {name}")).await.is_err() {
                        return Finish::Failed(FailureCause::Recording, NOT_RECORDED.into());
                    }
                    exit.signal = Some(name);
                    output.exit_status(255).await;
                }
                Some(ChannelMsg::Close) | None => return closed(),
                Some(_) => {}
            },
            event = input.next() => match event {
                UserEvent::Input(bytes) => {
                    tokio::select! {
                        why = live.cut() => { output.end(Some(why.message())).await; return Finish::Cut }
                        sent = to_device.data(&bytes[..]) => if sent.is_err() { return closed() },
                    }
                    let now = core.now();
                    if now - last_touch >= ACTIVITY_EVERY_SECS {
                        last_touch = now;
                        if let Err(e) = core.store.touch_remote_session(session.id, now, ACTIVITY_EVERY_SECS).await {
                            tracing::warn!(error = %e, "could not record session activity");
                        }
                    }
                }
                UserEvent::Resize(cols, rows) => {
                    let (cols, rows) = terminal_size(cols, rows);
                    if recorder.resize(core, cols, rows).await.is_err() {
                        return Finish::Failed(FailureCause::Recording, NOT_RECORDED.into());
                    }
                    let _ = to_device.window_change(cols, rows, 0, 0).await;
                }
                UserEvent::Eof => { let _ = to_device.eof().await; }
                UserEvent::Gone => return closed(),
            },
            _ = flush.tick() => {
                if recorder.flush(core).await.is_err() {
                    return Finish::Failed(FailureCause::Recording, NOT_RECORDED.into());
                }
            }
        }
    }
}
