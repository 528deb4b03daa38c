//! One connection: hello, one request, its answer. Every byte from the
//! peer is untrusted; anything malformed, oversized or out of order ends
//! the connection with an `error` and a line in the broker's log, and
//! never takes the broker down.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use super::peer::Peer;
use super::Broker;
use crate::analyze::Scope;
use crate::approve::tty::Answer;
use crate::gate;
use crate::parse::Env;
use crate::policy::{self, Input, Verdict};
use crate::rules::load::Config;
use crate::session::{self, Session};
use crate::wire::{self, Reply, Request};

/// How long the broker waits for a client's next message.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The code an interactive client takes as "your saved state does not
/// parse; start afresh".
pub const SNAPSHOT_BROKEN: i32 = -1;

struct Conn<'a> {
    sock: &'a UnixStream,
    peer: &'a Peer,
    /// The client's terminal, from its `decide` frame, until the tracer
    /// of its line takes it.
    terminal: std::cell::RefCell<Option<OwnedFd>>,
    /// The traced line's tree, to run once the connection is over.
    then: std::cell::RefCell<Option<Tracing>>,
}

/// The tracer's loop for a line this thread has seized: it decides the
/// line's tree until the last of it exits. Run by the thread that
/// served the connection, since ptrace belongs to the thread that
/// attached; that also spares a thread start and two hand-offs per line.
pub struct Tracing(Box<dyn FnOnce()>);

impl Tracing {
    pub fn run(self) {
        (self.0)()
    }
}

#[derive(Debug)]
enum Fault {
    /// Say this to the peer and close.
    Protocol(String),
    /// The peer went away or stalled; nothing to say.
    Gone(String),
}

impl Conn<'_> {
    fn send(&self, reply: &Reply) -> Result<(), Fault> {
        wire::send(self.sock, reply, &[]).map_err(|e| Fault::Gone(e.to_string()))
    }

    /// The next message, whole within `CLIENT_TIMEOUT`.
    fn recv(&self) -> Result<(Request, Vec<OwnedFd>), Fault> {
        let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
        match wire::recv_by::<Request>(self.sock, Some(deadline)) {
            Ok(m) => Ok(m),
            Err(wire::WireError::Malformed(m)) => {
                Err(Fault::Protocol(format!("malformed message: {m}")))
            }
            Err(wire::WireError::Frame(wire::FrameError::TooLarge(n))) => {
                Err(Fault::Protocol(format!(
                    "frame of {n} bytes is over the {}-byte limit",
                    wire::MAX_FRAME
                )))
            }
            Err(wire::WireError::Frame(wire::FrameError::TooManyFds)) => Err(Fault::Protocol(
                "too many descriptors on one frame".to_string(),
            )),
            Err(e) => Err(Fault::Gone(e.to_string())),
        }
    }
}

/// Serve one connection to its end. What it hands back is a traced
/// line's tree, which the caller must run (its client is seized, and
/// stops at its next exec until a tracer answers), after letting go of
/// the connection's slot.
pub fn connection(broker: &Arc<Broker>, sock: UnixStream) -> Option<Tracing> {
    let _ = sock.set_read_timeout(Some(CLIENT_TIMEOUT));
    let _ = sock.set_write_timeout(Some(CLIENT_TIMEOUT));
    let peer = match Peer::of(&sock) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("guard broker: refused a connection: {e}");
            return None;
        }
    };
    let conn = Conn {
        sock: &sock,
        peer: &peer,
        terminal: std::cell::RefCell::new(None),
        then: std::cell::RefCell::new(None),
    };
    if let Err(fault) = converse(broker, &conn) {
        match fault {
            Fault::Protocol(why) => {
                eprintln!(
                    "guard broker: uid {} pid {}: {why}; closing the connection",
                    peer.uid, peer.pid
                );
                let _ = conn.send(&Reply::Error {
                    id: 0,
                    message: why,
                });
            }
            Fault::Gone(why) => {
                if !why.contains("connection closed") {
                    eprintln!(
                        "guard broker: uid {} pid {}: {why}; closing the connection",
                        peer.uid, peer.pid
                    );
                }
            }
        }
    }
    conn.then.into_inner()
}

