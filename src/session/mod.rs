//! Which session a command belongs to, and the session's record.
//!
//! A session has a purpose, optionally a boundary (`staging`), the
//! credentials it may be granted and an expiry. It is started explicitly
//! (`guard session start`), or implicitly: a login or interactive shell is
//! one from start to exit, and `guard -c` without `GUARD_SESSION` joins
//! the session of its harness, the nearest ancestor that is not a shell.
//! Owners are identified by pid and start time, so a reused pid is a
//! stranger.

pub mod enforce;
pub mod owner;
pub mod settings;
pub mod store;

use serde::{Deserialize, Serialize};

pub use owner::Owner;

pub const VAR: &str = "GUARD_SESSION";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `guard session start`.
    Explicit,
    /// A login or interactive guard shell.
    Login,
    /// The process that runs `guard -c` once per command.
    Harness,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub kind: Kind,
    pub purpose: Option<String>,
    pub boundary: Option<String>,
    /// Credentials commands of this session may be given without review.
    #[serde(default)]
    pub grants: Vec<String>,
    pub user: String,
    pub created: String,
    pub expires: String,
    /// The session ends when this process is gone.
    pub owner: Option<Owner>,
}

/// A session id is used as a directory name: keep it to a safe alphabet.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A time-ordered id: UTC time to the microsecond, then randomness.
pub fn new_id() -> String {
    let now = jiff::Timestamp::now();
    let mut random = [0u8; 4];
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut random));
    format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%S%6fZ"),
        crate::hex::encode(random)
    )
}

impl Session {
    pub fn new(kind: Kind, id: String, ttl: std::time::Duration, owner: Option<Owner>) -> Session {
        let now = jiff::Timestamp::now();
        let expires = jiff::SignedDuration::try_from(ttl)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .unwrap_or(now);
        Session {
            id,
            kind,
            purpose: None,
            boundary: None,
            grants: Vec::new(),
            user: crate::audit::user_name(),
            created: now.to_string(),
            expires: expires.to_string(),
            owner,
        }
    }

    /// A login or interactive shell's own session, and this is that
    /// shell: when it is done, so is the session.
    pub fn is_own_login(&self) -> bool {
        self.kind == Kind::Login
            && self
                .owner
                .is_some_and(|o| o.pid == nix::unistd::getpid().as_raw())
    }

    /// Why the session is over, if it is.
    pub fn over(&self) -> Option<String> {
        let expired = self
            .expires
            .parse::<jiff::Timestamp>()
            .map_or(true, |t| t <= jiff::Timestamp::now());
        if expired {
            return Some("expired".to_string());
        }
        match &self.owner {
            Some(o) if !o.alive() => Some(format!("owner process {} is gone", o.pid)),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("GUARD_SESSION `{0}` is not a valid session id")]
    BadId(String),
    #[error("session {0} does not exist (start one with `guard session start`)")]
    Unknown(String),
    #[error("session {0} has ended ({1})")]
    Ended(String, String),
    #[error("audit log and session state unwritable: {0}")]
    State(#[from] std::io::Error),
}

/// The session this process belongs to: the one `GUARD_SESSION` names, a
/// new one for a login or interactive shell, else the harness's. The id
/// is exported so that what runs next joins the same session.
/// `live` is what the start-up reap found; a session missing from it may
/// have been created since, so the store is asked then.
pub fn resolve(
    starts_session: bool,
    settings: &settings::Settings,
    live: &[Session],
) -> Result<Session, SessionError> {
    let find = |id: &str| match live.iter().find(|s| s.id == id) {
        Some(s) => Ok(Some(s.clone())),
        None => store::load(id),
    };
    if let Some(id) = std::env::var_os(VAR).filter(|v| !v.is_empty()) {
        let id = id.to_string_lossy().into_owned();
        if !valid_id(&id) {
            return Err(SessionError::BadId(id));
        }
        return match find(&id)? {
            Some(s) => match s.over() {
                Some(why) => {
                    store::end(&id, &why);
                    Err(SessionError::Ended(id, why))
                }
                None => Ok(s),
            },
            None => match store::ended_reason(&id) {
                Some(why) => Err(SessionError::Ended(id, why)),
                None => Err(SessionError::Unknown(id)),
            },
        };
    }
    let session = if starts_session {
        let me = Owner::of(nix::unistd::getpid().as_raw());
        let id = match &me {
            Some(o) => format!("login-{}-{}", o.pid, o.start),
            None => format!("login-{}", new_id()),
        };
        let s = Session::new(Kind::Login, id, settings.session_ttl, me);
        store::save(&s)?;
        s
    } else {
        let harness = owner::harness();
        let id = match &harness {
            Some(o) => format!("h-{}-{}", o.pid, o.start),
            None => format!("h-{}", new_id()),
        };
        match find(&id)? {
            Some(s) if s.over().is_none() => s,
            _ => {
                let s = Session::new(Kind::Harness, id, settings.session_ttl, harness);
                store::save(&s)?;
                s
            }
        }
    };
    // SAFETY: single-threaded at this point; children inherit the id.
    unsafe { std::env::set_var(VAR, &session.id) };
    Ok(session)
}
