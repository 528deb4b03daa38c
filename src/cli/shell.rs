//! Shell mode: decide, record, then become the real shell.
//!
//! With a broker configured (an admin file's `broker:`), every line is
//! decided there (`remote`); a broker that is down refuses the line,
//! never falls back. Without one, the same pipeline runs in this process
//! (embedded mode), which is advisory: an account cannot be protected
//! from itself.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Read};

use super::flags::{self, ShellArgs};
use crate::exec;
use crate::gate::{self, Grant};
use crate::parse::Env;
use crate::policy::{self, Input, Verdict};
use crate::rules::load::{self, Config};
use crate::session::{self, Session};

pub use crate::gate::REFUSED;

pub fn run(argv0: &OsStr, args: &[OsString]) -> i32 {
    let mut flags = match flags::parse(argv0, args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("guard: {e}");
            return 2;
        }
    };
    forced_command(&mut flags);
    let client = crate::client::settings::read();
    if let Some(e) = &client.error {
        return refuse_plain(&format!("config error: {e}"));
    }
    if let Some(spec) = &client.broker {
        return super::remote::run(&flags, spec);
    }
    embedded(&flags)
}

/// How the line was given, and its text.
pub(super) enum Given {
    Argv(Vec<String>),
    Script { mode: &'static str, text: String },
    Interactive,
}

/// What the flags ask to run. `Err` is a refusal already printed.
pub(super) fn given(flags: &ShellArgs) -> Result<Given, i32> {
    match (&flags.argv, &flags.command, &flags.script_file) {
        (Some(argv), _, _) => argv
            .iter()
            .map(|a| a.to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Given::Argv)
            .ok_or_else(|| refuse_plain("command line is not valid UTF-8")),
        (None, Some(cmd), _) => match cmd.to_str() {
            Some(text) => Ok(Given::Script {
                mode: "-c",
                text: text.to_string(),
            }),
            None => Err(refuse_plain("command line is not valid UTF-8")),
        },
        // `guard script.sh args`: the file's text is what gets decided,
        // and what runs (as `-c`, so the file cannot change in between).
        (None, None, Some(file)) => match std::fs::read_to_string(file) {
            Ok(text) => Ok(Given::Script { mode: "file", text }),
            Err(e) => Err(refuse_plain(&format!(
                "cannot read {}: {e}",
                file.to_string_lossy()
            ))),
        },
        (None, None, None) if interactive_mode(flags) => Ok(Given::Interactive),
        (None, None, None) => {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => Ok(Given::Script {
                    mode: "stdin",
                    text,
                }),
                Err(e) => Err(refuse_plain(&format!("cannot read script from stdin: {e}"))),
            }
        }
    }
}

pub(super) fn interactive_mode(flags: &ShellArgs) -> bool {
    flags.argv.is_none()
        && flags.command.is_none()
        && flags.script_file.is_none()
        && !flags.stdin
        && std::io::stdin().is_terminal()
}

/// A login or interactive shell is a session of its own.
pub(super) fn starts_session(flags: &ShellArgs) -> bool {
    flags.login || flags.interactive || interactive_mode(flags)
}

