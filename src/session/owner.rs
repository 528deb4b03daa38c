//! The process a session belongs to, named by pid and start time.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: i32,
    /// Start time in clock ticks after boot (`/proc/PID/stat` field 22).
    pub start: u64,
}

/// Programs that are part of the command, not the harness running it.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "tcsh", "csh", "yash", "busybox",
    "guard",
];

/// What `/proc/PID/stat` says about a process.
#[derive(Debug, Clone)]
pub struct Stat {
    pub comm: String,
    pub ppid: i32,
    pub start: u64,
    /// The controlling terminal's device number, 0 for none.
    pub tty_nr: u64,
    /// Where the kernel put the process's arguments and environment at
    /// its exec (`arg_start`, `arg_end`, `env_start`, `env_end`), when
    /// the reader may see them (0s otherwise).
    pub strings: [u64; 4],
}

pub fn stat(pid: i32) -> Option<Stat> {
    use std::io::Read;
    // One read: the file reports size 0, so read_to_string would grow its
    // buffer through half a dozen reads, and this runs for every ancestor
    // of every line the broker decides.
    let mut buf = [0u8; 1024];
    let mut f = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let n = f.read(&mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    // The name may hold spaces and parentheses; fields resume after the
    // last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
    Some(Stat {
        comm,
        ppid: rest.get(1)?.parse().ok()?,
        start: rest.get(19)?.parse().ok()?,
        // A signed int in the kernel; the device number's bits either way.
        tty_nr: rest.get(4)?.parse::<i64>().ok()? as u64,
        strings: [45, 46, 47, 48].map(|i| rest.get(i).and_then(|v| v.parse().ok()).unwrap_or(0)),
    })
}

impl Owner {
    pub fn of(pid: i32) -> Option<Owner> {
        stat(pid).map(|s| Owner {
            pid,
            start: s.start,
        })
    }

    /// The same process still runs: same pid, same start time.
    pub fn alive(&self) -> bool {
        stat(self.pid).is_some_and(|s| s.start == self.start)
    }
}

/// The nearest ancestor that is not a shell: the agent harness that runs
/// one `guard -c` per command, or sshd's session process.
pub fn harness() -> Option<Owner> {
    harness_above(nix::unistd::getppid().as_raw())
}

/// `pid` and every ancestor of it, nearest first, and the harness among
/// them: the nearest ancestor that is not a shell (as `harness`).
pub fn lineage(pid: i32) -> (Vec<Owner>, Option<Owner>) {
    let mut out = Vec::new();
    let mut harness = None;
    let mut at = pid;
    for _ in 0..64 {
        let Some(s) = stat(at) else { break };
        let me = Owner {
            pid: at,
            start: s.start,
        };
        if at != pid && harness.is_none() && (!SHELLS.contains(&s.comm.as_str()) || s.ppid <= 1) {
            harness = Some(me);
        }
        out.push(me);
        if s.ppid <= 0 {
            break;
        }
        at = s.ppid;
    }
    (out, harness)
}

fn harness_above(parent: i32) -> Option<Owner> {
    let mut pid = parent;
    for _ in 0..64 {
        let s = stat(pid)?;
        let shell = SHELLS.contains(&s.comm.as_str());
        if !shell || s.ppid <= 1 {
            return Some(Owner {
                pid,
                start: s.start,
            });
        }
        pid = s.ppid;
    }
    None
}
