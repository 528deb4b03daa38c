//! A credential holder runs in memory that was born undumpable.
//!
//! The kernel makes every program dumpable at its exec, and only the
//! program itself can say otherwise. So between an exec and the seal the
//! tracer injects, another process of the same user can open the new
//! program's `/proc/PID/mem` and keep that descriptor: the kernel checks
//! only at open. Whatever is put into that memory later, it can read.
//!
//! So the process that exec'd (the relay) is sealed and then forked at
//! the program's first instruction. The child's memory is a copy made
//! after the seal, undumpable from its first moment, which nobody else
//! has open; it is checked to be what the exec made (`pristine`), and
//! only then given the credentials and let run the program. The relay
//! runs nothing of the program: it closes its descriptors, sleeps in
//! `pause()`, passes on to the child the signals a process sends it, and
//! ends as the child ended, so whoever waits for it sees what they would
//! have. This is sudo's monitor, made out of the program's own process.

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
    /// How the child ended, once it has.
    pub ended: Option<Ended>,
    /// Ending as the child did: every signal from here on is delivered.
    ending: bool,
}

/// What to do with a stop of the relay.
pub enum Next {
    /// Done with it.
    Handled,
    /// A group-stop: let the tree treat it as any other.
    GroupStop,
}

/// Fork `pid`, sealed and stopped at its exec event with registers `r`,
/// at its first instruction. Returns the relay, and the child stopped
/// with the registers and text its parent had at the exec, plus a signal
/// that reached the parent meanwhile.
pub fn split(pid: Pid, r: libc::user_regs_struct) -> Result<(Relay, Option<Signal>), String> {
    let at = r.rip as ptrace::AddressType;
    let word = ptrace::read(pid, at).map_err(|e| format!("peek {pid}: {e}"))?;
    let mut forked = None;
    let (ret, pending) =
        tracee::inject_syscall_seeing(pid, r, libc::SYS_fork as u32, [0; 5], &mut forked)?;
    let child = forked.ok_or_else(|| format!("fork in {pid}: {ret}"))?;
    if let Err(why) = first_stop(child) {
        tracee::kill(child);
        return Err(why);
    }
    let relay = Relay {
        child,
        child_here: i32::try_from(ret).unwrap_or(0),
        ended: None,
        ending: false,
    };
    // The child was copied with the fork's code over its first
    // instruction. `pristine` checks the page against the file.
    let placed = ptrace::write(child, at, word)
        .map_err(|e| format!("poke {child}: {e}"))
        .and_then(|()| ptrace::setregs(child, r).map_err(|e| format!("setregs {child}: {e}")));
    if let Err(why) = placed.and_then(|()| {
        if relay.child_here > 0 {
            Ok(())
        } else {
            Err(format!("fork in {pid}: {ret}"))
        }
    }) {
        tracee::kill(child);
        return Err(why);
    }
    Ok((relay, pending))
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

impl Relay {
    /// Put the relay (`pid`, stopped) to sleep: its descriptors closed, so
    /// that a pipe the child writes ends when the child does, then in
    /// `pause()` until a signal comes. `pending` reached it meanwhile.
    pub fn park(&self, pid: Pid, pending: Option<Signal>) -> Result<(), String> {
        let r = tracee::regs(pid)?;
        if let Some(sig) = pending {
            self.forward(pid, sig);
        }
        // Without close_range (Linux < 5.9) the descriptors stay open
        // until the relay ends, right after the child.
        let _ = tracee::inject_syscall(
            pid,
            r,
            libc::SYS_close_range as u32,
            [0, u64::from(u32::MAX), 0, 0, 0],
        );
        // mov eax, SYS_pause; syscall
        let mut text = vec![0xb8];
        text.extend_from_slice(&(libc::SYS_pause as u32).to_le_bytes());
        text.extend_from_slice(&[0x0f, 0x05]);
        tracee::poke_code(pid, r.rip, &text)?;
        let mut k = r;
        k.orig_rax = u64::MAX;
        ptrace::setregs(pid, k).map_err(|e| format!("setregs {pid}: {e}"))?;
        ptrace::cont(pid, None).map_err(|e| format!("cont {pid}: {e}"))
    }

    /// The child ended: so will the relay, which is interrupted for it.
    pub fn child_ended(&mut self, relay: Pid, ended: Ended) {
        self.ended = Some(ended);
        let _ = ptrace::interrupt(relay);
    }

    /// A stop of the relay.
    pub fn stopped(&mut self, pid: Pid, status: WaitStatus) -> Next {
        if self.ending {
            let sig = match status {
                WaitStatus::Stopped(_, sig) => Some(sig),
                _ => None,
            };
            let _ = ptrace::cont(pid, sig);
            return Next::Handled;
        }
        if let Some(ended) = self.ended {
            self.finish(pid, ended);
            return Next::Handled;
        }
        match status {
            WaitStatus::Stopped(_, Signal::SIGCHLD) => {
                let _ = ptrace::cont(pid, None);
            }
            WaitStatus::Stopped(_, sig) => {
                // One the kernel sent (a terminal's, a hangup's) went to the
                // child too, as to the whole process group; one a process
                // sent is passed on. An alarm set before the exec is the
                // program's.
                if sent_by_a_process(pid) || sig == Signal::SIGALRM {
                    self.forward(pid, sig);
                }
                let stops = matches!(
                    sig,
                    Signal::SIGSTOP
                        | Signal::SIGTSTP
                        | Signal::SIGTTIN
                        | Signal::SIGTTOU
                        | Signal::SIGCONT
                );
                let _ = ptrace::cont(pid, stops.then_some(sig));
            }
            WaitStatus::PtraceEvent(_, sig, ev)
                if ev == libc::PTRACE_EVENT_STOP
                    && matches!(
                        sig,
                        Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU
                    ) =>
            {
                return Next::GroupStop;
            }
            _ => {
                let _ = ptrace::cont(pid, None);
            }
        }
        Next::Handled
    }

    /// `kill(child, sig)`, made by the relay.
    fn forward(&self, pid: Pid, sig: Signal) {
        if let Ok(r) = tracee::regs(pid) {
            let _ = tracee::inject_syscall(
                pid,
                r,
                libc::SYS_kill as u32,
                [self.child_here as u64, sig as u64, 0, 0, 0],
            );
        }
    }

    /// End the relay as its child ended: the same exit status, or the
    /// same signal with its default action (the relay never ran the
    /// program, so only what the exec kept ignored is not the default).
    fn finish(&mut self, pid: Pid, ended: Ended) {
        self.ending = true;
        let Ok(r) = tracee::regs(pid) else {
            return;
        };
        // Reaped by the relay, so that its times count for whoever waits.
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
        let done = match ended {
            Ended::Exited(code) => tracee::end(pid, r, None, code),
            Ended::Signaled(sig, _) => default_action(pid, r, sig)
                .and_then(|()| tracee::end(pid, r, Some(sig), 128 + sig as i32)),
        };
        if done.is_err() {
            tracee::kill(pid);
        }
    }
}

/// Whether the signal a tracee is stopped with came from `kill`,
/// `sigqueue` or `tgkill` (si_code ≤ 0) rather than from the kernel.
fn sent_by_a_process(pid: Pid) -> bool {
    ptrace::getsiginfo(pid).is_ok_and(|info| info.si_code <= 0)
}

/// `sig` back to its default action and unblocked, in a stopped tracee.
fn default_action(pid: Pid, r: libc::user_regs_struct, sig: Signal) -> Result<(), String> {
    let scratch = r.rsp.checked_sub(4096).ok_or("no stack")? & !15;
    // struct kernel_sigaction: handler SIG_DFL, flags, restorer, mask; then a mask.
    let mut blob = vec![0u8; 32];
    blob.extend_from_slice(&(1u64 << (sig as u64 - 1)).to_ne_bytes());
    tracee::write(pid, scratch, &blob, "signal action")?;
    let (ret, _) = tracee::inject_syscall(
        pid,
        r,
        libc::SYS_rt_sigaction as u32,
        [sig as u64, scratch, 0, 8, 0],
    )?;
    if ret != 0 {
        return Err(format!("rt_sigaction in {pid}: {ret}"));
    }
    let (ret, _) = tracee::inject_syscall(
        pid,
        r,
        libc::SYS_rt_sigprocmask as u32,
        [libc::SIG_UNBLOCK as u64, scratch + 32, 0, 8, 0],
    )?;
    if ret != 0 {
        return Err(format!("rt_sigprocmask in {pid}: {ret}"));
    }
    Ok(())
}
