//! Remote session routes (§8): tickets (`/remote/session`), their redemption at the root
//! (`/modulos/auth`), list, show, drop and recordings (`/session/…`).

pub mod recordings;
pub mod records;
pub mod redeem;
pub mod tickets;
