//! PAM Core (§3–§7, §9): credentials and SSH keys, devices, protected information, related
//! users, version history, password policies and automatic rotation.

pub mod credential_update;
pub mod credentials;
pub mod devices;
pub mod history;
pub mod info;
pub mod keys;
pub mod lookup;
pub mod policies;
pub mod related;
pub mod reveal;
pub mod rotation;
pub mod sealing;
pub mod settings;
