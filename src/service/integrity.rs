//! Trust an operator can check: the audit chain, master- and data-key rotation, backups and
//! moving a store.

pub mod backup;
pub mod chain;
pub mod export;
pub mod keys;
pub mod moving;
pub mod sealed;
pub mod sink;
