//! Differential test of the direct exec path: for a static one-command
//! line guard execs the argv itself instead of `bash -c LINE`, and every
//! row here runs the same line both ways, real bash against the real
//! binary, with the same environment and cwd, and compares what the
//! program got: argv, environment, exe, cwd, signal dispositions and
//! mask, umask, limits, open fds, its output and how it ended.
//!
//! A probe compiled at test time reports all of that from `/proc/self`.
//! Each row also runs guard under strace to prove which way it went:
//! without that proof a passing row might compare bash with bash.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use guard::parse::direct::static_argv;
use nix::sys::signal::{SigHandler, SigSet, Signal};

/// Prints what it was started with, one `key value` line each, then
/// ends the way its last argument asks (`exit7`, `term`).
const PROBE_C: &str = r#"
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void split(const char *tag, const char *path) {
    static char buf[1 << 17];
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1) printf("%s %s\n", tag, buf + i);
}

static void target(const char *tag, const char *path) {
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    /* pipe:[inode] differs on every run; the kind of file does not */
    char *inode = strchr(buf, '[');
    if (inode) *inode = 0;
    printf("%s%s\n", tag, buf);
}

int main(int argc, char **argv) {
    split("argv", "/proc/self/cmdline");
    split("env", "/proc/self/environ");
    target("exe ", "/proc/self/exe");
    target("cwd ", "/proc/self/cwd");
    char line[512];
    FILE *f = fopen("/proc/self/status", "r");
    /* SigQ counts the whole user's queued signals: not this process's */
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "SigBlk", 6) || !strncmp(line, "SigIgn", 6) ||
            !strncmp(line, "SigCgt", 6) || !strncmp(line, "Umask", 5) ||
            !strncmp(line, "NoNewPrivs", 10))
            printf("status %s", line);
    if (f) fclose(f);
    f = fopen("/proc/self/limits", "r");
    while (f && fgets(line, sizeof line, f)) printf("limit %s", line);
    if (f) fclose(f);
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
        char p[300], tag[300];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        snprintf(tag, sizeof tag, "fd %s ", e->d_name);
        target(tag, p);
    }
    if (d) closedir(d);
    fflush(stdout);
    const char *last = argv[argc - 1];
    if (!strcmp(last, "exit7")) return 7;
    if (!strcmp(last, "term")) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGTERM);
        sigprocmask(SIG_UNBLOCK, &s, 0);
        signal(SIGTERM, SIG_DFL);
        raise(SIGTERM);
    }
    return 0;
}
"#;

/// The same report from a real interpreter, in code with nothing bash
/// would expand, so the line stays static. It reads `os.environ`, not
/// `/proc/self/environ`: the shipped rules rightly review reading that
/// file. Python's own additions (LC_CTYPE) are the same on both sides.
const PYTHON: &str = "python3 -c 'import os; \
[print(\"argv\", a.decode()) for a in open(\"/proc/self/cmdline\", \"rb\").read().split(bytes(1))[:-1]]; \
[print(\"env\", k + \"=\" + v) for k, v in os.environ.items()]; \
print(\"cwd\", os.getcwd())'";

/// Which way guard must have gone, as strace sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    /// Static, and exec'd without bash.
    Direct,
    /// Static, but bash would do more than exec it: guard hands the line
    /// to bash at run time.
    Fallback,
    /// Not static: bash from the start.
    Shell,
}

/// What the process that starts guard (or bash) leaves behind.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Plain,
    /// Like a job started with `nohup … &` from a script: hangup,
    /// interrupt and quit ignored, a signal blocked, a tight umask.
    Background,
    /// The caller's cwd has been removed since: getcwd fails, and bash
    /// has its own words for that.
    DeletedCwd,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ends {
    Code(i32),
    Signal(i32),
}

