//! Authentication state shared by every process: replay guard, attempt counters, API tokens.

pub mod api_tokens;
pub mod guard;
