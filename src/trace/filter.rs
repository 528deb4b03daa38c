//! The seccomp filters a traced tree runs under, installed by the process
//! that becomes its root, just before it execs (and inherited by every
//! descendant; none can remove them).
//!
//! Two filters, since a filter has one action for what it matches:
//! - `execve`/`execveat` stop for the tracer (`SECCOMP_RET_TRACE`); with
//!   no tracer attached they fail with ENOSYS, so nothing execs unseen;
//! - `ptrace`, `process_vm_writev`, `pidfd_getfd` and the terminal
//!   ioctls that type into a terminal (`TIOCSTI`, `TIOCLINUX`) fail with
//!   EPERM: nothing in the tree can steer another process, outside the
//!   tree or in it, or type into a terminal where approvals are given.
//!   (Every process in the tree is already traced by guard, so no
//!   attach to one could succeed anyway.)
//!
//! The x32 ABI's numbers for the same calls fail too, and any other
//! architecture's system calls (i386 via `int 0x80`) kill the process:
//! seccompiler checks the architecture first.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// The x32 ABI's system call numbers have this bit set.
const X32: i64 = 0x4000_0000;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;

fn arch() -> Result<seccompiler::TargetArch, String> {
    std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("no seccomp support for {}: {e:?}", std::env::consts::ARCH))
}

fn compile(filter: SeccompFilter) -> Result<BpfProgram, String> {
    filter
        .try_into()
        .map_err(|e| format!("seccomp filter: {e}"))
}

/// Build both filters.
pub fn programs() -> Result<[BpfProgram; 2], String> {
    let exec = SeccompFilter::new(
        BTreeMap::from([
            (nix::libc::SYS_execve, Vec::new()),
            (nix::libc::SYS_execveat, Vec::new()),
        ]),
        SeccompAction::Allow,
        SeccompAction::Trace(0),
        arch()?,
    )
    .map_err(|e| e.to_string())?;
    let ioctl = |cmd: u64| {
        SeccompRule::new(vec![SeccompCondition::new(
            1,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            cmd,
        )
        .map_err(|e| e.to_string())?])
        .map_err(|e| e.to_string())
    };
    let mut refused: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in [
        nix::libc::SYS_ptrace,
        nix::libc::SYS_process_vm_writev,
        nix::libc::SYS_pidfd_getfd,
        // x32: execve, execveat, ptrace, process_vm_writev, pidfd_getfd.
        X32 + 520,
        X32 + 545,
        X32 + 521,
        X32 + 540,
        X32 + 438,
    ] {
        refused.insert(nr, Vec::new());
    }
    refused.insert(
        nix::libc::SYS_ioctl,
        vec![ioctl(TIOCSTI)?, ioctl(TIOCLINUX)?],
    );
    refused.insert(X32 + 514, vec![ioctl(TIOCSTI)?, ioctl(TIOCLINUX)?]);
    let deny = SeccompFilter::new(
        refused,
        SeccompAction::Allow,
        SeccompAction::Errno(nix::libc::EPERM as u32),
        arch()?,
    )
    .map_err(|e| e.to_string())?;
    Ok([compile(exec)?, compile(deny)?])
}

/// Install the filters on this process (no_new_privs is set on the way:
/// set-user-ID programs in the tree do not gain privileges). Built
/// before any fork, so the child only makes system calls.
pub fn install(programs: &[BpfProgram; 2]) -> Result<(), String> {
    for p in programs {
        seccompiler::apply_filter(p).map_err(|e| format!("cannot install the exec filter: {e}"))?;
    }
    Ok(())
}
