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
    /// The uid that opened it; only that user's commands may join it.
    #[serde(default)]
    pub uid: Option<u32>,
    /// The terminal it was opened on (device number): in broker mode the
    /// only one an approval prompt may be drawn on.
    #[serde(default)]
    pub tty_dev: Option<u64>,
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
        let who = crate::actor::current();
        Session {
            id,
            kind,
            purpose: None,
            boundary: None,
            grants: Vec::new(),
            user: who.user.clone(),
            created: now.to_string(),
            expires: expires.to_string(),
            owner,
            uid: Some(who.uid),
            tty_dev: None,
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

    /// The session's user, as records about it (its end, its
    /// credentials) name them, whoever does the work.
    pub fn actor(&self) -> std::sync::Arc<crate::actor::Actor> {
        let me = crate::actor::current();
        if self.uid.is_none_or(|u| u == me.uid) {
            return me;
        }
        std::sync::Arc::new(crate::actor::Actor {
            uid: self.uid.unwrap_or(u32::MAX),
            gid: u32::MAX,
            user: self.user.clone(),
            pid: self.owner.map_or(0, |o| o.pid),
            cwd: Some("/".to_string()),
            tty: None,
            host: me.host.clone(),
        })
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
    #[error("session {0} belongs to {1}")]
    NotYours(String, String),
}

/// Who is looking for their session, as the kernel describes them.
#[derive(Debug, Clone, Default)]
pub struct Asker {
    /// `GUARD_SESSION` as the asker has it.
    pub named: Option<String>,
    /// A login or interactive shell: a session of its own.
    pub starts: bool,
    /// The asking process.
    pub me: Option<Owner>,
    /// Its harness: the nearest ancestor that is not a shell.
    pub harness: Option<Owner>,
    /// It and its ancestors. Empty means "not checked" (embedded mode,
    /// where the account can name any session of its own anyway).
    pub lineage: Vec<Owner>,
    pub uid: u32,
    /// The controlling terminal the asker runs on, 0 for none.
    pub tty_dev: u64,
}

impl Asker {
    /// guard's own process.
    pub fn this_process(starts: bool) -> Asker {
        let pid = nix::unistd::getpid().as_raw();
        Asker {
            named: std::env::var(VAR).ok().filter(|v| !v.is_empty()),
            starts,
            me: Owner::of(pid),
            harness: if starts { None } else { owner::harness() },
            lineage: Vec::new(),
            uid: nix::unistd::getuid().as_raw(),
            tty_dev: owner::stat(pid).map_or(0, |s| s.tty_nr),
        }
    }

    /// May this asker join `s`? Only its own user's sessions, and in
    /// broker mode an implicit session only from inside the process tree
    /// that owns it: a stranger naming one in its message gets nothing.
    fn may_join(&self, s: &Session) -> Result<(), SessionError> {
        if s.uid.is_some_and(|u| u != self.uid) || (s.uid.is_none() && !self.lineage.is_empty()) {
            return Err(SessionError::NotYours(
                s.id.clone(),
                "another user".to_string(),
            ));
        }
        let implicit = matches!(s.kind, Kind::Login | Kind::Harness);
        if implicit && !self.lineage.is_empty() {
            let inside = s.owner.is_some_and(|o| self.lineage.contains(&o));
            if !inside {
                return Err(SessionError::NotYours(
                    s.id.clone(),
                    "another process tree".to_string(),
                ));
            }
        }
        Ok(())
    }
}

/// The session an asker belongs to: the one it names, a new one for a
/// login or interactive shell, else its harness's. The caller exports the
/// id so that what runs next joins the same session.
/// `live` is what the start-up reap found; a session missing from it may
/// have been created since, so the store is asked then.
pub fn resolve(
    asker: &Asker,
    settings: &settings::Settings,
    live: &[Session],
) -> Result<Session, SessionError> {
    let find = |id: &str| match live.iter().find(|s| s.id == id) {
        Some(s) => Ok(Some(s.clone())),
        None => store::load(id),
    };
    if let Some(id) = &asker.named {
        let id = id.clone();
        if !valid_id(&id) {
            return Err(SessionError::BadId(id));
        }
        return match find(&id)? {
            Some(s) => {
                asker.may_join(&s)?;
                match s.over() {
                    Some(why) => {
                        store::end(&id, &why);
                        Err(SessionError::Ended(id, why))
                    }
                    None => Ok(s),
                }
            }
            None => match store::ended_reason(&id) {
                Some(why) => Err(SessionError::Ended(id, why)),
                None => Err(SessionError::Unknown(id)),
            },
        };
    }
    let tty = (asker.tty_dev != 0).then_some(asker.tty_dev);
    let session = if asker.starts {
        let id = match &asker.me {
            Some(o) => format!("login-{}-{}", o.pid, o.start),
            None => format!("login-{}", new_id()),
        };
        let mut s = Session::new(Kind::Login, id, settings.session_ttl, asker.me);
        s.uid = Some(asker.uid);
        s.tty_dev = tty;
        store::save(&s)?;
        s
    } else {
        let mut id = match &asker.harness {
            Some(o) => format!("h-{}-{}", o.pid, o.start),
            None => format!("h-{}", new_id()),
        };
        // One harness (a root-run test driver, a shared daemon) may run
        // commands for several users: each gets a session of its own.
        if find(&id)?.is_some_and(|s| s.uid.is_some_and(|u| u != asker.uid)) {
            id = format!("{id}-u{}", asker.uid);
        }
        match find(&id)? {
            Some(s) if s.over().is_none() && asker.may_join(&s).is_ok() => s,
            _ => {
                let mut s = Session::new(Kind::Harness, id, settings.session_ttl, asker.harness);
                s.uid = Some(asker.uid);
                s.tty_dev = tty;
                store::save(&s)?;
                s
            }
        }
    };
    Ok(session)
}
