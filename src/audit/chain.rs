//! Appending to the hash chain: under one advisory lock, read the head,
//! rotate if the file is full, write the record with one `write` on an
//! `O_APPEND` descriptor, fsync it, forward it.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{AuditError, LOG};
use crate::rules::spec::AuditSpec;

/// What the first record of a log names as its predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends take this file's lock rather than the log's: the log is
/// renamed on rotation, and a writer waiting on the old inode would
/// otherwise append to a file that is no longer the head.
const LOCK: &str = "audit.lock";

/// The chain's keys come first, so every line reads `{"seq":…,"prev":…`.
#[derive(Serialize)]
struct Link<'a, T: Serialize> {
    seq: u64,
    prev: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// Where a record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub seq: u64,
    /// SHA-256 of the record's line (without its newline).
    pub hash: String,
}

/// The hex SHA-256 of one line's bytes, newline excluded.
pub fn hash_line(line: &[u8]) -> String {
    crate::hex::encode(Sha256::digest(line))
}

fn io_error(what: impl Into<String>) -> std::io::Error {
    std::io::Error::other(what.into())
}

/// Append `body` to the log in the state directory.
pub fn append<T: Serialize>(
    body: &T,
    durable: super::Flush,
    spec: &AuditSpec,
) -> Result<Written, AuditError> {
    let dir = super::ensure_dir().map_err(|source| AuditError {
        path: "<audit dir>".to_string(),
        source,
    })?;
    append_in(&dir, body, durable, spec)
}

/// The log with records written but not yet fdatasynced (interval flush).
static PENDING: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// Signalled when a record becomes pending, so an idle flusher sleeps
/// instead of waking every `FLUSH_EVERY` for nothing.
static WAKE: std::sync::Condvar = std::sync::Condvar::new();

/// Block until some interval-flushed record waits to be synced.
pub fn wait_pending() {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    while pending.is_none() {
        pending = WAKE.wait(pending).unwrap_or_else(|p| p.into_inner());
    }
}

/// Sync whatever interval-flushed records are pending; the broker's
/// flusher calls this within `FLUSH_EVERY` of a record. A failure is reported, and the
/// records stay pending.
pub fn flush_pending() -> Result<(), AuditError> {
    let path = match PENDING.lock() {
        Ok(mut p) => p.take(),
        Err(_) => None,
    };
    let Some(path) = path else { return Ok(()) };
    let synced = File::open(&path).and_then(|f| f.sync_data());
    synced.map_err(|source| {
        if let Ok(mut p) = PENDING.lock() {
            p.get_or_insert(path.clone());
        }
        AuditError {
            path: path.display().to_string(),
            source,
        }
    })
}

/// The head as this process last wrote it, and the file it wrote it to:
/// a long-lived writer (the broker) need not re-read the log's tail for
/// every record while nobody else has touched the file.
struct Known {
    dir: PathBuf,
    ino: u64,
    dev: u64,
    len: u64,
    tail: Tail,
}

static KNOWN: std::sync::Mutex<Option<Known>> = std::sync::Mutex::new(None);

fn known_tail(dir: &Path, meta: &std::fs::Metadata) -> Option<Tail> {
    use std::os::unix::fs::MetadataExt;
    let k = KNOWN.lock().ok()?;
    let k = k.as_ref()?;
    (k.dir == dir && k.ino == meta.ino() && k.dev == meta.dev() && k.len == meta.len())
        .then(|| k.tail.clone())
}

fn remember(dir: &Path, file: &File, tail: Tail) {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(meta), Ok(mut k)) = (file.metadata(), KNOWN.lock()) {
        *k = Some(Known {
            dir: dir.to_path_buf(),
            ino: meta.ino(),
            dev: meta.dev(),
            len: meta.len(),
            tail,
        });
    }
}

pub fn append_in<T: Serialize>(
    dir: &Path,
    body: &T,
    durable: super::Flush,
    spec: &AuditSpec,
) -> Result<Written, AuditError> {
    let path = dir.join(LOG);
    let fail = |source| AuditError {
        path: path.display().to_string(),
        source,
    };
    let _lock = lock(dir, nix::fcntl::FlockArg::LockExclusive).map_err(fail)?;
    let (mut file, mut created) = open_log(&path).map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    let mut len = meta.len();
    let cached = known_tail(dir, &meta);
    if cached.is_none() && len > 0 && is_legacy(&file, len) {
        // A log from before the chain: kept whole beside it, never chained
        // onto (verify would fail on its first line forever).
        let at = jiff::Timestamp::now().as_second();
        std::fs::rename(&path, dir.join(format!("{LOG}-unchained-{at}"))).map_err(fail)?;
        (file, created) = open_log(&path).map_err(fail)?;
        len = 0;
    }
    let tail = match cached {
        Some(t) => Some(t),
        None => match tail_of(&file, len).map_err(fail)? {
            Some(t) => Some(t),
            None => match rotated(dir).last() {
                Some(prev) => tail_of_path(prev).map_err(fail)?,
                None => None,
            },
        },
    };
    let (seq, prev) = tail.map_or((1, GENESIS.to_string()), |t| (t.seq + 1, t.hash));
    let mut line = serde_json::to_vec(&Link {
        seq,
        prev: &prev,
        body,
    })
    .map_err(|e| fail(io_error(e.to_string())))?;
    let hash = hash_line(&line);
    line.push(b'\n');
    if let Some(limit) = spec.rotate_bytes {
        if len > 0 && len + line.len() as u64 > limit {
            // The rotated file is named by its last seq, so the files sort
            // into chain order and the new file's `prev` names its tail.
            let to = dir.join(format!("{LOG}.{:012}", seq - 1));
            std::fs::rename(&path, &to).map_err(fail)?;
            (file, created) = open_log(&path).map_err(fail)?;
            len = 0;
        }
    }
    // One write: O_APPEND makes it land whole at the end. A short write
    // (a full disk) is cut back so the log never ends in half a record.
    match file.write(&line) {
        Ok(n) if n == line.len() => {}
        Ok(_) => {
            let _ = file.set_len(len);
            return Err(fail(io_error("short write (disk full?)")));
        }
        Err(e) => {
            let _ = file.set_len(len);
            return Err(fail(e));
        }
    }
    match durable {
        super::Flush::Sync => {
            file.sync_data().map_err(fail)?;
            if created {
                File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
            }
        }
        super::Flush::Interval => {
            if created {
                File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
            }
            if let Ok(mut pending) = PENDING.lock() {
                *pending = Some(path.clone());
                WAKE.notify_one();
            }
        }
        super::Flush::None => {}
    }
    remember(
        dir,
        &file,
        Tail {
            seq,
            hash: hash.clone(),
        },
    );
    super::forward::send(spec, &line[..line.len() - 1]).map_err(|e| AuditError {
        path: format!("syslog {}", e.target),
        source: io_error(e.reason),
    })?;
    Ok(Written { seq, hash })
}

