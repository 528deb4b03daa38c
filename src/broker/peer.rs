//! Who is on the other end of a connection, as the kernel says: the uid
//! and gid from `SO_PEERCRED`, the process from `SO_PEERPIDFD` (pid plus
//! start time on kernels without it), and what `/proc` says about that
//! process. Nothing here comes from the peer's messages.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use crate::actor::Actor;
use crate::session::owner::{self, Owner};

/// `SO_PEERPIDFD` (Linux 6.5), from `asm-generic/socket.h`.
const SO_PEERPIDFD: i32 = 77;

#[derive(Debug)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
    /// Start time of the process, so a recycled pid is a stranger.
    pub start: u64,
    /// The process itself, where the kernel can hand it out.
    pub pidfd: Option<OwnedFd>,
    pub user: String,
    pub home: String,
    /// Controlling terminal (device number), 0 for none.
    pub tty_nr: u64,
    /// Its working directory, when `/proc` lets the broker see it.
    pub cwd: Option<String>,
}

fn peer_pidfd(sock: &UnixStream) -> Option<OwnedFd> {
    let mut fd: i32 = -1;
    let mut len = std::mem::size_of::<i32>() as nix::libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `fd`.
    let rc = unsafe {
        nix::libc::getsockopt(
            sock.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&mut fd as *mut i32).cast(),
            &mut len,
        )
    };
    // SAFETY: on success the kernel installed a new descriptor for us.
    (rc == 0 && fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A pidfd for `pid` (`pidfd_open`).
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: a plain syscall; a descriptor comes back or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the kernel just installed it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Has the process behind `pidfd` exited? (A pidfd polls readable then.)
pub fn exited(pidfd: &OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(n) => n > 0,
        Err(_) => true,
    }
}

/// The name of a terminal from its device number, for records.
pub fn tty_name(dev: u64) -> Option<String> {
    if dev == 0 {
        return None;
    }
    let major = (dev >> 8) & 0xfff;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    Some(match major {
        136..=143 => format!("/dev/pts/{}", (major - 136) * 256 + minor),
        4 => format!("/dev/tty{minor}"),
        _ => format!("/dev/char/{major}:{minor}"),
    })
}

impl Peer {
    pub fn of(sock: &UnixStream) -> Result<Peer, String> {
        let cred = nix::sys::socket::getsockopt(sock, nix::sys::socket::sockopt::PeerCredentials)
            .map_err(|e| format!("SO_PEERCRED: {e}"))?;
        let pid = cred.pid();
        let pidfd = peer_pidfd(sock);
        let stat = owner::stat(pid).ok_or("the peer process is gone")?;
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .ok()
            .map(|p| p.display().to_string());
        // Whatever /proc said belongs to the peer only if the peer is
        // still that process: alive (pidfd), or same start time.
        let same = match &pidfd {
            Some(fd) => !exited(fd),
            None => owner::stat(pid).is_some_and(|s| s.start == stat.start),
        };
        if !same {
            return Err("the peer process exited while it was being identified".to_string());
        }
        let account = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(cred.uid()))
            .ok()
            .flatten();
        Ok(Peer {
            uid: cred.uid(),
            gid: cred.gid(),
            pid,
            start: stat.start,
            pidfd,
            user: account
                .as_ref()
                .map_or_else(|| cred.uid().to_string(), |u| u.name.clone()),
            home: account
                .as_ref()
                .map_or_else(|| "/".to_string(), |u| u.dir.display().to_string()),
            tty_nr: stat.tty_nr,
            cwd,
        })
    }

    pub fn owner(&self) -> Owner {
        Owner {
            pid: self.pid,
            start: self.start,
        }
    }

    /// The peer as records name it. `claimed_cwd` is used only when the
    /// broker cannot read the peer's directory itself.
    pub fn actor(&self, claimed_cwd: &str) -> Actor {
        Actor {
            uid: self.uid,
            gid: self.gid,
            user: self.user.clone(),
            pid: self.pid,
            cwd: Some(self.cwd.clone().unwrap_or_else(|| claimed_cwd.to_string())),
            tty: tty_name(self.tty_nr),
            host: crate::actor::host_name(),
        }
    }
}
