//! Where a credential's secrets are sealed: every field of a credential is bound to its row's uid,
//! so the credential's own rules, its settings, history and rotation all open the same way.

use crate::crypto::cipher::Aad;

pub fn aad<'a>(uid: &'a str, field: &'a str) -> Aad<'a> {
    Aad::new("credentials", uid, field)
}
