//! Interactive mode: a line editor on the terminal, and each line a full
//! decision (parse, rules, approval, audit) run in a fresh real shell that
//! restores and then saves the session's state.

use std::borrow::Cow;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use reedline::{
    FileBackedHistory, Prompt, PromptEditMode, PromptHistorySearch, Reedline, Signal as Key,
};

use super::flags::ShellArgs;
use super::shell::{gate, shell_of, Ctx, REFUSED};
use crate::analyze::Scope;
use crate::exec;
use crate::parse::{Env, DEFAULT_PATH};
use crate::policy::{self, Input};
use crate::snapshot::Snapshot;
use crate::supervise::Ended;

static HANGUP: AtomicBool = AtomicBool::new(false);
/// The process group of the line running now, 0 between lines.
static RUNNING: AtomicI32 = AtomicI32::new(0);

/// Which signal ended the session, for the record.
static ENDING_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_hangup(sig: nix::libc::c_int) {
    ENDING_SIGNAL.store(sig, Ordering::SeqCst);
    HANGUP.store(true, Ordering::SeqCst);
}

struct GuardPrompt {
    session: String,
    cwd: String,
    status: i32,
}

impl Prompt for GuardPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        Cow::Owned(format!("guard[{}] {}", self.session, self.cwd))
    }

    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
    }

    fn render_prompt_indicator(&self, _: PromptEditMode) -> Cow<'_, str> {
        Cow::Owned(if self.status == 0 {
            " $ ".to_string()
        } else {
            format!(" [{}] $ ", self.status)
        })
    }

    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("> ")
    }

    fn render_prompt_history_search_indicator(&self, _: PromptHistorySearch) -> Cow<'_, str> {
        Cow::Borrowed("(search) ")
    }
}

/// `exit`, `exit N`, `logout`: end guard itself.
fn exit_request(line: &str) -> Option<Option<i32>> {
    let words = shell_words::split(line).ok()?;
    match words.as_slice() {
        [w] if w == "exit" || w == "logout" => Some(None),
        [w, n] if w == "exit" || w == "logout" => n.parse().ok().map(Some),
        _ => None,
    }
}

/// Where each line is decided: in this process, or by the broker.
pub(super) trait Backend {
    fn session(&self) -> String;
    /// The shell is its session (not one it joined).
    fn owns_session(&self) -> bool;
    /// Where the shell keeps its snapshots and history.
    fn state_dir(&self) -> Option<std::path::PathBuf>;
    /// Decide one line, printing what the agent is to see on refusal.
    fn line(&mut self, line: &str, env: &Env, snapshot: &str) -> Result<LineRun, i32>;
    /// The real shell and whether it reads its start-up files.
    fn shell(&self) -> (String, bool);
    fn scrubbed(&self, name: &str) -> bool;
    /// Record how a line's command ended.
    fn exited(&self, seq: Option<u64>, ended: &Ended, took: std::time::Duration);
    /// Run a line traced: its programs decided as `line`'s.
    fn run_traced(
        &self,
        line: crate::trace::judge::Line,
        launch: Vec<String>,
        exec: &mut dyn FnMut() -> exec::ExecError,
    ) -> Ended;
    /// What to do when the shell is done, from any thread.
    fn finisher(&self) -> Finisher;
    fn started(&self);
}

pub(super) type Finisher = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// What an allowed line runs with.
pub(super) struct LineRun {
    pub env: Vec<(String, String)>,
    pub seq: Option<u64>,
    /// Trace the line here, deciding its programs as this line's (the
    /// embedded shell; the broker traces its sessions itself).
    pub trace: Option<crate::trace::judge::Line>,
}

struct Embedded<'a, 'b> {
    ctx: &'a Ctx<'b>,
    scrubber: crate::session::settings::Scrubber,
}

impl Backend for Embedded<'_, '_> {
    fn session(&self) -> String {
        self.ctx
            .session
            .as_ref()
            .map_or_else(|| "none".to_string(), |s| s.id.clone())
    }

    fn owns_session(&self) -> bool {
        // A shell that joined a session (GUARD_SESSION) leaves it running;
        // one that is its own session ends it.
        self.ctx.session.as_ref().is_some_and(|s| s.is_own_login())
    }