fn converse(broker: &Arc<Broker>, conn: &Conn<'_>) -> Result<(), Fault> {
    let (hello, fds) = conn.recv()?;
    if !fds.is_empty() {
        return Err(Fault::Protocol("descriptors on hello".to_string()));
    }
    let Request::Hello { id, version, .. } = hello else {
        return Err(Fault::Protocol(format!(
            "expected hello, got {}",
            hello.kind()
        )));
    };
    if version != wire::VERSION {
        let message = format!(
            "protocol version {version} is not the broker's {}",
            wire::VERSION
        );
        let _ = conn.send(&Reply::Error {
            id,
            message: message.clone(),
        });
        return Err(Fault::Gone(message));
    }
    let cfg = broker.rules.for_home(&conn.peer.home);
    conn.send(&Reply::Hello {
        id,
        version: wire::VERSION,
        broker: concat!("guard ", env!("CARGO_PKG_VERSION")).to_string(),
        want_env: want_env(&cfg),
        decide_timeout_ms: u64::try_from(decide_timeout(&cfg).as_millis()).unwrap_or(u64::MAX),
    })?;
    let (req, mut fds) = conn.recv()?;
    // A decide may carry the client's terminal, for the tracer of its
    // line; nothing else carries a descriptor.
    if matches!(req, Request::Decide { tty: true, .. }) && fds.len() == 1 {
        *conn.terminal.borrow_mut() = fds.pop();
    }
    if !fds.is_empty() {
        return Err(Fault::Protocol(format!("descriptors on {}", req.kind())));
    }
    if req.id() <= id {
        return Err(Fault::Protocol(format!(
            "request id {} does not follow {id}",
            req.id()
        )));
    }
    let actor = Arc::new(conn.peer.actor(match &req {
        Request::Decide { cwd, .. } => cwd,
        _ => "/",
    }));
    crate::actor::with(actor, || match req {
        Request::Decide { .. } => decide(broker, conn, &cfg, req),
        Request::SessionStart { .. }
        | Request::SessionEnd { .. }
        | Request::SessionStatus { .. }
        | Request::SessionList { .. } => super::admin::session(broker, conn.peer, &cfg, req)
            .map_err(Fault::Gone)
            .and_then(|reply| conn.send(&reply)),
        Request::Status { id } => conn.send(&super::admin::status(broker, id)),
        other => Err(Fault::Protocol(format!("unexpected {}", other.kind()))),
    })
}

