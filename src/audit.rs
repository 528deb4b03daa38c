//! The audit log: one JSON object per decision, appended to
//! `$GUARD_STATE_DIR/audit.jsonl`.
//!
//! Records are flat objects written with a fixed key order, one `write`
//! each under an exclusive lock, so a later hash chain can add `prev` and
//! `hash` keys computed over the preceding line without changing readers.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;

use serde::Serialize;

use crate::detect::redact;
use crate::policy::Verdict;
use crate::report::{self, CommandJson, MatchJson};

#[derive(Serialize)]
pub struct Record<'a> {
    pub time: String,
    pub user: String,
    pub uid: u32,
    pub host: String,
    pub cwd: String,
    pub session: Option<String>,
    pub mode: &'a str,
    pub line: String,
    pub commands: Vec<CommandJson>,
    pub matches: Vec<MatchJson>,
    pub decision: &'static str,
    pub rule: Option<String>,
    pub reason: String,
    /// Who answered a review, on which channel, for what scope.
    pub approval: Option<crate::approve::Decision>,
    pub purpose: Option<String>,
    pub boundary: Option<String>,
    /// Credentials injected into the command, by name only.
    pub credentials: Vec<String>,
}

/// The user guard runs as, by name where the system knows one.
pub fn user_name() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

pub fn host_name() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

impl<'a> Record<'a> {
    /// `outcome` is what actually happened, which differs from the
    /// verdict when a review found no approver.
    pub fn new(
        mode: &'a str,
        line: &str,
        v: &Verdict,
        outcome: &'static str,
        reason: &str,
    ) -> Record<'a> {
        Record {
            time: jiff::Timestamp::now().to_string(),
            user: user_name(),
            uid: nix::unistd::getuid().as_raw(),
            host: host_name(),
            cwd: cwd(),
            session: None,
            mode,
            line: redact(line),
            commands: report::commands_json(v),
            matches: report::matches_json(v),
            decision: outcome,
            rule: v.rule.clone(),
            reason: redact(reason),
            approval: None,
            purpose: None,
            boundary: None,
            credentials: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write audit log {path}: {source}")]
pub struct AuditError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// A session event (start, end) with the same keys as a decision.
pub fn event(mode: &str, session: &str, reason: &str) {
    let record = Record {
        time: jiff::Timestamp::now().to_string(),
        user: user_name(),
        uid: nix::unistd::getuid().as_raw(),
        host: host_name(),
        cwd: cwd(),
        session: Some(session.to_string()),
        mode,
        line: String::new(),
        commands: Vec::new(),
        matches: Vec::new(),
        decision: "event",
        rule: None,
        reason: reason.to_string(),
        approval: None,
        purpose: None,
        boundary: None,
        credentials: Vec::new(),
    };
    if let Err(e) = append(&record) {
        eprintln!("guard: {e}");
    }
}

/// Append one record. An error means the command must not run.
pub fn append(record: &Record<'_>) -> Result<(), AuditError> {
    let dir = crate::state::ensure().map_err(|source| AuditError {
        path: "<state dir>".to_string(),
        source,
    })?;
    let path = dir.join("audit.jsonl");
    let fail = |source| AuditError {
        path: path.display().to_string(),
        source,
    };
    let mut line = serde_json::to_vec(record).map_err(|e| fail(std::io::Error::other(e)))?;
    line.push(b'\n');
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(fail)?;
    let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| fail(std::io::Error::from(e)))?;
    (&*lock).write_all(&line).map_err(fail)?;
    Ok(())
}
