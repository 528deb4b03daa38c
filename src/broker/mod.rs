//! `guard broker`: the reference monitor. It runs as its own user
//! (`guard`), never as the agent, and owns everything a decision rests
//! on: the compiled rules, approvals and the webhook secret, the audit
//! log, sessions and their teardown, credential providers and what they
//! mint. Clients (the shell the agent runs) ask it over a unix socket;
//! who they are comes from the kernel.
//!
//! Threads: one accepts, one serves each connection and then, for a
//! traced line, is its tracer until the tree ends; one watches session
//! owners (and reloads changed rules), one waits for signals.

pub mod admin;
pub mod peer;
pub mod rules;
pub mod serve;
pub mod watch;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 512;
/// Connections one uid may hold at once: a user who opens and stalls
/// hundreds cannot starve everyone else's shells.
const PER_UID: usize = 128;

#[derive(Default)]
struct Busy {
    total: usize,
    by_uid: std::collections::HashMap<u32, usize>,
}
/// The listen backlog: a burst of clients queues rather than failing.
const BACKLOG: i32 = 4096;

pub struct Options {
    pub socket: PathBuf,
    pub config: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub audit_dir: PathBuf,
    pub etc: PathBuf,
}

pub struct Broker {
    pub rules: rules::Rules,
    pub watcher: Arc<watch::Watcher>,
    pub started: String,
    pub exec_tree: bool,
    /// Credentials go to traced lines sealed, by the tracer, never through
    /// the client (`trace::Tree::sealing`).
    pub seal: bool,
    /// Traced interactive sessions: the lines each has decided and is
    /// about to start, for its tracer to attribute.
    pub launches: Mutex<std::collections::HashMap<String, crate::trace::judge::Launches>>,
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("guard broker: {msg}");
    1
}

/// A directory only this user may enter, created if missing.
fn private_dir(dir: &Path) -> Result<(), String> {
    crate::session::store::private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(())
}

pub fn main(opts: Options) -> i32 {
    // Nothing the broker creates is for anyone else, except the socket,
    // which is opened up on purpose below.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    for d in [&opts.state_dir, &opts.audit_dir] {
        if let Err(e) = private_dir(d) {
            return fail(e);
        }
    }
    // The broker is one process with one state dir and one log: these
    // are process-wide.
    // SAFETY: no other thread runs yet.
    unsafe { std::env::set_var("GUARD_STATE_DIR", &opts.state_dir) };
    crate::audit::set_dir(opts.audit_dir.clone());
    // A record is written before the answer and on disk within 10 ms
    // (auditd's incremental_async); `audit: {flush: sync}` waits for it.
    crate::audit::set_default_flush(crate::audit::Flush::Interval);
    crate::creds::set_remote_files();
    let source = rules::Source {
        file: opts.config.clone(),
        etc: opts.etc.clone(),
        imported: opts.state_dir.join("imported"),
    };
    let (rules, probe) = match rules::Rules::load(source) {
        Ok(r) => r,
        Err(e) => return fail(format!("config error: {e}")),
    };
    crate::audit::configure(&probe.audit);
    let exec_tree = probe.exec_tree;
    drop(probe);
    if exec_tree && !crate::trace::can_seal() {
        eprintln!(
            "guard broker: warning: no CAP_SYS_PTRACE: granted credentials go through the \
             client's environment, where the agent's other processes can read them"
        );
    }
    let listener = match listen(&opts.socket) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    // Beside the socket, where every client can reach it (and after
    // `listen`, which makes the socket's directory).
    let links = opts.socket.with_file_name("fd");
    let links_ok = crate::trace::links::set(&links);
    if let (true, Err(e)) = (exec_tree && crate::trace::can_seal(), &links_ok) {
        eprintln!(
            "guard broker: warning: {e}: a program granted a credential directory \
             (DOCKER_CONFIG) is refused it"
        );
    }
    // Signals go to the signal thread only.
    let mut handled = SigSet::empty();
    for s in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT] {
        handled.add(s);
    }
    let _ = handled.thread_block();
    let broker = Arc::new(Broker {
        rules,
        watcher: watch::Watcher::new(),
        started: jiff::Timestamp::now().to_string(),
        exec_tree,
        seal: exec_tree && crate::trace::can_seal(),
        launches: Mutex::new(std::collections::HashMap::new()),
    });
    // Sessions from before a restart: their owners are watched again,
    // and those that died meanwhile are ended now.
    watch::sweep();
    for s in crate::session::store::live() {
        broker.watcher.watch(&s);
    }
    spawn_maintenance(Arc::clone(&broker));
    spawn_flusher();
    spawn_signals(
        Arc::clone(&broker),
        handled,
        opts.socket.clone(),
        listener.bound,
    );
    let on = if listener.bound {
        opts.socket.display().to_string()
    } else {
        "the socket systemd passed (LISTEN_FDS)".to_string()
    };
    eprintln!(
        "guard broker: listening on {on} (protocol {}, config {}, state {}, audit {})",
        crate::wire::VERSION,
        rules::describe_source(broker.rules.source()),
        opts.state_dir.display(),
        opts.audit_dir.display()
    );
    accept(&broker, &listener.listener);
    0
}

