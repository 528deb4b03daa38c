//! Embedded mode's traced run: guard itself traces the command.
//!
//! Three processes, so that the tracer can outlive the command's exit
//! (a background job it started is still decided) while the caller gets
//! the command's status as soon as the command is done:
//!
//! ```text
//! guard (the caller's child; waits, forwards signals, mirrors the end)
//!  └─ tracer (own process group; decides every exec until the tree is empty)
//!      └─ command (filter installed; rejoins guard's process group; execs)
//! ```
//!
//! The command is a descendant of its tracer, so `ptrace_scope = 1`
//! allows the attach; it stays in guard's process group, so Ctrl-C and
//! Ctrl-Z reach it and guard alike, as they would without guard. If the
//! tracer dies, `EXITKILL` ends the command.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{ForkResult, Pid};

use super::judge::LineJudge;
use super::Tree;
use crate::exec::ExecError;
use crate::supervise::Ended;

/// Signals a caller sends to "the command", which guard passes on.
const FORWARDED: [Signal; 4] = [
    Signal::SIGHUP,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

static TARGET: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: nix::libc::c_int) {
    let target = TARGET.load(std::sync::atomic::Ordering::SeqCst);
    if target > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { nix::libc::kill(target, sig) };
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

/// Where the command runs, as far as the terminal is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// In guard's process group: what guard gets from the terminal, the
    /// command gets (a `-c` line).
    Same,
    /// In a process group of its own, given the terminal's foreground
    /// (an interactive shell's line); guard takes the terminal back.
    Own,
}

/// Run `exec` in a traced child; `judge` decides its tree. Returns how
/// the command ended.
pub fn run<'a>(
    exec: impl FnOnce() -> ExecError,
    not_found: i32,
    judge: impl FnOnce() -> LineJudge<'a>,
    group: Group,
) -> Result<Ended, String> {
    super::available()?;
    let program = super::filter::shared()?;
    // The tree runs as this user, and without Yama nothing but this keeps
    // it from writing guard's or the tracer's memory through
    // /proc/PID/mem (and so running code outside the tree).
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| format!("cannot make guard undumpable: {e}"))?;
    let (status_r, status_w) = pipe()?;
    let pgrp = nix::unistd::getpgrp();
    // SAFETY: guard is single-threaded here; the tracer child runs the
    // judge (ordinary code) after the fork, which is sound in a process
    // that had one thread.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(status_r);
            let code = tracer(exec, not_found, judge, program, status_w, pgrp, group);
            // SAFETY: ends the tracer without the parent's exit handlers.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { .. } => {
            drop(status_w);
            wait_for(status_r)
        }
    }
}

