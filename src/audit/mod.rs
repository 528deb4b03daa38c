//! The audit log: one JSON object per decision, appended to
//! `$GUARD_STATE_DIR/audit.jsonl` as a hash chain.
//!
//! Every line is `{"seq":N,"prev":"<sha256 of the previous line>", …}`.
//! A decision record is written (and fsynced) before the command runs; a
//! supervised command gets a second, `exit` record when it ends. `chain`
//! owns the writing, `verify` the re-walk, `query` the reading, `forward`
//! the copy to syslog.

pub mod chain;
pub mod forward;
pub mod query;
pub mod verify;

use std::sync::OnceLock;

use serde::Serialize;

use crate::detect::redact;
use crate::policy::Verdict;
use crate::report::{self, CommandJson, MatchJson};
use crate::rules::spec::{Action, AuditSpec};

pub use chain::{head, Written};

/// The name of the live log in the state directory.
pub const LOG: &str = "audit.jsonl";

/// A decision (or a session event). `seq` and `prev` are not fields here:
/// they belong to the chain and are assigned under the log's lock, in
/// front of these keys (see `chain::Link`).
#[derive(Serialize)]
pub struct Record<'a> {
    /// `decision` or `event`.
    pub kind: &'static str,
    pub time: String,
    pub host: String,
    pub user: String,
    pub uid: u32,
    /// The process that asked: guard itself, or the broker's peer.
    pub pid: i32,
    pub tty: Option<String>,
    pub cwd: String,
    pub session: Option<String>,
    pub purpose: Option<String>,
    pub boundary: Option<String>,
    pub mode: &'a str,
    pub line: String,
    pub commands: Vec<CommandJson>,
    pub matches: Vec<MatchJson>,
    pub decision: &'static str,
    /// Who decided: `policy` (the rules alone), `tty`, `webhook` or
    /// `memory`.
    pub channel: &'static str,
    pub approver: Option<String>,
    pub rule: Option<String>,
    pub reason: String,
    /// Who answered a review, on which channel, for what scope.
    pub approval: Option<crate::approve::Decision>,
    /// Names of the credentials this decision grants; never their values.
    pub credentials: Vec<String>,
    /// For a program a line started (`mode: exec`): the seq of that
    /// line's decision, and the program's parent process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppid: Option<i32>,
}

/// How a supervised command ended, tied to its decision by `of`.
#[derive(Serialize)]
pub struct Exit {
    pub kind: &'static str,
    pub time: String,
    /// The `seq` of the decision record this command ran under.
    pub of: u64,
    pub session: Option<String>,
    /// The exit status, when the command exited.
    pub status: Option<i32>,
    /// The signal's name (`SIGTERM`), when the command was killed.
    pub signal: Option<String>,
    pub core_dumped: bool,
    pub duration_ms: u64,
}

/// The user a record is about: guard's own, or the broker's peer.
pub fn user_name() -> String {
    crate::actor::current().user.clone()
}

pub fn host_name() -> String {
    crate::actor::current().host.clone()
}

pub fn cwd() -> String {
    crate::actor::current().cwd()
}

/// The terminal of the process a record is about, if it has one.
pub fn tty() -> Option<String> {
    crate::actor::current().tty.clone()
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
        let who = crate::actor::current();
        Record {
            kind: "decision",
            time: now(),
            host: who.host.clone(),
            user: who.user.clone(),
            uid: who.uid,
            pid: who.pid,
            tty: who.tty.clone(),
            cwd: who.cwd(),
            session: None,
            purpose: None,
            boundary: None,
            mode,
            line: redact_line(line, v),
            commands: report::commands_json(v),
            matches: report::matches_json(v),
            decision: outcome,
            channel: "policy",
            approver: None,
            rule: v.rule.clone(),
            reason: redact(reason),
            approval: None,
            credentials: Vec::new(),
            parent: None,
            ppid: None,
        }
    }

    /// Record who answered a review, keeping `channel` and `approver` in
    /// step with `approval`.
    pub fn set_approval(&mut self, d: crate::approve::Decision) {
        use crate::approve::Channel;
        self.channel = match d.channel {
            Channel::Tty => "tty",
            Channel::Webhook => "webhook",
            Channel::Memory => "memory",
            // Nobody could be asked: the policy's fallback decided.
            Channel::None => "policy",
        };
        self.approver = (d.channel != Channel::None).then(|| d.approver.clone());
        self.approval = Some(d);
    }
}

/// The line with every secret redacted. Line-level detectors miss what
/// only a parsed word reveals (a header inside quotes, `curl -u user:pw`),
/// so each word the word-level redaction changes is replaced in the line
/// too.
pub fn redact_line(line: &str, v: &Verdict) -> String {
    let mut out = redact(line);
    for c in &v.commands {
        let words = c.argv_text();
        let mut pairs: Vec<(String, String)> = words
            .iter()
            .cloned()
            .zip(crate::detect::redact_argv(&words))
            .collect();
        let values = c.assignments.iter().map(|a| &a.value).chain(&c.data);
        pairs.extend(values.map(|w| (w.text.clone(), redact(&w.text))));
        if let Some(text) = &c.stdin_text {
            pairs.push((text.clone(), redact(text)));
        }
        for (word, redacted) in pairs {
            if !word.is_empty() && word != redacted {
                out = out.replace(&word, &redacted);
            }
        }
    }
    out
}

/// RFC 3339, UTC.
fn now() -> String {
    jiff::Timestamp::now().to_string()
}

#[derive(Debug, thiserror::Error)]
#[error("audit log unwritable: {path}: {source}")]
pub struct AuditError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

