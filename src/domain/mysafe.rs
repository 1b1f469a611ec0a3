//! MySafe values shared by the layers.

/// What the asking user may do with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemAccess {
    None,
    View,
    Edit,
    Owner,
}