struct Listening {
    listener: UnixListener,
    /// The broker bound the path itself (and removes it on exit).
    bound: bool,
}

/// The socket systemd passed (`LISTEN_FDS`), else the path, bound here.
fn listen(path: &Path) -> Result<Listening, String> {
    let mut fds = listenfd::ListenFd::from_env();
    if let Ok(Some(l)) = fds.take_unix_listener(0) {
        return Ok(Listening {
            listener: l,
            bound: false,
        });
    }
    if let Some(dir) = path.parent() {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!(
                "{} is already served by a running broker",
                path.display()
            ));
        }
        std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("socket: {e}"))?;
    let addr = UnixAddr::new(path).map_err(|e| format!("{}: {e}", path.display()))?;
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)
        .map_err(|e| format!("bind {}: {e}", path.display()))?;
    socket::listen(&fd, Backlog::new(BACKLOG).unwrap_or(Backlog::MAXCONN))
        .map_err(|e| format!("listen {}: {e}", path.display()))?;
    // Anyone may connect: who they are is the kernel's answer, not the
    // socket's permissions.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Listening {
        listener: UnixListener::from(fd),
        bound: true,
    })
}

fn accept(broker: &Arc<Broker>, listener: &UnixListener) {
    let busy = Arc::new((Mutex::new(Busy::default()), Condvar::new()));
    let pool = Pool::new();
    for conn in listener.incoming() {
        let sock = match conn {
            Ok(s) => s,
            Err(e) => {
                eprintln!("guard broker: accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let Ok(cred) =
            nix::sys::socket::getsockopt(&sock, nix::sys::socket::sockopt::PeerCredentials)
        else {
            continue;
        };
        let uid = cred.uid();
        {
            let (lock, cv) = &*busy;
            let mut b = lock.lock().unwrap_or_else(|p| p.into_inner());
            if b.by_uid.get(&uid).copied().unwrap_or(0) >= PER_UID {
                drop(b);
                eprintln!("guard broker: uid {uid} holds {PER_UID} connections; refusing another");
                let _ = crate::wire::send(
                    &sock,
                    &crate::wire::Reply::Error {
                        id: 0,
                        message: format!("too many connections from uid {uid}"),
                    },
                    &[],
                );
                continue;
            }
            while b.total >= MAX_CONNECTIONS {
                b = cv.wait(b).unwrap_or_else(|p| p.into_inner());
            }
            b.total += 1;
            *b.by_uid.entry(uid).or_insert(0) += 1;
        }
        if let Err(e) = pool.serve(broker, &busy, sock, uid) {
            eprintln!("guard broker: cannot start a thread: {e}");
            release(&busy, uid);
        }
    }
}

/// Worker threads, kept between connections: starting a thread per
/// connection costs more than deciding a plain line. A connection goes
/// to an idle worker, or to a new one when none is idle (at most one per
/// connection in service, so `MAX_CONNECTIONS` bounds them).
struct Pool {
    tx: std::sync::mpsc::Sender<(UnixStream, u32)>,
    rx: Arc<Mutex<std::sync::mpsc::Receiver<(UnixStream, u32)>>>,
    idle: Arc<std::sync::atomic::AtomicUsize>,
}

impl Pool {
    fn new() -> Pool {
        let (tx, rx) = std::sync::mpsc::channel();
        Pool {
            tx,
            rx: Arc::new(Mutex::new(rx)),
            idle: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    fn serve(
        &self,
        broker: &Arc<Broker>,
        busy: &Arc<(Mutex<Busy>, Condvar)>,
        sock: UnixStream,
        uid: u32,
    ) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        // Claim an idle worker, or start one.
        let claimed = self
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !claimed {
            self.spawn(broker, busy)?;
        }
        self.tx
            .send((sock, uid))
            .map_err(|_| std::io::Error::other("worker pool is gone"))
    }

    fn spawn(
        &self,
        broker: &Arc<Broker>,
        busy: &Arc<(Mutex<Busy>, Condvar)>,
    ) -> std::io::Result<()> {
        let b = Arc::clone(broker);
        let done = Arc::clone(busy);
        let rx = Arc::clone(&self.rx);
        let idle = Arc::clone(&self.idle);
        // The analysis recurses over nested scripts; give it room.
        std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(move || loop {
                let next = match rx.lock() {
                    Ok(r) => r.recv(),
                    Err(p) => p.into_inner().recv(),
                };
                let Ok((sock, uid)) = next else { return };
                let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    serve::connection(&b, sock)
                }));
                // A traced line holds this thread, not a connection slot,
                // for as long as its tree runs.
                release(&done, uid);
                let Ok(then) = served else {
                    eprintln!(
                        "guard broker: a connection's thread panicked ({}); it was refused",
                        crate::panic_note::last()
                    );
                    // The thread ends: anything it had seized is killed
                    // with it (EXITKILL), rather than left stopped.
                    return;
                };
                if let Some(tracing) = then {
                    let traced =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tracing.run()));
                    if traced.is_err() {
                        eprintln!(
                            "guard broker: a tracer panicked ({}); its tree is killed",
                            crate::panic_note::last()
                        );
                        return;
                    }
                }
                idle.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .map(drop)
    }
}

fn release(busy: &(Mutex<Busy>, Condvar), uid: u32) {
    let (lock, cv) = busy;
    let mut b = lock.lock().unwrap_or_else(|p| p.into_inner());
    b.total = b.total.saturating_sub(1);
    if let Some(n) = b.by_uid.get_mut(&uid) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            b.by_uid.remove(&uid);
        }
    }
    cv.notify_one();
}