fn embedded(flags: &ShellArgs) -> i32 {
    let env = Env::from_process();
    let cfg = load::load(&env.home);
    if let Ok(c) = &cfg {
        if let Some(b) = &c.broker {
            // The quick scan of the admin file missed what the full load
            // found: refuse rather than decide in-process.
            return refuse_plain(&format!(
                "config error: a broker ({}) is configured; refusing to decide without it",
                b.socket.display()
            ));
        }
        crate::audit::configure(&c.audit);
    }
    let settings = session::settings::of(&cfg);
    // Whatever the verdict, no child inherits the agent's secrets.
    let scrubber = settings.scrubber();
    exec::scrub(&|name| scrubber.matches(name), &|_| true);
    // A crashed agent's credentials are revoked the next time anything
    // runs.
    let reaped = session::store::reap();
    let asker = session::Asker::this_process(starts_session(flags));
    let session = match session::resolve(&asker, settings, &reaped.live) {
        Ok(s) => s,
        Err(e) => {
            let named = asker.named.clone().unwrap_or_default();
            let id = if session::valid_id(&named) {
                named.as_str()
            } else {
                "-"
            };
            // With the state dir unusable there is nowhere to record it,
            // and the one line below says so.
            if !matches!(e, session::SessionError::State(_)) {
                crate::audit::event("session-refused", id, &e.to_string());
            }
            return refuse_plain(&e.to_string());
        }
    };
    // SAFETY: single-threaded at this point; children inherit the id.
    unsafe { std::env::set_var(session::VAR, &session.id) };
    let mut ctx = Ctx {
        cfg: &cfg,
        env: &env,
        session: Some(session),
    };
    let given = match given(flags) {
        Ok(g) => g,
        Err(code) => return code,
    };
    match given {
        Given::Argv(words) => run_argv(&ctx, &words, flags),
        Given::Script { mode, text } => run_script(&ctx, flags, &text, mode),
        Given::Interactive => super::interactive::run_embedded(&mut ctx, flags),
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

pub(super) fn refuse_plain(why: &str) -> i32 {
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

/// Decide in this process: approval on guard's own terminal, the record
/// in the local log. Prints what the agent is to see.
pub(super) fn gate(ctx: &Ctx<'_>, mode: &str, line: &str, v: &Verdict) -> Result<Grant, i32> {
    // Lossy: a value that is not UTF-8 is the agent's business, and must
    // not stop its lines.
    let vars: BTreeMap<String, String> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let g = gate::Context {
        cfg: ctx.cfg,
        session: ctx.session.as_ref(),
        vars: &vars,
        ask: &crate::approve::tty::ask,
        parent: None,
        // An interactive shell outlives each line: a per-command
        // credential would outlive its command there, so it has none.
        holder: (mode != "interactive").then_some(std::process::id() as i32),
    };
    match gate::gate(&g, mode, line, v) {
        Ok(grant) => {
            for w in &grant.warnings {
                eprintln!("{w}");
            }
            Ok(grant)
        }
        Err(refusal) => {
            for l in &refusal.lines {
                eprintln!("{l}");
            }
            Err(refusal.code)
        }
    }
}

/// Put the granted variables in this process's environment, just before
/// the command is started, and hand back the decision's seq.
fn export(grant: Grant) -> Option<u64> {
    for (k, v) in grant.env {
        // SAFETY: guard's own threads (a webhook client's) are done by
        // now; nothing reads the environment concurrently.
        unsafe { std::env::set_var(k, v) };
    }
    grant.seq
}

fn run_argv(ctx: &Ctx<'_>, words: &[String], _flags: &ShellArgs) -> i32 {
    let v = verdict(ctx.cfg, ctx.env, Input::Argv(words));
    let grant = match gate(ctx, "argv", &shell_words::join(words), &v) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let seq = export(grant);
    let argv: Vec<OsString> = words.iter().map(OsString::from).collect();
    if let Some(t) = tracing(ctx, seq, &v) {
        return finish_traced(super::run::traced(
            t,
            127,
            || exec::argv(&argv),
            || end_own_session(ctx),
            crate::trace::spawn::Group::Same,
        ));
    }
    super::run::command(
        session_id(ctx),
        seq,
        127,
        || exec::argv(&argv),
        || end_own_session(ctx),
    )
}

/// The traced run of a line, unless the admin config says `exec_tree:
/// off` (or the config did not load, and the line was refused anyway).
fn tracing<'a>(ctx: &Ctx<'a>, seq: Option<u64>, v: &Verdict) -> Option<super::run::Traced<'a>> {
    let on = ctx.cfg.as_ref().is_ok_and(|c| c.exec_tree);
    let session = ctx.session.clone()?;
    on.then(|| super::run::Traced {
        cfg: ctx.cfg,
        home: ctx.env.home.clone(),
        session,
        line: crate::trace::judge::Line::from_verdict(seq, v),
        launch: None,
    })
}

fn finish_traced(r: Result<crate::supervise::Ended, i32>) -> i32 {
    match r {
        Ok(ended) => crate::supervise::mirror(ended),
        Err(code) => code,
    }
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

/// How an allowed script is started.
pub(super) struct Launch<'a> {
    pub shell: &'a str,
    pub startup: bool,
    pub flags: &'a ShellArgs,
    pub text: &'a str,
    /// The static argv to exec without a shell, when the line is one.
    pub direct: Option<&'a [String]>,
}

impl Launch<'_> {
    /// The direct path applies only when nothing asks bash for more than
    /// an exec: no options for it (`-x` would print the command), no
    /// interactive shell, no start-up files.
    pub(super) fn exec(&self) -> exec::ExecError {
        let bash_needed = !self.flags.passthrough.is_empty()
            || self.flags.interactive
            || (self.startup && self.flags.login);
        if let (Some(argv), false) = (self.direct, bash_needed) {
            exec::direct(argv);
        }
        // A script file runs as `-c TEXT FILE ARGS…`, so its `$0` is
        // still its name.
        let mut rest: Vec<OsString> = self.flags.script_file.iter().cloned().collect();
        rest.extend(self.flags.rest.iter().cloned());
        exec::shell(
            self.shell,
            self.startup && self.flags.login,
            self.startup,
            &self.flags.passthrough,
            &OsString::from(self.text),
            &rest,
        )
    }
}

fn run_script(ctx: &Ctx<'_>, flags: &ShellArgs, text: &str, mode: &str) -> i32 {
    let v = verdict(ctx.cfg, ctx.env, Input::Script(text));
    let grant = match gate(ctx, mode, text, &v) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let seq = export(grant);
    let shell = shell_of(ctx.cfg);
    let startup = ctx.cfg.as_ref().is_ok_and(|c| c.startup_files);
    let direct = crate::parse::direct::static_argv(text);
    let launch = Launch {
        shell: &shell,
        startup,
        flags,
        text,
        direct: direct.as_deref(),
    };
    if let Some(t) = tracing(ctx, seq, &v) {
        return finish_traced(super::run::traced(
            t,
            REFUSED,
            || launch.exec(),
            || end_own_session(ctx),
            crate::trace::spawn::Group::Same,
        ));
    }
    super::run::command(
        session_id(ctx),
        seq,
        REFUSED,
        || launch.exec(),
        || end_own_session(ctx),
    )
}

pub(super) fn shell_of(cfg: &Result<Config, load::ConfigError>) -> String {
    cfg.as_ref()
        .map_or_else(|_| "/bin/bash".to_string(), |c| c.shell.clone())
}
