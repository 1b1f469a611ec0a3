//! Remote sessions: tickets, session rows and their sealed request records.

pub mod records;
pub mod tickets;
