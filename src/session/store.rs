//! Sessions on disk, under the state directory:
//!
//! - `sessions/ID/` a live session: `session.json`, its approval memory,
//!   shell snapshot, issued credentials (`creds/`) and materialised files
//!   (`files/`);
//! - `ending/ID@PID-START/` a session being torn down by that process
//!   (renamed there first, so exactly one process tears it down);
//! - `ended/ID.json` what it was, when and why it ended, what was revoked.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{valid_id, Session};

fn state() -> std::io::Result<PathBuf> {
    crate::state::ensure()
}

pub fn live_dir(id: &str) -> Option<PathBuf> {
    valid_id(id).then(|| crate::state::dir().map(|d| d.join("sessions").join(id)))?
}

pub fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// One private directory inside a parent that must already exist, so a
/// session torn down meanwhile is not silently recreated.
pub fn private_subdir(path: &Path) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Write a file readable only by the user, atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Unique per call, not per process: the broker's threads save the
    // same session at once (the first lines of a new harness), and a
    // shared temp name let one rename the other's file away (ENOENT).
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    drop(f);
    std::fs::rename(&tmp, path)
}

pub fn save(s: &Session) -> std::io::Result<()> {
    let dir = state()?.join("sessions").join(&s.id);
    private_dir(&dir)?;
    let json = serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?;
    write_private(&dir.join("session.json"), &json)
}

