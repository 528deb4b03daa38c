//! The broker protocol: what a client and the broker say to each other
//! on `/run/guard/broker.sock`. `docs/protocol.md` and
//! `schemas/broker-*.schema.json` describe it for other implementations.
//!
//! Every connection is: `hello` both ways, then one request and its
//! answer (a `decide` may be interrupted by `tty-request`,
//! `env-request` and `file-request`; a traced line is attached before
//! its verdict). Each message carries the request id it belongs to.
//! Nothing here says who the client is: the broker takes that from the
//! kernel, and a message naming a uid or pid is malformed.

pub mod frame;

use std::collections::BTreeMap;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize};

pub use frame::{FrameError, MAX_FRAME};

/// Bumped on any change a peer of the other version would misread.
pub const VERSION: u32 = 2;

/// Variables whose values every client sends with `decide`: what the
/// shipped rules and boundary signals read. The client sends the other
/// values too while they fit its budget, for the broker to scrub secrets
/// by value; a broker whose config reads one it was not sent
/// (`boundaries.*.env`) asks for it with `env-request`.
pub const BASE_ENV: &[&str] = &[
    "HOME",
    "PATH",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "KUBECONFIG",
];

/// How a line was given: `-c STRING`, an exact argv (`guard -- …`), a
/// script on stdin or in a file, an interactive line, or `open` (an
/// interactive shell opening its session, no line yet).
pub const MODES: &[&str] = &["-c", "argv", "stdin", "file", "interactive", "open"];

fn known_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let m = String::deserialize(d)?;
    if MODES.contains(&m.as_str()) {
        Ok(m)
    } else {
        Err(serde::de::Error::custom(format!("unknown mode `{m}`")))
    }
}

/// What the client asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    Hello {
        id: u64,
        version: u32,
        client: String,
    },
    /// Decide a line (or an exact argv) and say how to run it.
    Decide {
        id: u64,
        /// One of [`MODES`]; anything else is malformed.
        #[serde(deserialize_with = "known_mode")]
        mode: String,
        /// The script, for every mode but `argv`.
        #[serde(default)]
        line: Option<String>,
        /// The exact argv, for mode `argv`.
        #[serde(default)]
        argv: Option<Vec<String>>,
        /// A login shell (`-l`, `-` in argv[0]): recorded, and with
        /// `startup_files` the real shell stays one.
        #[serde(default)]
        login: bool,
        /// The shell starts a session of its own (login or interactive).
        #[serde(default)]
        starts_session: bool,
        /// `GUARD_SESSION` as the client has it.
        #[serde(default)]
        session: Option<String>,
        /// The client's directory; used only where `/proc` cannot say.
        #[serde(default)]
        cwd: String,
        /// Every variable name in the client's environment.
        #[serde(default)]
        env_names: Vec<String>,
        /// Values: those of `BASE_ENV`, and the rest while they fit the
        /// client's budget. The broker lists in `unset_env` every one a
        /// secret detector recognises; the client scans those it did not
        /// send itself.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// An interactive shell's saved state (aliases, functions), parsed
        /// by the broker like any other script.
        #[serde(default)]
        scope: Option<String>,
        /// The client's controlling terminal rides on this frame, for
        /// reviews of what a traced line starts.
        #[serde(default)]
        tty: bool,
    },
    /// Answer to `tty-request`; the terminal rides on this frame.
    Tty {
        id: u64,
        present: bool,
    },
    /// Answer to `env-request`: the values of those of the names that are
    /// set.
    Env {
        id: u64,
        values: BTreeMap<String, String>,
    },
    /// Answer to `file-request`: whether it could be opened; the
    /// descriptor rides on this frame when it could, or `error` says why
    /// not (`missing` when there is nothing at the path).
    File {
        id: u64,
        opened: bool,
        #[serde(default)]
        error: Option<String>,
    },
    SessionStart {
        id: u64,
        purpose: String,
        #[serde(default)]
        boundary: Option<String>,
        #[serde(default)]
        ttl: Option<String>,
        #[serde(default)]
        grants: Vec<String>,
        #[serde(default)]
        json: bool,
    },
    SessionEnd {
        id: u64,
        session: String,
    },
    SessionStatus {
        id: u64,
        session: String,
        #[serde(default)]
        json: bool,
    },
    SessionList {
        id: u64,
        #[serde(default)]
        json: bool,
    },
    Status {
        id: u64,
    },
}

