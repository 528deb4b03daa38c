//! Reading and steering a tracee stopped at `execve`/`execveat` entry:
//! its registers, the path, argv and environment in its memory, and the
//! three things the tracer does to a call: let it go, fail it (EACCES),
//! or give it a different environment (granted credentials).
//!
//! x86_64 only: the syscall arguments are rdi, rsi, rdx, r10, r8.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::libc;
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

/// Limits on what is read from a tracee, as the kernel's own (ARG_MAX
/// is at most a quarter of the stack; guard takes a fixed 2 MiB).
const MAX_STRING: usize = 128 * 1024;
const MAX_TOTAL: usize = 2 << 20;
const MAX_ENTRIES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecArgs {
    pub execveat: bool,
    /// `execveat`'s directory descriptor (`AT_FDCWD` for execve).
    pub dirfd: i32,
    /// `execveat`'s flags (`AT_EMPTY_PATH`: run the descriptor itself).
    pub flags: i32,
    pub path: String,
    pub argv: Vec<String>,
    /// Each environment entry's address in the tracee and its text.
    pub env: Vec<(u64, String)>,
}

/// Write `blob` at `addr` in the tracee, whole or not at all.
pub(super) fn write(pid: Pid, addr: u64, blob: &[u8], what: &str) -> Result<(), String> {
    let local = [std::io::IoSlice::new(blob)];
    let remote = [RemoteIoVec {
        base: usize::try_from(addr).map_err(err)?,
        len: blob.len(),
    }];
    let n = process_vm_writev(pid, &local, &remote).map_err(|e| format!("write {pid}: {e}"))?;
    if n != blob.len() {
        return Err(format!("short write of the {what}"));
    }
    Ok(())
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn regs(pid: Pid) -> Result<libc::user_regs_struct, String> {
    nix::sys::ptrace::getregs(pid).map_err(|e| format!("getregs {pid}: {e}"))
}

/// Read up to `buf.len()` bytes at `addr`, stopping early at an unmapped
/// page (process_vm_readv reads nothing past one).
pub(super) fn read_at(pid: Pid, addr: u64, buf: &mut [u8]) -> Result<usize, String> {
    let len = buf.len();
    let mut local = [std::io::IoSliceMut::new(buf)];
    let remote = [RemoteIoVec {
        base: usize::try_from(addr).map_err(err)?,
        len,
    }];
    match process_vm_readv(pid, &mut local, &remote) {
        Ok(n) => Ok(n),
        Err(e) => Err(format!("read {pid}@{addr:#x}: {e}")),
    }
}

const PAGE: u64 = 4096;

/// A tracee's memory, read a page at a time and kept while one call is
/// examined: argv and environment strings share a few pages, and each
/// read is a system call.
struct Mem {
    pid: Pid,
    /// By base address; a call's strings span a handful of pages, so a
    /// list is quicker to search than a map is to hash.
    pages: Vec<(u64, Vec<u8>)>,
}

impl Mem {
    fn new(pid: Pid) -> Mem {
        Mem {
            pid,
            pages: Vec::new(),
        }
    }

    fn page(&mut self, base: u64) -> Result<&[u8], String> {
        let i = match self.pages.iter().position(|(b, _)| *b == base) {
            Some(i) => i,
            None => {
                let mut buf = vec![0u8; PAGE as usize];
                let n = read_at(self.pid, base, &mut buf)?;
                if n == 0 {
                    return Err(format!("unreadable memory at {base:#x}"));
                }
                buf.truncate(n);
                self.pages.push((base, buf));
                self.pages.len() - 1
            }
        };
        Ok(self
            .pages
            .get(i)
            .map(|(_, p)| p.as_slice())
            .unwrap_or_default())
    }

    fn byte(&mut self, at: u64) -> Result<u8, String> {
        let base = at - at % PAGE;
        let page = self.page(base)?;
        page.get((at - base) as usize)
            .copied()
            .ok_or_else(|| format!("unreadable memory at {at:#x}"))
    }

    /// A NUL-terminated string at `addr`.
    fn string(&mut self, addr: u64) -> Result<String, String> {
        if addr == 0 {
            return Err("null pointer".to_string());
        }
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            let base = at - at % PAGE;
            let off = (at - base) as usize;
            let page = self.page(base)?;
            let tail = page.get(off..).unwrap_or_default();
            if tail.is_empty() {
                return Err(format!("unreadable string at {addr:#x}"));
            }
            if let Some(end) = tail.iter().position(|&b| b == 0) {
                out.extend_from_slice(&tail[..end]);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            out.extend_from_slice(tail);
            at = base + page.len() as u64;
            if out.len() > MAX_STRING {
                return Err(format!(
                    "string at {addr:#x} is longer than {MAX_STRING} bytes"
                ));
            }
        }
    }

    /// A NULL-terminated array of pointers at `addr`.
    fn pointers(&mut self, addr: u64) -> Result<Vec<u64>, String> {
        let mut out = Vec::new();
        if addr == 0 {
            // Linux takes a null argv or envp as empty.
            return Ok(out);
        }
        let mut at = addr;
        loop {
            let mut word = [0u8; 8];
            let base = at - at % PAGE;
            let off = (at - base) as usize;
            match self.page(base)?.get(off..off + 8) {
                Some(w) => word.copy_from_slice(w),
                // Straddles a page (or the page was read short).
                None => {
                    for (i, b) in word.iter_mut().enumerate() {
                        *b = self.byte(at + i as u64)?;
                    }
                }
            }
            let p = u64::from_ne_bytes(word);
            if p == 0 {
                return Ok(out);
            }
            out.push(p);
            if out.len() > MAX_ENTRIES {
                return Err("too many arguments".to_string());
            }
            at += 8;
        }
    }
}

/// What an `execve`/`execveat` stopped at entry is asked to do.
pub fn exec_args(pid: Pid, r: &libc::user_regs_struct) -> Result<ExecArgs, String> {
    let execveat = r.orig_rax == libc::SYS_execveat as u64;
    let (dirfd, path, argv, envp, flags) = if execveat {
        (r.rdi as i32, r.rsi, r.rdx, r.r10, r.r8 as i32)
    } else {
        (libc::AT_FDCWD, r.rdi, r.rsi, r.rdx, 0)
    };
    let mut mem = Mem::new(pid);
    let path = if path == 0 && flags & libc::AT_EMPTY_PATH != 0 {
        String::new()
    } else {
        mem.string(path)?
    };
    let mut total = path.len();
    let mut words = Vec::new();
    for p in mem.pointers(argv)? {
        let s = mem.string(p)?;
        total += s.len() + 1;
        words.push(s);
        if total > MAX_TOTAL {
            return Err("argument list too long".to_string());
        }
    }
    let mut env = Vec::new();
    for p in mem.pointers(envp)? {
        let s = mem.string(p)?;
        total += s.len() + 1;
        env.push((p, s));
        if total > MAX_TOTAL {
            return Err("environment too long".to_string());
        }
    }
    Ok(ExecArgs {
        execveat,
        dirfd,
        flags,
        path,
        argv: words,
        env,
    })
}

/// Make the stopped call return `-errno` without running it.
pub fn fail(pid: Pid, mut r: libc::user_regs_struct, errno: i32) -> Result<(), String> {
    r.orig_rax = u64::MAX;
    r.rax = (-(errno as i64)) as u64;
    nix::sys::ptrace::setregs(pid, r).map_err(|e| format!("setregs {pid}: {e}"))
}

/// The name of an environment entry (`NAME=value`).
pub fn env_name(entry: &str) -> &str {
    entry.split('=').next().unwrap_or(entry)
}

/// Give the stopped exec a different environment: the old entries (by
/// address, less those `add` or `drop` names) plus `add`, written below
/// the stack pointer (past the red zone), where nothing lives during the
/// call and which the exec replaces anyway.
pub fn set_env(
    pid: Pid,
    mut r: libc::user_regs_struct,
    args: &ExecArgs,
    add: &[(String, String)],
    drop: &dyn Fn(&str) -> bool,
    rewrite: bool,
) -> Result<Vec<String>, String> {
    let names: Vec<&str> = add.iter().map(|(k, _)| k.as_str()).collect();
    let gone = |entry: &str| {
        let name = env_name(entry);
        names.contains(&name) || drop(name)
    };
    // `rewrite`: `args.env` is already less than what the call passes
    // (a repeated name's later entries), so the table is written anyway.
    if !rewrite && add.is_empty() && !args.env.iter().any(|(_, s)| gone(s)) {
        return Ok(args.env.iter().map(|(_, s)| s.clone()).collect());
    }
    let (kept, mut passed): (Vec<u64>, Vec<String>) = args
        .env
        .iter()
        .filter(|(_, s)| !gone(s))
        .map(|(p, s)| (*p, s.clone()))
        .unzip();
    passed.extend(add.iter().map(|(k, v)| format!("{k}={v}")));
    let mut strings: Vec<u8> = Vec::new();
    let mut offsets = Vec::new();
    for (k, v) in add {
        offsets.push(strings.len());
        strings.extend_from_slice(k.as_bytes());
        strings.push(b'=');
        strings.extend_from_slice(v.as_bytes());
        strings.push(0);
    }
    let count = kept.len() + add.len() + 1;
    let table_len = count * 8;
    let total = (table_len + strings.len()).div_ceil(16) * 16;
    let base = r
        .rsp
        .checked_sub(128 + total as u64)
        .ok_or("no room below the stack pointer")?
        & !15;
    let strings_at = base + table_len as u64;
    let mut table: Vec<u8> = Vec::with_capacity(table_len);
    for p in &kept {
        table.extend_from_slice(&p.to_ne_bytes());
    }
    for off in &offsets {
        table.extend_from_slice(&(strings_at + *off as u64).to_ne_bytes());
    }
    table.extend_from_slice(&0u64.to_ne_bytes());
    let mut blob = table;
    blob.extend_from_slice(&strings);
    write(pid, base, &blob, "environment")?;
    if args.execveat {
        r.r10 = base;
    } else {
        r.rdx = base;
    }
    nix::sys::ptrace::setregs(pid, r).map_err(|e| format!("setregs {pid}: {e}"))?;
    Ok(passed)
}

/// `PR_SET_DUMPABLE` 0 in a stopped tracee (`r`: its registers): from
/// then on only a process with `CAP_SYS_PTRACE` can open its memory.
pub fn undumpable(
    pid: Pid,
    r: libc::user_regs_struct,
) -> Result<Option<nix::sys::signal::Signal>, String> {
    let (ret, pending) = inject_syscall(
        pid,
        r,
        libc::SYS_prctl as u32,
        [libc::PR_SET_DUMPABLE as u64, 0, 0, 0, 0],
    )?;
    if ret != 0 || !is_undumpable(pid) {
        return Err(format!("prctl(PR_SET_DUMPABLE) in {pid}: {ret}"));
    }
    Ok(pending)
}

/// Seal a process stopped at its exec event (`PTRACE_EVENT_EXEC`, before
/// the new program's first instruction) that is to hold credentials:
/// make it undumpable, so that no other process of its user can read its
/// memory or `/proc/PID/environ`, and only then put `add` into the
/// environment its program starts with. The values are never in the
/// environment the kernel copied, so `/proc/PID/environ` would not show
/// them even to root. Needs a tracer with `CAP_SYS_PTRACE`: an undumpable
/// process's memory is closed to a tracer without it. Returns a signal
/// that arrived meanwhile, for the caller to deliver.
///
/// A credential that is a file (`files`) is made there too: a memfd of
/// the sealed process, created by it, which its variable names as
/// `/proc/self/fd/N`. Another process of the user cannot open that
/// (`/proc/PID/fd` of an undumpable process is closed to it), and no file
/// of it is ever on disk or in the client. A variable that names a
/// directory of such files names one of links to them (`links`).
pub fn seal(
    pid: Pid,
    add: &[(String, String)],
    files: &[super::SecretFile],
    execfn: &str,
) -> Result<Option<nix::sys::signal::Signal>, String> {
    let r = regs(pid)?;
    let mut pending = undumpable(pid, r)?;
    let mut add = add.to_vec();
    let mut dirs: Vec<(String, Vec<(String, i32)>)> = Vec::new();
    for f in files {
        let (fd, sig) = memfd(pid, r, &f.var, f.content.as_bytes())?;
        pending = pending.or(sig);
        add.retain(|(k, _)| *k != f.var);
        match &f.name {
            None => add.push((f.var.clone(), format!("/proc/self/fd/{fd}"))),
            Some(name) => match dirs.iter_mut().find(|(v, _)| *v == f.var) {
                Some((_, entries)) => entries.push((name.clone(), fd)),
                None => dirs.push((f.var.clone(), vec![(name.clone(), fd)])),
            },
        }
    }
    for (var, entries) in dirs {
        let dir = super::links::dir(&entries)?;
        add.push((var, dir.display().to_string()));
    }
    push_env(pid, r, &add, execfn)?;
    Ok(pending)
}

/// Room below a stopped program's stack pointer that `memfd` uses for
/// what it writes: the kernel maps at least 128 KiB of stack below the
/// arguments at exec, and `push_env` builds its new stack there after.
const SCRATCH: u64 = 32 * 1024;

/// In a process stopped at its exec event and already undumpable: a
/// memfd holding `content`, mode 0600 (libpq and ssh ignore a group- or
/// world-readable secret file), close-on-exec (a later exec that is to
/// have it is sealed and given its own; one that is not must not inherit
/// it), at descriptor 100 or above, out of the way of a script's `3>`.
fn memfd(
    pid: Pid,
    r: libc::user_regs_struct,
    name: &str,
    content: &[u8],
) -> Result<(i32, Option<nix::sys::signal::Signal>), String> {
    let scratch = r
        .rsp
        .checked_sub(128 + SCRATCH)
        .ok_or("no room below the stack pointer")?
        & !15;
    let mut pending = None;
    let mut call = |nr: i64, args: [u64; 5], what: &str| -> Result<i64, String> {
        let (ret, sig) = inject_syscall(pid, r, nr as u32, args)?;
        pending = pending.or(sig);
        if ret < 0 {
            return Err(format!("{what} in {pid} for {name}: errno {}", -ret));
        }
        Ok(ret)
    };
    let mut label = format!("guard-{name}").into_bytes();
    label.truncate(200);
    label.push(0);
    write(pid, scratch, &label, "memfd name")?;
    const MFD_CLOEXEC: u64 = 1;
    let first = call(
        libc::SYS_memfd_create,
        [scratch, MFD_CLOEXEC, 0, 0, 0],
        "memfd_create",
    )?;
    let fd = match call(
        libc::SYS_fcntl,
        [first as u64, libc::F_DUPFD_CLOEXEC as u64, 100, 0, 0],
        "fcntl",
    ) {
        Ok(high) => {
            call(libc::SYS_close, [first as u64, 0, 0, 0, 0], "close")?;
            high
        }
        // A descriptor limit under 100: where it is will do.
        Err(_) => first,
    };
    call(libc::SYS_fchmod, [fd as u64, 0o600, 0, 0, 0], "fchmod")?;
    for chunk in content.chunks(SCRATCH as usize) {
        write(pid, scratch, chunk, "credential file")?;
        let mut done = 0;
        while done < chunk.len() {
            let n = call(
                libc::SYS_write,
                [
                    fd as u64,
                    scratch + done as u64,
                    (chunk.len() - done) as u64,
                    0,
                    0,
                ],
                "write",
            )?;
            if n == 0 {
                return Err(format!("write in {pid} for {name}: no progress"));
            }
            done += n as usize;
        }
    }
    // The stack below is the program's own, and sealed, but it need not
    // start with a copy of the secret in it.
    write(
        pid,
        scratch,
        &vec![0u8; content.len().min(SCRATCH as usize)],
        "scratch",
    )?;
    let fd = i32::try_from(fd).map_err(|_| format!("memfd {fd} in {pid}"))?;
    Ok((fd, pending))
}

/// Install the exec filters in a seized tracee, whatever it is doing (the
/// broker does this to its client rather than trust the client to have
/// done it): interrupted, made to call `prctl(PR_SET_NO_NEW_PRIVS)` and
/// `seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)` for each filter, and let go.
/// Filters only add up, so one the tracee installed itself can only make
/// it stricter; and an exec the tracer did not decide is killed at its
/// exec event whatever any filter said.
pub fn install_filters(
    pid: Pid,
    programs: &[seccompiler::BpfProgram],
) -> Result<(u32, u32), String> {
    use nix::sys::ptrace;
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    ptrace::interrupt(pid).map_err(|e| format!("interrupt {pid}: {e}"))?;
    let mut pending = None;
    loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::PtraceEvent(_, _, ev)) if ev == libc::PTRACE_EVENT_STOP => break,
            Ok(WaitStatus::Stopped(_, sig)) => {
                pending = Some(sig);
                ptrace::cont(pid, None).map_err(|e| format!("cont {pid}: {e}"))?;
            }
            Ok(WaitStatus::PtraceEvent(..)) | Ok(WaitStatus::PtraceSyscall(_)) => {
                ptrace::cont(pid, None).map_err(|e| format!("cont {pid}: {e}"))?;
            }
            Ok(WaitStatus::StillAlive) | Err(nix::Error::EINTR) => {}
            Ok(other) => return Err(format!("{pid} is gone: {other:?}")),
            Err(e) => return Err(format!("wait {pid}: {e}")),
        }
    }
    let r = regs(pid)?;
    // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    // then each program's instructions (code u16, jt u8, jf u8, k u32).
    let heads = 16 * programs.len();
    let body: usize = programs.iter().map(|p| 8 * p.len()).sum();
    let total = (heads + body).div_ceil(16) * 16;
    let base = r
        .rsp
        .checked_sub(128 + total as u64 + 16)
        .ok_or("no room below the stack pointer")?
        & !15;
    let mut blob = Vec::with_capacity(total);
    let mut at = base + heads as u64;
    for p in programs {
        let len = u16::try_from(p.len()).map_err(|_| "filter too long".to_string())?;
        blob.extend_from_slice(&len.to_ne_bytes());
        blob.extend_from_slice(&[0u8; 6]);
        blob.extend_from_slice(&at.to_ne_bytes());
        at += 8 * p.len() as u64;
    }
    for p in programs {
        for i in p {
            blob.extend_from_slice(&i.code.to_ne_bytes());
            blob.push(i.jt);
            blob.push(i.jf);
            blob.extend_from_slice(&i.k.to_ne_bytes());
        }
    }
    write(pid, base, &blob, "filter")?;
    // One stop, not one per call: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    // and seccomp(SET_MODE_FILTER, TSYNC, &fprog) for each filter, run
    // from text written over the tracee's own and ended by int3; what
    // they did is read back from /proc rather than from registers.
    let before = seccomp_state(pid)?;
    let mut code: Vec<u8> = Vec::new();
    let mov = |code: &mut Vec<u8>, op: u8, v: u32| {
        code.push(op);
        code.extend_from_slice(&v.to_le_bytes());
    };
    mov(&mut code, 0xb8, libc::SYS_prctl as u32);
    mov(&mut code, 0xbf, libc::PR_SET_NO_NEW_PRIVS as u32);
    mov(&mut code, 0xbe, 1);
    code.extend_from_slice(&[0x31, 0xd2, 0x45, 0x31, 0xd2, 0x45, 0x31, 0xc0, 0x0f, 0x05]);
    for i in 0..programs.len() {
        const SECCOMP_SET_MODE_FILTER: u32 = 1;
        const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1;
        mov(&mut code, 0xb8, libc::SYS_seccomp as u32);
        mov(&mut code, 0xbf, SECCOMP_SET_MODE_FILTER);
        mov(&mut code, 0xbe, SECCOMP_FILTER_FLAG_TSYNC);
        code.extend_from_slice(&[0x48, 0xba]);
        code.extend_from_slice(&(base + 16 * i as u64).to_le_bytes());
        code.extend_from_slice(&[0x0f, 0x05]);
    }
    code.push(0xcc);
    let end = r.rip + code.len() as u64;
    code.resize(code.len().div_ceil(8) * 8, 0xcc);
    // The text under the blob, saved with one read rather than a peek
    // per word (the writes must be pokes: only they go through read-only
    // text, and /proc/PID/mem is not the broker's to open).
    let mut saved_text = vec![0u8; code.len()];
    if read_at(pid, r.rip, &mut saved_text) != Ok(code.len()) {
        for (i, chunk) in saved_text.chunks_mut(8).enumerate() {
            let at = (r.rip + 8 * i as u64) as ptrace::AddressType;
            let w = ptrace::read(pid, at).map_err(|e| format!("peek {pid}: {e}"))?;
            chunk.copy_from_slice(&w.to_ne_bytes());
        }
    }
    let put = |bytes: &[u8]| -> Result<(), String> {
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let at = (r.rip + 8 * i as u64) as ptrace::AddressType;
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            ptrace::write(pid, at, i64::from_ne_bytes(w))
                .map_err(|e| format!("poke {pid}: {e}"))?;
        }
        Ok(())
    };
    put(&code)?;
    let mut run = r;
    // Not in a system call: one interrupted by the stop is restarted only
    // once the saved registers are back.
    run.orig_rax = u64::MAX;
    let outcome = (|| {
        ptrace::setregs(pid, run).map_err(|e| format!("setregs {pid}: {e}"))?;
        let mut deliver = None;
        for _ in 0..64 {
            ptrace::cont(pid, deliver.take()).map_err(|e| format!("cont {pid}: {e}"))?;
            match waitpid(pid, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::Stopped(_, nix::sys::signal::Signal::SIGTRAP))
                    if regs(pid)?.rip == end =>
                {
                    return Ok(());
                }
                Ok(WaitStatus::Stopped(_, sig)) => pending = Some(sig),
                Ok(WaitStatus::PtraceEvent(..)) | Ok(WaitStatus::PtraceSyscall(_)) => {}
                Ok(other) => return Err(format!("{pid} ended while being filtered: {other:?}")),
                Err(e) => return Err(format!("wait {pid}: {e}")),
            }
        }
        Err(format!("{pid} did not install the filter"))
    })();
    let restored = put(&saved_text)
        .and_then(|()| ptrace::setregs(pid, r).map_err(|e| format!("restore {pid}: {e}")));
    outcome?;
    restored?;
    let after = seccomp_state(pid)?;
    if !after.0 || after.1 != 2 || after.2 < before.2 + programs.len() as u32 {
        return Err(format!(
            "the filter did not take in {pid} (no_new_privs {}, mode {}, filters {} then {})",
            after.0, after.1, before.2, after.2
        ));
    }
    ptrace::cont(pid, pending).map_err(|e| format!("cont {pid}: {e}"))?;
    Ok((before.2, after.2))
}

