//! Exec-tree enforcement: every `execve` below a guarded line is decided
//! before it happens.
//!
//! The mechanism is sudo's `intercept_type=trace`: the tree runs under a
//! seccomp filter that stops only `execve`/`execveat` for the tracer
//! (`filter`), and the tracer, attached with `PTRACE_SEIZE` and
//! `TRACESECCOMP | TRACEFORK | TRACEVFORK | TRACECLONE | TRACEEXEC |
//! EXITKILL`, follows every process and thread the tree starts. At each
//! exec stop it reads the call's path, argv and environment from the
//! tracee (`tracee`), and a `Judge` says allow (perhaps with credentials
//! to add to the environment) or deny (the call fails with EACCES and
//! one `guard:` line goes to the program's stderr).
//!
//! Reading pointer arguments has a window: another thread of the tracee
//! can rewrite argv after the tracer read it and before the kernel does.
//! So after every allowed exec (`PTRACE_EVENT_EXEC`, before the new
//! program runs one instruction) the tracer checks what actually runs:
//! the binary (by device and inode) and its argv, as the kernel now
//! reports them. Anything but what was decided is killed.
//!
//! If the tracer dies, `EXITKILL` takes the tree with it.

pub mod filter;
mod holder;
pub mod judge;
pub mod links;
mod pristine;
mod relay;
pub(crate) mod resolve;
pub mod spawn;
pub mod tracee;

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::supervise::Ended;
pub use tracee::ExecArgs;

/// Whether this machine can trace at all, and if not, why: said in the
/// one line that refuses every line then.
pub fn available() -> Result<(), String> {
    let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
        .map_err(|_| "seccomp is not available in this kernel".to_string())?;
    if !actions.split_whitespace().any(|a| a == "trace") {
        return Err("this kernel's seccomp has no `trace` action".to_string());
    }
    if let Ok(scope) = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope") {
        if scope.trim() == "3" {
            return Err("ptrace is disabled (kernel.yama.ptrace_scope = 3)".to_string());
        }
    }
    Ok(())
}

/// Can this process seal credential holders (`Tree::sealing`)? Only
/// with `CAP_SYS_PTRACE` in effect: without it, a tracer cannot read an
/// undumpable tracee's memory, and so could not decide its execs.
pub fn can_seal() -> bool {
    const CAP_SYS_PTRACE: u32 = 19;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_PTRACE) != 0)
}

/// The options every tracee runs with.
pub fn options() -> ptrace::Options {
    ptrace::Options::PTRACE_O_TRACESECCOMP
        | ptrace::Options::PTRACE_O_TRACEFORK
        | ptrace::Options::PTRACE_O_TRACEVFORK
        | ptrace::Options::PTRACE_O_TRACECLONE
        | ptrace::Options::PTRACE_O_TRACEEXEC
        | ptrace::Options::PTRACE_O_EXITKILL
        // Only `tracee::leave_exec` asks for syscall stops; this tells
        // them from a SIGTRAP.
        | ptrace::Options::PTRACE_O_TRACESYSGOOD
}

/// Attach to `pid`, which has installed the filter and waits.
pub fn seize(pid: Pid) -> Result<(), String> {
    ptrace::seize(pid, options()).map_err(|e| match e {
        nix::Error::EPERM => format!(
            "cannot trace process {pid} (EPERM: ptrace is restricted here, or it is traced already)"
        ),
        other => format!("cannot trace process {pid}: {other}"),
    })
}

/// The file a call would run, identified so that what runs after the
/// exec can be compared with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
}

fn identity(meta: &std::fs::Metadata) -> Identity {
    Identity {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
    }
}

/// The same, from a stat the path walk already made.
fn stat_identity(st: &nix::sys::stat::FileStat) -> Identity {
    Identity {
        dev: st.st_dev,
        ino: st.st_ino,
        size: u64::try_from(st.st_size).unwrap_or(0),
    }
}

/// An exec a tracee asked for.
#[derive(Debug, Clone)]
pub struct Call {
    pub pid: i32,
    pub ppid: i32,
    pub args: ExecArgs,
    /// The path the kernel will open, absolute in the tracee's view.
    pub path: String,
    pub cwd: String,
    /// The file at `path`, when the tracer could look at it.
    pub file: Option<Identity>,
    /// A script's `#!` line (interpreter and optional argument), when the
    /// tracer could read it.
    pub shebang: Option<Vec<String>>,
    /// Why the file could not be examined, when it exists but the tracer
    /// cannot look at it: such an exec is refused.
    pub unexamined: Option<String>,
    /// Where the tracer can read the file, when it is a regular file.
    pub open_at: Option<String>,
}

