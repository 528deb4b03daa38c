//! A credential holder runs in memory that was born undumpable.
//!
//! The kernel makes every program dumpable at its exec, and only the
//! program itself can say otherwise. So between an exec and the seal the
//! tracer injects, another process of the same user can open the new
//! program's `/proc/PID/mem` and keep that descriptor: the kernel checks
//! only at open. Whatever is put into that memory later, it can read,
//! and what it writes there, the program runs.
//!
//! So the process that exec'd (the relay) is sealed and then forked at
//! the program's first instruction. The child's memory is a copy made
//! after the seal, undumpable from its first moment, which nobody else
//! has open; it is checked to be what the exec made (`pristine`), and
//! only then given the credentials and let run the program.
//!
//! The relay runs nothing of the program, and nothing of its own memory
//! but one instruction at a time: the agent can still write that memory.
//! It closes its descriptors and sleeps in `pause()`, one instruction
//! stepped; every stop is followed by putting it back to sleep the same
//! way. It passes on to the child the signals a process sends it, and
//! ends as the child ended, so whoever waits for it sees what they would
//! have. Anything else it does (a step that does not sleep, a fault, an
//! exec) means its memory was rewritten, and it is killed, and the child
//! with it. This is sudo's monitor, made out of the program's own
//! process.

use nix::libc;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::tracee;
use crate::supervise::Ended;

/// A process whose program runs in its child.
pub struct Relay {
    /// The child, as the tracer names it.
    pub child: Pid,
    /// The child as the relay names it (its pid namespace may differ).
    child_here: i32,
    /// Where the relay sleeps.
    at: u64,
    /// How the child ended, once it has.
    pub ended: Option<Ended>,
    /// Ending as the child did.
    ending: Option<Ending>,
}

#[derive(Clone, Copy)]
enum Ending {
    /// `exit_group(code)`, and how many times it was stepped.
    Exit(i32, u8),
    /// The signal to die of, and whether it has been delivered.
    Signal(Signal, bool),
    /// SIGKILL, by way of a fault.
    Kill,
}

/// What to do with a stop of the relay.
pub enum Next {
    /// Done with it.
    Handled,
    /// A group-stop: let the tree treat it as any other.
    GroupStop,
}

/// What an interrupted `pause()` returns, before the kernel sees to it.
const ERESTARTNOHAND: i32 = 514;

/// kcmp(2) types.
const KCMP_VM: i32 = 1;
const KCMP_FILES: i32 = 2;
const KCMP_FS: i32 = 3;
const KCMP_SIGHAND: i32 = 4;

/// Fork `pid`, sealed and stopped with registers `r` at the end of its
/// `execve`, at the program's first instruction. Returns the relay, and
/// the child, stopped, with the registers and text its parent had, plus
/// a signal that reached the parent meanwhile.
pub fn split(pid: Pid, r: libc::user_regs_struct) -> Result<(Relay, Option<Signal>), String> {
    let at = r.rip as ptrace::AddressType;
    let word = ptrace::read(pid, at).map_err(|e| format!("peek {pid}: {e}"))?;
    let mut forked = None;
    let called = tracee::inject_syscall_seeing(pid, r, libc::SYS_fork as u32, [0; 5], &mut forked);
    let (ret, pending, child) = match (called, forked) {
        (Ok((ret, pending)), Some(child)) => (ret, pending, child),
        (Err(why), Some(child)) => {
            tracee::kill(child);
            return Err(why);
        }
        (Err(why), None) => return Err(why),
        (Ok((ret, _)), None) => return Err(format!("fork in {pid}: {ret}")),
    };
    let checked = first_stop(child)
        .and_then(|()| separate(pid, child))
        .and_then(|()| {
            let child_here = i32::try_from(ret)
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(|| format!("fork in {pid}: {ret}"))?;
            // The child was copied with the fork's instruction over its
            // first one. `pristine` checks the page against the file.
            ptrace::write(child, at, word).map_err(|e| format!("poke {child}: {e}"))?;
            ptrace::setregs(child, r).map_err(|e| format!("setregs {child}: {e}"))?;
            Ok(child_here)
        });
    match checked {
        Ok(child_here) => Ok((
            Relay {
                child,
                child_here,
                at: r.rip,
                ended: None,
                ending: None,
            },
            pending,
        )),
        Err(why) => {
            tracee::kill(child);
            Err(why)
        }
    }
}