/// How many seccomp filters `pid` runs under.
pub fn filter_count(pid: Pid) -> Result<u32, String> {
    seccomp_state(pid).map(|s| s.2)
}

/// `NoNewPrivs`, `Seccomp` (the mode) and `Seccomp_filters` of a process.
fn seccomp_state(pid: Pid) -> Result<(bool, u32, u32), String> {
    let status = read_proc(&format!("/proc/{pid}/status"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    Ok((
        field("NoNewPrivs:") == 1,
        field("Seccomp:"),
        field("Seccomp_filters:"),
    ))
}

thread_local! {
    /// Ends of tracees that a helper here waited for and so took from the
    /// tree's own wait loop, which must still hear of them (`deaths`).
    static DEATHS: std::cell::RefCell<Vec<(Pid, crate::supervise::Ended)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The ends helpers here waited for since the last call, on this thread.
pub fn deaths() -> Vec<(Pid, crate::supervise::Ended)> {
    DEATHS.with(|d| std::mem::take(&mut *d.borrow_mut()))
}

/// Keep an end a helper's wait took, for `deaths`; true if it was one.
fn ended(status: &nix::sys::wait::WaitStatus) -> bool {
    use crate::supervise::Ended;
    use nix::sys::wait::WaitStatus;
    let (pid, e) = match *status {
        WaitStatus::Exited(pid, code) => (pid, Ended::Exited(code)),
        WaitStatus::Signaled(pid, sig, core) => (pid, Ended::Signaled(sig, core)),
        _ => return false,
    };
    DEATHS.with(|d| d.borrow_mut().push((pid, e)));
    true
}

/// Kill a tracee stopped at a ptrace-stop, and make sure of it. A plain
/// SIGKILL is enough when the tracer may signal it (embedded mode: the
/// same user). The broker may not (another user, no CAP_KILL), and must
/// not run any code of the tracee's to do it either: another process of
/// the agent can rewrite that code as it runs. So the tracee is sent to
/// address 0, where its first fetch faults before any instruction runs,
/// and the fault's signal is replaced with SIGKILL, which the tracer may
/// do at a signal-delivery stop. Either way its death reaches the
/// tracer's wait loop as usual (or `deaths`).
pub fn kill(pid: Pid) {
    use nix::sys::ptrace;
    use nix::sys::signal::{self, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    if signal::kill(pid, Signal::SIGKILL).is_ok() {
        let _ = ptrace::cont(pid, None);
        return;
    }
    let mut r = match regs(pid) {
        Ok(r) => r,
        // Not stopped (yet): stop it first.
        Err(_) => {
            if ptrace::interrupt(pid).is_err() {
                return;
            }
            loop {
                match waitpid(pid, Some(WaitPidFlag::__WALL)) {
                    Ok(WaitStatus::Stopped(..)) | Ok(WaitStatus::PtraceEvent(..)) => break,
                    Ok(other) if ended(&other) => return,
                    Err(nix::Error::EINTR) | Ok(_) => {}
                    Err(nix::Error::EINVAL) => break,
                    Err(_) => return,
                }
            }
            match regs(pid) {
                Ok(r) => r,
                Err(_) => return,
            }
        }
    };
    r.rip = 0;
    r.orig_rax = u64::MAX;
    if ptrace::setregs(pid, r).is_err() || ptrace::cont(pid, None).is_err() {
        return;
    }
    for _ in 0..64 {
        match waitpid(pid, Some(WaitPidFlag::__WALL)) {
            // A signal-delivery stop: the fault's, or one that came first.
            Ok(WaitStatus::Stopped(_, _)) => {
                let _ = ptrace::cont(pid, Some(Signal::SIGKILL));
                return;
            }
            Ok(other) if ended(&other) => return,
            Ok(_) => {
                let _ = ptrace::cont(pid, None);
            }
            Err(nix::Error::EINTR) => {}
            // A stop for a real-time signal, which nix cannot name: a
            // signal-delivery stop all the same.
            Err(nix::Error::EINVAL) => {
                let _ = ptrace::cont(pid, Some(Signal::SIGKILL));
                return;
            }
            Err(_) => return,
        }
    }
}

/// Run one system call in a stopped tracee: one `syscall` instruction
/// written over the text at `saved.rip`, the number and arguments in
/// registers, and exactly that one instruction stepped; then the text
/// and the registers put back. One instruction, because another process
/// of the agent may be rewriting this memory as it runs: whatever it
/// puts there runs for one instruction at most, and anything but the
/// call ending where it should is an error. Not at an exec event, where
/// `execve`'s return would overwrite the number (`leave_exec` first).
pub(super) fn inject_syscall(
    pid: Pid,
    saved: libc::user_regs_struct,
    nr: u32,
    args: [u64; 5],
) -> Result<(i64, Option<nix::sys::signal::Signal>), String> {
    inject_syscall_seeing(pid, saved, nr, args, &mut None)
}

/// As `inject_syscall`, and a `fork` it makes leaves its child's pid (as
/// the tracer sees it) in `forked`.
pub(super) fn inject_syscall_seeing(
    pid: Pid,
    saved: libc::user_regs_struct,
    nr: u32,
    args: [u64; 5],
    forked: &mut Option<Pid>,
) -> Result<(i64, Option<nix::sys::signal::Signal>), String> {
    use nix::sys::ptrace;
    use nix::sys::signal::Signal;
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let at = saved.rip;
    let word = place_syscall(pid, at)?;
    let mut r = saved;
    r.rax = u64::from(nr);
    r.rdi = args[0];
    r.rsi = args[1];
    r.rdx = args[2];
    r.r10 = args[3];
    r.r8 = args[4];
    // Not in a system call: a call interrupted by the stop is restarted
    // only when the saved registers are back.
    r.orig_rax = u64::MAX;
    let mut pending = None;
    let outcome = (|| {
        ptrace::setregs(pid, r).map_err(|e| format!("setregs {pid}: {e}"))?;
        for _ in 0..16 {
            ptrace::step(pid, None).map_err(|e| format!("step {pid}: {e}"))?;
            let status = waitpid(pid, Some(WaitPidFlag::__WALL));
            match status {
                Ok(WaitStatus::PtraceEvent(_, _, ev)) if ev == libc::PTRACE_EVENT_FORK => {
                    *forked = ptrace::getevent(pid)
                        .ok()
                        .and_then(|c| i32::try_from(c).ok())
                        .map(Pid::from_raw);
                }
                Ok(WaitStatus::PtraceEvent(..)) | Ok(WaitStatus::PtraceSyscall(_)) => {}
                Ok(WaitStatus::Stopped(_, sig)) => {
                    let now = regs(pid)?;
                    if now.rip == at + 2 {
                        if sig != Signal::SIGTRAP {
                            pending = Some(sig);
                        }
                        return Ok(now.rax as i64);
                    }
                    if now.rip != at {
                        return Err(format!("{pid} left the injected call"));
                    }
                    // A signal before the instruction: hold it back.
                    if sig != Signal::SIGTRAP {
                        pending = Some(sig);
                    }
                }
                Ok(other) => {
                    ended(&other);
                    return Err(format!("{pid} ended during an injected call: {other:?}"));
                }
                // A real-time signal's stop (nix cannot name it): as for
                // any signal, the call is done or not yet made; the
                // signal is dropped.
                Err(nix::Error::EINVAL) => {
                    let now = regs(pid)?;
                    if now.rip == at + 2 {
                        return Ok(now.rax as i64);
                    }
                    if now.rip != at {
                        return Err(format!("{pid} left the injected call"));
                    }
                }
                Err(e) => return Err(format!("wait {pid}: {e}")),
            }
        }
        Err(format!("{pid} did not make the call"))
    })();
    let restored = ptrace::write(pid, at as ptrace::AddressType, word)
        .and_then(|()| ptrace::setregs(pid, saved))
        .map_err(|e| format!("restore {pid}: {e}"));
    let ret = outcome?;
    restored?;
    Ok((ret, pending))
}

/// Put a `syscall` instruction at `at` in a stopped tracee; returns the
/// word that was there.
pub(super) fn place_syscall(pid: Pid, at: u64) -> Result<i64, String> {
    use nix::sys::ptrace;
    let addr = at as ptrace::AddressType;
    let word = ptrace::read(pid, addr).map_err(|e| format!("peek {pid}: {e}"))?;
    let mut code = word.to_ne_bytes();
    code[0] = 0x0f;
    code[1] = 0x05;
    ptrace::write(pid, addr, i64::from_ne_bytes(code)).map_err(|e| format!("poke {pid}: {e}"))?;
    Ok(word)
}

/// Take a tracee stopped at its exec event on to the end of `execve`
/// (its syscall-exit stop), running nothing of the new program, so that
/// calls can be injected: at the event, `execve`'s return value is still
/// to be written over the number register. Returns its registers there.
pub fn leave_exec(pid: Pid) -> Result<libc::user_regs_struct, String> {
    use nix::sys::ptrace;
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    ptrace::syscall(pid, None).map_err(|e| format!("syscall {pid}: {e}"))?;
    loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::PtraceSyscall(_)) => return regs(pid),
            Err(nix::Error::EINTR) => {}
            Ok(other) => {
                ended(&other);
                return Err(format!("{pid} did not finish its exec: {other:?}"));
            }
            Err(e) => return Err(format!("wait {pid}: {e}")),
        }
    }
}

/// Is `pid` undumpable, as the kernel sees it? Its `/proc/PID/mem`
/// belongs to root then, whoever the process runs as (the directory
/// itself keeps the process's owner).
pub fn is_undumpable(pid: Pid) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/mem")).is_ok_and(|m| m.uid() == 0)
}

