//! The browser terminal's WebSocket (`/_cofre/terminal` on an SSH session's own host): the
//! session's cookie, from a page of that host only, attaches one terminal to the session and runs the
//! SSH relay over it. Frames: binary both ways for terminal bytes; text `{"resize":[cols,rows]}`
//! from the page, text `{"end":"why"}` to it before the close.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use super::front::{ProxyState, page};
use crate::domain::sessions::{LiveSession, Protocol};
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
    uri: Uri,
    Query(size): Query<Size>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let session = match state.session_for(&headers, &uri).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    if !from_own_page(&state, &headers, &session.session_id) {
        return page(StatusCode::FORBIDDEN, "The terminal accepts connections from its own page only.");
    }
    if session.protocol != Protocol::Ssh {
        return page(StatusCode::NOT_FOUND, "This session has no terminal.");
    }
    let app = state.app().clone();
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

/// A WebSocket from any origin but the session's own host is refused: neither another site's page
/// nor another session's may drive the terminal.
fn from_own_page(state: &ProxyState, headers: &HeaderMap, session_id: &str) -> bool {
    let expected = state.origin_of(session_id);
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