/// A new child's first stop (`PTRACE_EVENT_STOP`), waited for here so
/// that it runs nothing before it is checked.
fn first_stop(child: Pid) -> Result<(), String> {
    loop {
        match waitpid(child, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::PtraceEvent(_, _, ev)) if ev == libc::PTRACE_EVENT_STOP => return Ok(()),
            Err(nix::Error::EINTR) => {}
            other => return Err(format!("the forked {child} did not stop: {other:?}")),
        }
    }
}

/// The kernel's word that the child is a process of its own, sharing
/// neither memory nor descriptors nor anything else with the relay, and
/// undumpable: the fork was a fork.
fn separate(parent: Pid, child: Pid) -> Result<(), String> {
    for (kind, what) in [
        (KCMP_VM, "memory"),
        (KCMP_FILES, "descriptors"),
        (KCMP_FS, "directories"),
        (KCMP_SIGHAND, "signal handlers"),
    ] {
        // SAFETY: kcmp takes two pids, a type and two integers; it reads
        // nothing of this process's memory.
        let same = unsafe {
            libc::syscall(
                libc::SYS_kcmp,
                parent.as_raw(),
                child.as_raw(),
                kind,
                0usize,
                0usize,
            )
        };
        if same != 1 && same != 2 && same != 3 {
            return Err(format!(
                "the forked {child} shares its {what} with {parent} (kcmp: {same})"
            ));
        }
    }
    if !tracee::is_undumpable(child) {
        return Err(format!("the forked {child} is dumpable"));
    }
    Ok(())
}

impl Relay {
    /// Put the relay (`pid`, stopped) to sleep for good: its descriptors
    /// closed, so that a pipe the child writes ends when the child does,
    /// then asleep. `pending` reached it meanwhile.
    pub fn park(&mut self, pid: Pid, pending: Option<Signal>) -> Result<(), String> {
        if let Some(sig) = pending {
            self.forward(pid, sig)?;
        }
        let r = tracee::regs(pid)?;
        let (ret, _) = tracee::inject_syscall(
            pid,
            r,
            libc::SYS_close_range as u32,
            [0, u64::from(u32::MAX), 0, 0, 0],
        )?;
        // Without close_range (Linux < 5.9) the descriptors stay open
        // until the relay ends, right after the child.
        if ret != 0 && ret != -(libc::ENOSYS as i64) {
            return Err(format!("close_range in {pid}: {ret}"));
        }
        let open = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(1, |d| d.count());
        if ret == 0 && open != 0 {
            return Err(format!("{pid} kept {open} descriptors"));
        }
        self.sleep(pid)
    }

    /// `pause()`, one instruction stepped: it sleeps until a signal, and
    /// the signal's stop comes before the step is done.
    fn sleep(&self, pid: Pid) -> Result<(), String> {
        tracee::place_syscall(pid, self.at)?;
        let mut r = tracee::regs(pid)?;
        r.rip = self.at;
        r.rax = libc::SYS_pause as u64;
        r.orig_rax = u64::MAX;
        ptrace::setregs(pid, r).map_err(|e| format!("setregs {pid}: {e}"))?;
        ptrace::step(pid, None).map_err(|e| format!("step {pid}: {e}"))
    }

    /// Set the relay so that, resumed, it faults at once: where it goes
    /// after a stop it does not sleep through is then the tracer's call.
    fn to_fault(&self, pid: Pid) -> Result<(), String> {
        let mut r = tracee::regs(pid)?;
        r.rip = 0;
        r.orig_rax = u64::MAX;
        ptrace::setregs(pid, r).map_err(|e| format!("setregs {pid}: {e}"))
    }

