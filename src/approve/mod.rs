//! Approval of a `review` verdict: session memory → terminal → webhook →
//! deny. Each link can be switched off; every failure denies.

pub mod memory;
pub mod settings;
pub mod tty;
pub mod webhook;

use std::time::SystemTime;

use serde::Serialize;

use crate::policy::Verdict;
use crate::rules::spec::Action;
use crate::session::Session;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Memory,
    Tty,
    Webhook,
    /// Nobody could be asked.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Once,
    Session,
}

/// The answer to a review, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allow: bool,
    pub channel: Channel,
    pub approver: String,
    pub reason: Option<String>,
    pub scope: Scope,
}

/// What is being asked about.
pub struct Request<'a> {
    pub id: String,
    /// The command line, already redacted.
    pub line: &'a str,
    pub verdict: &'a Verdict,
    pub session: Option<&'a Session>,
    pub cwd: String,
    pub user: String,
    pub host: String,
    /// Full text of each matched rule, for the `?` detail view.
    pub rule_texts: Vec<String>,
    /// Boundaries the line targets, and what says so.
    pub touches: &'a [crate::boundary::Touch],
    /// Credentials the line would be given.
    pub grants: &'a [String],
}

impl Request<'_> {
    /// "aws (via sudo → aws)" for each command a non-allow rule matched.
    pub fn triggers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, hit) in &self.verdict.matches {
            if hit.action == Action::Allow {
                continue;
            }
            let Some(c) = self.verdict.commands.get(*i) else {
                continue;
            };
            let program = c.program().to_string();
            let text = if c.via.is_empty() {
                program
            } else {
                format!("{program}   (via {} → {program})", c.via.join(" → "))
            };
            if !out.contains(&text) {
                out.push(text);
            }
        }
        out
    }

    /// The webhook body, in the documented shape.
    pub fn body(&self, timeout: std::time::Duration) -> Vec<u8> {
        let now = jiff::Timestamp::now();
        let expires = now
            .checked_add(jiff::SignedDuration::try_from(timeout).unwrap_or_default())
            .unwrap_or(now);
        let body = serde_json::json!({
            "id": self.id,
            "requested_at": now.to_string(),
            "expires_at": expires.to_string(),
            "session": {
                "id": self.session.map(|s| s.id.clone()),
                "purpose": self.session.and_then(|s| s.purpose.clone()),
                "boundary": self.session.and_then(|s| s.boundary.clone()),
                "grants": self.session.map(|s| s.grants.clone()),
                // Whoever opened the session may not approve its lines.
                "owner": self.session.map(|s| s.user.clone()),
            },
            // The inner commands that matched, with how they were reached.
            "triggers": self.triggers(),
            "targets": self.touches.iter().map(|t| serde_json::json!({
                "boundary": t.boundary,
                "signal": t.signal,
            })).collect::<Vec<_>>(),
            "grants": self.grants,
            "user": self.user,
            "host": self.host,
            "cwd": self.cwd,
            "command": self.line,
            // The audit chain's head, so the approver holds an anchor
            // outside the agent's reach.
            "audit_head": crate::audit::head(),
            "commands": crate::report::commands_json(self.verdict),
            "matches": self.verdict.matches.iter().map(|(_, h)| serde_json::json!({
                "rule": h.rule,
                "action": h.action.as_str(),
                "risk": format!("{:?}", h.risk).to_lowercase(),
                "message": crate::detect::redact(&h.message),
            })).collect::<Vec<_>>(),
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// A request id that is unique enough to key a pending approval.
pub fn request_id(line: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(line.as_bytes());
    crate::hex::encode(&h.finalize()[..12])
}

fn deny(channel: Channel, approver: &str, reason: Option<String>) -> Decision {
    Decision {
        allow: false,
        channel,
        approver: approver.to_string(),
        reason,
        scope: Scope::Once,
    }
}

/// How the terminal link of the chain reaches a human: guard's own
/// `/dev/tty` (`tty::ask`), or in the broker the terminal the client
/// handed over.
pub type AskTerminal<'a> = &'a dyn Fn(&Request<'_>, std::time::Duration) -> tty::Answer;

/// Run the chain for a `review` verdict. Never called for `deny`: memory
/// cannot override a deny rule.
pub fn approve(req: &Request<'_>, settings: &settings::Settings, ask: AskTerminal<'_>) -> Decision {
    let fingerprint = memory::fingerprint(&req.verdict.commands);
    if let Some(s) = req.session {
        if let Some(approver) = memory::recall(&s.id, &fingerprint) {
            return Decision {
                allow: true,
                channel: Channel::Memory,
                approver,
                reason: None,
                scope: Scope::Session,
            };
        }
    }
    let remember = |approver: &str| {
        if let Some(s) = req.session {
            // Failing to remember only means asking again next time.
            let _ = memory::remember(&s.id, &fingerprint, approver);
        }
    };
    let mut unavailable = Vec::new();
    if settings.tty {
        let approver = format!("{}@tty", req.user);
        match ask(req, settings.timeout) {
            tty::Answer::Once => {
                return Decision {
                    allow: true,
                    channel: Channel::Tty,
                    approver,
                    reason: None,
                    scope: Scope::Once,
                }
            }
            tty::Answer::Session => {
                let scope = if req.session.is_some() {
                    Scope::Session
                } else {
                    Scope::Once
                };
                remember(&approver);
                return Decision {
                    allow: true,
                    channel: Channel::Tty,
                    approver,
                    reason: None,
                    scope,
                };
            }
            tty::Answer::Deny(reason) => return deny(Channel::Tty, &approver, reason),
            tty::Answer::Unavailable(why) => unavailable.push(why),
        }
    } else {
        unavailable.push("terminal prompt disabled".to_string());
    }
    match &settings.webhook {
        Some(hook) => match webhook::ask(hook, &req.id, &req.body(hook.timeout)) {
            webhook::Answer::Allow {
                approver,
                reason,
                scope,
            } => {
                if scope == Scope::Session {
                    remember(&approver);
                }
                return Decision {
                    allow: true,
                    channel: Channel::Webhook,
                    approver,
                    reason,
                    scope,
                };
            }
            webhook::Answer::Deny { approver, reason } => {
                return deny(Channel::Webhook, &approver, reason)
            }
            webhook::Answer::Unavailable(why) => unavailable.push(why),
        },
        None => unavailable.push("no webhook configured".to_string()),
    }
    deny(
        Channel::None,
        "none",
        Some(format!("no approver available: {}", unavailable.join("; "))),
    )
}