    fn state_dir(&self) -> Option<std::path::PathBuf> {
        crate::state::dir()
    }

    fn line(&mut self, line: &str, env: &Env, snapshot: &str) -> Result<LineRun, i32> {
        let mut scope = Scope::default();
        if scope
            .learn(snapshot, env, &["snapshot".to_string()])
            .is_err()
        {
            return Err(SNAPSHOT_BROKEN);
        }
        let v = match self.ctx.cfg {
            Ok(cfg) => policy::decide_in(Input::Script(line), cfg, env, &mut scope),
            Err(e) => policy::Verdict::config_error(e.to_string()),
        };
        let grant = gate(self.ctx, "interactive", line, &v)?;
        let traced = self.ctx.cfg.as_ref().is_ok_and(|c| c.exec_tree);
        Ok(LineRun {
            env: grant.env,
            seq: grant.seq,
            trace: traced.then(|| crate::trace::judge::Line::from_verdict(grant.seq, &v)),
        })
    }

    fn shell(&self) -> (String, bool) {
        (
            shell_of(self.ctx.cfg),
            self.ctx.cfg.as_ref().is_ok_and(|c| c.startup_files),
        )
    }

    fn scrubbed(&self, name: &str) -> bool {
        self.scrubber.matches(name)
    }

    fn exited(&self, seq: Option<u64>, ended: &Ended, took: std::time::Duration) {
        if let Some(of) = seq {
            let session = self.ctx.session.as_ref().map(|s| s.id.clone());
            if let Err(e) = crate::audit::exit(of, session, ended, took) {
                eprintln!("guard: {e}");
            }
        }
    }

    fn run_traced(
        &self,
        line: crate::trace::judge::Line,
        launch: Vec<String>,
        exec: &mut dyn FnMut() -> exec::ExecError,
    ) -> Ended {
        let Some(session) = self.ctx.session.clone() else {
            return Ended::Exited(REFUSED);
        };
        let t = super::run::Traced {
            cfg: self.ctx.cfg,
            home: self.ctx.env.home.clone(),
            session,
            line,
            launch: Some(launch),
        };
        let ended = super::run::traced(t, REFUSED, exec, || {}, crate::trace::spawn::Group::Own);
        let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpgrp());
        ended.unwrap_or(Ended::Exited(REFUSED))
    }

    fn finisher(&self) -> Finisher {
        let (session, owns) = (self.session(), self.owns_session());
        std::sync::Arc::new(move |why: &str| finish(&session, owns, why))
    }

    fn started(&self) {
        crate::audit::event(
            "session-start",
            &self.session(),
            "interactive session started",
        );
    }
}

/// What `line` returns when the saved state no longer parses: the shell
/// starts afresh rather than refusing every line.
pub(super) const SNAPSHOT_BROKEN: i32 = -1;

pub fn run_embedded(ctx: &mut Ctx<'_>, flags: &ShellArgs) -> i32 {
    let scrubber = crate::session::settings::of(ctx.cfg).scrubber();
    let mut backend = Embedded {
        ctx,
        scrubber: scrubber.clone(),
    };
    let home = backend.ctx.env.home.clone();
    run(&mut backend, flags, &home)
}

