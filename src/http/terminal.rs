//! The browser terminal of SSH sessions, served on the proxy origin: [`page`] is the HTML the
//! origin answers at `/` for an SSH session, and [`assets_router`] serves the scripts and styles
//! it loads from `/_cofre/assets/` — the vendored xterm.js (`assets/xterm/`, see its README) and
//! cofre's own `terminal.js` and `terminal.css`, all embedded in the binary.
//!
//! `terminal.js` connects a WebSocket to `/_cofre/terminal?cols=C&rows=R` on the same origin:
//! - browser → cofre: binary frames are keystrokes (the UTF-8 bytes xterm hands out); text frames
//!   are JSON control, `{"resize":[cols,rows]}` whenever the terminal's size changes.
//! - cofre → browser: binary frames are terminal output; a text frame `{"end":"<reason>"}` says
//!   the session ended and why, shown in the `#cofre-status` banner. A close without one shows
//!   "Connection to the session was lost.".

mod assets;
mod page;

pub use assets::{ASSETS_PREFIX, assets_router};
pub use page::page;
