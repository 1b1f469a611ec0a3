//! The API suite: every test drives a real cofre server over HTTP, on SQLite and, when
//! `COFRE_TEST_POSTGRES_URL` is set, on PostgreSQL.

mod helpers;
mod signing;

mod admin;
mod atomic_changes;
mod audit;
mod bad_input;
mod cli;
mod contract_fidelity;
mod dashboards;
mod dsm;
mod dsm_security;
mod file_streaming;
mod http2;
mod info;
mod links;
mod lost_updates;
mod mysafe;
mod mysafe_files;
mod oauth1;
mod oauth2;
mod pam;
mod pam_keys;
mod pem_keys;
mod policy_atomic;
mod policy_scale;
mod proxy_engine;
mod purge;
mod rotation;
mod rotation_safety;
mod scim;
mod scim_access;
mod scim_paging;
mod sealing;
mod session_tickets;
mod sessions;
mod sigv4;
mod throttle;
mod tls;
mod tokens;
mod upsert_races;
mod web_proxy;
mod write_races;
