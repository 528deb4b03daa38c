//! Shell mode: decide, record, then become the real shell.

use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Read};

use super::flags::{self, ShellArgs};
use crate::approve::{self, Channel, Request};
use crate::audit;
use crate::creds;
use crate::exec;
use crate::parse::Env;
use crate::policy::{self, Input, Verdict};
use crate::report;
use crate::rules::load::{self, Config};
use crate::rules::spec::Action;
use crate::session::{self, enforce, Session};

/// Exit status of a refusal, as bash uses for "cannot execute".
pub const REFUSED: i32 = 126;

pub fn run(argv0: &OsStr, args: &[OsString]) -> i32 {
    let mut flags = match flags::parse(argv0, args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("guard: {e}");
            return 2;
        }
    };
    forced_command(&mut flags);
    let env = Env::from_process();
    let cfg = load::load(&env.home);
    if let Ok(c) = &cfg {
        audit::configure(&c.audit);
    }
    let settings = session::settings::of(&cfg);
    // Whatever the verdict, no child inherits the agent's secrets.
    exec::scrub_env(settings);
    // A crashed agent's credentials are revoked the next time anything
    // runs.
    let reaped = session::store::reap();
    let interactive_mode = flags.argv.is_none()
        && flags.command.is_none()
        && flags.script_file.is_none()
        && !flags.stdin
        && std::io::stdin().is_terminal();
    let starts = flags.login || flags.interactive || interactive_mode;
    let session = match session::resolve(starts, settings, &reaped.live) {
        Ok(s) => s,
        Err(e) => {
            let named = std::env::var(session::VAR).unwrap_or_default();
            let id = if session::valid_id(&named) {
                named.as_str()
            } else {
                "-"
            };
            // With the state dir unusable there is nowhere to record it,
            // and the one line below says so.
            if !matches!(e, session::SessionError::State(_)) {
                audit::event("session-refused", id, &e.to_string());
            }
            return refuse_plain(&e.to_string());
        }
    };
    let mut ctx = Ctx {
        cfg: &cfg,
        env: &env,
        session: Some(session),
    };
    match (&flags.argv, &flags.command, &flags.script_file) {
        (Some(argv), _, _) => run_argv(&ctx, argv),
        (None, Some(cmd), _) => match cmd.to_str() {
            Some(text) => run_script(&ctx, &flags, text, "-c"),
            None => refuse_plain("command line is not valid UTF-8"),
        },
        (None, None, Some(file)) => run_file(&ctx, &flags, file),
        (None, None, None) if interactive_mode => super::interactive::run(&mut ctx, &flags),
        (None, None, None) => {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                return refuse_plain(&format!("cannot read script from stdin: {e}"));
            }
            run_script(&ctx, &flags, &text, "stdin")
        }
    }
}

/// guard as sshd's `ForceCommand`: sshd runs it with no command of its own
/// (`guard`, or `guard -c /path/to/guard` through a guard login shell) and
/// puts what the client asked for in `SSH_ORIGINAL_COMMAND`. That is the
/// command to decide on.
fn forced_command(flags: &mut ShellArgs) {
    let Some(original) = std::env::var_os("SSH_ORIGINAL_COMMAND") else {
        return;
    };
    let runs_guard_itself = match &flags.command {
        None => flags.argv.is_none() && flags.script_file.is_none() && !flags.stdin,
        Some(c) => {
            let c = c.to_string_lossy();
            let c = c.trim();
            let me = std::env::current_exe().ok();
            crate::command::basename(c) == "guard" || me.is_some_and(|m| m.as_os_str() == c)
        }
    };
    if runs_guard_itself {
        // Cleared so the real shell and nested guards do not see it again.
        // SAFETY: single-threaded at this point.
        unsafe { std::env::remove_var("SSH_ORIGINAL_COMMAND") };
        flags.command = Some(original);
        flags.rest.clear();
    }
}

fn refuse_plain(why: &str) -> i32 {
    eprintln!("guard: denied: {why}");
    REFUSED
}

fn verdict(cfg: &Result<Config, load::ConfigError>, env: &Env, input: Input<'_>) -> Verdict {
    match cfg {
        Ok(cfg) => policy::decide(input, cfg, env),
        Err(e) => Verdict::config_error(e.to_string()),
    }
}

/// What every decision in this process shares.
pub(super) struct Ctx<'a> {
    pub(super) cfg: &'a Result<Config, load::ConfigError>,
    pub(super) env: &'a Env,
    pub(super) session: Option<Session>,
}