fn want_env(cfg: &Result<Config, crate::rules::load::ConfigError>) -> Vec<String> {
    let mut out: Vec<String> = wire::BASE_ENV.iter().map(|s| s.to_string()).collect();
    if let Ok(c) = cfg {
        for b in c.sessions.boundaries.values() {
            out.extend(b.env.keys().cloned());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A decision waits for approvers and providers; the client waits this
/// long for it.
fn decide_timeout(cfg: &Result<Config, crate::rules::load::ConfigError>) -> Duration {
    let approval = cfg.as_ref().map_or(Duration::ZERO, |c| {
        c.approval.timeout
            + c.approval
                .webhook
                .as_ref()
                .map_or(Duration::ZERO, |w| w.timeout)
    });
    approval + crate::creds::provider::TIMEOUT * 2 + Duration::from_secs(10)
}

fn decide(
    broker: &Arc<Broker>,
    conn: &Conn<'_>,
    shared: &super::rules::Shared,
    req: Request,
) -> Result<(), Fault> {
    let cfg: &Result<Config, crate::rules::load::ConfigError> = shared;
    let Request::Decide {
        id,
        mode,
        line,
        argv,
        login: _,
        starts_session,
        session: named,
        cwd: _,
        env_names,
        env: mut values,
        scope,
        tty: _,
    } = req
    else {
        return Err(Fault::Protocol("not a decide".to_string()));
    };
    // Values the rules read beyond what every client sends.
    let missing: Vec<String> = want_env(cfg)
        .into_iter()
        .filter(|n| env_names.contains(n) && !values.contains_key(n))
        .collect();
    if !missing.is_empty() {
        conn.send(&Reply::EnvRequest { id, names: missing })?;
        match conn.recv()? {
            (
                Request::Env {
                    id: got,
                    values: more,
                },
                fds,
            ) if got == id && fds.is_empty() => {
                values.extend(more);
            }
            (other, _) => {
                return Err(Fault::Protocol(format!(
                    "expected env, got {}",
                    other.kind()
                )))
            }
        }
    }
    let peer = conn.peer;
    let refuse = |lines: Vec<String>| Reply::Verdict {
        id,
        verdict: wire::Verdict {
            allow: false,
            code: gate::REFUSED,
            stderr: lines,
            shell: shell_of(cfg),
            ..wire::Verdict::default()
        },
    };
    let mode: &'static str = match mode.as_str() {
        "-c" => "-c",
        "argv" => "argv",
        "stdin" => "stdin",
        "file" => "file",
        "interactive" => "interactive",
        "open" => "open",
        other => return Err(Fault::Protocol(format!("unknown mode `{other}`"))),
    };
    let home = peer.home.clone();
    let env = Env {
        home: home.clone(),
        cwd: crate::actor::current().cwd(),
        path: values
            .get("PATH")
            .cloned()
            .unwrap_or_else(|| crate::parse::DEFAULT_PATH.to_string()),
        fresh: mode != "interactive",
    };
    let settings = session::settings::of(cfg);
    let (lineage, harness) = session::owner::lineage(peer.pid);
    let asker = session::Asker {
        named,
        starts: starts_session,
        me: Some(peer.owner()),
        harness: if starts_session { None } else { harness },
        lineage,
        uid: peer.uid,
        tty_dev: peer.tty_nr,
    };
    let session = match session::resolve(&asker, settings, &[]) {
        Ok(s) => s,
        Err(e) => {
            let shown = asker
                .named
                .as_deref()
                .filter(|n| session::valid_id(n))
                .unwrap_or("-");
            if !matches!(e, session::SessionError::State(_)) {
                crate::audit::event("session-refused", shown, &e.to_string());
            }
            return conn.send(&refuse(vec![format!("guard: denied: {e}")]));
        }
    };
    broker.watcher.watch(&session);
    let scrubber = settings.scrubber();
    // By name, and by value for the values the client sent: its scan of
    // the rest is all it compiles detectors for.
    let unset_env: Vec<String> = env_names
        .iter()
        .filter(|n| {
            crate::exec::is_dropped(n)
                || (n.as_str() != session::VAR
                    && (scrubber.matches(n)
                        || values
                            .get(n.as_str())
                            .is_some_and(|v| crate::detect::holds_secret(v))))
        })
        .cloned()
        .collect();
    // What the line starts with, as the client reported it, less what it
    // is about to scrub (as embedded mode decides after scrubbing).
    let vars: BTreeMap<String, String> = values
        .into_iter()
        .filter(|(k, _)| !unset_env.contains(k))
        .collect();
    let base = wire::Verdict {
        allow: true,
        code: 0,
        session: Some(session.id.clone()),
        shell: shell_of(cfg),
        startup_files: cfg.as_ref().is_ok_and(|c| c.startup_files),
        unset_env,
        ..wire::Verdict::default()
    };
    if mode == "open" {
        crate::audit::event("session-start", &session.id, "interactive session started");
        let trace = broker.exec_tree;
        let reply = Reply::Verdict {
            id,
            verdict: wire::Verdict { trace, ..base },
        };
        if !trace {
            return conn.send(&reply);
        }
        // The interactive shell itself is traced, so every line's
        // programs are: the lines it decides are handed to its tracer.
        let launches = crate::trace::judge::Launches::default();
        if let Ok(mut all) = broker.launches.lock() {
            all.insert(session.id.clone(), Arc::clone(&launches));
        }
        return attach(
            broker,
            conn,
            shared,
            &env,
            &session,
            Default::default(),
            Some(launches),
        )
        .map_or_else(
            |message| conn.send(&Reply::Error { id, message }),
            |()| conn.send(&reply),
        );
    }
    // Files the line sources, or its kubeconfig, as the agent sees them.
    let reader = file_reader(conn.sock, id);
    // Interactive lines run under the login shell's own tracer.
    let traced = broker.exec_tree && mode != "interactive";
    crate::fileview::with_reader(reader, || {
        decide_line(
            broker,
            conn,
            shared,
            &env,
            &session,
            &vars,
            wire::Verdict {
                trace: traced,
                ..base
            },
            mode,
            (line, argv, scope),
            id,
        )
    })
}

/// The files the analysis reads, through the client: it opens them and
/// hands the descriptor over.
fn file_reader(
    sock: &UnixStream,
    id: u64,
) -> Box<dyn Fn(&std::path::Path) -> crate::fileview::Seen> {
    use crate::fileview::Seen;
    let Ok(sock) = sock.try_clone() else {
        return Box::new(|_| Seen::Unreadable("no connection to the client".to_string()));
    };
    Box::new(move |path| {
        let ask = Reply::FileRequest {
            id,
            path: path.display().to_string(),
        };
        if wire::send(&sock, &ask, &[]).is_err() {
            return Seen::Unreadable("the client went away".to_string());
        }
        let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
        match wire::recv_by::<Request>(&sock, Some(deadline)) {
            Ok((
                Request::File {
                    id: got,
                    opened: true,
                    ..
                },
                mut fds,
            )) if got == id && fds.len() == 1 => fds.pop().map_or_else(
                || Seen::Unreadable("no descriptor".to_string()),
                crate::fileview::from_fd,
            ),
            Ok((
                Request::File {
                    id: got,
                    opened: false,
                    error,
                    ..
                },
                fds,
            )) if got == id && fds.is_empty() => match error.as_deref() {
                Some("missing") => Seen::Missing,
                other => {
                    Seen::Unreadable(other.unwrap_or("the client could not open it").to_string())
                }
            },
            Ok((other, _)) => {
                eprintln!("guard broker: expected file, got {}", other.kind());
                Seen::Unreadable("the client answered out of turn".to_string())
            }
            Err(e) => Seen::Unreadable(format!("the client did not answer: {e}")),
        }
    })
}

/// The rest of `decide`, with the file reader in place.
#[allow(clippy::too_many_arguments)]
fn decide_line(
    broker: &Arc<Broker>,
    conn: &Conn<'_>,
    shared: &super::rules::Shared,
    env: &Env,
    session: &Session,
    vars: &BTreeMap<String, String>,
    base: wire::Verdict,
    mode: &'static str,
    given: (Option<String>, Option<Vec<String>>, Option<String>),
    id: u64,
) -> Result<(), Fault> {
    let cfg: &Result<Config, crate::rules::load::ConfigError> = shared;
    let peer = conn.peer;
    let (line, argv, scope) = given;
    let refuse = |lines: Vec<String>| Reply::Verdict {
        id,
        verdict: wire::Verdict {
            allow: false,
            code: gate::REFUSED,
            stderr: lines,
            shell: shell_of(cfg),
            session: Some(session.id.clone()),
            ..wire::Verdict::default()
        },
    };
    let (text, v) = match verdict(cfg, env, mode, line, argv, scope.as_deref()) {
        Ok(x) => x,
        Err(Some(lines)) => {
            let mut r = refuse(lines);
            if let Reply::Verdict { verdict, .. } = &mut r {
                verdict.code = SNAPSHOT_BROKEN;
            }
            return conn.send(&r);
        }
        Err(None) => return Err(Fault::Protocol(format!("mode {mode} without its line"))),
    };
    let ask = |r: &crate::approve::Request<'_>, timeout: Duration| {
        ask_terminal(conn, id, session, r, timeout)
    };
    let ctx = gate::Context {
        cfg,
        session: Some(session),
        vars,
        ask: &ask,
        parent: None,
        holder: Some(peer.pid),
    };
    let reply = match gate::gate(&ctx, mode, &text, &v) {
        Ok(mut grant) => {
            let direct = matches!(mode, "-c" | "stdin" | "file")
                .then(|| crate::parse::direct::static_argv(&text))
                .flatten();
            let trace = base.trace;
            // Sealed: the tracer hands the credentials to the line's first
            // exec itself, so they are never in the client's memory, and
            // an interactive shell must not save them with its state.
            let sealed = broker.seal && (trace || mode == "interactive");
            // Sealed, they go to the programs they were granted for, not
            // to the line's shell (which would run a file the line
            // sources, or `echo $SECRET`, holding them).
            let holders = if sealed {
                std::mem::take(&mut grant.holders)
            } else {
                Vec::new()
            };
            let (set_env, secrets): (BTreeMap<String, String>, Vec<(String, String)>) = if sealed {
                (BTreeMap::new(), grant.env.into_iter().collect())
            } else {
                (grant.env.into_iter().collect(), Vec::new())
            };
            // A file is made inside the sealed program too, never by the
            // client (whose memory and files are the agent's); so is a
            // directory's (`DOCKER_CONFIG`, see `trace::links`).
            let sealed_files: Vec<crate::trace::SecretFile> = if sealed {
                std::mem::take(&mut grant.files)
                    .iter()
                    .map(crate::trace::SecretFile::of)
                    .collect()
            } else {
                Vec::new()
            };
            let live_sessions = if grant.files.is_empty() {
                Vec::new()
            } else {
                live_of(peer.uid)
            };
            let mut unset_env = base.unset_env.clone();
            unset_env.extend(secrets.iter().map(|(k, _)| k.clone()));
            unset_env.extend(sealed_files.iter().map(|f| f.var.clone()));
            let reply = Reply::Verdict {
                id,
                verdict: wire::Verdict {
                    stderr: grant.warnings,
                    set_env,
                    unset_env,
                    files: grant.files,
                    direct,
                    seq: grant.seq,
                    // Only a client writing credential files needs these.
                    live_sessions,
                    ..base
                },
            };
            if trace {
                let line = crate::trace::judge::Line::from_verdict(grant.seq, &v)
                    .with_secrets(secrets)
                    .with_files(sealed_files)
                    .with_holders(holders);
                return attach(broker, conn, shared, env, session, line, None).map_or_else(
                    |message| conn.send(&Reply::Error { id, message }),
                    |()| conn.send(&reply),
                );
            }
            if mode == "interactive" {
                // Its shell starts under the session's tracer.
                let launches = broker
                    .launches
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&session.id).cloned());
                if let Some(l) = launches {
                    if let Ok(mut l) = l.lock() {
                        l.push((
                            text.clone(),
                            crate::trace::judge::Line::from_verdict(grant.seq, &v)
                                .with_secrets(secrets)
                                .with_files(sealed_files)
                                .with_holders(holders),
                        ));
                    }
                }
            }
            reply
        }
        Err(refusal) => {
            let mut r = refuse(refusal.lines);
            if let Reply::Verdict { verdict, .. } = &mut r {
                verdict.code = refusal.code;
                verdict.session = Some(session.id.clone());
            }
            r
        }
    };
    conn.send(&reply)
}