    /// The child ended: so will the relay, which is interrupted for it.
    pub fn child_ended(&mut self, relay: Pid, ended: Ended) {
        self.ended = Some(ended);
        let _ = ptrace::interrupt(relay);
    }

    /// A stop of the relay.
    pub fn stopped(&mut self, pid: Pid, status: WaitStatus) -> Next {
        if let Some(ending) = self.ending {
            self.end_step(pid, status, ending, false);
            return Next::Handled;
        }
        if let Some(ended) = self.ended {
            self.finish(pid, status, ended);
            return Next::Handled;
        }
        let kept = match status {
            WaitStatus::Stopped(_, sig) => self.signal(pid, sig),
            WaitStatus::PtraceEvent(_, sig, ev) if ev == libc::PTRACE_EVENT_STOP => {
                if is_stop(sig) {
                    return Next::GroupStop;
                }
                self.sleep(pid)
            }
            other => Err(format!("the relay {pid} did what it never does: {other:?}")),
        };
        if kept.is_err() {
            tracee::kill(pid);
        }
        Next::Handled
    }

    /// A signal-delivery stop of the relay, asleep.
    fn signal(&self, pid: Pid, sig: Signal) -> Result<(), String> {
        let info = ptrace::getsiginfo(pid).map_err(|e| format!("siginfo {pid}: {e}"))?;
        let from_process = info.si_code <= 0;
        // SAFETY: for a signal a process sent, the kernel filled in the
        // sender's pid.
        let sender = if from_process {
            unsafe { info.si_pid() }
        } else {
            0
        };
        if !from_process {
            let now = tracee::regs(pid)?;
            if sig == Signal::SIGSEGV && now.rip == 0 {
                // `to_fault`'s own: back to sleep.
                return self.sleep(pid);
            }
            // The step's own trap, after `pause()` returned for a signal
            // (which comes next): back to sleep. `pause()` returns nothing
            // else, and no other instruction would leave this there.
            if sig == Signal::SIGTRAP
                && now.rip == self.at + 2
                && now.rax as i64 == -i64::from(ERESTARTNOHAND)
            {
                return self.sleep(pid);
            }
            if matches!(
                sig,
                Signal::SIGTRAP
                    | Signal::SIGSEGV
                    | Signal::SIGBUS
                    | Signal::SIGILL
                    | Signal::SIGFPE
                    | Signal::SIGSYS
            ) {
                // It stepped past `pause()`, or faulted in code it never
                // had: its memory was rewritten.
                return Err(format!("the relay {pid} left its sleep ({sig:?})"));
            }
        }
        // One the kernel sent (a terminal's, a hangup's) went to the
        // child too, through the process group; one a process other than
        // the child sent is passed on. An alarm set before the exec is
        // the program's.
        if (from_process && sender != self.child_here) || (!from_process && sig == Signal::SIGALRM)
        {
            self.forward(pid, sig)?;
        }
        if sig == Signal::SIGCHLD || !is_stop(sig) {
            return self.sleep(pid);
        }
        // It stops too, so job control sees the job stop; when it is
        // continued it faults, and is put back to sleep.
        self.to_fault(pid)?;
        ptrace::cont(pid, Some(sig)).map_err(|e| format!("cont {pid}: {e}"))
    }

    /// A signal-delivery stop of the relay for a real-time signal, which
    /// `Signal` cannot name: passed on as any other a process sent.
    pub fn raw_signal(&self, pid: Pid, signo: i32) -> Result<(), String> {
        let info = ptrace::getsiginfo(pid).map_err(|e| format!("siginfo {pid}: {e}"))?;
        // SAFETY: for a signal a process sent, the kernel filled in the
        // sender's pid.
        if info.si_code <= 0 && unsafe { info.si_pid() } != self.child_here {
            self.forward_number(pid, signo)?;
        }
        self.sleep(pid)
    }

    /// `kill(child, sig)`, made by the relay.
    fn forward(&self, pid: Pid, sig: Signal) -> Result<(), String> {
        self.forward_number(pid, sig as i32)
    }

