//! PAM Core routes.

pub mod info;
