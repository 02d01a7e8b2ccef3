//! Password hashing (argon2id, PHC strings) and the password policy.
//!
//! Hashing is CPU-bound (tens of milliseconds by design) and memory-hard (~19 MiB each), so
//! callers run it on the blocking pool through [`hash`] and [`verify`], at most one per core
//! at a time: a burst of logins queues instead of multiplying the process's memory. An unknown account is checked against a fixed dummy
//! hash, so "no such user" and "wrong password" take the same time.

use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::error::{AppError, Result};

/// Shortest password accepted.
pub const MIN_LEN: usize = 10;
/// Longest password accepted (in characters); bounds the hashing work per request.
pub const MAX_LEN: usize = 128;

const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "qwerty1234",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "admin12345",
    "abc1234567",
    "passw0rd12",
    "contraseña",
    "contrasena",
    "1q2w3e4r5t",
    "0987654321",
    "11111111111",
];

/// Why a password is refused, or `None` when it is acceptable.
pub fn policy_violation(password: &str, email: &str) -> Option<&'static str> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Some("must be at least 10 characters long");
    }
    if len > MAX_LEN {
        return Some("must be at most 128 characters long");
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Some("is too common");
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Some("must use at least 5 different characters");
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if !local.is_empty() && lower.contains(&local) && local.len() >= 4 {
        return Some("must not contain your email address");
    }
    None
}

fn hash_sync(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2 hash failed: {e}")))
}

fn verify_sync(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Limits concurrent hashes to the number of cores.
fn permits() -> &'static tokio::sync::Semaphore {
    static SEM: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SEM.get_or_init(|| {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        tokio::sync::Semaphore::new(cores)
    })
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_sync("dummy-password-never-matches").unwrap_or_default())
}

/// Hash a password on the blocking pool.
pub async fn hash(password: String) -> Result<String> {
    let _permit = permits()
        .acquire()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    tokio::task::spawn_blocking(move || hash_sync(&password))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hash task failed: {e}")))?
}

/// Verify a password against a stored hash (or the dummy hash when `phc` is `None`) on the
/// blocking pool. Always does the full amount of work.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool> {
    let _permit = permits()
        .acquire()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_sync(&password, &phc),
        None => {
            verify_sync(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("verify task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(policy_violation("short", "a@b.co").is_some());
        assert!(policy_violation("password123", "a@b.co").is_some());
        assert!(policy_violation("aaaaaaaaaaaa", "a@b.co").is_some());
        assert!(policy_violation("maria.lopez-2026", "maria.lopez@x.es").is_some());
        assert!(policy_violation(&"x1".repeat(70), "a@b.co").is_some());
        assert!(policy_violation("correct horse battery", "a@b.co").is_none());
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
