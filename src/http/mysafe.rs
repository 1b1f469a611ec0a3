//! MySafe routes (§11) under `/api/mysafe/…` and `/iso/mysafe/…`: passwords, notes and API
//! secrets (items), and files.

pub mod download;
pub mod files;
pub mod items;
