//! Finding the file a tracee's exec names, as the tracee would find it.
//!
//! The tracer cannot simply open `/proc/PID/root/PATH`: the kernel would
//! follow symlinks on the way with the tracer's own view, so `/dev/fd/7`
//! (a link to `/proc/self/fd/7`) would name the *tracer's* descriptor 7,
//! and an absolute symlink would leave a chrooted tracee's root. So each
//! component is looked up under the tracee's root, symlinks are followed
//! here, `/proc/self` and `/proc/thread-self` become the tracee's own
//! entry, and a link in `/proc/PID/fd/`, `cwd`, `root` or `exe` (which no
//! text can stand for: a pipe, a deleted file) is opened as the kernel's
//! own magic link from there on.
//!
//! Assumes the tracer and the tracee share a pid namespace (the tracee's
//! `/proc/N` is the tracer's); where they do not, the lookup fails and
//! the exec is refused.

use std::io;
use std::os::unix::fs::OpenOptionsExt;

use nix::unistd::Pid;

/// Symlinks followed before giving up, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// Does this error mean "nothing is there" (the exec will fail too)?
pub fn missing(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::ENOENT) | Some(nix::libc::ENOTDIR)
    )
}

fn eloop() -> io::Error {
    io::Error::from_raw_os_error(nix::libc::ELOOP)
}

/// A path the tracer can open that leads where `path` leads for tracee
/// `pid`, looked up from `dir` (an absolute path in the tracee's view)
/// when it is relative.
pub fn resolve(pid: Pid, dir: &str, path: &str) -> io::Result<String> {
    resolve_stat(pid, dir, path).map(|(at, _)| at)
}

/// As `resolve`, with what the last component is when the walk itself
/// looked at it (a file, not a link the kernel follows), which spares
/// the caller a second look.
pub fn resolve_stat(
    pid: Pid,
    dir: &str,
    path: &str,
) -> io::Result<(String, Option<nix::sys::stat::FileStat>)> {
    use nix::fcntl::{AtFlags, OFlag};
    let root = format!("/proc/{pid}/root");
    // Each component is looked at from one descriptor of the tracee's
    // root, not by a path through /proc/PID/root again: the same walk,
    // without the pid lookup and the magic link every time.
    let mut root_fd: Option<std::os::fd::OwnedFd> = None;
    let mut last = None;
    let mut comps: Vec<String> = Vec::new();
    let mut todo: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    if !path.starts_with('/') {
        todo.extend(words(dir));
    }
    todo.extend(words(path));
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        last = None;
        match c.as_str() {
            "." => continue,
            ".." => {
                comps.pop();
                continue;
            }
            _ => {}
        }
        if comps.len() == 1 && comps[0] == "proc" && (c == "self" || c == "thread-self") {
            comps.push(pid.as_raw().to_string());
            continue;
        }
        if let Some(magic) = magic(&comps, &c) {
            // The kernel follows these when the rest is opened through
            // them, to the tracee's own file.
            let mut at = magic;
            for rest in todo {
                at.push('/');
                at.push_str(&rest);
            }
            return Ok((at, None));
        }
        let fd = match &root_fd {
            Some(fd) => fd,
            None => root_fd.insert(
                nix::fcntl::open(
                    root.as_str(),
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(errno)?,
            ),
        };
        let rel = join("", &comps, Some(&c));
        let rel = rel.trim_start_matches('/');
        let st = nix::sys::stat::fstatat(fd, rel, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(errno)?;
        if st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFLNK {
            links += 1;
            if links > MAX_LINKS {
                return Err(eloop());
            }
            let target = nix::fcntl::readlinkat(fd, rel).map_err(errno)?;
            let target = target.to_string_lossy();
            if target.starts_with('/') {
                comps.clear();
            }
            for w in words(&target).into_iter().rev() {
                todo.push_front(w);
            }
        } else {
            comps.push(c);
            last = Some(st);
        }
    }
    Ok((join(&root, &comps, None), last))
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// `/proc/N/{cwd,root,exe}` and `/proc/N/fd/M`: links only the kernel can
/// follow, as the tracer's own `/proc/N/…`.
fn magic(comps: &[String], next: &str) -> Option<String> {
    let pid_dir = comps.len() >= 2
        && comps[0] == "proc"
        && !comps[1].is_empty()
        && comps[1].bytes().all(|b| b.is_ascii_digit());
    if !pid_dir {
        return None;
    }
    let n = &comps[1];
    match (&comps[2..], next) {
        ([], "cwd" | "root" | "exe") => Some(format!("/proc/{n}/{next}")),
        ([fd], m) if fd == "fd" => Some(format!("/proc/{n}/fd/{m}")),
        _ => None,
    }
}

fn words(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn join(root: &str, comps: &[String], last: Option<&str>) -> String {
    let mut out = root.to_string();
    for c in comps.iter().map(String::as_str).chain(last) {
        out.push('/');
        out.push_str(c);
    }
    out
}

/// Open a file to read it only if it is a regular file, without ever
/// blocking: a FIFO or a device opens at once (`O_NONBLOCK`) and is
/// refused, so nothing a tracee names can hold the tracer up.
pub fn open_regular(path: &str) -> io::Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::from_raw_os_error(nix::libc::EACCES));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Pid {
        nix::unistd::getpid()
    }

    #[test]
    fn proc_self_is_the_tracees() {
        // This process stands in for the tracee: its fd 0 is what
        // /dev/fd/0 must name, whoever resolves it.
        let got = resolve(me(), "/", "/dev/fd/0").expect("resolves");
        assert_eq!(got, format!("/proc/{}/fd/0", me()));
        let got = resolve(me(), "/", "/proc/self/exe").expect("resolves");
        assert_eq!(got, format!("/proc/{}/exe", me()));
    }

    #[test]
    fn symlinks_and_dots_resolve_under_the_tracees_root() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/file"), "x").unwrap();
        std::os::unix::fs::symlink("sub/file", dir.path().join("rel")).unwrap();
        std::os::unix::fs::symlink(format!("{d}/sub/file"), dir.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        let root = format!("/proc/{}/root", me());
        let want = format!("{root}{d}/sub/file");
        for (from, path) in [
            (d, "rel"),
            (d, "abs"),
            (d, "./sub/../sub/file"),
            ("/", &format!("{d}/rel")[..]),
        ] {
            assert_eq!(resolve(me(), from, path).expect(path), want, "{path}");
        }
        let e = resolve(me(), d, "loop").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(nix::libc::ELOOP));
        let e = resolve(me(), d, "nothing/here").unwrap_err();
        assert!(missing(&e), "{e}");
    }

    #[test]
    fn a_fifo_is_never_opened_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o700)).unwrap();
        let e = open_regular(fifo.to_str().unwrap()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(nix::libc::EACCES));
    }
}
