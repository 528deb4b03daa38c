//! Sessions end when their owner does. The broker holds a pidfd for the
//! owner of every live session and polls them all; an owner that exits,
//! by `kill -9` as much as by `exit`, has its session torn down (its
//! credentials revoked) at once, with no later command needed. Expiry is
//! checked on the same tick, once a second.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::session::{store, Session};

struct Watched {
    pidfd: OwnedFd,
    session: Session,
}

#[derive(Default)]
pub struct Watcher {
    sessions: Mutex<HashMap<String, Watched>>,
    /// Written to wake the poller when a session is added.
    wake: Mutex<Option<(OwnedFd, OwnedFd)>>,
}

/// End a session (its teardown records it as its user's).
pub fn end(s: &Session, why: &str) {
    store::end(&s.id, why);
}

impl Watcher {
    pub fn new() -> Arc<Watcher> {
        let w = Watcher::default();
        if let Ok(pipe) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
        {
            if let Ok(mut slot) = w.wake.lock() {
                *slot = Some(pipe);
            }
        }
        Arc::new(w)
    }

    /// Watch `s`'s owner. The pidfd is opened and only then is the owner
    /// checked to be the same process (pid and start time), so a pid
    /// recycled in between is never mistaken for the owner.
    pub fn watch(&self, s: &Session) {
        let Some(owner) = s.owner else { return };
        let Ok(mut map) = self.sessions.lock() else {
            return;
        };
        if map.contains_key(&s.id) {
            return;
        }
        let pidfd = super::peer::pidfd_open(owner.pid);
        match pidfd {
            Some(fd) if owner.alive() && !super::peer::exited(&fd) => {
                map.insert(
                    s.id.clone(),
                    Watched {
                        pidfd: fd,
                        session: s.clone(),
                    },
                );
                drop(map);
                self.poke();
            }
            _ => {
                drop(map);
                end(s, &format!("owner process {} is gone", owner.pid));
            }
        }
    }

    fn poke(&self) {
        if let Ok(slot) = self.wake.lock() {
            if let Some((_, w)) = slot.as_ref() {
                let _ = nix::unistd::write(w, &[1]);
            }
        }
    }

    /// Poll the owners until one exits or `tick` passes; end the sessions
    /// of those gone and of those expired.
    pub fn run_once(&self, tick: Duration) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let (ids, fds): (Vec<String>, Vec<OwnedFd>) = match self.sessions.lock() {
            Ok(map) => map
                .iter()
                .filter_map(|(id, w)| Some((id.clone(), w.pidfd.try_clone().ok()?)))
                .unzip(),
            Err(_) => return,
        };
        let wake = self
            .wake
            .lock()
            .ok()
            .and_then(|s| s.as_ref().and_then(|(r, _)| r.try_clone().ok()));
        let mut polls: Vec<PollFd<'_>> = fds
            .iter()
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        if let Some(w) = &wake {
            polls.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
        }
        let ms = u16::try_from(tick.as_millis()).unwrap_or(1000);
        let _ = poll(&mut polls, PollTimeout::from(ms));
        let gone: Vec<String> = polls
            .iter()
            .zip(&ids)
            .filter(|(p, _)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, id)| id.clone())
            .collect();
        drop(polls);
        if let Some(w) = &wake {
            let mut buf = [0u8; 64];
            while nix::unistd::read(w, &mut buf).is_ok_and(|n| n > 0) {}
        }
        for id in gone {
            let removed = self.sessions.lock().ok().and_then(|mut m| m.remove(&id));
            if let Some(w) = removed {
                let pid = w.session.owner.map_or(0, |o| o.pid);
                end(&w.session, &format!("owner process {pid} is gone"));
            }
        }
        self.expire();
    }

    /// End what expired, and forget sessions someone else ended.
    fn expire(&self) {
        let live: Vec<Session> = match self.sessions.lock() {
            Ok(m) => m.values().map(|w| w.session.clone()).collect(),
            Err(_) => return,
        };
        for s in live {
            let still = store::live_dir(&s.id).is_some_and(|d| d.is_dir());
            let over = s
                .expires
                .parse::<jiff::Timestamp>()
                .map_or(true, |t| t <= jiff::Timestamp::now());
            if !still || over {
                if let Ok(mut m) = self.sessions.lock() {
                    m.remove(&s.id);
                }
                if over && still {
                    end(&s, "expired");
                }
            }
        }
    }
}

/// Sessions with no owner (explicit ones) expire by time alone; sweep
/// them, and finish teardowns a crashed broker left half done.
pub fn sweep() {
    let _ = store::reap();
}
