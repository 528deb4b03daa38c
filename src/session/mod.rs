//! Which session a command belongs to. Until full sessions exist, a
//! session is the value of `GUARD_SESSION`, or the login or interactive
//! shell process itself (which then exports it to everything it runs).

pub mod settings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// Filled in once sessions carry a declared purpose.
    pub purpose: Option<String>,
}

pub const VAR: &str = "GUARD_SESSION";

/// A session id is used as a directory name: keep it to a safe alphabet.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The session this process belongs to, starting one for a login or
/// interactive shell. A malformed `GUARD_SESSION` is ignored.
pub fn resolve(starts_session: bool) -> Option<Session> {
    if let Ok(id) = std::env::var(VAR) {
        if valid_id(&id) {
            return Some(Session { id, purpose: None });
        }
    }
    if !starts_session {
        return None;
    }
    let id = format!("login-{}-{}", std::process::id(), start_time().unwrap_or(0));
    // SAFETY: single-threaded at this point; children inherit the id.
    unsafe { std::env::set_var(VAR, &id) };
    Some(Session { id, purpose: None })
}

/// Process start time in clock ticks, so a reused pid is a new session.
fn start_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}
