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

/// Past this many tracked keys, keys with no recent failure are dropped,
/// so names made up by the million cannot grow the map for ever.
const MAX_KEYS: usize = 10_000;

impl Limiter {
    /// Take one attempt for every key, counted as a failure until
    /// `succeeded` gives it back. Checking and counting happen under one
    /// lock, so a burst of parallel guesses cannot all pass the check
    /// before any of them is counted. `None`: over the limit.
    pub fn attempt(&self, keys: &[String]) -> Option<Instant> {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if f.len() > MAX_KEYS {
            f.retain(|_, list| {
                list.retain(|t| t.elapsed() < WINDOW);
                !list.is_empty()
            });
        }
        let over = keys.iter().any(|k| {
            f.get_mut(k).is_some_and(|list| {
                list.retain(|t| t.elapsed() < WINDOW);
                list.len() >= LIMIT
            })
        });
        if over {
            return None;
        }
        let now = Instant::now();
        for k in keys {
            f.entry(k.clone()).or_default().push(now);
        }
        Some(now)
    }

    /// The attempt taken at `at` was the right password: not a failure.
    pub fn succeeded(&self, keys: &[String], at: Instant) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            if let Some(list) = f.get_mut(k) {
                if let Some(i) = list.iter().position(|t| *t == at) {
                    list.remove(i);
                }
                if list.is_empty() {
                    f.remove(k);
                }
            }
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
        let ok = l.attempt(&keys).unwrap();
        l.succeeded(&keys, ok);
        for _ in 0..LIMIT {
            assert!(l.attempt(&keys).is_some());
        }
        assert!(l.attempt(&keys).is_none());
        assert!(l.attempt(&["user:bob".to_string()]).is_some());
    }
}
