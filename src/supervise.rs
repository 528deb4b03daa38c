//! guard as the command's parent: fork, exec in the child, wait. The
//! parent forwards the signals sent to it, hands the terminal's
//! foreground to the child, and afterwards mirrors how the child ended
//! (re-raising a fatal signal on itself), so callers see what they would
//! have seen had guard exec'd the command directly. Staying the parent is
//! what lets the audit log record how each command ended.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use crate::exec::ExecError;

/// Signals a caller sends to "the command", which guard passes on.
const FORWARDED: [Signal; 6] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Where forwarded signals go: the child's pid, or minus its process
/// group when it has the terminal. 0 while there is no child.
static TARGET: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: nix::libc::c_int) {
    let target = TARGET.load(Ordering::SeqCst);
    if target != 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { nix::libc::kill(target, sig) };
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    /// The signal, and whether it dumped core.
    Signaled(Signal, bool),
}

impl Ended {
    /// The status a shell reports for it.
    pub fn code(self) -> i32 {
        match self {
            Ended::Exited(c) => c,
            Ended::Signaled(s, _) => 128 + s as i32,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start the command: {0}")]
pub struct SuperviseError(pub nix::Error);

/// Run `exec` (which replaces the process, or returns why not) in a child
/// and wait for it. An exec failure is reported by the child on stderr and
/// ends it with `not_found` (ENOENT) or 126.
pub fn run(
    exec: impl FnOnce() -> ExecError,
    not_found: i32,
) -> Result<(Ended, Duration), SuperviseError> {
    let tty = std::io::stdin();
    // The child gets the terminal only when guard has it now: guard's
    // group is the terminal's foreground.
    let foreground =
        nix::unistd::tcgetpgrp(tty.as_fd()).is_ok_and(|pg| pg == nix::unistd::getpgrp());
    // tcsetpgrp from what becomes a background group must not stop guard.
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing SIG_IGN.
    let ttou = foreground.then(|| unsafe { signal::sigaction(Signal::SIGTTOU, &ignore) });
    // Handlers go in before the fork and the signals stay blocked across
    // it, so one sent meanwhile waits and is forwarded, never lost.
    let saved = install_forwarding();
    let mut blocked = SigSet::empty();
    for sig in FORWARDED {
        blocked.add(sig);
    }
    let _ = blocked.thread_block();
    let started = Instant::now();
    // SAFETY: the child only sets its process group and terminal, restores
    // dispositions and execs; on failure it writes one line and _exits.
    let forked = unsafe { nix::unistd::fork() };
    match forked {
        Err(e) => {
            let _ = blocked.thread_unblock();
            restore(&saved);
            restore_ttou(ttou);
            Err(SuperviseError(e))
        }
        Ok(ForkResult::Child) => {
            if foreground {
                let me = nix::unistd::getpid();
                let _ = nix::unistd::setpgid(me, me);
                let _ = nix::unistd::tcsetpgrp(tty.as_fd(), me);
            }
            restore(&saved);
            restore_ttou(ttou);
            let _ = blocked.thread_unblock();
            let e = exec();
            eprintln!("guard: {e}");
            let code = if e.source == nix::Error::ENOENT {
                not_found
            } else {
                126
            };
            // SAFETY: ends the child without running the parent's exit
            // handlers or flushing its buffers twice.
            unsafe { nix::libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            if foreground {
                let _ = nix::unistd::setpgid(child, child);
                let _ = nix::unistd::tcsetpgrp(tty.as_fd(), child);
                TARGET.store(-child.as_raw(), Ordering::SeqCst);
            } else {
                TARGET.store(child.as_raw(), Ordering::SeqCst);
            }
            let _ = blocked.thread_unblock();
            let ended = wait(child, foreground);
            TARGET.store(0, Ordering::SeqCst);
            restore(&saved);
            if foreground {
                let _ = nix::unistd::tcsetpgrp(tty.as_fd(), nix::unistd::getpgrp());
            }
            restore_ttou(ttou);
            Ok((ended, started.elapsed()))
        }
    }
}

fn restore_ttou(ttou: Option<nix::Result<SigAction>>) {
    if let Some(Ok(old)) = ttou {
        // SAFETY: putting back what was there.
        let _ = unsafe { signal::sigaction(Signal::SIGTTOU, &old) };
    }
}

/// Forward the signals guard would otherwise die of. One that guard
/// ignores (as `nohup` arranges) stays ignored, and so the child, which
/// inherited that, ignores it too.
fn install_forwarding() -> Vec<(Signal, SigAction)> {
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
                // SAFETY: putting back what was there.
                let _ = unsafe { signal::sigaction(sig, &old) };
            } else {
                saved.push((sig, old));
            }
        }
    }
    saved
}

fn restore(saved: &[(Signal, SigAction)]) {
    for (sig, old) in saved {
        // SAFETY: putting back what was there.
        let _ = unsafe { signal::sigaction(*sig, old) };
    }
}

fn wait(child: Pid, foreground: bool) -> Ended {
    loop {
        match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
            Ok(WaitStatus::Exited(_, code)) => return Ended::Exited(code),
            Ok(WaitStatus::Signaled(_, sig, core)) => return Ended::Signaled(sig, core),
            Ok(WaitStatus::Stopped(_, _)) => stop_along(child, foreground),
            Ok(_) | Err(nix::Error::EINTR) => {}
            // ECHILD: someone else reaped it; nothing is left to wait for.
            Err(_) => return Ended::Exited(126),
        }
    }
}

/// The child stopped (Ctrl-Z, SIGSTOP): stop guard too, so whoever runs
/// guard sees the stop it would have seen without guard, and resume the
/// child when guard is continued.
fn stop_along(child: Pid, foreground: bool) {
    let tty = std::io::stdin();
    if foreground {
        let _ = nix::unistd::tcsetpgrp(tty.as_fd(), nix::unistd::getpgrp());
    }
    let _ = signal::raise(Signal::SIGSTOP);
    if foreground {
        let _ = nix::unistd::tcsetpgrp(tty.as_fd(), child);
        let _ = signal::killpg(child, Signal::SIGCONT);
    } else {
        let _ = signal::kill(child, Signal::SIGCONT);
    }
}

/// End guard the way the command ended: the same exit status, or death by
/// the same signal (without a second core dump). Returns only if the
/// signal did not end guard, with the shell's 128+N.
pub fn mirror(ended: Ended) -> i32 {
    if let Ended::Signaled(sig, _) = ended {
        let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // Core limits are per process; guard's dump would only be noise.
        let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
        // SAFETY: default disposition, then the signal is delivered.
        unsafe {
            let _ = signal::sigaction(sig, &dfl);
        }
        let mut set = SigSet::empty();
        set.add(sig);
        let _ = set.thread_unblock();
        let _ = signal::raise(sig);
    }
    ended.code()
}
