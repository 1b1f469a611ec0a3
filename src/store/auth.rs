//! Authentication state shared by every process: replay guard, attempt counters, API tokens,
//! and the recently read authorizations of this one.

pub mod api_tokens;
pub mod guard;
pub mod recent;
