//! Dashboards (§13.1): aggregates over sessions and credentials, the recent events the risk
//! dashboard scores, and the credential reveals it reads. Every query is an aggregate or bounded.

pub mod counts;
pub mod events;
pub mod reveals;