impl Call {
    /// The environment value of `name` the new program would get.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.args
            .env
            .iter()
            .find_map(|(_, e)| e.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
    }
}

/// What the judge says about one exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Let it run, with these variables added to its environment.
    Allow(Vec<(String, String)>),
    /// Fail it with EACCES, and say this on the program's stderr.
    Deny(String),
}

/// Decides what a traced tree may exec. One judge per tree.
pub trait Judge {
    /// Before the exec.
    fn exec(&mut self, call: &Call) -> Judgement;
    /// After an allowed exec, what runs differs from what was decided
    /// (`expected`/`got` say how); the process has been killed.
    fn mismatch(&mut self, pid: i32, expected: &str, got: &str);
    /// The tree's root ended.
    fn root_ended(&mut self, ended: Ended);
    /// Is `name` a credential this tree was handed? A sealing tree moves
    /// such variables out of every exec and back in after it (see
    /// `Tree::sealing`).
    fn holds_secret(&self, _name: &str) -> bool {
        false
    }
    /// The credential files the variable `name` names, if it is one this
    /// tree was handed: each exec that carries it is given files of its
    /// own (`tracee::seal`).
    fn secret_files(&self, _name: &str) -> Vec<SecretFile> {
        Vec::new()
    }
}

/// A credential file a sealed program is given (`tracee::seal`): its
/// variable names it (`KUBECONFIG`), or, with `name`, a directory that
/// holds it under that name (`DOCKER_CONFIG`, see `links`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    pub var: String,
    pub name: Option<String>,
    pub content: String,
}

impl SecretFile {
    pub fn of(grant: &crate::wire::FileGrant) -> SecretFile {
        SecretFile {
            var: grant.env.clone(),
            name: grant.dir.then(|| grant.name.clone()),
            content: grant.content.clone(),
        }
    }
}

/// What an allowed exec gets back once its program is in place: the
/// variables, and the credential files.
#[derive(Debug, Default)]
struct Carry {
    vars: Vec<(String, String)>,
    files: Vec<SecretFile>,
}

/// What an allowed exec must turn out to be.
#[derive(Debug, Clone)]
struct Expect {
    /// The file that must be running, if known beforehand.
    files: Vec<Identity>,
    /// The argv the kernel must report, for each acceptable file.
    argvs: Vec<Vec<String>>,
    /// The path and argv asked for, to say what was decided.
    path: String,
    argv: Vec<String>,
    /// The environment the call passes, as decided (a hash): another
    /// thread could rewrite a string after the tracer read it
    /// (`XD_PRELOAD` into `LD_PRELOAD` for a credential holder).
    env: u64,
}

impl Expect {
    /// The argv the kernel reports is one decided. Linux gives a program
    /// exec'd with no argv one empty word.
    fn argv_ok(&self, argv: &[String]) -> bool {
        self.argvs.is_empty()
            || self.argvs.iter().any(|a| a == argv)
            || (argv == [String::new()] && self.argvs.iter().any(Vec::is_empty))
    }

    /// The environment `pid` starts with is the one decided.
    fn env_ok(&self, pid: Pid) -> bool {
        tracee::environ(pid).is_some_and(|e| env_hash(&e) == self.env)
    }
}

fn env_hash(env: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env.hash(&mut h);
    h.finish()
}

/// The tracer thread held on the CPU it started on, for as long as it
/// traces, and let go after. Every exec in the tree is a few ptrace
/// stops, each a wake-up of the tracer and then of the tracee; when the
/// two are on different CPUs each wake-up is an interprocessor interrupt,
/// which on a virtual machine costs more than the work of the stop. The
/// scheduler then tends to wake a resumed tracee where its tracer runs.
struct Pinned(Option<nix::sched::CpuSet>);

