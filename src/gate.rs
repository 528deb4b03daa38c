//! From a verdict to "run it, with these credentials" or "refuse, saying
//! this": session enforcement, the approver chain, minting, and the audit
//! record, in that order. The same code serves embedded mode and the
//! broker; what differs is passed in (who asks, how to reach their
//! terminal), and what to tell the agent is returned, not printed.

use std::collections::BTreeMap;

use crate::approve::{self, AskTerminal, Channel, Request};
use crate::audit;
use crate::creds;
use crate::policy::Verdict;
use crate::report;
use crate::rules::load::{Config, ConfigError};
use crate::rules::spec::Action;
use crate::session::{enforce, Session};

/// Exit status of a refusal, as bash uses for "cannot execute".
pub const REFUSED: i32 = 126;

/// What the decision is made in.
pub struct Context<'a> {
    pub cfg: &'a Result<Config, ConfigError>,
    pub session: Option<&'a Session>,
    /// The environment the line starts in (boundary signals read it).
    pub vars: &'a BTreeMap<String, String>,
    pub ask: AskTerminal<'a>,
    /// For a program a line started: the line's decision seq and the
    /// program's parent process.
    pub parent: Option<(u64, i32)>,
    /// The process that becomes the command (or runs it): credentials
    /// with `scope: command` are revoked when it ends. None: there is no
    /// command to outlive (a hook), and such a credential is refused.
    pub holder: Option<i32>,
}

/// What an allowed line gets beyond the scrubbed environment.
#[derive(Debug, Default)]
pub struct Grant {
    /// Credential variables, for this line only.
    pub env: Vec<(String, String)>,
    /// Credential files for the client to write (broker mode; embedded
    /// mode has already written them and put their paths in `env`).
    pub files: Vec<crate::wire::FileGrant>,
    /// The decision record's seq, for the exit record.
    pub seq: Option<u64>,
    /// Lines for stderr even though the line runs.
    pub warnings: Vec<String>,
    /// The credentials granted, by name.
    pub credentials: Vec<String>,
    /// The programs whose rules granted them (`aws` of `aws s3 ls |
    /// jq`): a sealing tracer hands the credentials to these execs
    /// only, not to the line's shell.
    pub holders: Vec<String>,
}

/// A refusal: what to print, and the status to exit with.
#[derive(Debug)]
pub struct Refusal {
    pub lines: Vec<String>,
    pub code: i32,
}