/// The tracer: start the command, attach, decide until the tree is done.
fn tracer<'a>(
    exec: impl FnOnce() -> ExecError,
    not_found: i32,
    judge: impl FnOnce() -> LineJudge<'a>,
    program: &seccompiler::BpfProgram,
    status: OwnedFd,
    pgrp: Pid,
    group: Group,
) -> i32 {
    let mut status = std::fs::File::from(status);
    // Out of the caller's process group: Ctrl-C and Ctrl-Z are for the
    // command, not for what decides it.
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let (go_r, go_w, ready_r, ready_w) = match (pipe(), pipe()) {
        (Ok((a, b)), Ok((c, d))) => (a, b, c, d),
        (Err(e), _) | (_, Err(e)) => {
            let _ = writeln!(status, "error {e}");
            return 126;
        }
    };
    // SAFETY: the child only joins a process group, installs the filter,
    // waits on a pipe and execs (or writes one line and exits).
    let child = match unsafe { nix::unistd::fork() } {
        Err(e) => {
            let _ = writeln!(status, "error fork: {e}");
            return 126;
        }
        Ok(ForkResult::Child) => {
            drop(go_w);
            drop(ready_r);
            drop(status);
            // guard and its tracer are not dumpable (see `run`), and the
            // tracer can seize only a dumpable child; the exec resets it
            // for whatever runs after.
            if nix::sys::prctl::set_dumpable(true).is_err()
                || !matches!(nix::unistd::write(&ready_w, &[1]), Ok(1))
            {
                // SAFETY: ends the child.
                unsafe { nix::libc::_exit(126) }
            }
            drop(ready_w);
            let target = match group {
                Group::Same => pgrp,
                Group::Own => Pid::from_raw(0),
            };
            let _ = nix::unistd::setpgid(Pid::from_raw(0), target);
            if let Err(e) = super::filter::install(program) {
                eprintln!("guard: denied: {e}");
                // SAFETY: ends the child.
                unsafe { nix::libc::_exit(126) }
            }
            let mut b = [0u8; 1];
            if !matches!(nix::unistd::read(&go_r, &mut b), Ok(1)) {
                // SAFETY: the tracer is gone; nothing may run untraced.
                unsafe { nix::libc::_exit(126) }
            }
            let e = exec();
            eprintln!("guard: {e}");
            let code = if e.source == nix::Error::ENOENT {
                not_found
            } else {
                126
            };
            // SAFETY: ends the child.
            unsafe { nix::libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(go_r);
    drop(ready_w);
    let mut b = [0u8; 1];
    if !matches!(nix::unistd::read(&ready_r, &mut b), Ok(1)) {
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
        let _ = writeln!(status, "error the command did not start");
        return 126;
    }
    drop(ready_r);
    // Signals the command should get come to guard; the tracer ignores
    // what a terminal sends.
    for sig in [
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGHUP,
    ] {
        // SAFETY: ignoring a signal.
        let _ = unsafe { signal::signal(sig, SigHandler::SigIgn) };
    }
    if let Err(e) = super::seize(child) {
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
        let _ = writeln!(status, "error {e}");
        return 126;
    }
    if group == Group::Own {
        // Before the command runs: it may read the terminal at once.
        let _ = nix::unistd::setpgid(child, child);
        let _ = nix::unistd::tcsetpgrp(std::io::stdin(), child);
    }
    let _ = writeln!(status, "pid {child}");
    let _ = nix::unistd::write(&go_w, &[1]);
    drop(go_w);
    let mut judge = judge();
    let mut tree = Tree::new(child);
    if group == Group::Own {
        tree = tree.resuming_stops();
    }
    let mut status = Some(status);
    tree.run_with(&mut judge, &mut |ended| {
        if let Some(mut s) = status.take() {
            let line = match ended {
                Ended::Exited(c) => format!("exit {c}"),
                Ended::Signaled(sig, core) => format!("signal {} {}", sig as i32, u8::from(core)),
            };
            let _ = writeln!(s, "{line}");
        }
    });
    judge.finish();
    0
}

/// Ask on the terminal from the tracer, which is not in the terminal's
/// foreground: it takes the foreground for the prompt (the command is
/// stopped at its exec meanwhile) and gives it back.
pub fn ask_from_tracer(
    req: &crate::approve::Request<'_>,
    timeout: std::time::Duration,
) -> crate::approve::tty::Answer {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    let Ok(tty) = tty else {
        return crate::approve::tty::Answer::Unavailable("no controlling terminal".to_string());
    };
    let before = nix::unistd::tcgetpgrp(&tty).ok();
    let _ = nix::unistd::tcsetpgrp(&tty, nix::unistd::getpgrp());
    let answer = crate::approve::tty::ask_on(std::os::fd::AsFd::as_fd(&tty), req, timeout, false);
    if let Some(p) = before {
        let _ = nix::unistd::tcsetpgrp(&tty, p);
    }
    answer
}

/// guard's side: learn the command's pid, pass signals on, and wait for
/// the tracer to say how it ended.
fn wait_for(status: OwnedFd) -> Result<Ended, String> {
    let fd = status.as_raw_fd();
    let mut lines = BufReader::new(std::fs::File::from(status)).lines();
    let mut ended = None;
    let handler = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    let mut saved = Vec::new();
    for sig in FORWARDED {
        // SAFETY: the handler only calls kill(2).
        if let Ok(old) = unsafe { signal::sigaction(sig, &handler) } {
            if old.handler() == SigHandler::SigIgn {
                // SAFETY: putting back an ignore the caller asked for.
                let _ = unsafe { signal::sigaction(sig, &old) };
            } else {
                saved.push((sig, old));
            }
        }
    }
    // The terminal's signals reach the command directly (same process
    // group); guard waits them out.
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: ignoring while the command runs; restored below.
        if let Ok(old) = unsafe { signal::sigaction(sig, &ignore) } {
            saved.push((sig, old));
        }
    }
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("pid"), Some(p), _) => {
                if let Ok(p) = p.parse::<i32>() {
                    TARGET.store(p, std::sync::atomic::Ordering::SeqCst);
                }
            }
            (Some("exit"), Some(c), _) => {
                ended = c.parse().ok().map(Ended::Exited);
                break;
            }
            (Some("signal"), Some(s), core) => {
                ended = s
                    .parse::<i32>()
                    .ok()
                    .and_then(|s| Signal::try_from(s).ok())
                    .map(|s| Ended::Signaled(s, core == Some("1")));
                break;
            }
            (Some("error"), _, _) => {
                let why = line.trim_start_matches("error ").to_string();
                restore(&saved);
                return Err(why);
            }
            _ => {}
        }
    }
    TARGET.store(0, std::sync::atomic::Ordering::SeqCst);
    restore(&saved);
    let _ = fd;
    ended.ok_or_else(|| "the tracer died; the command was ended with it".to_string())
}

fn restore(saved: &[(Signal, SigAction)]) {
    for (sig, old) in saved {
        // SAFETY: putting back what was there.
        let _ = unsafe { signal::sigaction(*sig, old) };
    }
}
