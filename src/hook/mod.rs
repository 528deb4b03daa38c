//! `guard hook <harness>`: guard as a harness's pre-tool hook, for
//! accounts whose login shell cannot be changed. Each harness's JSON is
//! turned into one `Call`: a shell line, or file paths a tool reads or
//! writes (checked as the line `cat -- PATH` or `tee -- PATH` would be,
//! so the credential-file rules see exactly what they see in a shell).
//! The decision goes through the same gate as a line, audited with
//! `mode: "hook:<harness>"`. Advisory: the harness can run processes
//! outside its hooks (README, "Harness hooks").

pub mod claude;
pub mod gemini;
pub mod generic;
pub mod install;

use std::collections::BTreeMap;

use crate::gate::{self, Context};
use crate::parse::Env;
use crate::policy::{self, Input};
use crate::rules::load;
use crate::rules::spec::Action;

/// What a tool call would do, as guard judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A shell command line (Bash, run_shell_command).
    Line(String),
    /// Files whose contents the tool reads (Read, Grep).
    Read(Vec<String>),
    /// Files the tool writes (Write, Edit).
    Write(Vec<String>),
    /// Nothing guard has rules for (names only, or another tool).
    Nothing(String),
}

impl Call {
    /// The line guard decides: the call as a shell would run it. Paths
    /// are quoted, except for a trailing glob a search tool filters by,
    /// which must stay a glob to be matched against the rules' globs.
    pub fn line(&self) -> Option<String> {
        let paths = |verb: &str, ps: &[String]| {
            let quoted: Vec<String> = ps.iter().map(|p| quote_path(p)).collect();
            format!("{verb} -- {}", quoted.join(" "))
        };
        match self {
            Call::Line(l) => Some(l.clone()),
            Call::Read(ps) if !ps.is_empty() => Some(paths("cat", ps)),
            Call::Write(ps) if !ps.is_empty() => {
                Some(format!("{} </dev/null >/dev/null", paths("tee", ps)))
            }
            _ => None,
        }
    }
}

/// `p` for a shell line: quoted whole, or (a `GLOB:` prefix, from a
/// search tool's filter) with its glob characters left active.
fn quote_path(p: &str) -> String {
    match p.strip_prefix("GLOB:") {
        Some(glob) => glob
            .split('/')
            .map(|part| {
                if part.contains(['*', '?', '['])
                    && !part.contains([
                        '\'', '"', '$', '`', '\\', ' ', ';', '&', '|', '<', '>', '(', ')',
                    ])
                {
                    part.to_string()
                } else {
                    shell_words::quote(part).into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/"),
        None => shell_words::quote(p).into_owned(),
    }
}

/// guard's answer to a tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allow(String),
    /// A review with no approver configured: the harness asks its user.
    Ask(String),
    Deny(String),
}

impl Outcome {
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Allow(r) | Outcome::Ask(r) | Outcome::Deny(r) => r,
        }
    }
}

/// Decide a call made in `cwd`, audited as `mode`. `Err` is a failure to
/// decide at all (a bad config, an audit log that cannot be written):
/// the harness is then told to block.
pub fn decide(call: &Call, cwd: Option<&str>, mode: &str) -> Result<Outcome, String> {
    let cwd = cwd.filter(|d| d.starts_with('/'));
    if let Some(dir) = cwd {
        // Relative paths in the call are the harness's, not ours. A cwd
        // that is gone is still where they are relative to.
        let _ = std::env::set_current_dir(dir);
    }
    let mut env = Env::from_process();
    if let Some(dir) = cwd {
        env.cwd = dir.to_string();
    }
    let cfg = load::load(&env.home);
    let c = cfg.as_ref().map_err(|e| format!("config error: {e}"))?;
    crate::audit::configure(&c.audit);
    let Some(line) = call.line() else {
        let what = match call {
            Call::Nothing(w) => w.clone(),
            _ => "nothing".to_string(),
        };
        // Still recorded: the log says what the agent did.
        let v = policy::decide(Input::Script("true"), c, &env);
        let record =
            crate::audit::Record::new(mode, &what, &v, "allow", "no rule applies to this tool");
        crate::audit::write(&record).map_err(|e| e.to_string())?;
        return Ok(Outcome::Allow(
            "guard: no rule applies to this tool".to_string(),
        ));
    };
    let v = policy::decide(Input::Script(&line), c, &env);
    if v.action == Action::Review && c.approval.webhook.is_none() {
        let reason = format!(
            "guard: review: {}{}",
            crate::detect::redact(&v.reason),
            rule_suffix(&v)
        );
        let record = crate::audit::Record::new(mode, &line, &v, "ask", &v.reason);
        crate::audit::write(&record).map_err(|e| e.to_string())?;
        return Ok(Outcome::Ask(reason));
    }
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    let no_terminal = |_: &crate::approve::Request<'_>, _: std::time::Duration| {
        crate::approve::tty::Answer::Unavailable("a hook has no terminal".to_string())
    };
    let ctx = Context {
        cfg: &cfg,
        session: None,
        vars: &vars,
        ask: &no_terminal,
        parent: None,
        holder: None,
    };
    match gate::gate(&ctx, mode, &line, &v) {
        Ok(_) if v.action == Action::Allow => Ok(Outcome::Allow(format!(
            "guard: allowed: {}",
            crate::detect::redact(&v.reason)
        ))),
        Ok(_) => Ok(Outcome::Allow(format!(
            "guard: approved: {}{}",
            crate::detect::redact(&v.reason),
            rule_suffix(&v)
        ))),
        Err(refusal) => Ok(Outcome::Deny(refusal.lines.join("; "))),
    }
}

fn rule_suffix(v: &crate::policy::Verdict) -> String {
    v.rule
        .as_ref()
        .map(|r| format!(" [rule {r}]"))
        .unwrap_or_default()
}

/// Read a hook's whole stdin, bounded: a harness sends one JSON object.
pub fn read_stdin() -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .take(4 * 1024 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("reading the hook input: {e}"))?;
    Ok(text)
}
