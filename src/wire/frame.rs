//! Frames on the broker's socket: a u32 big-endian length, then that many
//! bytes of JSON. A frame may carry file descriptors (SCM_RIGHTS), which
//! is how a client hands its terminal to the broker.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// No message is larger: a bigger length is an attack or a bug, and the
/// connection is closed before anything is allocated for it.
pub const MAX_FRAME: usize = 1 << 20;

/// At most this many descriptors ride on one frame.
const MAX_FDS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("too many file descriptors on one frame")]
    TooManyFds,
}

impl FrameError {
    pub fn timed_out(&self) -> bool {
        matches!(self, FrameError::Io(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
    }
}

fn io(e: nix::Error) -> FrameError {
    FrameError::Io(std::io::Error::from(e))
}

/// Send one frame, with `fds` attached to its first byte.
pub fn send(sock: &UnixStream, body: &[u8], fds: &[std::os::fd::RawFd]) -> Result<(), FrameError> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    let len = u32::try_from(body.len())
        .map_err(|_| FrameError::TooLarge(body.len()))?
        .to_be_bytes();
    let mut sent = 0usize;
    let total = len.len() + body.len();
    while sent < total {
        let (head, rest) = if sent < len.len() {
            (&len[sent..], body)
        } else {
            (&[][..], &body[sent - len.len()..])
        };
        let iov = [IoSlice::new(head), IoSlice::new(rest)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if sent == 0 && !fds.is_empty() {
            &cmsg
        } else {
            &[]
        };
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(0) => return Err(FrameError::Closed),
            Ok(n) => sent += n,
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(())
}

/// Read exactly `buf.len()` bytes, keeping any descriptors that arrive,
/// before `deadline` (if any): a peer trickling one byte at a time must
/// not hold a connection open for ever.
fn fill(
    sock: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    at_start: bool,
    deadline: Option<std::time::Instant>,
) -> Result<(), FrameError> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut got = 0;
    while got < buf.len() {
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(FrameError::Io(std::io::Error::from(
                    std::io::ErrorKind::TimedOut,
                )));
            }
            sock.set_read_timeout(Some(left))?;
        }
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut buf[got..])];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(io(e)),
        };
        let mut too_many = msg.flags.contains(MsgFlags::MSG_CTRUNC);
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    for fd in raw {
                        // SAFETY: the kernel just installed this descriptor
                        // for us; nothing else owns it.
                        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                    }
                }
            }
        }
        too_many |= fds.len() > MAX_FDS;
        if too_many {
            return Err(FrameError::TooManyFds);
        }
        let n = msg.bytes;
        if n == 0 {
            return Err(if at_start && got == 0 {
                FrameError::Closed
            } else {
                FrameError::Truncated
            });
        }
        got += n;
    }
    Ok(())
}

/// Receive one frame and the descriptors that came with it.
pub fn recv(sock: &UnixStream) -> Result<(Vec<u8>, Vec<OwnedFd>), FrameError> {
    recv_by(sock, None)
}

/// As `recv`, the whole frame before `deadline`.
pub fn recv_by(
    sock: &UnixStream,
    deadline: Option<std::time::Instant>,
) -> Result<(Vec<u8>, Vec<OwnedFd>), FrameError> {
    let mut fds = Vec::new();
    let mut len = [0u8; 4];
    fill(sock, &mut len, &mut fds, true, deadline)?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(FrameError::TooLarge(n));
    }
    let mut body = vec![0u8; n];
    fill(sock, &mut body, &mut fds, false, deadline)?;
    Ok((body, fds))
}
