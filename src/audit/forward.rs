//! A copy of every record for syslog/journald (`audit: {forward:
//! syslog}`), so the host's log pipeline carries it off the host where the
//! agent cannot rewrite it.
//!
//! The message is the record's exact line, chain keys included, so a
//! receiver can re-walk the chain too. Facility `authpriv`, as sudo and
//! sshd use for authorization records.

use syslog::{Facility, Formatter3164};

use crate::rules::spec::AuditSpec;

#[derive(Debug, thiserror::Error)]
#[error("syslog forward to {target}: {reason}")]
pub struct ForwardError {
    pub target: String,
    pub reason: String,
}

/// Where records go: the config's `syslog_socket` (an absolute path to a
/// unix datagram socket, or `udp:HOST:PORT`), else the system's `/dev/log`.
fn target(spec: &AuditSpec) -> String {
    spec.syslog_socket
        .clone()
        .unwrap_or_else(|| "/dev/log".to_string())
}

/// Send one record line, when forwarding is configured.
pub fn send(spec: &AuditSpec, line: &[u8]) -> Result<(), ForwardError> {
    let fail = |reason: String| ForwardError {
        target: target(spec),
        reason,
    };
    match spec.forward.as_deref() {
        None | Some("none") => return Ok(()),
        Some("syslog") => {}
        Some(other) => return Err(fail(format!("unknown forward `{other}` (expected syslog)"))),
    }
    let message = std::str::from_utf8(line).map_err(|e| fail(e.to_string()))?;
    let formatter = Formatter3164 {
        facility: Facility::LOG_AUTHPRIV,
        hostname: None,
        process: "guard".to_string(),
        pid: std::process::id(),
    };
    let to = target(spec);
    let logger = match to.strip_prefix("udp:") {
        Some(addr) => {
            let local = if addr.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            syslog::udp(formatter, local, addr)
        }
        None => syslog::unix_custom(formatter, &to),
    };
    let mut logger = logger.map_err(|e| fail(e.to_string()))?;
    logger.info(message).map_err(|e| fail(e.to_string()))
}