fn open_log(path: &Path) -> std::io::Result<(File, bool)> {
    let existed = path.exists();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    Ok((file, !existed))
}

fn lock(dir: &Path, how: nix::fcntl::FlockArg) -> std::io::Result<nix::fcntl::Flock<File>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(LOCK))?;
    nix::fcntl::Flock::lock(file, how).map_err(|(_, e)| std::io::Error::from(e))
}

/// The last record of a file: its seq and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    pub seq: u64,
    pub hash: String,
}

fn tail_of_path(path: &Path) -> std::io::Result<Option<Tail>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    tail_of(&file, len)
}

/// Read backwards from the end for the last line. A file that does not end
/// in a newline was cut short (a crash, or tampering): no record may be
/// chained onto it until someone has looked. A last line that is not a
/// chained record (an older guard, a stray write) is chained over: the
/// next record links to its bytes and takes its seq from the newest line
/// that has one, and `verify` names the foreign line.
fn tail_of(file: &File, len: u64) -> std::io::Result<Option<Tail>> {
    if len == 0 {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    let mut want: u64 = 4096;
    loop {
        let take = want.min(len);
        let mut buf = vec![0u8; usize::try_from(take).map_err(io_error_from)?];
        file.read_exact_at(&mut buf, len - take)?;
        if buf.last() != Some(&b'\n') {
            return Err(io_error(
                "its last record is incomplete; run `guard audit verify`, then move the file aside",
            ));
        }
        let body = &buf[..buf.len() - 1];
        let mut lines: Vec<&[u8]> = body.rsplit(|&b| b == b'\n').collect();
        // Unless the whole file is in view, the oldest piece may be cut.
        if take < len {
            lines.pop();
        }
        let Some(last) = lines.first() else {
            want = want.saturating_mul(4);
            continue;
        };
        let seq = lines
            .iter()
            .find_map(|l| serde_json::from_slice::<Seq>(l).ok());
        match seq {
            Some(s) => {
                return Ok(Some(Tail {
                    seq: s.seq,
                    hash: hash_line(last),
                }))
            }
            None if take == len => return Err(io_error(
                "no record in it has a `seq`; run `guard audit verify`, then move the file aside",
            )),
            None => want = want.saturating_mul(4),
        }
    }
}

/// Does the file start with a record from before the chain (no `seq`)?
fn is_legacy(file: &File, len: u64) -> bool {
    let mut buf = vec![0u8; usize::try_from(len.min(65536)).unwrap_or(65536)];
    if file.read_exact_at(&mut buf, 0).is_err() {
        return false;
    }
    let first = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    match serde_json::from_slice::<serde_json::Value>(first) {
        Ok(v) => v.is_object() && v.get("seq").is_none(),
        Err(_) => false,
    }
}

fn io_error_from(e: std::num::TryFromIntError) -> std::io::Error {
    io_error(e.to_string())
}

/// Rotated logs (`audit.jsonl.<last seq>`), oldest first.
pub fn rotated(dir: &Path) -> Vec<PathBuf> {
    let prefix = format!("{LOG}.");
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix(&prefix)?.parse::<u64>().ok()?;
            Some((n, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Every file of the chain in the state directory, in chain order.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut all = rotated(dir);
    let live = dir.join(LOG);
    if live.exists() {
        all.push(live);
    }
    all
}

/// Every file of the log in `dir`, oldest first, as one text (files that
/// cannot be read are left out).
pub fn read_all(dir: &Path) -> String {
    let mut text = String::new();
    for f in files(dir) {
        if let Ok(t) = std::fs::read_to_string(f) {
            text.push_str(&t);
        }
    }
    text
}

/// The current chain head: the hash of the newest record, if any.
pub fn head() -> Option<String> {
    head_in(&super::dir()?)
}

pub fn head_in(dir: &Path) -> Option<String> {
    // A reader that cannot take the lock (a read-only state dir) still
    // reads: each record is written whole by one write.
    let _lock = lock(dir, nix::fcntl::FlockArg::LockShared).ok();
    files(dir)
        .iter()
        .rev()
        .find_map(|p| tail_of_path(p).ok().flatten())
        .map(|t| t.hash)
}
