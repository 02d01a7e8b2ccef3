//! Access tokens (HS256 JWTs) and refresh tokens (random, opaque, stored as SHA-256).
//!
//! Access tokens carry `sub`, `role`, `agency`, `iat`, `exp`, `jti`, `iss` and — when issued
//! for a session — `sid`, the refresh-token family they came with (so what holds on to one,
//! a WebSocket, can be ended with that session). Only HS256 is
//! accepted when decoding, so `alg: none` and algorithm-confusion tokens are refused. Refresh
//! tokens are 32 random bytes (base64url); the database keeps only their hash.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{AppError, Result};
use crate::model::Role;

const ISSUER: &str = "puente";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    #[serde(default)]
    pub agency: Option<Uuid>,
    pub iat: u64,
    pub exp: u64,
    pub jti: Uuid,
    pub iss: String,
    /// The session (refresh-token family) the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// Signing and verification keys derived from the configured secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Issue an access token for a user, outside any session.
    pub fn issue(&self, user: Uuid, role: Role, agency: Option<Uuid>) -> Result<String> {
        self.issue_in(user, role, agency, None)
    }

    /// Issue an access token for a user's session (refresh-token family `session`).
    pub fn issue_for_session(
        &self,
        user: Uuid,
        role: Role,
        agency: Option<Uuid>,
        session: Uuid,
    ) -> Result<String> {
        self.issue_in(user, role, agency, Some(session))
    }

    fn issue_in(
        &self,
        user: Uuid,
        role: Role,
        agency: Option<Uuid>,
        sid: Option<Uuid>,
    ) -> Result<String> {
        let now = now_secs();
        let claims = Claims {
            sub: user,
            role,
            agency,
            iat: now,
            exp: now + self.ttl_secs,
            jti: Uuid::new_v4(),
            iss: ISSUER.to_string(),
            sid,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("jwt encode: {e}")))
    }

    /// Decode and verify an access token.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        AppError::unauthorized("token_expired", "The access token has expired.")
                    }
                    _ => AppError::unauthorized("invalid_token", "The access token is not valid."),
                }
            })
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A fresh random token, printable (base64url, 43 characters for 32 bytes).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// What the database keeps of an opaque token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(b"0123456789abcdef0123456789abcdef", 60)
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let user = Uuid::new_v4();
        let t = k.issue(user, Role::Agent, Some(Uuid::nil())).unwrap();
        let c = k.verify(&t).unwrap();
        assert_eq!(c.sub, user);
        assert_eq!(c.role, Role::Agent);
        assert_eq!(c.iss, "puente");
        assert!(c.exp > c.iat);
    }

    #[test]
    fn wrong_secret_is_refused() {
        let t = keys().issue(Uuid::new_v4(), Role::Buyer, None).unwrap();
        let other = JwtKeys::new(b"another-secret-another-secret-00", 60);
        assert_eq!(other.verify(&t).unwrap_err().code(), "invalid_token");
    }

    #[test]
    fn alg_none_is_refused() {
        let t = keys().issue(Uuid::new_v4(), Role::Operator, None).unwrap();
        let payload = t.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let forged = format!("{header}.{payload}.");
        assert_eq!(keys().verify(&forged).unwrap_err().code(), "invalid_token");
    }

    #[test]
    fn expired_is_refused() {
        let k = keys();
        let now = now_secs();
        let claims = Claims {
            sub: Uuid::new_v4(),
            role: Role::Buyer,
            agency: None,
            iat: now - 1000,
            exp: now - 500,
            jti: Uuid::new_v4(),
            iss: ISSUER.into(),
            sid: None,
        };
        let t = jsonwebtoken::encode(&Header::default(), &claims, &k.encoding).unwrap();
        assert_eq!(k.verify(&t).unwrap_err().code(), "token_expired");
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
