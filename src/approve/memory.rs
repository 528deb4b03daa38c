//! "Allow again this session": approvals remembered per session and per
//! fingerprint of the normalized commands.
//!
//! The fingerprint covers every command of the line exactly as analysed:
//! program, subcommand, flags and arguments, assignments, redirections and
//! the wrappers it was found in. Quoting and spacing do not count, any
//! other difference does, so a remembered allow never covers a different
//! command.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::command::Command;
use crate::session;

pub fn fingerprint(commands: &[Command]) -> String {
    let mut h = Sha256::new();
    for c in commands {
        let record = (
            &c.via,
            c.argv_text(),
            c.assignments
                .iter()
                .map(|a| (&a.name, &a.value.text))
                .collect::<Vec<_>>(),
            c.redirects
                .iter()
                .map(|r| (r.kind, &r.target.text))
                .collect::<Vec<_>>(),
        );
        // serde_json of plain strings and vectors cannot fail.
        h.update(serde_json::to_vec(&record).unwrap_or_default());
        h.update([0]);
    }
    crate::hex::encode(h.finalize())
}

fn path(session_id: &str, fingerprint: &str) -> Option<PathBuf> {
    if !session::valid_id(session_id) || !fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(
        crate::state::dir()?
            .join("sessions")
            .join(session_id)
            .join(fingerprint),
    )
}

/// The approver who allowed this fingerprint earlier in the session.
pub fn recall(session_id: &str, fingerprint: &str) -> Option<String> {
    let p = path(session_id, fingerprint)?;
    let text = std::fs::read_to_string(p).ok()?;
    Some(text.trim().to_string()).filter(|a| !a.is_empty())
}

pub fn remember(session_id: &str, fingerprint: &str, approver: &str) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let p = path(session_id, fingerprint)
        .ok_or_else(|| std::io::Error::other("invalid session or fingerprint"))?;
    if let Some(dir) = p.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    std::fs::write(p, format!("{approver}\n"))
}