impl Request {
    pub fn id(&self) -> u64 {
        match self {
            Request::Hello { id, .. }
            | Request::Decide { id, .. }
            | Request::Tty { id, .. }
            | Request::File { id, .. }
            | Request::Env { id, .. }
            | Request::SessionStart { id, .. }
            | Request::SessionEnd { id, .. }
            | Request::SessionStatus { id, .. }
            | Request::SessionList { id, .. }
            | Request::Status { id } => *id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::Decide { .. } => "decide",
            Request::Tty { .. } => "tty",
            Request::File { .. } => "file",
            Request::Env { .. } => "env",
            Request::SessionStart { .. } => "session-start",
            Request::SessionEnd { .. } => "session-end",
            Request::SessionStatus { .. } => "session-status",
            Request::SessionList { .. } => "session-list",
            Request::Status { .. } => "status",
        }
    }
}

/// A file the command is to find through a variable (`KUBECONFIG`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGrant {
    pub credential: String,
    pub env: String,
    pub name: String,
    /// The variable names the directory, not the file.
    #[serde(default)]
    pub dir: bool,
    pub content: String,
}

/// The decision, and how to run the line when it may run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub allow: bool,
    /// The exit status of a refusal (126).
    pub code: i32,
    /// Lines for the client's stderr: the refusal, or warnings.
    #[serde(default)]
    pub stderr: Vec<String>,
    /// The session the line ran in, for `GUARD_SESSION`.
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub set_env: BTreeMap<String, String>,
    #[serde(default)]
    pub unset_env: Vec<String>,
    #[serde(default)]
    pub files: Vec<FileGrant>,
    /// The real shell.
    pub shell: String,
    #[serde(default)]
    pub startup_files: bool,
    /// The line is this one static argv: exec it without a shell.
    #[serde(default)]
    pub direct: Option<Vec<String>>,
    /// The line is traced: the broker seized the client and put the exec
    /// filter in it before answering.
    #[serde(default)]
    pub trace: bool,
    /// The decision record's place in the chain.
    #[serde(default)]
    pub seq: Option<u64>,
    /// Live sessions of this user, so stale credential files can go.
    #[serde(default)]
    pub live_sessions: Vec<String>,
}

/// What the broker answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Reply {
    Hello {
        id: u64,
        version: u32,
        broker: String,
        /// Variables whose values the rules look at.
        want_env: Vec<String>,
        /// How long a decision may take (approvals wait for a human).
        decide_timeout_ms: u64,
    },
    /// A review wants the terminal: answer with `tty`.
    TtyRequest {
        id: u64,
    },
    /// The rules read these variables too: answer with `env`.
    EnvRequest {
        id: u64,
        names: Vec<String>,
    },
    /// The line sources (or names as its kubeconfig) this file: open it
    /// as the client's user would and answer with `file`.
    FileRequest {
        id: u64,
        path: String,
    },
    Verdict {
        id: u64,
        verdict: Verdict,
    },
    /// The outcome of an admin request, rendered as the command prints it.
    Done {
        id: u64,
        code: i32,
        #[serde(default)]
        stdout: String,
        #[serde(default)]
        stderr: String,
    },
    Error {
        id: u64,
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl WireError {
    pub fn timed_out(&self) -> bool {
        matches!(self, WireError::Frame(f) if f.timed_out())
    }
}

pub fn send<T: Serialize>(sock: &UnixStream, msg: &T, fds: &[RawFd]) -> Result<(), WireError> {
    let body = serde_json::to_vec(msg).map_err(|e| WireError::Malformed(e.to_string()))?;
    frame::send(sock, &body, fds)?;
    Ok(())
}

pub fn recv<T: for<'de> Deserialize<'de>>(
    sock: &UnixStream,
) -> Result<(T, Vec<OwnedFd>), WireError> {
    recv_by(sock, None)
}

/// As `recv`, the whole message before `deadline`.
pub fn recv_by<T: for<'de> Deserialize<'de>>(
    sock: &UnixStream,
    deadline: Option<std::time::Instant>,
) -> Result<(T, Vec<OwnedFd>), WireError> {
    let (body, fds) = frame::recv_by(sock, deadline)?;
    let msg = serde_json::from_slice(&body).map_err(|e| WireError::Malformed(e.to_string()))?;
    Ok((msg, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_identity_is_malformed() {
        let forged = r#"{"type":"decide","id":2,"mode":"-c","line":"true","uid":0,"pid":1}"#;
        assert!(serde_json::from_str::<Request>(forged).is_err());
        let fine = r#"{"type":"decide","id":2,"mode":"-c","line":"true"}"#;
        assert!(serde_json::from_str::<Request>(fine).is_ok());
    }

    #[test]
    fn verdicts_round_trip() {
        let v = Reply::Verdict {
            id: 3,
            verdict: Verdict {
                allow: true,
                shell: "/bin/bash".into(),
                ..Verdict::default()
            },
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), v);
    }
}