impl Pinned {
    fn here() -> Pinned {
        use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
        let me = Pid::from_raw(0);
        let Ok(before) = sched_getaffinity(me) else {
            return Pinned(None);
        };
        let Ok(cpu) = sched_getcpu() else {
            return Pinned(None);
        };
        let mut one = CpuSet::new();
        if one.set(cpu).is_err() || sched_setaffinity(me, &one).is_err() {
            return Pinned(None);
        }
        Pinned(Some(before))
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(before) = &self.0 {
            let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), before);
        }
    }
}

/// The tracer's view of one tree.
pub struct Tree {
    root: Pid,
    /// Each tracee's parent, as the fork events said.
    parents: HashMap<i32, i32>,
    pending: HashMap<i32, Expect>,
    root_ended: Option<Ended>,
    /// Resume a stopped tree at once (an interactive shell offers no job
    /// control, and nobody else would continue it).
    resume_stops: bool,
    /// Each file's `#!` line (or none), by identity: a loop runs the same
    /// binary over and over.
    shebangs: HashMap<Identity, Option<Vec<String>>>,
    /// Seal the processes that hold credentials (`tracee::seal`).
    seal: bool,
    /// Credentials each allowed exec gets back once its program is in
    /// place, by the thread that asked.
    carry: HashMap<i32, Carry>,
    /// Sealed holders whose program runs in their child (`relay`), and
    /// each such child's relay.
    relays: HashMap<i32, relay::Relay>,
    relayed: HashMap<i32, i32>,
    /// Children whose relay died before them: killed at their next stop.
    doomed: std::collections::HashSet<i32>,
    /// How many seccomp filters a credential holder may run under: guard's
    /// own (none if the line started under others').
    filters: Option<u32>,
}

impl Tree {
    pub fn new(root: Pid) -> Tree {
        Tree {
            root,
            parents: HashMap::new(),
            pending: HashMap::new(),
            root_ended: None,
            resume_stops: false,
            shebangs: HashMap::new(),
            seal: false,
            carry: HashMap::new(),
            relays: HashMap::new(),
            relayed: HashMap::new(),
            doomed: std::collections::HashSet::new(),
            filters: None,
        }
    }

    /// Keep credentials out of reach of the rest of the user's processes:
    /// every exec that would carry one gets it only after the exec, once
    /// the new program is undumpable. Only a tracer with `CAP_SYS_PTRACE`
    /// (the broker) can still read an undumpable tracee, so only it seals.
    pub fn sealing(mut self, on: bool) -> Tree {
        self.seal = on;
        self
    }

    /// The seccomp filters a credential holder may run under (see
    /// `filters`); `None`: a holder is refused.
    pub fn filters(mut self, count: Option<u32>) -> Tree {
        self.filters = count;
        self
    }

    pub fn resuming_stops(mut self) -> Tree {
        self.resume_stops = true;
        self
    }

    /// Follow the tree until every process in it has exited; return how
    /// the root ended. Only this thread's tracees are waited for
    /// (`__WNOTHREAD`), so several trees can be traced from one process.
    pub fn run(&mut self, judge: &mut dyn Judge) -> Ended {
        self.run_with(judge, &mut |_| {})
    }

