//! MySafe items, their sealed file chunks and their shares.

pub mod items;