/// The line's text (as recorded) and its verdict. `Err(Some(lines))`: a
/// saved shell state that does not parse.
fn verdict(
    cfg: &Result<Config, crate::rules::load::ConfigError>,
    env: &Env,
    mode: &str,
    line: Option<String>,
    argv: Option<Vec<String>>,
    scope: Option<&str>,
) -> Result<(String, Verdict), Option<Vec<String>>> {
    let Ok(c) = cfg else {
        let e = cfg
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        let text = line
            .or_else(|| argv.map(|a| shell_words::join(&a)))
            .unwrap_or_default();
        return Ok((text, Verdict::config_error(e)));
    };
    if mode == "argv" {
        let words = argv.ok_or(None)?;
        let v = policy::decide(Input::Argv(&words), c, env);
        return Ok((shell_words::join(&words), v));
    }
    let text = line.ok_or(None)?;
    let mut known = Scope::default();
    if let Some(snapshot) = scope {
        if known
            .learn(snapshot, env, &["snapshot".to_string()])
            .is_err()
        {
            return Err(Some(vec![
                "guard: the saved shell state no longer parses".to_string()
            ]));
        }
    }
    let v = policy::decide_in(Input::Script(&text), c, env, &mut known);
    Ok((text, v))
}

/// The line is allowed and will be traced: seize the client from this
/// thread and put the exec filter in it, while it waits for its verdict.
/// Only then is the verdict sent, so the client execs nothing untraced,
/// and the line costs one round trip. The tree's loop is left in
/// `conn.then`, for this thread to run once the connection is over: it
/// decides everything the line starts, until the last of it exits.
fn attach(
    broker: &Arc<Broker>,
    conn: &Conn<'_>,
    shared: &super::rules::Shared,
    env: &Env,
    session: &Session,
    line: crate::trace::judge::Line,
    launches: Option<crate::trace::judge::Launches>,
) -> Result<(), String> {
    // A terminal only if it is the session's (as for a line's review).
    let terminal = conn.terminal.borrow_mut().take().filter(|fd| {
        session
            .tty_dev
            .is_some_and(|want| is_terminal(fd.as_fd(), want))
    });
    let pid = nix::unistd::Pid::from_raw(conn.peer.pid);
    // The filter goes in by the broker's hand: the client is the agent's
    // process, and may have been made to skip it.
    crate::trace::seize(pid)?;
    let (before, after) = crate::trace::filter::shared()
        .and_then(|p| crate::trace::tracee::install_filters(pid, std::slice::from_ref(p)))
        .map_err(|e| format!("cannot install the exec filter in the client: {e}"))?;
    // A filter the client already ran under was put there by someone
    // guard cannot vouch for; one that can answer for the kernel
    // (SECCOMP_RET_USER_NOTIF) could hand a credential holder files of
    // its choosing. So credentials are sealed only under guard's own.
    let own_filters = (before == 0).then_some(after);
    let who = crate::actor::current();
    let cfg = Arc::clone(shared);
    let home = env.home.clone();
    let session = session.clone();
    let broker = Arc::clone(broker);
    let tree = move || {
        let sid = session.id.clone();
        crate::actor::with(Arc::clone(&who), || {
            let ask = move |r: &crate::approve::Request<'_>, t: Duration| match &terminal {
                Some(fd) => crate::approve::tty::ask_on(fd.as_fd(), r, t, false),
                None => Answer::Unavailable("no terminal of the session's".to_string()),
            };
            let mut judge = crate::trace::judge::LineJudge::new(
                &cfg,
                home,
                session,
                Arc::clone(&who),
                line,
                Box::new(ask),
            )
            .sealing(broker.seal)
            .writing_exit();
            if let Some(l) = launches {
                judge = judge.with_launches(l);
            }
            let mut tree = crate::trace::Tree::new(pid)
                .sealing(broker.seal)
                .filters(own_filters);
            tree.run(&mut judge);
            judge.finish();
            if let Ok(mut all) = broker.launches.lock() {
                all.remove(&sid);
            }
        });
    };
    *conn.then.borrow_mut() = Some(Tracing(Box::new(tree)));
    Ok(())
}

