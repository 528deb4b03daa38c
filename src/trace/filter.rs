//! The seccomp filters a traced tree runs under, installed by the process
//! that becomes its root, just before it execs (and inherited by every
//! descendant; none can remove them).
//!
//! One filter with two actions for what it matches (seccompiler builds
//! one program per action; the two are chained, see `chain`):
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

/// The classic BPF opcodes `chain` rewrites, and the action it looks for.
const BPF_RET_K: u16 = 0x06;
const BPF_JMP_JA: u16 = 0x05;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// One program that answers as `first`, except that where `first` would
/// allow, `then` answers. Every `ret ALLOW` of `first` becomes a jump to
/// the start of `then`, so the kernel runs one filter per system call
/// (and the tracer installs one per line) instead of two.
fn chain(first: &BpfProgram, then: &BpfProgram) -> Result<BpfProgram, String> {
    let mut out = Vec::with_capacity(first.len() + then.len());
    for (i, ins) in first.iter().enumerate() {
        if ins.code == BPF_RET_K && ins.k == SECCOMP_RET_ALLOW {
            let skip = u32::try_from(first.len() - i - 1).map_err(|e| e.to_string())?;
            out.push(seccompiler::sock_filter {
                code: BPF_JMP_JA,
                jt: 0,
                jf: 0,
                k: skip,
            });
        } else {
            out.push(seccompiler::sock_filter { ..*ins });
        }
    }
    out.extend(then.iter().map(|ins| seccompiler::sock_filter { ..*ins }));
    // The kernel's limit (BPF_MAXINSNS).
    if out.len() > 4096 {
        return Err(format!("seccomp filter of {} instructions", out.len()));
    }
    Ok(out)
}

/// The filter: exec calls stop for the tracer, the calls that steer other
/// processes or type into terminals fail, the rest run.
pub fn program() -> Result<BpfProgram, String> {
    let (exec, deny) = parts()?;
    chain(&exec, &deny)
}

/// The two programs `program` chains: one per action.
fn parts() -> Result<(BpfProgram, BpfProgram), String> {
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
    Ok((compile(exec)?, compile(deny)?))
}

/// The filter, built once per process: the broker installs it in every
/// traced line.
pub fn shared() -> Result<&'static BpfProgram, String> {
    static BUILT: std::sync::OnceLock<Result<BpfProgram, String>> = std::sync::OnceLock::new();
    BUILT.get_or_init(program).as_ref().map_err(Clone::clone)
}

/// Install the filter on this process (no_new_privs is set on the way:
/// set-user-ID programs in the tree do not gain privileges). Built
/// before any fork, so the child only makes system calls.
pub fn install(program: &BpfProgram) -> Result<(), String> {
    seccompiler::apply_filter(program).map_err(|e| format!("cannot install the exec filter: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RET_TRACE: u32 = 0x7ff0_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;

    /// Classic BPF, as far as seccompiler's programs go, run over a
    /// `struct seccomp_data` (nr, arch, ip, args).
    fn run(prog: &BpfProgram, nr: i64, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend_from_slice(&(nr as u32).to_ne_bytes());
        data.extend_from_slice(&arch.to_ne_bytes());
        data.extend_from_slice(&0u64.to_ne_bytes());
        for a in args {
            data.extend_from_slice(&a.to_ne_bytes());
        }
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let ins = &prog[pc];
            pc += 1;
            let (code, k) = (ins.code, ins.k);
            let cond = |taken: bool| {
                if taken {
                    ins.jt as usize
                } else {
                    ins.jf as usize
                }
            };
            match code {
                0x20 => {
                    let at = k as usize;
                    a = u32::from_ne_bytes(data[at..at + 4].try_into().expect("word"));
                }
                0x54 => a &= k,
                0x05 => pc += k as usize,
                0x15 => pc += cond(a == k),
                0x25 => pc += cond(a > k),
                0x35 => pc += cond(a >= k),
                0x45 => pc += cond(a & k != 0),
                0x06 => return k,
                other => panic!("opcode {other:#x} at {}", pc - 1),
            }
        }
    }

    /// Each system call as the one chained program answers it, and as the
    /// two programs it was made of would (the stricter action wins, as
    /// the kernel combines filters).
    #[test]
    fn the_chained_filter_answers_as_the_two_did() {
        if std::env::consts::ARCH != "x86_64" {
            return;
        }
        let one = program().expect("program");
        let x86 = AUDIT_ARCH_X86_64;
        let cases: &[(&str, i64, u32, u64, u32)] = &[
            ("execve", nix::libc::SYS_execve, x86, 0, RET_TRACE),
            ("execveat", nix::libc::SYS_execveat, x86, 0, RET_TRACE),
            ("x32 execve", X32 + 520, x86, 0, RET_ERRNO | 1),
            ("ptrace", nix::libc::SYS_ptrace, x86, 0, RET_ERRNO | 1),
            (
                "process_vm_writev",
                nix::libc::SYS_process_vm_writev,
                x86,
                0,
                RET_ERRNO | 1,
            ),
            (
                "pidfd_getfd",
                nix::libc::SYS_pidfd_getfd,
                x86,
                0,
                RET_ERRNO | 1,
            ),
            (
                "ioctl TIOCSTI",
                nix::libc::SYS_ioctl,
                x86,
                TIOCSTI,
                RET_ERRNO | 1,
            ),
            (
                "ioctl TIOCLINUX",
                nix::libc::SYS_ioctl,
                x86,
                TIOCLINUX,
                RET_ERRNO | 1,
            ),
            (
                "ioctl TCGETS",
                nix::libc::SYS_ioctl,
                x86,
                0x5401,
                SECCOMP_RET_ALLOW,
            ),
            ("read", nix::libc::SYS_read, x86, 0, SECCOMP_RET_ALLOW),
            ("clone", nix::libc::SYS_clone, x86, 0, SECCOMP_RET_ALLOW),
            (
                "process_vm_readv",
                nix::libc::SYS_process_vm_readv,
                x86,
                0,
                SECCOMP_RET_ALLOW,
            ),
        ];
        for (name, nr, arch, arg1, want) in cases {
            let args = [0, *arg1, 0, 0, 0, 0];
            assert_eq!(run(&one, *nr, *arch, args), *want, "{name}");
        }
        // Another architecture's calls (i386 through int 0x80) do not
        // get to run at all.
        let killed = run(&one, 11, AUDIT_ARCH_I386, [0; 6]);
        // SECCOMP_RET_KILL_PROCESS or SECCOMP_RET_KILL_THREAD.
        assert!(
            killed == 0x8000_0000 || killed == 0,
            "i386 execve answered {killed:#x}"
        );
        assert!(one.len() < 4096);
        // And every system call number, native and x32, with each ioctl
        // the deny filter names: the chained program answers as the two
        // would, installed one after the other. The kernel takes the
        // stricter action, the lower as a signed number.
        let (exec, deny) = parts().expect("parts");
        let stricter = |a: u32, b: u32| if (a as i32) <= (b as i32) { a } else { b };
        for nr in (0..512).chain(X32..X32 + 560) {
            for arg1 in [0, TIOCSTI, TIOCLINUX] {
                let args = [0, arg1, 0, 0, 0, 0];
                let two = stricter(run(&exec, nr, x86, args), run(&deny, nr, x86, args));
                assert_eq!(run(&one, nr, x86, args), two, "nr {nr:#x} arg {arg1:#x}");
            }
        }
    }
}
