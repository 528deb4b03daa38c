//! The system calls the front makes, straight to the kernel: the front
//! links no C library (see `main.rs` for why), so these are its libc.

use alloc::vec::Vec;
use core::arch::asm;

pub const AT_FDCWD: isize = -100;

pub const O_RDONLY: usize = 0;
pub const O_WRONLY: usize = 1;
pub const O_RDWR: usize = 2;
pub const O_CREAT: usize = 0o100;
pub const O_EXCL: usize = 0o200;
pub const O_NOCTTY: usize = 0o400;
pub const O_NONBLOCK: usize = 0o4000;
pub const O_DIRECTORY: usize = 0o200000;
pub const O_NOFOLLOW: usize = 0o400000;
pub const O_CLOEXEC: usize = 0o2000000;

pub const ENOENT: i32 = 2;
pub const EINTR: i32 = 4;
pub const EAGAIN: i32 = 11;
pub const EEXIST: i32 = 17;
pub const ENOTDIR: i32 = 20;

const SYS_READ: usize = 0;
const SYS_WRITE: usize = 1;
const SYS_CLOSE: usize = 3;
const SYS_FSTAT: usize = 5;
const SYS_IOCTL: usize = 16;
const SYS_SOCKET: usize = 41;
const SYS_CONNECT: usize = 42;
const SYS_SENDMSG: usize = 46;
const SYS_SETSOCKOPT: usize = 54;
const SYS_GETSOCKOPT: usize = 55;
const SYS_EXECVE: usize = 59;
const SYS_GETCWD: usize = 79;
const SYS_FCHMOD: usize = 91;
const SYS_GETUID: usize = 102;
const SYS_FSTATFS: usize = 138;
const SYS_GETDENTS64: usize = 217;
const SYS_EXIT_GROUP: usize = 231;
const SYS_OPENAT: usize = 257;
const SYS_MKDIRAT: usize = 258;
const SYS_NEWFSTATAT: usize = 262;
const SYS_UNLINKAT: usize = 263;
const SYS_RENAMEAT: usize = 264;
const SYS_READLINKAT: usize = 267;
const SYS_FACCESSAT: usize = 269;

/// # Safety
/// The arguments must be what system call `n` expects.
unsafe fn raw(n: usize, a: [usize; 6]) -> isize {
    let r: isize;
    // SAFETY: the caller vouches for the arguments; the kernel clobbers
    // rcx and r11 and nothing else.
    unsafe {
        asm!("syscall",
            inlateout("rax") n as isize => r,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack));
    }
    r
}

/// A system call's result: the value, or the errno.
fn call(n: usize, a: [usize; 6]) -> Result<usize, i32> {
    loop {
        // SAFETY: every wrapper below passes pointers to live buffers of
        // the sizes it names.
        let r = unsafe { raw(n, a) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = (-r) as i32;
        if e != EINTR {
            return Err(e);
        }
    }
}

/// A NUL-terminated copy of `s`, for the kernel.
pub fn cstr(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s);
    v.push(0);
    v
}

pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, i32> {
    call(
        SYS_READ,
        [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
    )
}

pub fn write(fd: i32, buf: &[u8]) -> Result<usize, i32> {
    call(
        SYS_WRITE,
        [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0, 0],
    )
}

pub fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), i32> {
    while !buf.is_empty() {
        match write(fd, buf)? {
            0 => return Err(libc_eio()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

fn libc_eio() -> i32 {
    5
}

pub fn close(fd: i32) {
    let _ = call(SYS_CLOSE, [fd as usize, 0, 0, 0, 0, 0]);
}

pub fn openat(dir: isize, path: &[u8], flags: usize, mode: usize) -> Result<i32, i32> {
    let p = cstr(path);
    call(
        SYS_OPENAT,
        [dir as usize, p.as_ptr() as usize, flags, mode, 0, 0],
    )
    .map(|fd| fd as i32)
}

pub fn open(path: &[u8], flags: usize) -> Result<i32, i32> {
    openat(AT_FDCWD, path, flags, 0)
}

/// The fields of `struct stat` the front looks at.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub uid: u32,
}

pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;

impl Stat {
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

fn stat_of(raw: &[u64; 18]) -> Stat {
    // x86_64 `struct stat`: st_dev, st_ino, st_nlink, then st_mode and
    // st_uid as two u32s in the fourth word.
    Stat {
        dev: raw[0],
        ino: raw[1],
        mode: (raw[3] & 0xffff_ffff) as u32,
        uid: (raw[3] >> 32) as u32,
    }
}

pub fn fstat(fd: i32) -> Result<Stat, i32> {
    let mut buf = [0u64; 18];
    call(
        SYS_FSTAT,
        [fd as usize, buf.as_mut_ptr() as usize, 0, 0, 0, 0],
    )?;
    Ok(stat_of(&buf))
}

/// The type (`f_type`) of the filesystem `fd` is on.
pub fn fs_type(fd: i32) -> Result<u64, i32> {
    // struct statfs is 120 bytes on x86_64, f_type its first word.
    let mut buf = [0u64; 15];
    call(
        SYS_FSTATFS,
        [fd as usize, buf.as_mut_ptr() as usize, 0, 0, 0, 0],
    )?;
    Ok(buf[0])
}

const AT_SYMLINK_NOFOLLOW: usize = 0x100;

/// `stat`, following links; `lstat` with `follow` false.
pub fn stat(path: &[u8], follow: bool) -> Result<Stat, i32> {
    stat_at(
        AT_FDCWD as i32,
        path,
        if follow { 0 } else { AT_SYMLINK_NOFOLLOW },
    )
}

fn stat_at(dir: i32, path: &[u8], flags: usize) -> Result<Stat, i32> {
    let p = cstr(path);
    let mut buf = [0u64; 18];
    call(
        SYS_NEWFSTATAT,
        [
            dir as usize,
            p.as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            flags,
            0,
            0,
        ],
    )?;
    Ok(stat_of(&buf))
}

pub fn executable(path: &[u8]) -> bool {
    let p = cstr(path);
    call(
        SYS_FACCESSAT,
        [AT_FDCWD as usize, p.as_ptr() as usize, 1, 0, 0, 0],
    )
    .is_ok()
}

pub fn readlink(path: &[u8]) -> Result<Vec<u8>, i32> {
    let p = cstr(path);
    let mut buf = alloc::vec![0u8; 4096];
    let n = call(
        SYS_READLINKAT,
        [
            AT_FDCWD as usize,
            p.as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
            0,
        ],
    )?;
    buf.truncate(n);
    Ok(buf)
}

pub fn getcwd() -> Option<Vec<u8>> {
    let mut buf = alloc::vec![0u8; 4096];
    let n = call(
        SYS_GETCWD,
        [buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0, 0],
    )
    .ok()?;
    // The kernel counts the NUL; a path it cannot reach starts with `(`.
    buf.truncate(n.saturating_sub(1));
    (buf.first() == Some(&b'/')).then_some(buf)
}

pub fn getuid() -> u32 {
    call(SYS_GETUID, [0; 6]).unwrap_or(u32::MAX as usize) as u32
}

pub fn mkdir(path: &[u8], mode: usize) -> Result<(), i32> {
    let p = cstr(path);
    call(
        SYS_MKDIRAT,
        [AT_FDCWD as usize, p.as_ptr() as usize, mode, 0, 0, 0],
    )
    .map(|_| ())
}

pub fn fchmod(fd: i32, mode: usize) -> Result<(), i32> {
    call(SYS_FCHMOD, [fd as usize, mode, 0, 0, 0, 0]).map(|_| ())
}

const AT_REMOVEDIR: usize = 0x200;

pub fn unlinkat(dir: i32, name: &[u8], is_dir: bool) -> Result<(), i32> {
    let p = cstr(name);
    let flags = if is_dir { AT_REMOVEDIR } else { 0 };
    call(
        SYS_UNLINKAT,
        [dir as usize, p.as_ptr() as usize, flags, 0, 0, 0],
    )
    .map(|_| ())
}

pub fn rename(from: &[u8], to: &[u8]) -> Result<(), i32> {
    let a = cstr(from);
    let b = cstr(to);
    call(
        SYS_RENAMEAT,
        [
            AT_FDCWD as usize,
            a.as_ptr() as usize,
            AT_FDCWD as usize,
            b.as_ptr() as usize,
            0,
            0,
        ],
    )
    .map(|_| ())
}

/// The entries of an open directory: (name, is a directory), without
/// `.` and `..`.
pub fn entries(fd: i32) -> Result<Vec<(Vec<u8>, bool)>, i32> {
    let mut out = Vec::new();
    let mut buf = alloc::vec![0u8; 8192];
    loop {
        let n = call(
            SYS_GETDENTS64,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )?;
        if n == 0 {
            return Ok(out);
        }
        let mut at = 0;
        while at + 19 <= n {
            // struct linux_dirent64: ino u64, off i64, reclen u16, type u8, name.
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen == 0 || at + reclen > n {
                break;
            }
            let kind = buf[at + 18];
            let name = &buf[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                // Not every filesystem fills in d_type (DT_UNKNOWN, 0):
                // then the entry itself says, without following a link.
                let dir = match kind {
                    0 => stat_at(fd, name, AT_SYMLINK_NOFOLLOW).is_ok_and(|st| st.is_dir()),
                    k => k == 4,
                };
                out.push((name.to_vec(), dir));
            }
            at += reclen;
        }
    }
}

pub fn ioctl(fd: i32, req: usize, arg: usize) -> Result<usize, i32> {
    call(SYS_IOCTL, [fd as usize, req, arg, 0, 0, 0])
}

pub const TCGETS: usize = 0x5401;
pub const TCSETS: usize = 0x5402;

/// A terminal's settings, as `TCGETS` fills them (`struct termios`).
pub type Termios = [u8; 60];

pub fn tcgetattr(fd: i32) -> Option<Termios> {
    let mut t = [0u8; 60];
    ioctl(fd, TCGETS, t.as_mut_ptr() as usize).ok().map(|_| t)
}

pub fn tcsetattr(fd: i32, t: &Termios) {
    let _ = ioctl(fd, TCSETS, t.as_ptr() as usize);
}

pub const AF_UNIX: usize = 1;
pub const SOCK_STREAM: usize = 1;
pub const SOCK_CLOEXEC: usize = 0o2000000;
const SOL_SOCKET: usize = 1;
const SO_PEERCRED: usize = 17;
const SO_RCVTIMEO: usize = 20;
const SO_SNDTIMEO: usize = 21;
const SCM_RIGHTS: i32 = 1;
const MSG_NOSIGNAL: usize = 0x4000;

pub fn socket_unix() -> Result<i32, i32> {
    call(
        SYS_SOCKET,
        [AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0, 0, 0],
    )
    .map(|fd| fd as i32)
}

pub fn connect_unix(fd: i32, path: &[u8]) -> Result<(), i32> {
    let mut addr = [0u8; 110];
    if path.len() >= 108 {
        return Err(36); // ENAMETOOLONG
    }
    addr[0] = AF_UNIX as u8;
    addr[2..2 + path.len()].copy_from_slice(path);
    let len = 2 + path.len() + 1;
    call(
        SYS_CONNECT,
        [fd as usize, addr.as_ptr() as usize, len, 0, 0, 0],
    )
    .map(|_| ())
}

/// Send and receive time-outs: a broker that stops answering is down.
pub fn set_timeouts(fd: i32, millis: u64, send: bool) -> Result<(), i32> {
    let tv: [i64; 2] = [(millis / 1000) as i64, ((millis % 1000) * 1000) as i64];
    let mut opts = alloc::vec![SO_RCVTIMEO];
    if send {
        opts.push(SO_SNDTIMEO);
    }
    for opt in opts {
        call(
            SYS_SETSOCKOPT,
            [fd as usize, SOL_SOCKET, opt, tv.as_ptr() as usize, 16, 0],
        )?;
    }
    Ok(())
}

/// The uid of the process at the other end, as the kernel says.
pub fn peer_uid(fd: i32) -> Result<u32, i32> {
    let mut cred = [0u32; 3];
    let mut len: u32 = 12;
    call(
        SYS_GETSOCKOPT,
        [
            fd as usize,
            SOL_SOCKET,
            SO_PEERCRED,
            cred.as_mut_ptr() as usize,
            &mut len as *mut u32 as usize,
            0,
        ],
    )?;
    Ok(cred[1])
}

/// Send `buf`, with `pass` (a descriptor) riding on its first byte.
pub fn send_with_fd(fd: i32, buf: &[u8], pass: Option<i32>) -> Result<usize, i32> {
    let iov: [usize; 2] = [buf.as_ptr() as usize, buf.len()];
    // struct cmsghdr { len: usize, level: i32, type: i32 } and one int,
    // padded to CMSG_SPACE(4).
    let mut control = [0u8; 24];
    control[0..8].copy_from_slice(&20usize.to_ne_bytes());
    control[8..12].copy_from_slice(&(SOL_SOCKET as i32).to_ne_bytes());
    control[12..16].copy_from_slice(&SCM_RIGHTS.to_ne_bytes());
    let (cptr, clen) = match pass {
        Some(p) => {
            control[16..20].copy_from_slice(&p.to_ne_bytes());
            (control.as_ptr() as usize, 24usize)
        }
        None => (0, 0),
    };
    // struct msghdr: name, namelen (+pad), iov, iovlen, control,
    // controllen, flags (+pad).
    let msg: [usize; 7] = [0, 0, iov.as_ptr() as usize, 1, cptr, clen, 0];
    call(
        SYS_SENDMSG,
        [fd as usize, msg.as_ptr() as usize, MSG_NOSIGNAL, 0, 0, 0],
    )
}

/// Replace this process. Returns only on failure, with the errno.
pub fn execve(path: &[u8], argv: &[Vec<u8>], envp: &[Vec<u8>]) -> i32 {
    let p = cstr(path);
    let args: Vec<Vec<u8>> = argv.iter().map(|a| cstr(a)).collect();
    let envs: Vec<Vec<u8>> = envp.iter().map(|e| cstr(e)).collect();
    let mut aptr: Vec<usize> = args.iter().map(|a| a.as_ptr() as usize).collect();
    aptr.push(0);
    let mut eptr: Vec<usize> = envs.iter().map(|e| e.as_ptr() as usize).collect();
    eptr.push(0);
    match call(
        SYS_EXECVE,
        [
            p.as_ptr() as usize,
            aptr.as_ptr() as usize,
            eptr.as_ptr() as usize,
            0,
            0,
            0,
        ],
    ) {
        Ok(_) => 0,
        Err(e) => e,
    }
}

pub fn exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes a status and does not return.
        unsafe {
            raw(SYS_EXIT_GROUP, [code as usize, 0, 0, 0, 0, 0]);
        }
    }
}

/// What `strerror` says, for the errors the front reports.
pub fn describe(e: i32) -> &'static str {
    match e {
        1 => "Operation not permitted",
        2 => "No such file or directory",
        5 => "Input/output error",
        7 => "Argument list too long",
        8 => "Exec format error",
        11 => "Resource temporarily unavailable",
        12 => "Cannot allocate memory",
        13 => "Permission denied",
        20 => "Not a directory",
        21 => "Is a directory",
        22 => "Invalid argument",
        26 => "Text file busy",
        32 => "Broken pipe",
        36 => "File name too long",
        40 => "Too many levels of symbolic links",
        104 => "Connection reset by peer",
        110 => "Connection timed out",
        111 => "Connection refused",
        _ => "Unknown error",
    }
}