pub(super) fn run(backend: &mut dyn Backend, flags: &ShellArgs, home: &str) -> i32 {
    let Some(state) = backend.state_dir() else {
        eprintln!("guard: no state directory (set GUARD_STATE_DIR)");
        return REFUSED;
    };
    let session = backend.session();
    let snapshot = Snapshot::new(state.join("sessions").join(&session));
    let start = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from(home));
    if let Err(e) = snapshot.init(&start) {
        eprintln!("guard: cannot keep session state: {e}");
        return REFUSED;
    }
    let history = FileBackedHistory::with_file(1000, state.join("history"));
    let mut editor = match history {
        Ok(h) => Reedline::create().with_history(Box::new(h)),
        Err(_) => Reedline::create(),
    };
    // The terminal is handed to each command and taken back: guard must
    // not be stopped when it does so from the background.
    // SAFETY: installing plain dispositions and a flag-setting handler.
    unsafe {
        let _ = signal::signal(Signal::SIGTTOU, SigHandler::SigIgn);
        let _ = signal::signal(Signal::SIGTTIN, SigHandler::SigIgn);
        let _ = signal::signal(Signal::SIGTSTP, SigHandler::SigIgn);
        let _ = signal::signal(Signal::SIGHUP, SigHandler::Handler(on_hangup));
        let _ = signal::signal(Signal::SIGTERM, SigHandler::Handler(on_hangup));
    }
    backend.started();
    let finisher = backend.finisher();
    watch_for_hangup(std::sync::Arc::clone(&finisher));
    let mut status = 0;
    let mut prompt = GuardPrompt {
        session: session.clone(),
        cwd: start.display().to_string(),
        status,
    };
    loop {
        if HANGUP.load(Ordering::SeqCst) {
            break;
        }
        prompt.status = status;
        let line = match editor.read_line(&prompt) {
            Ok(Key::Success(l)) => l,
            Ok(Key::CtrlC) => continue,
            Ok(Key::CtrlD) => break,
            Ok(_) => continue,
            Err(_) => break,
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(code) = exit_request(&line) {
            status = code.unwrap_or(status);
            break;
        }
        // Decide in the shell as the snapshot left it: its aliases and
        // functions are followed when this line calls them.
        let cwd = snapshot.cwd().unwrap_or_else(|| prompt.cwd.clone());
        // The card, the audit record and relative paths all mean the
        // session's directory.
        let _ = std::env::set_current_dir(&cwd);
        let env = Env {
            home: home.to_string(),
            cwd: cwd.clone(),
            path: std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string()),
            fresh: false,
        };
        let mut run_with = backend.line(&line, &env, &snapshot.text());
        if matches!(run_with, Err(SNAPSHOT_BROKEN)) {
            eprintln!("guard: the saved shell state no longer parses; starting afresh in {cwd}");
            let _ = snapshot.init(std::path::Path::new(&cwd));
            run_with = backend.line(&line, &env, &snapshot.text());
        }
        let grant = match run_with {
            Ok(g) => g,
            Err(code) => {
                status = if code == SNAPSHOT_BROKEN {
                    REFUSED
                } else {
                    code
                };
                continue;
            }
        };
        let started = std::time::Instant::now();
        let granted: Vec<String> = grant.env.iter().map(|(k, _)| k.clone()).collect();
        let (shell, startup) = backend.shell();
        let script = snapshot.wrap(&line, &granted);
        let traced = grant.trace.is_some();
        let ended = match grant.trace {
            Some(traced) => {
                let env = grant.env.clone();
                let mut exec = || {
                    // In the command's process, just before it execs.
                    for (k, v) in &env {
                        // SAFETY: single-threaded child.
                        unsafe { std::env::set_var(k, v) };
                    }
                    for sig in [
                        Signal::SIGTTOU,
                        Signal::SIGTTIN,
                        Signal::SIGTSTP,
                        Signal::SIGHUP,
                        Signal::SIGINT,
                        Signal::SIGQUIT,
                    ] {
                        // SAFETY: the default disposition, before exec.
                        let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
                    }
                    exec::shell(
                        &shell,
                        false,
                        startup,
                        &flags.passthrough,
                        &std::ffi::OsString::from(&script),
                        &[],
                    )
                };
                let launch: Vec<String> = exec::shell_argv(
                    &shell,
                    false,
                    startup,
                    &flags.passthrough,
                    &std::ffi::OsString::from(&script),
                    &[],
                )
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
                backend.run_traced(traced, launch, &mut exec)
            }
            None => run_line(&shell, startup, flags, &script, &grant.env),
        };
        status = ended.code();
        // A traced line's tracer wrote its exit record.
        if !traced {
            backend.exited(grant.seq, &ended, started.elapsed());
        }
        let _ = snapshot
            .commit(&|name: &str| granted.iter().any(|g| g == name) || backend.scrubbed(name));
        prompt.cwd = snapshot.cwd().unwrap_or(cwd);
    }
    // The editor may see the dead terminal before the watchdog does; the
    // record should say why the session ended either way.
    let why = if hung_up() {
        hangup_reason().to_string()
    } else {
        format!("shell exited with status {status}")
    };
    finisher(&why);
    status
}

