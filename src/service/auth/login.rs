//! Password logins (`get_auth_token`): one argon2 verification whatever the outcome, counted by
//! the throttle per canonical login and per address.

use zeroize::Zeroizing;

use crate::domain::user::canonical_login;
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::auth::Origin;
use crate::service::auth::throttle::{self, Proof};
use crate::store::StoreError;

/// Checks a login and password. Unknown logins, disabled users, users without a password and
/// wrong passwords all cost one argon2 verification and answer alike; failures count per
/// canonical login and per IP.
pub async fn login(core: &Core, login_name: &str, password: Zeroizing<String>, origin: Origin<'_>) -> ApiResult<i64> {
    let login = canonical_login(login_name);
    let check = async {
        let found = match core.store.user_credentials(&login).await {
            Ok(found) => Some(found),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let stored = found.as_ref().and_then(|c| c.password_hash.clone());
        let matched = core.passwords.verify(password, stored).await;
        Ok(match found {
            Some(credentials) if matched && credentials.enabled => Proof::Valid(credentials.user_id),
            _ => Proof::Invalid(ApiError::authentication_failed("wrong login or password")),
        })
    };
    throttle::guard(core, "password", Some(&format!("login:{login}")), origin.ip, check).await
}
