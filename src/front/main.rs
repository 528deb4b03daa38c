//! guard's shell front: the binary an agent's account runs as its shell
//! when a broker decides its lines (README, "The shell front").
//!
//! On this project's machines every program that starts with glibc pays
//! about 0.65 ms before `main`, most of it in `CPUID`, which traps to the
//! hypervisor (`perf record` of a static C `main(){}` puts 70% of its
//! time in `intel_check_word` and its callers). bash pays it, the program
//! a line runs pays it, and so did guard. This front links no C library
//! and no crate (every crate in guard's graph is built with `std`, which
//! is glibc), starts in about 0.05 ms, and does the one thing on the hot
//! path: send `-c LINE` to the broker and do what the verdict says, as
//! the full client would. Everything else (other shapes of command line,
//! no broker, an unusual config, an environment too large to send whole)
//! goes to the full binary, unchanged: the front decides nothing.
#![no_std]
#![no_main]
// So that LLVM never turns the loops of `memcpy` and friends into calls
// to themselves.
#![no_builtins]

extern crate alloc;

mod conf;
mod files;
mod json;
mod launch;
mod mem;
mod memfns;
mod sys;
mod talk;
mod verdict;

use alloc::string::String;
use alloc::vec::Vec;

include!(concat!(env!("OUT_DIR"), "/front_paths.rs"));

core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

/// The exit status of a refusal (`gate::REFUSED`).
const REFUSED: i32 = 126;

fn say(line: &str) {
    let mut out = Vec::with_capacity(line.len() + 8);
    out.extend_from_slice(b"guard: ");
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
    let _ = sys::write_all(2, &out);
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let _ = sys::write_all(2, b"guard: denied: internal error in the shell front\n");
    sys::exit(REFUSED)
}

/// The strings the kernel put on the stack: argv and envp.
///
/// # Safety
/// `sp` must be the initial stack pointer the kernel handed `_start`.
unsafe fn strings(sp: *const usize) -> (Vec<&'static [u8]>, Vec<&'static [u8]>) {
    unsafe fn bytes(p: *const u8) -> &'static [u8] {
        let mut n = 0;
        // SAFETY: the kernel NUL-terminates every string it puts there.
        unsafe {
            while *p.add(n) != 0 {
                n += 1;
            }
            core::slice::from_raw_parts(p, n)
        }
    }
    // SAFETY: the System V start-up stack: argc, argv…, NULL, envp…, NULL.
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        let args = (0..argc).map(|i| bytes(*argv.add(i))).collect();
        let mut envp = argv.add(argc + 1);
        let mut env = Vec::new();
        while !(*envp).is_null() {
            env.push(bytes(*envp));
            envp = envp.add(1);
        }
        (args, env)
    }
}

extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: `_start` passes the stack pointer it was started with.
    let (args, env) = unsafe { strings(sp) };
    sys::exit(run(&args, &env))
}

/// Hand the whole process to the full binary: same argv, same
/// environment.
fn delegate(args: &[&[u8]], env: &[&[u8]]) -> i32 {
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    let envp: Vec<Vec<u8>> = env.iter().map(|e| e.to_vec()).collect();
    let Some(full) = full_binary() else {
        say("denied: no full guard binary beside this one (PREFIX/libexec/guard/guard); refusing");
        return REFUSED;
    };
    let e = sys::execve(full.as_bytes(), &argv, &envp);
    say(&alloc::format!(
        "denied: cannot start the full guard binary {full}: {}",
        sys::describe(e)
    ));
    REFUSED
}

/// Where the full binary is: beside an installed front
/// (`PREFIX/bin/guard` → `PREFIX/libexec/guard/guard`), else where a
/// packager said (`GUARD_FULL_BIN` at build time), else beside this
/// front in the build tree it was built in. A front copied anywhere else
/// finds none: the build tree may be anyone's to write, and what it
/// holds would run as the shell for every line the front hands over.
fn full_binary() -> Option<String> {
    let me = sys::readlink(b"/proc/self/exe").ok()?;
    let me = String::from_utf8_lossy(&me);
    let (here, _) = me.rsplit_once('/')?;
    if let Some(prefix) = here.strip_suffix("/bin") {
        let installed = alloc::format!("{prefix}/libexec/guard/guard");
        if sys::stat(installed.as_bytes(), true).is_ok() {
            return Some(installed);
        }
    }
    let beside = BUILT_FULL.rsplit_once('/').map(|(d, _)| d);
    (FULL_PACKAGED || beside == Some(here)).then(|| String::from(BUILT_FULL))
}

fn run(args: &[&[u8]], env: &[&[u8]]) -> i32 {
    let Some((argv0, rest)) = args.split_first() else {
        return delegate(args, env);
    };
    let Ok(line) = conf::line(argv0, rest) else {
        return delegate(args, env);
    };
    let Ok(vars) = conf::environment(env) else {
        return delegate(args, env);
    };
    let Ok(broker) = settings(&vars) else {
        return delegate(args, env);
    };
    let Some(uid) = sys::open(b"/etc/passwd", sys::O_RDONLY | sys::O_CLOEXEC)
        .ok()
        .and_then(|fd| {
            let text = read_all(fd);
            sys::close(fd);
            conf::uid_in(&text, &broker.user)
        })
    else {
        return delegate(args, env);
    };
    match decide(&broker, uid, &line, &vars) {
        Ok(v) => allowed(v, &line, &vars),
        Err(code) => code,
    }
}

