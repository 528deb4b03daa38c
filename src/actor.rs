//! Who a decision is about: the user, process, terminal and directory a
//! record names.
//!
//! In embedded mode that is guard's own process. In the broker it is the
//! peer of the connection being served, as the kernel describes it
//! (`SO_PEERCRED`, `/proc`), never what the peer's message says. Each
//! broker thread sets the peer for the request it serves, so that every
//! record, session and credential event written on the way names the
//! right account.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub uid: u32,
    pub gid: u32,
    pub user: String,
    pub pid: i32,
    /// None: guard's own process, whose directory changes between
    /// interactive lines and is read when needed.
    pub cwd: Option<String>,
    pub tty: Option<String>,
    pub host: String,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Actor>>> = const { RefCell::new(None) };
}

/// guard's own process, looked up once: the passwd lookup costs more than
/// everything else it is used for.
pub fn this_process() -> Arc<Actor> {
    static ME: OnceLock<Arc<Actor>> = OnceLock::new();
    Arc::clone(ME.get_or_init(|| {
        let uid = nix::unistd::getuid();
        Arc::new(Actor {
            uid: uid.as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            user: user_name(uid.as_raw()),
            pid: nix::unistd::getpid().as_raw(),
            cwd: None,
            tty: own_tty(),
            host: host_name(),
        })
    }))
}

/// The actor of the request this thread serves, else guard's process.
pub fn current() -> Arc<Actor> {
    CURRENT
        .with(|c| c.borrow().clone())
        .unwrap_or_else(this_process)
}

/// Run `f` on behalf of `actor`: everything it records names them.
pub fn with<R>(actor: Arc<Actor>, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<Arc<Actor>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let old = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = old);
        }
    }
    let old = CURRENT.with(|c| c.borrow_mut().replace(actor));
    let _reset = Reset(old);
    f()
}

impl Actor {
    pub fn cwd(&self) -> String {
        match &self.cwd {
            Some(c) => c.clone(),
            None => std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }
}

/// The name the system knows `uid` by, else the number.
pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

pub fn host_name() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The terminal guard was started on, if any of stdin, stdout or stderr
/// is one.
fn own_tty() -> Option<String> {
    use std::os::fd::AsFd;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let found = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()]
        .into_iter()
        .filter(|fd| nix::unistd::isatty(fd).unwrap_or(false))
        .find_map(|fd| nix::unistd::ttyname(fd).ok())
        .map(|p| p.display().to_string());
    found
}
