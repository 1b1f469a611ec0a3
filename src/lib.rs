//! cofre: a self-hosted secrets vault server, API-compatible with senhasegura.
//!
//! Layers: `http` (routes, extractors, envelope) → `service` (rules, sealing, audit) → `store`
//! (SQLite or PostgreSQL). `domain` holds the values they share; `crypto` the primitives.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod service;
pub mod ssh;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use app::App;
pub use config::Config;
