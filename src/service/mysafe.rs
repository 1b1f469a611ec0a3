//! MySafe (§11): personal and team passwords, notes, API secrets and files, and their sharing.

pub mod activation;
pub mod edit;
pub mod files;
pub mod items;
pub mod sharing;