pub fn load(id: &str) -> std::io::Result<Option<Session>> {
    let Some(dir) = live_dir(id) else {
        return Ok(None);
    };
    match std::fs::read(dir.join("session.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| std::io::Error::other(format!("session {id}: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ended {
    #[serde(flatten)]
    pub session: Session,
    pub ended: String,
    pub reason: String,
    /// Credentials whose revoke ran, and how it went.
    pub revoked: Vec<crate::creds::Revocation>,
}

fn ended_path(id: &str) -> Option<PathBuf> {
    valid_id(id).then(|| crate::state::dir().map(|d| d.join("ended").join(format!("{id}.json"))))?
}

pub fn ended(id: &str) -> Option<Ended> {
    let bytes = std::fs::read(ended_path(id)?).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn ended_reason(id: &str) -> Option<String> {
    ended(id).map(|e| e.reason)
}

/// Live sessions, oldest id first.
pub fn live() -> Vec<Session> {
    let mut out: Vec<Session> = ids("sessions")
        .iter()
        .filter_map(|id| load(id).ok().flatten())
        .collect();
    out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    out
}

pub fn all_ended() -> Vec<Ended> {
    let mut out: Vec<Ended> = ids("ended")
        .iter()
        .filter_map(|f| ended(f.strip_suffix(".json")?))
        .collect();
    out.sort_by(|a, b| a.ended.cmp(&b.ended));
    out
}

fn ids(sub: &str) -> Vec<String> {
    let Some(dir) = crate::state::dir().map(|d| d.join(sub)) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// `ending/ID@PID-START`: a teardown and the process doing it. The name
/// is the claim, so taking it over is one `rename` too.
fn claim_path(id: &str) -> Option<PathBuf> {
    let me = super::Owner::of(nix::unistd::getpid().as_raw())?;
    let root = crate::state::dir()?.join("ending");
    private_dir(&root).ok()?;
    Some(root.join(format!("{id}@{}-{}", me.pid, me.start)))
}

/// The id and the claiming process of an `ending/` entry.
fn parse_claim(name: &str) -> (&str, Option<super::Owner>) {
    let Some((id, by)) = name.split_once('@') else {
        return (name, None);
    };
    let owner = by.split_once('-').and_then(|(p, s)| {
        Some(super::Owner {
            pid: p.parse().ok()?,
            start: s.parse().ok()?,
        })
    });
    (id, owner)
}

/// End a session: revoke what it was issued, remove its files and
/// memory, and record the end. Returns `None` when another process
/// already ended it (or is ending it): teardown runs exactly once.
pub fn end(id: &str, reason: &str) -> Option<Ended> {
    let live = live_dir(id)?;
    let ending = claim_path(id)?;
    // The rename is the claim: of concurrent reapers, one wins.
    std::fs::rename(&live, &ending).ok()?;
    Some(teardown(id, &ending, reason))
}

fn teardown(id: &str, dir: &Path, reason: &str) -> Ended {
    let session: Option<Session> = std::fs::read(dir.join("session.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let session = session.unwrap_or_else(|| {
        Session::new(
            super::Kind::Explicit,
            id.to_string(),
            std::time::Duration::ZERO,
            None,
        )
    });
    let revoked = crate::actor::with(session.actor(), || {
        crate::creds::revoke_all(&dir.join("creds"))
    });
    let ended = Ended {
        session,
        ended: jiff::Timestamp::now().to_string(),
        reason: reason.to_string(),
        revoked,
    };
    if let Some(base) = crate::state::dir() {
        let done = base.join("ended");
        if private_dir(&done).is_ok() {
            if let Ok(json) = serde_json::to_vec_pretty(&ended) {
                let _ = write_private(&done.join(format!("{id}.json")), &json);
            }
        }
    }
    let leftover = match std::fs::remove_dir_all(dir) {
        Ok(()) => String::new(),
        Err(e) => format!("; could not remove {}: {e}", dir.display()),
    };
    let names: Vec<String> = ended
        .revoked
        .iter()
        .map(|r| format!("{} ({})", r.credential, r.outcome))
        .collect();
    let what = if names.is_empty() {
        String::new()
    } else {
        format!("; revoked {}", names.join(", "))
    };
    crate::actor::with(ended.session.actor(), || {
        crate::audit::event(
            "session-end",
            id,
            &format!("session ended: {reason}{what}{leftover}"),
        )
    });
    ended
}

/// What a reap did, and what it found still live (so that joining a
/// session reads no record twice).
pub struct Reaped {
    pub ended: Vec<Ended>,
    pub live: Vec<Session>,
}

/// End every live session that expired or whose owner is gone, and
/// finish teardowns a crashed process left half done. Cheap enough to
/// run at every start: one directory read and one small file per live
/// session.
pub fn reap() -> Reaped {
    let mut out = Vec::new();
    let mut live = Vec::new();
    for id in ids("sessions") {
        match load(&id) {
            Ok(Some(s)) => match s.over() {
                Some(why) => out.extend(end(&id, &why)),
                None => live.push(s),
            },
            // A directory with no record (memory or credentials written
            // after a teardown took the record away) is ended too, once
            // it is clearly not a session still being created.
            Ok(None) if stale(&id) => out.extend(end(&id, "no session record")),
            _ => {}
        }
    }
    let Some(root) = crate::state::dir().map(|d| d.join("ending")) else {
        return Reaped { ended: out, live };
    };
    for name in ids("ending") {
        let (id, by) = parse_claim(&name);
        if by.is_some_and(|o| o.alive()) || !valid_id(id) {
            continue;
        }
        // The claimer died mid-teardown: take the claim over, once.
        let Some(mine) = claim_path(id) else { continue };
        if std::fs::rename(root.join(&name), &mine).is_ok() {
            out.push(teardown(id, &mine, "teardown resumed after a crash"));
        }
    }
    Reaped { ended: out, live }
}

/// A live-session directory older than a minute.
fn stale(id: &str) -> bool {
    live_dir(id)
        .and_then(|d| std::fs::metadata(d).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > std::time::Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    /// The broker's threads saving one session at once each land whole.
    #[test]
    fn concurrent_private_writes_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.json");
        let failures: usize = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|t| {
                    let path = &path;
                    s.spawn(move || {
                        (0..200)
                            .filter(|i| {
                                super::write_private(path, format!("{t}-{i}").as_bytes()).is_err()
                            })
                            .count()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(failures, 0);
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains('-'), "{last}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file is left behind");
    }
}
