//! Reviewer accounts: argon2 password hashes, random login tokens, and a
//! limit on failed sign-ins.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to check against when the account does not exist, so a wrong
/// name takes as long as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("guard-decoy-password").unwrap_or_default())
}

/// 32 random bytes, hex.
pub fn token() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(crate::hex::encode(b))
}

/// Constant-time comparison of two tokens.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// At most `LIMIT` failed sign-ins per account and per client address in
/// any `WINDOW`; after that every attempt is refused until the window
/// has passed, right password or not.
pub struct Limiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

pub const LIMIT: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(300);

impl Default for Limiter {
    fn default() -> Limiter {
        Limiter {
            failures: Mutex::new(HashMap::new()),
        }
    }
}

impl Limiter {
    fn recent(&self, key: &str) -> usize {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let list = f.entry(key.to_string()).or_default();
        list.retain(|t| t.elapsed() < WINDOW);
        list.len()
    }

    pub fn blocked(&self, keys: &[String]) -> bool {
        keys.iter().any(|k| self.recent(k) >= LIMIT)
    }

    pub fn failed(&self, keys: &[String]) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            f.entry(k.clone()).or_default().push(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horse ", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn the_limiter_blocks_after_the_limit() {
        let l = Limiter::default();
        let keys = vec!["user:ann".to_string()];
        for _ in 0..LIMIT {
            assert!(!l.blocked(&keys));
            l.failed(&keys);
        }
        assert!(l.blocked(&keys));
        assert!(!l.blocked(&["user:bob".to_string()]));
    }
}
