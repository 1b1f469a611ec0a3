//! Remote session routes (§8): tickets (`/remote/session`), their redemption at the root
//! (`/modulos/auth`), and list, show and drop (`/session/…`).

pub mod records;
pub mod redeem;
pub mod tickets;