/// Give a program about to start a new initial stack, built below the
/// one the kernel made, from what the kernel itself recorded rather than
/// from what that stack holds now: the argument and environment strings
/// where the kernel put them (`/proc/PID/stat`), the auxiliary vector it
/// saved (`/proc/PID/auxv`), and `add` put into the environment. The
/// strings the auxiliary vector points at (the exec'd file name, the
/// platform, the random bytes) are fresh copies. So nothing another
/// process wrote into that stack, before the program was sealed, is ever
/// looked at: not a pointer, not a string the checks did not see.
fn push_env(
    pid: Pid,
    mut r: libc::user_regs_struct,
    add: &[(String, String)],
    execfn: &str,
) -> Result<(), String> {
    let [arg_start, arg_end, env_start, env_end] = crate::session::owner::stat(pid.as_raw())
        .map(|s| s.strings)
        .filter(|s| s.iter().all(|&v| v != 0))
        .ok_or_else(|| format!("no argument bounds in /proc/{pid}/stat"))?;
    let region = |from: u64, to: u64, what: &str| -> Result<Vec<u8>, String> {
        let len = to.checked_sub(from).filter(|&l| l <= 4 << 20).ok_or(what)?;
        let mut buf = vec![0u8; len as usize];
        if read_at(pid, from, &mut buf)? != buf.len() {
            return Err(format!("short read of the {what}"));
        }
        Ok(buf)
    };
    let starts = |bytes: &[u8], base: u64| -> Vec<(u64, usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        for word in bytes.split(|&b| b == 0) {
            if at >= bytes.len() {
                break;
            }
            out.push((base + at as u64, at, at + word.len()));
            at += word.len() + 1;
        }
        out
    };
    let args = region(arg_start, arg_end, "arguments")?;
    let envs = region(env_start, env_end, "environment")?;
    let argv = starts(&args, arg_start);
    if argv.len() > MAX_ENTRIES {
        return Err("too many arguments".to_string());
    }
    let names: Vec<&str> = add.iter().map(|(k, _)| k.as_str()).collect();
    let mut envp = Vec::new();
    for (at, from, to) in starts(&envs, env_start) {
        let entry = String::from_utf8_lossy(&envs[from..to]);
        if !names.contains(&env_name(&entry)) {
            envp.push(at);
        }
    }
    if envp.len() > MAX_ENTRIES {
        return Err("environment too long".to_string());
    }
    let saved =
        read_proc(&format!("/proc/{pid}/auxv")).map_err(|e| format!("auxv of {pid}: {e}"))?;
    let mut auxv: Vec<(u64, u64)> = saved
        .chunks_exact(16)
        .map(|c| {
            let mut k = [0u8; 8];
            let mut v = [0u8; 8];
            k.copy_from_slice(&c[..8]);
            v.copy_from_slice(&c[8..]);
            (u64::from_ne_bytes(k), u64::from_ne_bytes(v))
        })
        .take_while(|&(k, _)| k != 0)
        .collect();
    auxv.push((0, 0));

    let mut strings: Vec<u8> = Vec::new();
    let mut offsets = Vec::new();
    for (k, v) in add {
        offsets.push(strings.len() as u64);
        strings.extend_from_slice(k.as_bytes());
        strings.push(b'=');
        strings.extend_from_slice(v.as_bytes());
        strings.push(0);
    }
    // The strings the auxiliary vector points at.
    let mut pointed: Vec<(u64, u64)> = Vec::new();
    let mut random = [0u8; 16];
    // SAFETY: getrandom fills the buffer it is given, up to its length.
    let got = unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
    if got != random.len() as isize {
        return Err("no random bytes for the program".to_string());
    }
    for (key, value) in &auxv {
        let blob: Option<Vec<u8>> = match *key {
            libc::AT_RANDOM => Some(random.to_vec()),
            libc::AT_EXECFN => Some(nul_terminated(execfn.as_bytes())),
            libc::AT_PLATFORM | libc::AT_BASE_PLATFORM => {
                Some(nul_terminated(&own_aux_string(*key)))
            }
            _ => None,
        };
        if let Some(blob) = blob {
            if *value != 0 {
                pointed.push((*key, strings.len() as u64));
                strings.extend_from_slice(&blob);
            }
        }
    }
    if strings.len() > 64 * 1024 {
        return Err("the credentials are too large for the stack".to_string());
    }
    let low = || "no room below the stack pointer".to_string();
    let strings_at = r
        .rsp
        .checked_sub(strings.len() as u64 + 16)
        .ok_or_else(low)?
        & !15;
    let mut table: Vec<u64> = Vec::new();
    table.push(argv.len() as u64);
    table.extend(argv.iter().map(|(at, _, _)| *at));
    table.push(0);
    table.extend(&envp);
    table.extend(offsets.iter().map(|o| strings_at + o));
    table.push(0);
    for (key, value) in &auxv {
        table.push(*key);
        table.push(
            pointed
                .iter()
                .find(|(k, _)| k == key)
                .map_or(*value, |(_, off)| strings_at + off),
        );
    }
    // The ABI wants the stack pointer 16-aligned at the entry point.
    let rsp = strings_at
        .checked_sub(8 * table.len() as u64)
        .ok_or_else(low)?
        & !15;
    let mut blob: Vec<u8> = table.iter().flat_map(|w| w.to_ne_bytes()).collect();
    blob.resize((strings_at - rsp) as usize, 0);
    blob.extend_from_slice(&strings);
    write(pid, rsp, &blob, "environment")?;
    r.rsp = rsp;
    nix::sys::ptrace::setregs(pid, r).map_err(|e| format!("setregs {pid}: {e}"))
}