/// Decide whether the line may run (asking an approver for a review),
/// record the decision, and say why not on stderr when it may not. `Ok`
/// means run now, with the credentials granted and the seq of the
/// decision record (none only when the config's escape hatch lets an
/// unrecorded command run).
pub(super) fn gate(ctx: &Ctx<'_>, mode: &str, line: &str, v: &Verdict) -> Result<Grant, i32> {
    let mut v = v.clone();
    let plan = match ctx.cfg {
        Ok(cfg) => enforce::apply(&mut v, ctx.session.as_ref(), cfg),
        Err(_) => enforce::Plan::default(),
    };
    let v = &v;
    let mut record = audit::Record::new(mode, line, v, "deny", &v.reason);
    record.session = ctx.session.as_ref().map(|s| s.id.clone());
    record.purpose = ctx.session.as_ref().and_then(|s| s.purpose.clone());
    record.boundary = ctx.session.as_ref().and_then(|s| s.boundary.clone());
    let mut refusal = match (v.action, ctx.cfg) {
        (Action::Allow, _) => None,
        (Action::Review, Ok(cfg)) => {
            let redacted = audit::redact_line(line, v);
            let req = Request {
                id: approve::request_id(line),
                line: &redacted,
                verdict: v,
                session: ctx.session.as_ref(),
                cwd: audit::cwd(),
                user: record.user.clone(),
                host: record.host.clone(),
                rule_texts: rule_texts(cfg, v),
                touches: &plan.touches,
                grants: &plan.grants,
            };
            let d = approve::approve(&req, &cfg.approval);
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
    let mut env = Vec::new();
    if refusal.is_none() && !plan.grants.is_empty() {
        let minted = match (ctx.cfg, ctx.session.as_ref()) {
            (Ok(cfg), Some(s)) => creds::grant(s, &plan.grants, &cfg.sessions),
            _ => Err(creds::CredError::Undefined(plan.grants.join(", "))),
        };
        match minted {
            Ok(e) => {
                env = e;
                record.credentials = plan.grants.clone();
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
    let seq = match audit::write(&record) {
        Ok(w) => Some(w.seq),
        Err(e) if refusal.is_none() && audit::unwritable_allows() => {
            eprintln!("guard: {e}; running anyway (audit.on_unwritable: allow)");
            None
        }
        Err(e) => {
            eprintln!("guard: {e}");
            return Err(REFUSED);
        }
    };
    match refusal {
        None => Ok(Grant { env, seq }),
        Some(line) => {
            eprintln!("{line}");
            Err(REFUSED)
        }
    }
}

/// What an allowed line gets beyond the scrubbed environment.
#[derive(Debug, Default)]
pub(super) struct Grant {
    /// Credential variables, for this line only.
    pub env: Vec<(String, String)>,
    /// The decision record's seq, for the exit record.
    pub seq: Option<u64>,
}

impl Grant {
    /// Put the variables in this process's environment, just before the
    /// command is started, and hand back the decision's seq.
    fn export(self) -> Option<u64> {
        for (k, v) in self.env {
            // SAFETY: guard's own threads (a webhook client's) are done
            // by now; nothing reads the environment concurrently.
            unsafe { std::env::set_var(k, v) };
        }
        self.seq
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

fn run_argv(ctx: &Ctx<'_>, argv: &[OsString]) -> i32 {
    let Some(words) = argv
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
    else {
        return refuse_plain("command line is not valid UTF-8");
    };
    let v = verdict(ctx.cfg, ctx.env, Input::Argv(&words));
    let grant = match gate(ctx, "argv", &shell_words::join(&words), &v) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let seq = grant.export();
    super::run::command(
        session_id(ctx),
        seq,
        127,
        || exec::argv(argv),
        || end_own_session(ctx),
    )
}

/// A non-interactive login shell (`guard -l -c …`) is its own session:
/// when its one command is over, so is the session.
fn end_own_session(ctx: &Ctx<'_>) {
    if let Some(s) = ctx.session.as_ref().filter(|s| s.is_own_login()) {
        session::store::end(&s.id, "login shell's command finished");
    }
}

fn session_id(ctx: &Ctx<'_>) -> Option<String> {
    ctx.session.as_ref().map(|s| s.id.clone())
}

fn run_script(ctx: &Ctx<'_>, flags: &ShellArgs, text: &str, mode: &str) -> i32 {
    let v = verdict(ctx.cfg, ctx.env, Input::Script(text));
    let grant = match gate(ctx, mode, text, &v) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let seq = grant.export();
    let shell = shell_of(ctx.cfg);
    let startup = ctx.cfg.as_ref().is_ok_and(|c| c.startup_files);
    super::run::command(
        session_id(ctx),
        seq,
        REFUSED,
        || {
            exec::shell(
                &shell,
                startup && flags.login,
                startup,
                &flags.passthrough,
                &OsString::from(text),
                &flags.rest,
            )
        },
        || end_own_session(ctx),
    )
}

/// `guard script.sh args`: the file's text is what gets decided, and what
/// runs (as `-c`, so the file cannot change in between).
fn run_file(ctx: &Ctx<'_>, flags: &ShellArgs, file: &OsStr) -> i32 {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return refuse_plain(&format!("cannot read {}: {e}", file.to_string_lossy())),
    };
    let mut flags_with_name = ShellArgs {
        passthrough: flags.passthrough.clone(),
        rest: vec![file.to_os_string()],
        ..ShellArgs::default()
    };
    flags_with_name.rest.extend(flags.rest.iter().cloned());
    run_script(ctx, &flags_with_name, &text, "file")
}

pub(super) fn shell_of(cfg: &Result<Config, load::ConfigError>) -> String {
    cfg.as_ref()
        .map_or_else(|_| "/bin/bash".to_string(), |c| c.shell.clone())
}