fn spawn_flusher() {
    std::thread::spawn(|| {
        let mut failing = false;
        loop {
            // Records that arrive within one interval share one sync.
            crate::audit::chain::wait_pending();
            std::thread::sleep(crate::audit::FLUSH_EVERY);
            match crate::audit::chain::flush_pending() {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    eprintln!("guard broker: cannot sync the audit log: {e}");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    });
}

fn spawn_maintenance(broker: Arc<Broker>) {
    std::thread::spawn(move || {
        let mut tick: u64 = 0;
        loop {
            broker.watcher.run_once(Duration::from_millis(250));
            tick += 1;
            if tick.is_multiple_of(4) && broker.rules.changed() {
                let _ = broker.rules.reload("a configuration file changed");
            }
            if tick.is_multiple_of(40) {
                watch::sweep();
            }
        }
    });
}

fn spawn_signals(broker: Arc<Broker>, set: SigSet, socket: PathBuf, bound: bool) {
    std::thread::spawn(move || loop {
        match set.wait() {
            Ok(Signal::SIGHUP) => {
                let _ = broker.rules.reload("SIGHUP");
            }
            Ok(sig) => {
                eprintln!("guard broker: {} received; exiting", sig.as_str());
                if bound {
                    let _ = std::fs::remove_file(&socket);
                }
                std::process::exit(0);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    });
}