fn nul_terminated(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    v.push(0);
    v
}

/// One of this process's own auxiliary strings (the platform names): the
/// same kernel on the same machine gave the program the same.
fn own_aux_string(key: u64) -> Vec<u8> {
    // SAFETY: getauxval returns 0 or a pointer to a NUL-terminated string
    // the kernel put on this process's stack, live for its whole life.
    unsafe {
        let p = libc::getauxval(key) as *const libc::c_char;
        if p.is_null() {
            return Vec::new();
        }
        std::ffi::CStr::from_ptr(p).to_bytes().to_vec()
    }
}

/// Write one line to the tracee's stderr: a dup of its descriptor 2,
/// taken through a pidfd, so any kind of stderr works (pipe, terminal,
/// socket, file).
pub fn note(pid: Pid, line: &str) {
    // SAFETY: plain syscalls; each returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let Ok(pidfd) = i32::try_from(pidfd) else {
        return;
    };
    if pidfd < 0 {
        return;
    }
    // SAFETY: the kernel just installed it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // SAFETY: as above.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), 2, 0) };
    let Ok(fd) = i32::try_from(fd) else { return };
    if fd < 0 {
        return;
    }
    // SAFETY: as above.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut text = line.replace(['\n', '\r'], " ");
    text.push('\n');
    let _ = nix::unistd::write(&fd, text.as_bytes());
}

/// What `/proc/PID/LINK` points at.
pub fn proc_link(pid: Pid, link: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/{link}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// A /proc file whole. Not `fs::read`: its size hint is a stat, which a
/// /proc file answers with 0, and it then reads 32 bytes at a time.
fn read_proc(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// `/proc/PID/cmdline` as words.
pub fn cmdline(pid: Pid) -> Option<Vec<String>> {
    nul_words(pid, "cmdline")
}

/// The environment a process started its program with, as the kernel
/// copied it (at the exec event: before the program runs).
pub fn environ(pid: Pid) -> Option<Vec<String>> {
    nul_words(pid, "environ")
}

fn nul_words(pid: Pid, file: &str) -> Option<Vec<String>> {
    let bytes = read_proc(&format!("/proc/{pid}/{file}")).ok()?;
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut words: Vec<String> = bytes
        .split(|&b| b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    // The buffer ends in a NUL, which leaves one empty word behind.
    if words.last().is_some_and(String::is_empty) {
        words.pop();
    }
    Some(words)
}
