//! The browser terminal's WebSocket (`/_cofre/terminal` on the proxy origin): an SSH session's
//! cookie, from the proxy's own origin only, attaches one terminal to the session and runs the
//! SSH relay over it. Frames: binary both ways for terminal bytes; text `{"resize":[cols,rows]}`
//! from the page, text `{"end":"why"}` to it before the close.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use super::front::{ProxyState, page, session_cookie_in};
use crate::domain::sessions::{LiveSession, Protocol};
use crate::service::sessions::proxy;
use crate::ssh::relay::{self, Command, Pty, UserEvent, UserInput, UserOutput};

/// Keystrokes and control messages are small; a page sending more is not a terminal.
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(serde::Deserialize)]
pub struct Size {
    #[serde(default)]
    cols: u32,
    #[serde(default)]
    rows: u32,
}

pub async fn socket(
    State(state): State<ProxyState>,
    headers: HeaderMap,
    Query(size): Query<Size>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !same_origin(&state, &headers) {
        return page(StatusCode::FORBIDDEN, "The terminal accepts connections from its own page only.");
    }
    let app = state.app().clone();
    let Some(cookie) = session_cookie_in(&headers) else {
        return page(StatusCode::UNAUTHORIZED, "No session: open the session link you were given.");
    };
    let session = match proxy::by_cookie(&app.core, &app.audit, &cookie).await {
        Ok(Some(session)) if session.protocol == Protocol::Ssh => session,
        Ok(Some(_)) => return page(StatusCode::NOT_FOUND, "This session has no terminal."),
        Ok(None) => return page(StatusCode::GONE, "This session has ended."),
        Err(_) => return page(StatusCode::SERVICE_UNAVAILABLE, "The session could not be checked; try again."),
    };
    if !app.live.entry(&session.session_id).mark_terminal() {
        return page(StatusCode::CONFLICT, "This session's terminal is already open in another window.");
    }
    let pty = Pty::new("xterm-256color", size.cols, size.rows, Vec::new());
    upgrade.max_message_size(MAX_MESSAGE).on_upgrade(move |socket| attach(app, session, pty, socket))
}

async fn attach(app: crate::state::AppState, session: LiveSession, pty: Pty, socket: WebSocket) {
    let (sink, stream) = socket.split();
    relay::run(&app, &session, Some(pty), Command::Shell, PageInput { stream }, PageOutput { sink }).await;
}

/// A WebSocket from another origin is refused: the session cookie alone must not let another
/// site's page drive the terminal.
fn same_origin(state: &ProxyState, headers: &HeaderMap) -> bool {
    let origin = state.origin();
    let expected = origin.origin().ascii_serialization();
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).is_some_and(|given| given == expected)
}

struct PageInput {
    stream: SplitStream<WebSocket>,
}

#[derive(serde::Deserialize)]
struct Control {
    resize: Option<(u32, u32)>,
}

impl UserInput for PageInput {
    async fn next(&mut self) -> UserEvent {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Binary(bytes))) => return UserEvent::Input(bytes),
                Some(Ok(Message::Text(text))) => {
                    if let Ok(Control { resize: Some((cols, rows)) }) = serde_json::from_str::<Control>(text.as_str()) {
                        return UserEvent::Resize(cols, rows);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return UserEvent::Gone,
                Some(Ok(_)) => {}
            }
        }
    }
}

struct PageOutput {
    sink: SplitSink<WebSocket, Message>,
}

impl UserOutput for PageOutput {
    async fn output(&mut self, data: &[u8], _stderr: bool) -> std::io::Result<()> {
        self.sink.send(Message::Binary(Bytes::copy_from_slice(data))).await.map_err(std::io::Error::other)
    }

    async fn exit_status(&mut self, _code: u32) {}

    async fn end(&mut self, why: Option<&str>) {
        let why = why.unwrap_or("The session has ended.");
        let _ = self.sink.send(Message::Text(serde_json::json!({ "end": why }).to_string().into())).await;
        let _ = self.sink.send(Message::Close(None)).await;
        let _ = self.sink.close().await;
    }
}