static SETTINGS: OnceLock<AuditSpec> = OnceLock::new();
static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Keep the log in `dir` instead of the state directory: the broker's
/// `--audit-dir`, a place the agent cannot reach.
pub fn set_dir(dir: std::path::PathBuf) {
    let _ = DIR.set(dir);
}

/// Where the log lives: the configured audit dir, else the state dir.
pub fn dir() -> Option<std::path::PathBuf> {
    DIR.get().cloned().or_else(crate::state::dir)
}

/// As `dir`, created private to this user when missing.
pub fn ensure_dir() -> std::io::Result<std::path::PathBuf> {
    match DIR.get() {
        Some(d) => {
            if !d.is_dir() {
                crate::session::store::private_dir(d)?;
            }
            Ok(d.clone())
        }
        None => crate::state::ensure(),
    }
}

/// Take the audit settings from the loaded config, once per process, so
/// every writer (decisions, events, exits) rotates and forwards alike.
pub fn configure(spec: &AuditSpec) {
    let _ = SETTINGS.set(spec.clone());
}

pub fn settings() -> AuditSpec {
    SETTINGS.get().cloned().unwrap_or_default()
}

/// The config's escape hatch: run the command even though its record
/// could not be written.
pub fn unwritable_allows() -> bool {
    settings().on_unwritable == Some(Action::Allow)
}

/// A session event (start, end) with the same keys as a decision.
pub fn event(mode: &str, session: &str, reason: &str) {
    let who = crate::actor::current();
    let record = Record {
        kind: "event",
        time: now(),
        host: who.host.clone(),
        user: who.user.clone(),
        uid: who.uid,
        pid: who.pid,
        tty: who.tty.clone(),
        cwd: who.cwd(),
        session: Some(session.to_string()),
        purpose: None,
        boundary: None,
        mode,
        line: String::new(),
        commands: Vec::new(),
        matches: Vec::new(),
        decision: "event",
        channel: "policy",
        approver: None,
        rule: None,
        reason: reason.to_string(),
        approval: None,
        credentials: Vec::new(),
        parent: None,
        ppid: None,
    };
    if let Err(e) = append(&record) {
        eprintln!("guard: {e}");
    }
}

/// What a line's programs did that no rule cared about, in one record:
/// how many execs were allowed by policy and which programs they were.
pub fn exec_summary(session: &str, parent: Option<u64>, count: u64, programs: &[String]) {
    let who = crate::actor::current();
    let record = Record {
        kind: "event",
        time: now(),
        host: who.host.clone(),
        user: who.user.clone(),
        uid: who.uid,
        pid: who.pid,
        tty: who.tty.clone(),
        cwd: who.cwd(),
        session: Some(session.to_string()),
        purpose: None,
        boundary: None,
        mode: "exec-summary",
        line: programs.join(" "),
        commands: Vec::new(),
        matches: Vec::new(),
        decision: "allow",
        channel: "policy",
        approver: None,
        rule: None,
        reason: format!(
            "{count} program{} started by the line, allowed by policy",
            if count == 1 { "" } else { "s" }
        ),
        approval: None,
        credentials: Vec::new(),
        parent,
        ppid: None,
    };
    if let Err(e) = append(&record) {
        eprintln!("guard: {e}");
    }
}

/// Append one record, durably when the config says so. An error means
/// the command must not run.
pub fn append(record: &Record<'_>) -> Result<(), AuditError> {
    write(record).map(drop)
}

/// When a decision record reaches stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Before the answer: fdatasync each record.
    Sync,
    /// The record is written before the answer and fdatasynced within
    /// `FLUSH_EVERY` by a flusher thread (the broker's default).
    Interval,
    /// Only the page cache stands behind it.
    None,
}

/// How often the flusher syncs a log with records not yet on disk.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

static DEFAULT_FLUSH: OnceLock<Flush> = OnceLock::new();

/// The flush mode when the config names none (the broker: `Interval`).
pub fn set_default_flush(f: Flush) {
    let _ = DEFAULT_FLUSH.set(f);
}

/// The flush mode the settings ask for. `flush:` wins; then `fsync:`.
pub fn flush_mode(spec: &AuditSpec) -> Flush {
    match spec.flush.as_deref() {
        Some("sync") => return Flush::Sync,
        Some("interval") => return Flush::Interval,
        Some("none") => return Flush::None,
        _ => {}
    }
    match spec.fsync {
        Some(true) => Flush::Sync,
        Some(false) => Flush::None,
        None => DEFAULT_FLUSH.get().copied().unwrap_or(Flush::Sync),
    }
}

/// Append one record and say where it landed in the chain.
pub fn write(record: &Record<'_>) -> Result<Written, AuditError> {
    let spec = settings();
    chain::append(record, flush_mode(&spec), &spec)
}

/// Record how a command that ran under decision `of` ended. Not fsynced:
/// the promise is about decisions (see README, durability).
pub fn exit(
    of: u64,
    session: Option<String>,
    ended: &crate::supervise::Ended,
    took: std::time::Duration,
) -> Result<Written, AuditError> {
    use crate::supervise::Ended;
    let (status, signal, core_dumped) = match *ended {
        Ended::Exited(code) => (Some(code), None, false),
        Ended::Signaled(sig, core) => (None, Some(sig.as_str().to_string()), core),
    };
    let record = Exit {
        kind: "exit",
        time: now(),
        of,
        session,
        status,
        signal,
        core_dumped,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
    };
    // Exit records are not held to the decision's promise; an interval
    // flusher still takes them along.
    let spec = settings();
    let mode = match flush_mode(&spec) {
        Flush::Interval => Flush::Interval,
        _ => Flush::None,
    };
    chain::append(&record, mode, &spec)
}