    fn forward_number(&self, pid: Pid, sig: i32) -> Result<(), String> {
        if self.child_here <= 0 {
            return Err("no child to pass a signal to".to_string());
        }
        // At its own place: after a stop it does not sleep through, it
        // may be at address 0.
        let mut r = tracee::regs(pid)?;
        r.rip = self.at;
        tracee::inject_syscall(
            pid,
            r,
            libc::SYS_kill as u32,
            [
                self.child_here as u64,
                u64::from(sig.unsigned_abs()),
                0,
                0,
                0,
            ],
        )
        .map(|_| ())
    }

    /// End the relay as its child ended: reaped, so that its times count
    /// for whoever waits; then the same exit status, made by one
    /// instruction, or the same signal, delivered by the tracer.
    fn finish(&mut self, pid: Pid, status: WaitStatus, ended: Ended) {
        if let Ok(mut r) = tracee::regs(pid) {
            r.rip = self.at;
            let _ = tracee::inject_syscall(
                pid,
                r,
                libc::SYS_wait4 as u32,
                [
                    self.child_here as u64,
                    0,
                    (libc::WNOHANG | libc::__WALL) as u64,
                    0,
                    0,
                ],
            );
        }
        let ending = match ended {
            Ended::Exited(code) => Ending::Exit(code, 0),
            Ended::Signaled(sig, _) => Ending::Signal(sig, false),
        };
        self.end_step(pid, status, ending, true);
    }

    /// One step of ending:
    /// - an exit status is one `exit_group` instruction, stepped again
    ///   after any stop that came first, and a step that does not end it
    ///   is a rewritten instruction: SIGKILL then;
    /// - a signal is delivered at a signal-delivery stop, which any other
    ///   stop is sent to fault to make, and if that does not end it (a
    ///   signal it ignores), SIGKILL.
    ///
    /// `first`: `status` is the stop ending began at, not one after a
    /// step of it.
    fn end_step(&mut self, pid: Pid, status: WaitStatus, ending: Ending, first: bool) {
        let stepped = match status {
            _ if first => false,
            WaitStatus::Stopped(_, Signal::SIGTRAP) => {
                ptrace::getsiginfo(pid).is_ok_and(|i| i.si_code > 0)
            }
            _ => false,
        };
        let next = match ending {
            Ending::Exit(_, tries) if stepped || tries >= 8 => Ending::Kill,
            Ending::Exit(code, tries) => Ending::Exit(code, tries + 1),
            other => other,
        };
        self.ending = Some(next);
        let done = match (next, status) {
            (Ending::Exit(code, _), _) => tracee::place_syscall(pid, self.at).and_then(|_| {
                let mut r = tracee::regs(pid)?;
                r.rip = self.at;
                r.rax = libc::SYS_exit_group as u64;
                r.rdi = code as u64;
                r.orig_rax = u64::MAX;
                ptrace::setregs(pid, r).map_err(|e| e.to_string())?;
                ptrace::step(pid, None).map_err(|e| e.to_string())
            }),
            (Ending::Signal(sig, delivered), WaitStatus::Stopped(..)) => {
                let give = if delivered { Signal::SIGKILL } else { sig };
                self.ending = Some(Ending::Signal(sig, true));
                self.to_fault(pid)
                    .and_then(|()| ptrace::cont(pid, Some(give)).map_err(|e| e.to_string()))
            }
            (Ending::Kill, WaitStatus::Stopped(..)) => self
                .to_fault(pid)
                .and_then(|()| ptrace::cont(pid, Some(Signal::SIGKILL)).map_err(|e| e.to_string())),
            _ => self
                .to_fault(pid)
                .and_then(|()| ptrace::cont(pid, None).map_err(|e| e.to_string())),
        };
        if done.is_err() {
            tracee::kill(pid);
        }
    }
}

/// A signal that stops a process (a group-stop).
pub(super) fn is_stop(sig: Signal) -> bool {
    matches!(
        sig,
        Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU
    )
}