/// The programs of `v`'s commands whose matching rules grant one of
/// `grants`.
fn holders(cfg: &crate::rules::load::Config, v: &Verdict, grants: &[String]) -> Vec<String> {
    let mut out: Vec<String> = v
        .matches
        .iter()
        .filter(|(_, hit)| {
            cfg.rules
                .get(&hit.rule)
                .ok()
                .flatten()
                .is_some_and(|r| r.spec.grants.iter().any(|g| grants.contains(g)))
        })
        .filter_map(|(i, _)| v.commands.get(*i).map(|c| c.program().to_string()))
        .filter(|p| !p.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Decide whether the line may run (asking an approver for a review),
/// record the decision, and say why not when it may not.
pub fn gate(ctx: &Context<'_>, mode: &str, line: &str, v: &Verdict) -> Result<Grant, Refusal> {
    let mut v = v.clone();
    let plan = match ctx.cfg {
        Ok(cfg) => enforce::apply(&mut v, ctx.session, cfg, ctx.vars),
        Err(_) => enforce::Plan::default(),
    };
    let v = &v;
    let mut record = audit::Record::new(mode, line, v, "deny", &v.reason);
    record.session = ctx.session.map(|s| s.id.clone());
    record.purpose = ctx.session.and_then(|s| s.purpose.clone());
    record.boundary = ctx.session.and_then(|s| s.boundary.clone());
    if let Some((seq, ppid)) = ctx.parent {
        record.parent = Some(seq);
        record.ppid = Some(ppid);
    }
    let mut refusal = match (v.action, ctx.cfg) {
        (Action::Allow, _) => None,
        (Action::Review, Ok(cfg)) => {
            let redacted = audit::redact_line(line, v);
            let req = Request {
                id: approve::request_id(line),
                line: &redacted,
                verdict: v,
                session: ctx.session,
                cwd: audit::cwd(),
                user: record.user.clone(),
                host: record.host.clone(),
                rule_texts: rule_texts(cfg, v),
                touches: &plan.touches,
                grants: &plan.grants,
            };
            let d = approve::approve(&req, &cfg.approval, ctx.ask);
            let refusal = match (d.allow, d.channel) {
                (true, _) => None,
                (false, Channel::None) => {
                    let why = format!(
                        "review required; {}",
                        d.reason.as_deref().unwrap_or("no approver available")
                    );
                    record.reason = format!("{} ({why})", v.reason);
                    Some(report::refusal(v, Some(&why)))
                }
                (false, _) => {
                    record.reason = d.reason.clone().unwrap_or_else(|| v.reason.clone());
                    Some(report::denied_by(v, &d.approver, d.reason.as_deref()))
                }
            };
            record.set_approval(d);
            refusal
        }
        _ => Some(report::refusal(v, None)),
    };
    let mut grant = Grant::default();
    if refusal.is_none() && !plan.grants.is_empty() {
        let minted = match (ctx.cfg, ctx.session) {
            (Ok(cfg), Some(s)) => {
                // Each credential's context is the command whose rule
                // granted it.
                let granted_by = |name: &String| {
                    v.matches.iter().find_map(|(i, hit)| {
                        cfg.rules
                            .get(&hit.rule)
                            .ok()
                            .flatten()
                            .filter(|r| r.spec.grants.contains(name))
                            .map(|_| *i)
                    })
                };
                // Only a per-command credential's provider reads one:
                // session-scoped grants cost nothing extra.
                let per_command = |name: &&String| {
                    cfg.sessions
                        .credential(name)
                        .is_some_and(|d| d.scope.as_deref() == Some("command"))
                };
                let command = creds::Command {
                    contexts: plan
                        .grants
                        .iter()
                        .filter(per_command)
                        .map(|name| {
                            let at = granted_by(name);
                            (name.clone(), creds::context::of(v, s, &plan.touches, at))
                        })
                        .collect(),
                    holder: ctx.holder,
                };
                creds::grant(s, &plan.grants, &cfg.sessions, &command)
            }
            _ => Err(creds::CredError::Undefined(plan.grants.join(", "))),
        };
        match minted {
            Ok(g) => {
                grant.env = g.env;
                grant.files = g.files;
                grant.warnings.extend(g.warnings);
                grant.credentials = plan.grants.clone();
                record.credentials = plan.grants.clone();
                if let Ok(cfg) = ctx.cfg {
                    grant.holders = holders(cfg, v, &plan.grants);
                }
            }
            Err(e) => {
                record.reason = e.to_string();
                refusal = Some(format!("guard: denied: {e}"));
            }
        }
    }
    record.decision = if refusal.is_none() { "allow" } else { "deny" };
    if refusal.is_none() && record.approval.is_some() {
        record.reason = record.approval.as_ref().map_or_else(
            || v.reason.clone(),
            |d| format!("approved by {} ({:?})", d.approver, d.channel).to_lowercase(),
        );
    }
    record.reason = crate::detect::redact(&record.reason);
    match audit::write(&record) {
        Ok(w) => grant.seq = Some(w.seq),
        Err(e) if refusal.is_none() && audit::unwritable_allows() => {
            grant.warnings.push(format!(
                "guard: {e}; running anyway (audit.on_unwritable: allow)"
            ));
        }
        Err(e) => {
            return Err(Refusal {
                lines: vec![format!("guard: {e}")],
                code: REFUSED,
            })
        }
    }
    match refusal {
        None => Ok(grant),
        Some(line) => Err(Refusal {
            lines: vec![line],
            code: REFUSED,
        }),
    }
}

fn rule_texts(cfg: &Config, v: &Verdict) -> Vec<String> {
    let mut out = Vec::new();
    for (_, hit) in &v.matches {
        if let Ok(Some(rule)) = cfg.rules.get(&hit.rule) {
            let text = report::rule_yaml(&rule.spec).unwrap_or_default();
            out.push(format!("# {}\n{text}", rule.origin));
        } else {
            out.push(format!("{}: {}", hit.rule, hit.message));
        }
    }
    out.dedup();
    out
}