fn read_all(fd: i32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n @ 1..) = sys::read(fd, &mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// `client::settings::read`: the broker `/etc/guard/config.yaml` names,
/// whatever `GUARD_CONFIG` says; else `GUARD_CONFIG` if it names a
/// trusted file. An untrusted `GUARD_CONFIG`, or a system file that names
/// no broker or names it unusually, is the full binary's to sort out.
fn settings(vars: &[(&str, &str)]) -> Result<conf::Broker, conf::Delegate> {
    match conf::admin_file(b"/etc/guard/config.yaml") {
        Ok(text) => return conf::broker(&text),
        Err(conf::Trust::Missing) => {}
        Err(conf::Trust::Bad) => return Err(conf::Delegate),
    }
    // No system file: `GUARD_CONFIG`, or no broker at all (embedded).
    let named = vars
        .iter()
        .find(|(k, _)| *k == "GUARD_CONFIG")
        .map(|(_, v)| *v)
        .filter(|v| !v.is_empty())
        .ok_or(conf::Delegate)?;
    let text = conf::admin_file(named.as_bytes()).map_err(|_| conf::Delegate)?;
    conf::broker(&text)
}

fn refused(broker: &conf::Broker, f: talk::Failure) -> i32 {
    use talk::Failure;
    let why = match f {
        Failure::Connect(e) => alloc::format!(
            "broker {} is not answering ({}); refusing to run anything without it",
            broker.socket,
            sys::describe(e)
        ),
        Failure::Peer(got) => alloc::format!(
            "broker socket {} is served by uid {got}, not by {}; refusing",
            broker.socket,
            broker.user
        ),
        Failure::Version(v) => alloc::format!(
            "broker speaks protocol version {v}, this guard speaks {}; refusing",
            talk::VERSION
        ),
        Failure::Timeout(ms) if ms % 1000 == 0 => {
            alloc::format!("broker did not answer within {}s; refusing", ms / 1000)
        }
        Failure::Timeout(ms) => alloc::format!("broker did not answer within {ms}ms; refusing"),
        Failure::Broker(m) => alloc::format!("broker: {m}"),
        Failure::Wire(m) => alloc::format!("broker connection failed: {m}"),
    };
    say(&why);
    REFUSED
}

/// The decision, with the connection kept open (close-on-exec) until the
/// line is exec'd, so the broker sees this client until then.
fn decide(
    broker: &conf::Broker,
    uid: u32,
    line: &conf::Line,
    vars: &[(&str, &str)],
) -> Result<json::Value, i32> {
    let mut conn =
        talk::Conn::open(&broker.socket, uid, broker.timeout_ms).map_err(|f| refused(broker, f))?;
    conn.send(&talk::hello(), None)
        .map_err(|f| refused(broker, f))?;
    let terminal = sys::open(b"/dev/tty", sys::O_RDWR | sys::O_NOCTTY | sys::O_CLOEXEC).ok();
    let cwd = sys::getcwd()
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .unwrap_or_default();
    let session = vars
        .iter()
        .rev()
        .find(|(k, _)| *k == "GUARD_SESSION")
        .map(|(_, v)| *v)
        .filter(|v| !v.is_empty());
    let ask = talk::Ask {
        line: &line.text,
        login: line.login,
        session,
        cwd: &cwd,
        env: vars,
        terminal,
    };
    conn.send(&talk::decide(&ask), terminal)
        .map_err(|f| refused(broker, f))?;
    let wait = talk::greeted(&conn).map_err(|f| refused(broker, f))?;
    conn.wait(wait);
    let v = talk::verdict(&conn, &ask).map_err(|f| refused(broker, f))?;
    // Held until exec: it closes then.
    core::mem::forget(conn);
    if let Some(t) = terminal {
        sys::close(t);
    }
    Ok(v)
}

fn allowed(v: json::Value, line: &conf::Line, vars: &[(&str, &str)]) -> i32 {
    for l in v.strs("stderr").unwrap_or_default() {
        let mut out = Vec::from(l.as_bytes());
        out.push(b'\n');
        let _ = sys::write_all(2, &out);
    }
    if !v.bool("allow") {
        // An exit status is 1..=255; anything else from the broker would
        // wrap, perhaps to 0, and a refusal must never look like success.
        return match v.int("code") {
            Some(c @ 1..=255) => c as i32,
            _ => REFUSED,
        };
    }
    let mut env = launch::Env(
        vars.iter()
            .map(|(k, v)| (String::from(*k), String::from(*v)))
            .collect(),
    );
    if let Err(e) = launch::apply(&mut env, &v) {
        say(&alloc::format!("denied: {e}"));
        return REFUSED;
    }
    let (shell, e) = launch::exec(&mut env, &v, line.login, &line.text, &line.rest);
    say(&alloc::format!("cannot run {shell}: {}", sys::describe(e)));
    REFUSED
}
