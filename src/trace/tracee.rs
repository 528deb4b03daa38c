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

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn regs(pid: Pid) -> Result<libc::user_regs_struct, String> {
    nix::sys::ptrace::getregs(pid).map_err(|e| format!("getregs {pid}: {e}"))
}

/// Read up to `buf.len()` bytes at `addr`, stopping early at an unmapped
/// page (process_vm_readv reads nothing past one).
fn read_at(pid: Pid, addr: u64, buf: &mut [u8]) -> Result<usize, String> {
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
    pages: std::collections::HashMap<u64, Vec<u8>>,
}

impl Mem {
    fn new(pid: Pid) -> Mem {
        Mem {
            pid,
            pages: std::collections::HashMap::new(),
        }
    }

    fn page(&mut self, base: u64) -> Result<&[u8], String> {
        if !self.pages.contains_key(&base) {
            let mut buf = vec![0u8; PAGE as usize];
            let n = read_at(self.pid, base, &mut buf)?;
            if n == 0 {
                return Err(format!("unreadable memory at {base:#x}"));
            }
            buf.truncate(n);
            self.pages.insert(base, buf);
        }
        Ok(self.pages.get(&base).map(Vec::as_slice).unwrap_or_default())
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
            for (i, b) in word.iter_mut().enumerate() {
                *b = self.byte(at + i as u64)?;
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

/// Give the stopped exec a different environment: the old entries (by
/// address, less those `replace` names) plus `add`, written below the
/// stack pointer (past the red zone), where nothing lives during the
/// call and which the exec replaces anyway.
pub fn set_env(
    pid: Pid,
    mut r: libc::user_regs_struct,
    args: &ExecArgs,
    add: &[(String, String)],
) -> Result<(), String> {
    if add.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = add.iter().map(|(k, _)| k.as_str()).collect();
    let kept: Vec<u64> = args
        .env
        .iter()
        .filter(|(_, s)| !names.iter().any(|n| s.split('=').next() == Some(*n)))
        .map(|(p, _)| *p)
        .collect();
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
    let local = [std::io::IoSlice::new(&blob)];
    let remote = [RemoteIoVec {
        base: usize::try_from(base).map_err(err)?,
        len: blob.len(),
    }];
    let n = process_vm_writev(pid, &local, &remote).map_err(|e| format!("write {pid}: {e}"))?;
    if n != blob.len() {
        return Err("short write of the environment".to_string());
    }
    if args.execveat {
        r.r10 = base;
    } else {
        r.rdx = base;
    }
    nix::sys::ptrace::setregs(pid, r).map_err(|e| format!("setregs {pid}: {e}"))
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

/// `/proc/PID/cmdline` as words.
pub fn cmdline(pid: Pid) -> Option<Vec<String>> {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
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