/// One line run both ways. `{d}` in any text is the fixture's root.
struct Row {
    line: &'static str,
    /// `NAME ARGS…` after `-c LINE`.
    args: &'static [&'static str],
    /// Over the base environment; `None` unsets.
    env: &'static [(&'static str, Option<&'static str>)],
    cwd: &'static str,
    caller: Caller,
    route: Route,
    ends: Ends,
    /// The program that must have run (`/proc/self/exe`), if a probe did.
    ran: Option<&'static str>,
}

const ROW: Row = Row {
    line: "probe",
    args: &[],
    env: &[],
    cwd: "work",
    caller: Caller::Plain,
    route: Route::Direct,
    ends: Ends::Code(0),
    ran: Some("{d}/bin/probe"),
};

fn rows() -> Vec<Row> {
    use Route::*;
    vec![
        // The base environment has no PWD, OLDPWD or SHLVL: ROW itself
        // is the row for all three unset.
        ROW,
        // argv, argv[0] and quote removal
        Row {
            line: "probe 'a b' \"c;d\" '' --o=%s, 'k=v' 'it''s'",
            ..ROW
        },
        Row {
            line: "  probe one ;  ",
            ..ROW
        },
        Row {
            line: "probe x",
            args: &["name", "one", "two"],
            ..ROW
        },
        Row {
            line: "{d}/bin/probe abs",
            ..ROW
        },
        Row {
            line: "../bin/probe rel",
            ..ROW
        },
        Row {
            line: "{d}/links/plink via-symlink",
            ..ROW
        },
        Row {
            line: PYTHON,
            ran: None,
            ..ROW
        },
        // how it ends
        Row {
            line: "probe exit7",
            ends: Ends::Code(7),
            ..ROW
        },
        Row {
            line: "probe term",
            ends: Ends::Signal(15),
            ..ROW
        },
        // PWD: kept when it names the cwd, even through a symlink;
        // otherwise the physical cwd
        Row {
            env: &[("PWD", Some("{d}/work"))],
            ..ROW
        },
        Row {
            env: &[("PWD", Some("{d}/link"))],
            ..ROW
        },
        Row {
            env: &[("PWD", Some("{d}/work/./"))],
            ..ROW
        },
        Row {
            env: &[("PWD", Some("{d}/work/sub"))],
            ..ROW
        },
        Row {
            env: &[("PWD", Some("/"))],
            ..ROW
        },
        Row {
            env: &[("PWD", Some("{d}/gone"))],
            ..ROW
        },
        Row {
            env: &[("PWD", Some(""))],
            ..ROW
        },
        Row {
            caller: Caller::DeletedCwd,
            route: Fallback,
            ..ROW
        },
        Row {
            caller: Caller::DeletedCwd,
            env: &[("PWD", Some("{d}/work/deleted"))],
            route: Fallback,
            ..ROW
        },
        // POSIX mode tidies a logical PWD; guard leaves that to bash
        Row {
            env: &[("POSIXLY_CORRECT", Some("1"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("POSIXLY_CORRECT", Some("1")), ("PWD", Some("{d}/link"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("POSIXLY_CORRECT", Some("1")), ("PWD", Some("{d}//work/"))],
            route: Fallback,
            ..ROW
        },
        // any absolute PWD naming the cwd stays, `..` included
        Row {
            env: &[("PWD", Some("{d}/work/../work"))],
            ..ROW
        },
        Row {
            env: &[("PWD", Some("{d}/link/../work"))],
            ..ROW
        },
        Row {
            env: &[("PWD", Some("work"))],
            cwd: "",
            line: "bin/probe",
            ..ROW
        },
        // OLDPWD: exported only when it names a directory
        Row {
            env: &[("OLDPWD", Some("{d}/home"))],
            ..ROW
        },
        Row {
            env: &[("OLDPWD", Some("sub"))],
            ..ROW
        },
        Row {
            env: &[("OLDPWD", Some(""))],
            ..ROW
        },
        Row {
            env: &[("OLDPWD", Some("{d}/gone"))],
            ..ROW
        },
        Row {
            env: &[("OLDPWD", Some("{d}/files/noexec"))],
            ..ROW
        },
        // SHLVL: bash raises it at start and lowers it for the exec
        Row {
            env: &[("SHLVL", Some("3"))],
            ..ROW
        },
        Row {
            env: &[("SHLVL", Some("0"))],
            ..ROW
        },
        Row {
            env: &[("SHLVL", Some("998"))],
            ..ROW
        },
        // written back as a number
        Row {
            env: &[("SHLVL", Some("007"))],
            ..ROW
        },
        Row {
            env: &[("SHLVL", Some("00"))],
            ..ROW
        },
        Row {
            env: &[("SHLVL", Some("999"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("SHLVL", Some("5000"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("SHLVL", Some("abc"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("SHLVL", Some(""))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("SHLVL", Some("-4"))],
            route: Fallback,
            ..ROW
        },
        // a stale `_` is replaced; names bash cannot use and empty values
        // pass through
        Row {
            env: &[
                ("_", Some("/stale")),
                ("A-B", Some("not a name")),
                ("X", Some("")),
            ],
            ..ROW
        },
        // signal dispositions and mask a caller leaves
        Row {
            caller: Caller::Background,
            ..ROW
        },
        Row {
            caller: Caller::Background,
            route: Shell,
            line: "probe $HOME",
            ..ROW
        },
        // PATH search; `_` joins entry and name as bash does
        Row {
            env: &[("PATH", Some("{d}/bin//:/usr/bin:/bin"))],
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/bin///:/usr/bin:/bin"))],
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/bin2:{d}/bin:/usr/bin:/bin"))],
            ran: Some("{d}/bin2/probe"),
            ..ROW
        },
        // bash skips what it cannot exec and searches on
        Row {
            env: &[("PATH", Some("{d}/noexec:{d}/bin:/usr/bin:/bin"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/isdir:{d}/bin:/usr/bin:/bin"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/empty:{d}/bin:/usr/bin:/bin"))],
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/bin/:/usr/bin:/bin"))],
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}//bin:/usr/bin:/bin"))],
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/links:/usr/bin:/bin"))],
            line: "plink",
            ..ROW
        },
        // bash reads an empty or relative entry against the cwd, and
        // guard leaves that to bash; but only once the search gets there
        Row {
            env: &[("PATH", Some(":{d}/bin:/usr/bin:/bin"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/bin::/usr/bin"))],
            ..ROW
        },
        Row {
            env: &[("PATH", Some("/usr/bin::{d}/bin"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/bin:"))],
            cwd: "work/sub",
            ..ROW
        },
        Row {
            env: &[("PATH", Some("../bin:/usr/bin:/bin"))],
            route: Fallback,
            ..ROW
        },
        Row {
            env: &[("PATH", Some("/usr/bin:sub:{d}/bin"))],
            route: Fallback,
            ..ROW
        },
        // with no PATH bash searches its own default, without exporting it
        Row {
            env: &[("PATH", None)],
            line: "{d}/bin/probe",
            ..ROW
        },
        Row {
            env: &[("PATH", None)],
            route: Fallback,
            ends: Ends::Code(127),
            ran: None,
            ..ROW
        },
        // what bash reports itself: 126, 127, and files that are not
        // binaries
        Row {
            line: "{d}/files/noexec",
            route: Fallback,
            ends: Ends::Code(126),
            ran: None,
            ..ROW
        },
        Row {
            env: &[("PATH", Some("{d}/noexec:/usr/bin:/bin"))],
            route: Fallback,
            ends: Ends::Code(126),
            ran: None,
            ..ROW
        },
        Row {
            line: "{d}/files",
            route: Fallback,
            ends: Ends::Code(126),
            ran: None,
            ..ROW
        },
        Row {
            line: "no-such-program x",
            route: Fallback,
            ends: Ends::Code(127),
            ran: None,
            ..ROW
        },
        Row {
            line: "no-such-program x",
            args: &["name", "one"],
            route: Fallback,
            ends: Ends::Code(127),
            ran: None,
            ..ROW
        },
        Row {
            line: "{d}/gone/probe",
            route: Fallback,
            ends: Ends::Code(127),
            ran: None,
            ..ROW
        },
        Row {
            line: "{d}/files/script a 'b c'",
            route: Fallback,
            ..ROW
        },
        Row {
            line: "{d}/files/script a",
            env: &[
                ("SHLVL", Some("3")),
                ("PWD", Some("/")),
                ("OLDPWD", Some("{d}/gone")),
            ],
            route: Fallback,
            ..ROW
        },
        Row {
            line: "{d}/files/binary",
            route: Fallback,
            ends: Ends::Code(126),
            ran: None,
            ..ROW
        },
        Row {
            line: "{d}/files/empty",
            route: Fallback,
            ran: None,
            ..ROW
        },
        // controls: not static, so bash on both sides
        Row {
            line: "probe $HOME",
            route: Shell,
            ..ROW
        },
        Row {
            line: "echo hi",
            route: Shell,
            ran: None,
            ..ROW
        },
        Row {
            line: "probe a; probe b",
            route: Shell,
            ..ROW
        },
    ]
}

/// The directories and files the rows name, under one root.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    // `/proc/self/exe` and getcwd resolve symlinks; so must the root.
    let root = dir.path().canonicalize().expect("canonical tempdir");
    for sub in [
        "bin",
        "bin2",
        "noexec",
        "isdir/probe",
        "empty",
        "links",
        "files",
        "work/sub",
        "home",
    ] {
        std::fs::create_dir_all(root.join(sub)).expect("mkdir");
    }
    let probe = root.join("bin/probe");
    let src = root.join("probe.c");
    std::fs::write(&src, PROBE_C).expect("write probe.c");
    let cc = Command::new("cc")
        .arg("-O")
        .arg("-o")
        .arg(&probe)
        .arg(&src)
        .output()
        .expect("run cc");
    assert!(
        cc.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    std::fs::copy(&probe, root.join("bin2/probe")).expect("copy probe");
    std::fs::copy(&probe, root.join("noexec/probe")).expect("copy probe");
    chmod(&root.join("noexec/probe"), 0o644);
    std::os::unix::fs::symlink("../bin/probe", root.join("links/plink")).expect("symlink");
    std::os::unix::fs::symlink("work", root.join("link")).expect("symlink");
    let files = root.join("files");
    std::fs::write(files.join("noexec"), "#!/bin/sh\necho never\n").expect("write");
    chmod(&files.join("noexec"), 0o644);
    // No shebang: execve fails with ENOEXEC and bash runs it as a script.
    let script = format!(
        "echo \"script $# $*\"\nexec {} script \"$@\"\n",
        probe.display()
    );
    std::fs::write(files.join("script"), script).expect("write");
    std::fs::write(files.join("binary"), b"\x7fELF\x02\x01\x01\0\0\0junk\n").expect("write");
    std::fs::write(files.join("empty"), b"").expect("write");
    for f in ["script", "binary", "empty"] {
        chmod(&files.join(f), 0o755);
    }
    let config = root.join("config.yaml");
    // Untraced: the comparison is of the direct path with bash, and strace
    // (which shows which path ran) cannot trace what guard's tracer
    // already traces. Under tracing the program also runs with
    // no_new_privs, which bash alone does not set; tests/exec_tree.rs
    // covers that.
    std::fs::write(&config, "# the direct path, untraced\nexec_tree: off\n").expect("write config");
    Fixture {
        _dir: dir,
        root,
        config,
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

impl Fixture {
    fn fill(&self, text: &str) -> String {
        text.replace("{d}", &self.root.to_string_lossy())
    }

    /// `program args` with the row's environment, cwd and caller state.
    /// Both sides get GUARD_CONFIG and GUARD_STATE_DIR, so the two
    /// environments start out identical.
    fn command(&self, row: &Row, state: &Path, program: &Path, args: &[String]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", self.fill("{d}/bin:/usr/bin:/bin"))
            .env("HOME", self.root.join("home"))
            .env("GUARD_CONFIG", &self.config)
            .env("GUARD_STATE_DIR", state)
            .current_dir(self.root.join(row.cwd))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in row.env {
            match v {
                Some(v) => cmd.env(k, self.fill(v)),
                None => cmd.env_remove(k),
            };
        }
        if let Caller::DeletedCwd = row.caller {
            let doomed = std::ffi::CString::new(self.fill("{d}/work/deleted")).expect("no NUL");
            // SAFETY: mkdir, chdir and rmdir are async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    use nix::unistd::{chdir, mkdir, unlinkat, UnlinkatFlags};
                    mkdir(
                        doomed.as_c_str(),
                        nix::sys::stat::Mode::from_bits_truncate(0o755),
                    )?;
                    chdir(doomed.as_c_str())?;
                    unlinkat(
                        nix::fcntl::AT_FDCWD,
                        doomed.as_c_str(),
                        UnlinkatFlags::RemoveDir,
                    )?;
                    Ok(())
                });
            }
        }
        if let Caller::Background = row.caller {
            // SAFETY: signal, sigprocmask and umask are async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    for s in [
                        Signal::SIGHUP,
                        Signal::SIGINT,
                        Signal::SIGQUIT,
                        Signal::SIGPIPE,
                    ] {
                        nix::sys::signal::signal(s, SigHandler::SigIgn)?;
                    }
                    let mut set = SigSet::empty();
                    set.add(Signal::SIGUSR1);
                    set.thread_block()?;
                    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
                    Ok(())
                });
            }
        }
        cmd
    }
}

/// What a run showed, in a form both sides can be compared in.
#[derive(Debug, PartialEq)]
struct Seen {
    ends: Ends,
    /// The probe's report but its environment, in order.
    report: Vec<String>,
    /// Its environment, sorted: bash and guard build the block in
    /// different orders, and only the set matters to the program.
    env: Vec<String>,
    stderr: String,
}

fn seen(out: &Output) -> Seen {
    let stdout = String::from_utf8_lossy(&out.stdout);
    // guard exports its session id so that nested guards join the
    // session; bash has no such thing, and the id is new on every run.
    let lines = stdout.lines().filter(|l| !l.contains("GUARD_SESSION="));
    let (mut env, report): (Vec<String>, Vec<String>) = lines
        .map(str::to_string)
        .partition(|l| l.starts_with("env "));
    env.sort();
    Seen {
        ends: match (out.status.code(), out.status.signal()) {
            (Some(c), _) => Ends::Code(c),
            (None, Some(s)) => Ends::Signal(s),
            (None, None) => unreachable!("a process ends by code or by signal"),
        },
        report,
        env,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The basenames of every program guard exec'd (or tried to), in order,
/// from an `strace -f -e trace=execve` log.
fn execs(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter_map(|l| l.split_once("execve(\"")?.1.split_once('"'))
        .map(|(path, _)| basename(path).to_string())
        .collect()
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// strace by absolute path: some rows run with no PATH at all.
fn strace() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .map(|dir| Path::new(dir).join("strace"))
        .find(|p| p.is_file())?;
    let works = Command::new(&found)
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(found)
}

/// Everything that differs between the two sides, or from the row's
/// own expectations.
fn check(fx: &Fixture, strace: &Path, row: &Row, i: usize) -> Vec<String> {
    let line = fx.fill(row.line);
    let mut problems = Vec::new();
    let argv = static_argv(&line);
    if (row.route == Route::Shell) != argv.is_none() {
        problems.push(format!(
            "static_argv gives {argv:?} for a {:?} row",
            row.route
        ));
    }
    let state = fx.root.join(format!("state-{i}"));
    let mut args = vec!["-c".to_string(), line.clone()];
    args.extend(row.args.iter().map(|a| fx.fill(a)));

    let guard = fx
        .command(row, &state, &common::bin(), &args)
        .output()
        .expect("run guard");
    let mut bash_args = vec!["--noprofile".to_string(), "--norc".to_string()];
    bash_args.extend(args.iter().cloned());
    // guard execs its shell as `bash`, and bash names itself by argv[0]
    // in its messages.
    let bash = fx
        .command(row, &state, Path::new("/bin/bash"), &bash_args)
        .arg0("bash")
        .output()
        .expect("run bash");
    let (g, b) = (seen(&guard), seen(&bash));
    if g != b {
        problems.push(difference(&g, &b));
    }
    if b.ends != row.ends {
        problems.push(format!(
            "bash ended {:?}, the row expects {:?}",
            b.ends, row.ends
        ));
    }
    let exe = g
        .report
        .iter()
        .find_map(|l| l.strip_prefix("exe "))
        .map(str::to_string);
    if let Some(ran) = row.ran {
        if exe.as_deref() != Some(fx.fill(ran).as_str()) {
            problems.push(format!("ran {exe:?}, the row expects {}", fx.fill(ran)));
        }
    }
    if let (Route::Direct, Some(argv)) = (row.route, &argv) {
        let got: Vec<&str> = g
            .report
            .iter()
            .filter_map(|l| l.strip_prefix("argv "))
            .collect();
        if got != *argv {
            problems.push(format!("the program saw argv {got:?}, the parser {argv:?}"));
        }
    }

    let trace = fx.root.join(format!("trace-{i}"));
    let mut strace_args: Vec<String> = ["-f", "-qq", "-e", "trace=execve", "-o"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    strace_args.push(trace.to_string_lossy().into_owned());
    strace_args.push(common::bin().to_string_lossy().into_owned());
    strace_args.extend(args.iter().cloned());
    let traced = fx
        .command(row, &state, strace, &strace_args)
        .output()
        .expect("run strace");
    let log = std::fs::read_to_string(&trace).unwrap_or_default();
    let programs = execs(&log);
    let bash_ran = programs.iter().any(|p| p == "bash");
    if programs.first().map(String::as_str) != Some("guard") {
        problems.push(format!(
            "strace saw no exec of guard: {log}{}",
            String::from_utf8_lossy(&traced.stderr)
        ));
    } else if bash_ran != (row.route != Route::Direct) {
        problems.push(format!(
            "{:?} row, but guard exec'd {programs:?}",
            row.route
        ));
    }
    problems
}

fn difference(g: &Seen, b: &Seen) -> String {
    let mut out = String::new();
    if g.ends != b.ends {
        out += &format!("\n  ended: guard {:?}, bash {:?}", g.ends, b.ends);
    }
    if g.stderr != b.stderr {
        out += &format!(
            "\n  stderr: guard {:?}\n          bash  {:?}",
            g.stderr, b.stderr
        );
    }
    let all = |s: &Seen| -> Vec<String> { s.report.iter().chain(&s.env).cloned().collect() };
    let (gl, bl) = (all(g), all(b));
    for l in gl.iter().filter(|l| !bl.contains(l)) {
        out += &format!("\n  guard only: {l}");
    }
    for l in bl.iter().filter(|l| !gl.contains(l)) {
        out += &format!("\n  bash only:  {l}");
    }
    if out.is_empty() {
        out += "\n  same lines, different order";
    }
    out
}

#[test]
fn direct_exec_matches_bash() {
    let Some(strace) = strace() else {
        eprintln!("skipped: strace is not installed");
        return;
    };
    let fx = fixture();
    let python = Path::new("/usr/bin/python3").exists();
    let mut failures = Vec::new();
    for (i, row) in rows().iter().enumerate() {
        if row.line == PYTHON && !python {
            eprintln!("skipped: /usr/bin/python3 is not installed (row {i})");
            continue;
        }
        let problems = check(&fx, &strace, row, i);
        if !problems.is_empty() {
            failures.push(format!(
                "row {i}: {:?} env {:?} cwd {:?} {:?}: {}",
                row.line,
                row.env,
                row.cwd,
                row.caller,
                problems.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