    /// As `run`, calling `root_done` the moment the root ends (the tree
    /// may go on).
    pub fn run_with(&mut self, judge: &mut dyn Judge, root_done: &mut dyn FnMut(Ended)) -> Ended {
        let _pinned = Pinned::here();
        loop {
            // Ends a helper's own wait took.
            for (pid, ended) in tracee::deaths() {
                self.gone(pid, ended, judge, root_done);
            }
            let status = self.wait_any();
            if let Ok(st) = status {
                if self.relay_stop(st) {
                    continue;
                }
            }
            match status {
                Ok(WaitStatus::PtraceEvent(pid, _, ev))
                    if ev == nix::libc::PTRACE_EVENT_SECCOMP =>
                {
                    self.exec_entry(pid, judge);
                }
                Ok(WaitStatus::PtraceEvent(pid, _, ev)) if ev == nix::libc::PTRACE_EVENT_EXEC => {
                    self.exec_done(pid, judge);
                }
                Ok(WaitStatus::PtraceEvent(pid, _, ev))
                    if ev == nix::libc::PTRACE_EVENT_FORK
                        || ev == nix::libc::PTRACE_EVENT_VFORK
                        || ev == nix::libc::PTRACE_EVENT_CLONE =>
                {
                    if let Ok(child) = ptrace::getevent(pid) {
                        self.parents.insert(child as i32, pid.as_raw());
                    }
                    let _ = ptrace::cont(pid, None);
                }
                Ok(WaitStatus::PtraceEvent(pid, sig, ev)) if ev == nix::libc::PTRACE_EVENT_STOP => {
                    if relay::is_stop(sig) {
                        if self.resume_stops {
                            let _ = nix::sys::signal::kill(pid, Signal::SIGCONT);
                            let _ = ptrace::cont(pid, None);
                        } else {
                            // A group-stop: stay stopped until SIGCONT, as
                            // without a tracer.
                            listen(pid);
                        }
                    } else {
                        // A new tracee's first stop, or an interrupt.
                        let _ = ptrace::cont(pid, None);
                    }
                }
                Ok(WaitStatus::PtraceEvent(pid, _, _)) | Ok(WaitStatus::PtraceSyscall(pid)) => {
                    let _ = ptrace::cont(pid, None);
                }
                Ok(WaitStatus::Stopped(pid, sig)) => {
                    // Signal-delivery-stop: deliver it.
                    let _ = ptrace::cont(pid, Some(sig));
                }
                Ok(WaitStatus::Exited(pid, code)) => {
                    self.gone(pid, Ended::Exited(code), judge, root_done)
                }
                Ok(WaitStatus::Signaled(pid, sig, core)) => {
                    self.gone(pid, Ended::Signaled(sig, core), judge, root_done)
                }
                Ok(_) | Err(nix::Error::EINTR) => {}
                Err(_) => break,
            }
        }
        for (pid, ended) in tracee::deaths() {
            self.gone(pid, ended, judge, root_done);
        }
        self.root_ended.unwrap_or(Ended::Exited(126))
    }

