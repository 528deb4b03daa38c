//! The few files the analysis reads (a `source`d script, a kubeconfig),
//! as the account running the line sees them.
//!
//! Embedded, guard is that account, and reads them itself. The broker is
//! not: it may lack permission on the agent's directories or see another
//! `/tmp`. It installs a reader for the request it serves, which asks the
//! client to open the file and hand over the descriptor. The client could
//! hand over another file; but the content is the agent's to choose
//! either way, and what it runs is decided again at exec time.

use std::cell::RefCell;
use std::path::Path;

/// Files larger than this are not read.
pub const MAX: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Nothing there: the shell cannot read it either.
    Missing,
    Text(String),
    /// There, but not readable as text (too large, not a regular file,
    /// permission denied): what it holds is unknown.
    Unreadable(String),
}

type Reader = Box<dyn Fn(&Path) -> Seen>;

thread_local! {
    static READER: RefCell<Option<Reader>> = const { RefCell::new(None) };
}

/// Run `f` with `reader` answering for the file system.
pub fn with_reader<R>(reader: Reader, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<Reader>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let old = self.0.take();
            READER.with(|r| *r.borrow_mut() = old);
        }
    }
    let old = READER.with(|r| r.borrow_mut().replace(reader));
    let _reset = Reset(old);
    f()
}

/// Read `path` as the line's account would.
pub fn read(path: &Path) -> Seen {
    let installed = READER.with(|r| r.borrow().as_ref().map(|f| f(path)));
    installed.unwrap_or_else(|| local(path))
}

/// This process's own view.
pub fn local(path: &Path) -> Seen {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Seen::Missing,
        Err(e) => return Seen::Unreadable(e.to_string()),
    };
    if !meta.is_file() {
        return Seen::Unreadable("not a regular file".to_string());
    }
    if meta.len() > MAX {
        return Seen::Unreadable("too large".to_string());
    }
    match std::fs::read_to_string(path) {
        Ok(t) => Seen::Text(t),
        Err(e) => Seen::Unreadable(e.to_string()),
    }
}

/// Read an open file the same way: a regular file, within the limit.
pub fn from_fd(fd: std::os::fd::OwnedFd) -> Seen {
    use std::io::Read;
    let mut f = std::fs::File::from(fd);
    let meta = match f.metadata() {
        Ok(m) => m,
        Err(e) => return Seen::Unreadable(e.to_string()),
    };
    if !meta.is_file() {
        return Seen::Unreadable("not a regular file".to_string());
    }
    if meta.len() > MAX {
        return Seen::Unreadable("too large".to_string());
    }
    let mut text = String::new();
    match f.by_ref().take(MAX + 1).read_to_string(&mut text) {
        Ok(_) => Seen::Text(text),
        Err(e) => Seen::Unreadable(e.to_string()),
    }
}
