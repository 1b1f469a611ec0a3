//! The API suite: every test drives a real cofre server over HTTP, on SQLite and, when
//! `COFRE_TEST_POSTGRES_URL` is set, on PostgreSQL.

// The tests' own target applications (behind the web proxy) are plain axum routers, not cofre's API.
#![allow(clippy::disallowed_methods)]

mod helpers;
mod signing;

mod admin;
mod atomic_changes;
mod audit;
mod audit_chain;
mod audit_sink;
mod bad_input;
mod browser;
mod certificate_imports;
mod certificate_publishing;
mod certificate_renewal;
mod certificates;
mod cli;
mod cli_audit;
mod cli_vault;
mod contract_fidelity;
mod crash;
mod dashboards;
mod dsm;
mod dsm_security;
mod file_streaming;
mod fuzzing;
mod http2;
mod info;
mod integrity;
mod kdf_costs;
mod key_rotation_backups;
mod links;
mod lost_updates;
mod metrics;
mod mysafe;
mod mysafe_files;
mod oauth1;
mod oauth1_crate;
mod oauth2;
mod openapi;
mod openssh;
mod pam;
mod pam_keys;
mod pem_keys;
mod policy_atomic;
mod policy_scale;
mod proxy_engine;
mod proxy_hardening;
mod purge;
mod recordings;
mod rotation;
mod rotation_safety;
mod scim;
mod scim_access;
mod scim_paging;
mod sealed_registry;
mod sealing;
mod session_origins;
mod session_tickets;
mod sessions;
mod sigv4;
mod ssh_exec;
mod ssh_sessions;
mod ssh_target;
mod ssh_terminal;
mod ssh_user;
mod sshd;
mod target_networks;
mod throttle;
mod tls;
mod tokens;
mod upsert_races;
mod web_proxy;
mod write_races;