/// The shell is done: its own session ends with it; a session it joined
/// only records that it left.
fn finish(session: &str, owns_session: bool, why: &str) {
    if owns_session {
        crate::session::store::end(session, why);
    } else {
        crate::audit::event("shell-end", session, why);
    }
}

fn hangup_reason() -> &'static str {
    match ENDING_SIGNAL.load(Ordering::SeqCst) {
        s if s == Signal::SIGTERM as i32 => "guard received SIGTERM",
        s if s == Signal::SIGHUP as i32 => "terminal hung up (SIGHUP)",
        _ => "terminal hung up",
    }
}

/// SIGHUP came, or stdin reports the terminal gone.
fn hung_up() -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::empty())];
    let gone = poll(&mut fds, PollTimeout::ZERO).is_ok()
        && fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLNVAL));
    gone || HANGUP.load(Ordering::SeqCst)
}

/// The line editor keeps reading a terminal that has hung up (it sees
/// end-of-file forever), so a watchdog ends the session instead: the end
/// is recorded, and a command still running has had its SIGHUP from the
/// kernel.
fn watch_for_hangup(finish: Finisher) {
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(250));
        if hung_up() {
            let group = RUNNING.load(Ordering::SeqCst);
            if group > 0 {
                let _ = signal::killpg(Pid::from_raw(group), Signal::SIGHUP);
            }
            finish(hangup_reason());
            std::process::exit(128 + Signal::SIGHUP as i32);
        }
    });
}

/// Run one line in its own process group, in the foreground of the
/// terminal, so Ctrl-C and full-screen programs reach it and not guard.
fn run_line(
    shell: &str,
    startup: bool,
    flags: &ShellArgs,
    script: &str,
    grant: &[(String, String)],
) -> Ended {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(shell);
    // As `exec::shell_argv`: zsh's `-f` after the passed-on options.
    let zsh = crate::command::basename(shell) == "zsh";
    if !startup && !zsh {
        cmd.args(exec::no_startup_files(shell));
    }
    cmd.args(&flags.passthrough);
    if !startup && zsh {
        cmd.args(exec::no_startup_files(shell));
    }
    cmd.args(exec::command_words(std::ffi::OsStr::new(script)));
    cmd.envs(grant.iter().map(|(k, v)| (k, v)));
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
            for sig in [
                Signal::SIGTTOU,
                Signal::SIGTTIN,
                Signal::SIGTSTP,
                Signal::SIGHUP,
                Signal::SIGINT,
                Signal::SIGQUIT,
            ] {
                let _ = signal::signal(sig, SigHandler::SigDfl);
            }
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("guard: cannot run {shell}: {e}");
            return Ended::Exited(REFUSED);
        }
    };
    let pid = Pid::from_raw(child.id() as i32);
    let tty = std::io::stdin();
    let _ = nix::unistd::setpgid(pid, pid);
    RUNNING.store(pid.as_raw(), Ordering::SeqCst);
    let _ = nix::unistd::tcsetpgrp(tty.as_fd(), pid);
    let status = loop {
        match waitpid(pid, Some(WaitPidFlag::WUNTRACED)) {
            Ok(WaitStatus::Exited(_, code)) => break Ended::Exited(code),
            Ok(WaitStatus::Signaled(_, sig, core)) => break Ended::Signaled(sig, core),
            // Job control is not offered: a stopped command is resumed.
            Ok(WaitStatus::Stopped(..)) => {
                let _ = signal::killpg(pid, Signal::SIGCONT);
            }
            Ok(_) => {}
            Err(nix::Error::EINTR) => {
                if HANGUP.load(Ordering::SeqCst) {
                    let _ = signal::killpg(pid, Signal::SIGHUP);
                }
            }
            Err(_) => break Ended::Exited(REFUSED),
        }
    };
    RUNNING.store(0, Ordering::SeqCst);
    let _ = nix::unistd::tcsetpgrp(tty.as_fd(), nix::unistd::getpgrp());
    status
}