fn shell_of(cfg: &Result<Config, crate::rules::load::ConfigError>) -> String {
    cfg.as_ref()
        .map_or_else(|_| "/bin/bash".to_string(), |c| c.shell.clone())
}

fn live_of(uid: u32) -> Vec<String> {
    crate::session::store::live()
        .into_iter()
        .filter(|s| s.uid == Some(uid))
        .map(|s| s.id)
        .collect()
}

nix::ioctl_read!(tiocgdev, b'T', 0x32, u32);

/// Whether `fd` is a terminal, and the one numbered `want` (as `tty_nr`
/// in `/proc/PID/stat` numbers it). The number is the kernel's
/// (`TIOCGDEV`), not the inode's: a client hands over `/dev/tty`, whose
/// own device is 5,0 whatever terminal it stands for.
fn is_terminal(fd: BorrowedFd<'_>, want: u64) -> bool {
    let is_char = nix::sys::stat::fstat(fd)
        .is_ok_and(|st| st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFCHR);
    if !is_char || !nix::unistd::isatty(fd).unwrap_or(false) {
        return false;
    }
    let mut dev: u32 = 0;
    // SAFETY: TIOCGDEV writes one u32 through the pointer, which is
    // valid for the call; on an fd that is not a tty it fails instead.
    let got = unsafe { tiocgdev(fd.as_raw_fd(), &mut dev) };
    got.is_ok() && u64::from(dev) == want
}

