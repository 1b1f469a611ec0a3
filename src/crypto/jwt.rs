//! OAuth 2.0 access tokens: HS256 JWTs with a pinned algorithm and a key shared by every cofre
//! process through the store (sealed). Expiry is checked against the injectable clock by the
//! caller, not by the library, so tests can move time instead of sleeping.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "cofre";

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The client id, as senhasegura's tokens carry it.
    pub aud: String,
    /// The authorization id.
    pub sub: String,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// The authorization's token generation at issue time.
    pub generation: i64,
    pub scopes: Vec<String>,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    pub fn sign(&self, claims: &AccessClaims) -> String {
        // HS256 over serialisable claims cannot fail.
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).unwrap_or_default()
    }

    /// Verifies signature, algorithm and issuer, then the time window against `now`.
    pub fn verify(&self, token: &str, now: i64) -> Option<AccessClaims> {
        let claims = decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?.claims;
        (claims.nbf <= now + 5 && now < claims.exp).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            aud: "client".into(),
            sub: "1".into(),
            jti: "j".into(),
            iat: 100,
            nbf: 100,
            exp,
            generation: 0,
            scopes: vec![],
        }
    }

    #[test]
    fn verifies_and_refuses_expired_tampered_and_foreign_tokens() {
        let keys = TokenKeys::new(&[1u8; 32]);
        let token = keys.sign(&claims(200));
        assert!(keys.verify(&token, 150).is_some());
        assert!(keys.verify(&token, 200).is_none(), "expired");
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(keys.verify(&String::from_utf8(tampered).expect("ascii"), 150).is_none());
        assert!(TokenKeys::new(&[2u8; 32]).verify(&token, 150).is_none(), "other key");
        // alg "none" with the same claims.
        let body = token.split('.').nth(1).expect("payload");
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.");
        assert!(keys.verify(&none, 150).is_none());
    }
}