    fn gone(
        &mut self,
        pid: Pid,
        ended: Ended,
        judge: &mut dyn Judge,
        root_done: &mut dyn FnMut(Ended),
    ) {
        self.parents.remove(&pid.as_raw());
        self.pending.remove(&pid.as_raw());
        self.carry.remove(&pid.as_raw());
        self.doomed.remove(&pid.as_raw());
        if let Some(relay) = self.relayed.remove(&pid.as_raw()) {
            if let Some(r) = self.relays.get_mut(&relay) {
                r.child_ended(Pid::from_raw(relay), ended);
            }
        }
        if let Some(r) = self.relays.remove(&pid.as_raw()) {
            // Killed outright (SIGKILL), or killed for leaving its sleep:
            // its program must not run on.
            if r.ended.is_none() && self.relayed.remove(&r.child.as_raw()).is_some() {
                tracee::note(
                    r.child,
                    "guard: denied: the program is ended: the process that stood in for it is gone",
                );
                judge.mismatch(
                    r.child.as_raw(),
                    "a credential holder with its stand-in",
                    "its stand-in gone",
                );
                let mut threads: Vec<i32> = std::fs::read_dir(format!("/proc/{}/task", r.child))
                    .map(|d| {
                        d.flatten()
                            .filter_map(|e| e.file_name().to_str()?.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                threads.push(r.child.as_raw());
                for t in threads {
                    self.doomed.insert(t);
                    let _ = ptrace::interrupt(Pid::from_raw(t));
                }
            }
        }
        if pid == self.root {
            self.root_ended = Some(ended);
            root_done(ended);
            judge.root_ended(ended);
        }
    }

    /// The next stop or end of this thread's tracees. One by a real-time
    /// signal, which nix's `Signal` cannot name, is dealt with here: a
    /// stop for one is delivered as it came (a relay passes it on), and
    /// an end by one is reported as a shell would, `128 + N`.
    fn wait_any(&mut self) -> nix::Result<WaitStatus> {
        use nix::libc;
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status it reports into `status`.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
            if pid < 0 {
                return Err(nix::Error::last());
            }
            let pid = Pid::from_raw(pid);
            match WaitStatus::from_raw(pid, status) {
                Ok(st) => return Ok(st),
                Err(_) if libc::WIFSTOPPED(status) => {
                    let sig = libc::WSTOPSIG(status);
                    if self.doomed.contains(&pid.as_raw()) {
                        tracee::kill(pid);
                    } else if let Some(relay) = self.relays.get_mut(&pid.as_raw()) {
                        if relay.ended.is_some() {
                            // Ending: the signal is dropped, as the stop goes on.
                            let _ = relay.stopped(
                                pid,
                                WaitStatus::PtraceEvent(
                                    pid,
                                    Signal::SIGTRAP,
                                    libc::PTRACE_EVENT_STOP,
                                ),
                            );
                        } else if relay.raw_signal(pid, sig).is_err() {
                            tracee::kill(pid);
                        }
                    } else {
                        // SAFETY: PTRACE_CONT of a stopped tracee, with the
                        // signal it stopped for as data.
                        unsafe {
                            libc::ptrace(libc::PTRACE_CONT, pid.as_raw(), 0, sig);
                        }
                    }
                }
                Err(_) if libc::WIFSIGNALED(status) => {
                    return Ok(WaitStatus::Exited(pid, 128 + libc::WTERMSIG(status)))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A stop of a relay or of a doomed child, handled here (true), or
    /// one for the usual handling.
    fn relay_stop(&mut self, st: WaitStatus) -> bool {
        let Some(pid) = st.pid() else {
            return false;
        };
        if matches!(st, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
            return false;
        }
        if self.doomed.contains(&pid.as_raw()) {
            tracee::kill(pid);
            return true;
        }
        match self.relays.get_mut(&pid.as_raw()) {
            Some(relay) => matches!(relay.stopped(pid, st), relay::Next::Handled),
            None => false,
        }
    }

    fn ppid(&self, pid: Pid) -> i32 {
        self.parents
            .get(&pid.as_raw())
            .copied()
            .unwrap_or_else(|| crate::session::owner::stat(pid.as_raw()).map_or(0, |s| s.ppid))
    }

    fn exec_entry(&mut self, pid: Pid, judge: &mut dyn Judge) {
        let regs = match tracee::regs(pid) {
            Ok(r) => r,
            Err(_) => return,
        };
        let mut args = match tracee::exec_args(pid, &regs) {
            Ok(a) => a,
            Err(why) => {
                tracee::note(pid, &format!("guard: denied: cannot read the exec: {why}"));
                let _ = tracee::fail(pid, regs, nix::libc::EFAULT);
                let _ = ptrace::cont(pid, None);
                return;
            }
        };
        // A name given twice is decided, and run, on its first value only.
        let repeats = crate::env_once::first_of_each(&mut args.env, |(_, e)| {
            crate::env_once::name_of(e.as_bytes())
        });
        let call = self.call(pid, args);
        let judged = match &call.unexamined {
            Some(why) => Judgement::Deny(format!(
                "guard: denied: cannot examine {} before it runs: {why}",
                call.path
            )),
            None => judge.exec(&call),
        };
        match judged {
            Judgement::Deny(line) => {
                let _ = tracee::fail(pid, regs, nix::libc::EACCES);
                tracee::note(pid, &line);
            }
            Judgement::Allow(env) => {
                let set = if self.seal {
                    let mut carry = Carry::default();
                    let given = env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                    let inherited = call.args.env.iter().filter_map(|(_, e)| {
                        e.split_once('=').filter(|(k, _)| judge.holds_secret(k))
                    });
                    for (k, v) in given.chain(inherited) {
                        if carry.vars.iter().any(|(n, _)| n == k)
                            || carry.files.iter().any(|f| f.var == k)
                        {
                            continue;
                        }
                        // A file's variable names where it was: the
                        // content is the tree's, and goes into a new one.
                        let files = judge.secret_files(k);
                        if files.is_empty() {
                            carry.vars.push((k.to_string(), v.to_string()));
                        } else {
                            carry.files.extend(files);
                        }
                    }
                    let mut holder = !(carry.vars.is_empty() && carry.files.is_empty());
                    if holder {
                        if let Some(why) = holder::unfit(&call) {
                            // It runs, as it would have without a grant:
                            // what the approver approved was the program
                            // the name stands for, not this file.
                            tracee::note(
                                pid,
                                &format!(
                                    "guard: {} runs without the line's credentials: {why}",
                                    call.path
                                ),
                            );
                            carry = Carry::default();
                            holder = false;
                        }
                    }
                    let out = |n: &str| {
                        judge.holds_secret(n)
                            || env.iter().any(|(k, _)| k == n)
                            || (holder && loads_code(n))
                    };
                    let set = tracee::set_env(pid, regs, &call.args, &[], &out, repeats);
                    if holder {
                        carry.vars.extend(
                            HOLDER_SET
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_string())),
                        );
                        self.carry.insert(pid.as_raw(), carry);
                    } else {
                        self.carry.remove(&pid.as_raw());
                    }
                    set
                } else {
                    let holder = !env.is_empty();
                    let mut add = env.clone();
                    if holder {
                        add.extend(
                            HOLDER_SET
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_string())),
                        );
                    }
                    tracee::set_env(
                        pid,
                        regs,
                        &call.args,
                        &add,
                        &|n| holder && loads_code(n),
                        repeats,
                    )
                };
                match set {
                    Err(why) => {
                        let _ = tracee::fail(pid, regs, nix::libc::EACCES);
                        tracee::note(
                            pid,
                            &format!(
                                "guard: denied: cannot hand the credentials to the program: {why}"
                            ),
                        );
                    }
                    Ok(passed) => {
                        self.pending
                            .insert(pid.as_raw(), expectation(&call, &passed));
                    }
                }
            }
        }
        let _ = ptrace::cont(pid, None);
    }

    /// Where the call points and what is there, as far as the tracer
    /// can see: paths are opened through `/proc/PID/…`, so the tracee's
    /// own view (mount namespace, cwd, descriptors) is what counts.
    fn call(&mut self, pid: Pid, args: ExecArgs) -> Call {
        let cwd = tracee::proc_link(pid, "cwd").unwrap_or_default();
        let (path, open_at) = if args.flags & nix::libc::AT_EMPTY_PATH != 0 && args.path.is_empty()
        {
            let target = tracee::proc_link(pid, &format!("fd/{}", args.dirfd)).unwrap_or_default();
            (target, Ok((format!("/proc/{pid}/fd/{}", args.dirfd), None)))
        } else if args.path.starts_with('/') {
            (
                args.path.clone(),
                resolve::resolve_stat(pid, "/", &args.path),
            )
        } else if args.dirfd == nix::libc::AT_FDCWD {
            (
                format!("{}/{}", cwd.trim_end_matches('/'), args.path),
                resolve::resolve_stat(pid, &cwd, &args.path),
            )
        } else {
            let dir = tracee::proc_link(pid, &format!("fd/{}", args.dirfd)).unwrap_or_default();
            (
                format!("{}/{}", dir.trim_end_matches('/'), args.path),
                resolve::resolve_stat(pid, &dir, &args.path),
            )
        };
        let examined = open_at.and_then(|(at, seen)| match seen {
            Some(st) => Ok((
                stat_identity(&st),
                st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG,
                at,
            )),
            None => std::fs::metadata(&at).map(|m| (identity(&m), m.is_file(), at)),
        });
        let (file, unexamined, open_at) = match examined {
            Ok((id, regular, at)) => (Some(id), None, regular.then_some(at)),
            Err(e) if resolve::missing(&e) => (None, None, None),
            Err(e) => (None, Some(e.to_string()), None),
        };
        let shebang = match (file, &open_at) {
            (Some(f), Some(at)) => {
                if self.shebangs.len() > 4096 {
                    self.shebangs.clear();
                }
                self.shebangs
                    .entry(f)
                    .or_insert_with(|| shebang(at))
                    .clone()
            }
            _ => None,
        };
        Call {
            pid: pid.as_raw(),
            ppid: self.ppid(pid),
            args,
            path,
            cwd,
            file,
            shebang,
            unexamined,
            open_at,
        }
    }

    /// Let an exec that checked out go on. One that carries credentials
    /// (already undumpable: `undumpable` says how that went) runs its
    /// program in a child forked now (`relay`), whose memory nobody can
    /// have open, and which gets the credentials once it is checked to be
    /// what the exec made. Anything less kills it: it must not run
    /// holding them in the open, nor silently without them.
    fn go_sealed(
        &mut self,
        pid: Pid,
        carry: Option<Carry>,
        undumpable: Option<Result<Option<Signal>, String>>,
        expect: &Expect,
        judge: &mut dyn Judge,
    ) {
        let Some(carry) = carry else {
            let _ = ptrace::cont(pid, None);
            return;
        };
        let split = undumpable
            .unwrap_or_else(|| Err("it was not sealed".to_string()))
            .and_then(|held| {
                let r = tracee::regs(pid)?;
                let (relay, pending) = relay::split(pid, r)?;
                let child = relay.child;
                let argv = tracee::cmdline(child).unwrap_or_default();
                let filters = tracee::filter_count(child).ok();
                let handed = if filters.is_none() || filters != self.filters {
                    // In the tree, or before guard's own: another's filter
                    // could answer the holder's calls for the kernel.
                    Err("it runs under a seccomp filter guard did not install".to_string())
                } else if !expect.argv_ok(&argv) || !expect.env_ok(child) {
                    Err(
                        "its arguments or environment were written before it was sealed"
                            .to_string(),
                    )
                } else {
                    pristine::check(child)
                        .and_then(|()| tracee::seal(child, &carry.vars, &carry.files, &expect.path))
                        .and_then(|sig| {
                            let rsp = tracee::regs(child)?.rsp;
                            pristine::clear_below(child, rsp).map(|()| sig)
                        })
                };
                match handed {
                    Ok(sig) => Ok((relay, held.or(pending), sig)),
                    Err(why) => {
                        tracee::kill(child);
                        Err(why)
                    }
                }
            });
        let why = match split {
            Ok((mut relay, held, child_sig)) => {
                let child = relay.child;
                match relay.park(pid, held) {
                    Ok(()) => {
                        self.parents.insert(child.as_raw(), pid.as_raw());
                        self.relayed.insert(child.as_raw(), pid.as_raw());
                        self.relays.insert(pid.as_raw(), relay);
                        let _ = ptrace::cont(child, child_sig);
                        return;
                    }
                    Err(why) => {
                        tracee::kill(child);
                        why
                    }
                }
            }
            Err(why) => why,
        };
        tracee::note(
            pid,
            &format!("guard: denied: cannot hand the credentials to the program: {why}"),
        );
        judge.mismatch(pid.as_raw(), "the program as its exec made it", &why);
        tracee::kill(pid);
    }

    fn exec_done(&mut self, pid: Pid, judge: &mut dyn Judge) {
        // A thread other than the leader that execs takes the leader's
        // pid: the event names the thread it was.
        let was = ptrace::getevent(pid).map_or(pid.as_raw(), |t| t as i32);
        let expect = self
            .pending
            .remove(&was)
            .or_else(|| self.pending.remove(&pid.as_raw()));
        let carry = self
            .carry
            .remove(&was)
            .or_else(|| self.carry.remove(&pid.as_raw()));
        // Undumpable before anything else is done: from the exec until
        // then, another process of its user can open its memory and keep
        // the descriptor. What is checked below is not changed by it, and
        // a process that fails the check is killed before it runs.
        let undumpable = carry
            .as_ref()
            .map(|_| tracee::leave_exec(pid).and_then(|r| tracee::undumpable(pid, r)));
        let running = std::fs::metadata(format!("/proc/{pid}/exe"))
            .ok()
            .map(|m| identity(&m));
        let argv = tracee::cmdline(pid).unwrap_or_default();
        let Some(expect) = expect else {
            judge.mismatch(
                pid.as_raw(),
                "an exec guard decided",
                "an exec it never saw",
            );
            tracee::kill(pid);
            return;
        };
        let file_ok = running.is_some_and(|r| expect.files.contains(&r));
        let argv_ok = expect.argv_ok(&argv);
        let env_ok = expect.env_ok(pid);
        if file_ok && argv_ok && env_ok && !expect.files.is_empty() {
            self.go_sealed(pid, carry, undumpable, &expect, judge);
            return;
        }
        // Nothing was there when it was decided (a path being rewritten,
        // a file that appeared): that exec was allowed only to fail.
        let expected = if expect.files.is_empty() {
            format!("{} (missing) to fail", expect.path)
        } else {
            format!(
                "{} running {}",
                expect.path,
                shell_words::join(expect.argvs.first().unwrap_or(&expect.argv))
            )
        };
        let mut got = format!(
            "{} running {}",
            tracee::proc_link(pid, "exe").unwrap_or_default(),
            shell_words::join(&argv)
        );
        if file_ok && argv_ok && !env_ok {
            got.push_str(", with an environment other than the one decided");
        }
        tracee::kill(pid);
        judge.mismatch(pid.as_raw(), &expected, &got);
    }
}

/// Variables that make the program run code of someone's choosing before
/// or beside its own: the dynamic loader's, the interpreters' (a module
/// path, options that preload a file, a start-up file) and bash's
/// exported functions. Never passed to a program that is handed
/// credentials: the approver saw the command, not the environment it
/// came with, and the agent can write files those variables name.
fn loads_code(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "GCONV_PATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "PYTHONINSPECT",
        "PYTHONWARNINGS",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERL5LIB",
        "PERLLIB",
        "PERL5OPT",
        "RUBYOPT",
        "RUBYLIB",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "BASH_ENV",
        "ENV",
        "PROMPT_COMMAND",
        "PS4",
        "SHELLOPTS",
        "BASHOPTS",
    ];
    name.starts_with("LD_") || name.starts_with("BASH_FUNC_") || NAMES.contains(&name)
}

/// What a credential holder is given besides: Python leaves out the
/// user's own site-packages, where the agent can put a `.pth` file that
/// runs at every start-up.
const HOLDER_SET: &[(&str, &str)] = &[("PYTHONNOUSERSITE", "1")];

fn listen(pid: Pid) {
    // SAFETY: PTRACE_LISTEN on a tracee in group-stop takes no data.
    unsafe {
        nix::libc::ptrace(nix::libc::PTRACE_LISTEN, pid.as_raw(), 0, 0);
    }
}

/// A script's interpreter line, as the kernel reads it (the first 256
/// bytes; the interpreter, then at most one argument).
fn shebang(path: &str) -> Option<Vec<String>> {
    use std::io::Read;
    let mut f = resolve::open_regular(path).ok()?;
    let mut buf = [0u8; 256];
    let n = f.read(&mut buf).ok()?;
    let head = buf.get(..n)?;
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|&b| b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let line = line.trim_matches(|c| c == ' ' || c == '\t');
    if line.is_empty() {
        return None;
    }
    let (interp, arg) = match line.find([' ', '\t']) {
        Some(i) => (
            &line[..i],
            Some(line[i..].trim_matches(|c| c == ' ' || c == '\t')),
        ),
        None => (line, None),
    };
    let mut out = vec![interp.to_string()];
    if let Some(a) = arg.filter(|a| !a.is_empty()) {
        out.push(a.to_string());
    }
    Some(out)
}

/// What the kernel will report after an allowed call: the file itself,
/// or for a script its interpreter, with the argv the kernel builds
/// (interpreter, its argument, the script's path, then argv[1..]).
fn expectation(call: &Call, env: &[String]) -> Expect {
    let mut files = Vec::new();
    let mut argvs = Vec::new();
    match (&call.file, &call.shebang) {
        (Some(_), Some(interp)) => {
            let at = resolve::resolve(Pid::from_raw(call.pid), &call.cwd, &interp[0]);
            if let Ok(m) = at.and_then(std::fs::metadata) {
                files.push(identity(&m));
            }
            let mut argv = interp.clone();
            argv.push(if call.args.path.is_empty() {
                call.path.clone()
            } else {
                call.args.path.clone()
            });
            argv.extend(call.args.argv.iter().skip(1).cloned());
            argvs.push(argv);
        }
        (Some(f), None) => {
            files.push(*f);
            argvs.push(call.args.argv.clone());
        }
        // Missing: the call can only fail, and anything it runs is killed.
        (None, _) => {}
    }
    Expect {
        files,
        argvs,
        path: call.path.clone(),
        argv: call.args.argv.clone(),
        env: env_hash(env),
    }
}

#[cfg(test)]
mod tests {
    use super::Pinned;
    use nix::sched::{sched_getaffinity, sched_getcpu};
    use nix::unistd::Pid;

    fn cpus() -> Vec<usize> {
        let set = sched_getaffinity(Pid::from_raw(0)).expect("affinity");
        (0..nix::sched::CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect()
    }

    /// The tracer is held on one CPU, its own, and gets back the CPUs it
    /// had: a broker thread traces one line and then serves others.
    #[test]
    fn a_pinned_tracer_is_let_go_as_it_was() {
        std::thread::spawn(|| {
            let before = cpus();
            {
                let _pinned = Pinned::here();
                let now = cpus();
                assert_eq!(now.len(), 1, "pinned to {now:?}");
                assert_eq!(now[0], sched_getcpu().expect("cpu"));
            }
            assert_eq!(cpus(), before);
        })
        .join()
        .expect("the pinned thread");
    }
}