/// The terminal link of the chain in broker mode: ask the client for its
/// terminal, and draw the card there only if it is the terminal the
/// session was opened on. Such an approval trusts whoever holds that
/// terminal.
fn ask_terminal(
    conn: &Conn<'_>,
    id: u64,
    session: &Session,
    req: &crate::approve::Request<'_>,
    timeout: Duration,
) -> Answer {
    let Some(want) = session.tty_dev else {
        return Answer::Unavailable("the session was not opened on a terminal".to_string());
    };
    if conn.send(&Reply::TtyRequest { id }).is_err() {
        return Answer::Unavailable("the client went away".to_string());
    }
    let (msg, mut fds) = match conn.recv() {
        Ok(m) => m,
        Err(_) => {
            return Answer::Unavailable("the client did not hand over a terminal".to_string())
        }
    };
    let present = matches!(msg, Request::Tty { id: got, present: true } if got == id);
    let Some(fd) = fds.pop().filter(|_| present && fds.is_empty()) else {
        return Answer::Unavailable("no controlling terminal".to_string());
    };
    if !is_terminal(fd.as_fd(), want) {
        return Answer::Unavailable(format!(
            "the terminal handed over is not the one session {} was opened on",
            session.id
        ));
    }
    crate::approve::tty::ask_on(fd.as_fd(), req, timeout, false)
}
