//! Exec-tree enforcement, end to end: every program a guarded line starts
//! is decided at its `execve`, with real programs (bash, dash, python,
//! node, make, npm, git, cc, cargo) and fake credential CLIs that leave a
//! marker file when they run.
//!
//! Every case runs in both modes: `embedded::NAME`, where guard's own
//! tracer process decides the tree, and `with_broker::NAME`, where a real
//! `guard broker` running as the `guard` user traces the agent's
//! (`guardagent`) lines (tests/common/broker.rs). Broker-mode cases need
//! root and skip, passing, without it.
//!
//! The refusal rows are lines that the line-level analysis lets through
//! on their own (`guard check` says allow): what has to catch them is the
//! exec below the line. Each row is one entry of a table and runs in a
//! sandbox (and broker) of its own; a failing row does not stop the
//! others, and the test fails at the end with every failure, the row's
//! line and, in broker mode, the broker's log. A line that hangs is
//! killed, with its tracer if need be, and fails its row.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::broker::{self, Broker, Users};
use serde_json::Value;

const AWS: &str = "cloud.aws";
const KUBE: &str = "kube.kubectl";
const PSQL: &str = "db.postgres";

/// The credential CLIs every sandbox fakes, ahead of the system's on PATH.
const FAKES: [&str; 3] = ["aws", "kubectl", "psql"];

/// No terminal and no webhook: a review is a refusal.
const POLICY: &str = "approval: {tty: false}\n";

const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A guarded line still running after this long is killed, so a hang
/// fails its row instead of stalling CI.
const LIMIT: Duration = Duration::from_secs(60);

/// Records the tracer writes once the tree is done (the summary) may land
/// after the line's own exit; this is how long to wait for them.
const SETTLE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- modes

/// Who traces the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// guard's tracer process, under a root-owned GUARD_CONFIG.
    Embedded,
    /// A `guard broker` as its own user; the agent's guard only asks it.
    Broker,
}

/// `in_both_modes! { case, … }`: `embedded::case` and
/// `with_broker::case` for each function `case(Mode)`.
macro_rules! in_both_modes {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[test]
                fn $case() {
                    super::$case(super::Mode::Embedded)
                }
            )*
        }

        mod with_broker {
            $(
                #[test]
                fn $case() {
                    if let Err(why) = super::Users::get() {
                        eprintln!("skipped: {why}");
                        return;
                    }
                    super::$case(super::Mode::Broker)
                }
            )*
        }
    };
}

in_both_modes! {
    two_step_and_indirect_runs_are_refused_at_the_inner_exec,
    benign_builds_run_with_no_prompt_under_the_same_tracer,
    a_path_rewritten_during_execve_never_runs_aws,
    the_tree_dies_with_its_tracer,
    without_ptrace_the_line_is_refused,
    inside_the_tree_steering_calls_fail_with_eperm,
    exec_tree_off_in_an_admin_config_turns_tracing_off,
    signals_in_the_tree_are_the_programs_own,
}

// ---------------------------------------------------------------- sandbox

/// Where a row runs: a work dir the line's user owns, the fake CLIs
/// (whose markers land in the work dir), and how guard is started.
struct Sandbox {
    /// Root's: embedded mode's config, state and home; `guard check`'s
    /// config in both modes.
    dir: tempfile::TempDir,
    broker: Option<Broker>,
}

impl Sandbox {
    fn new(mode: Mode) -> Sandbox {
        Sandbox::with_policy(mode, POLICY)
    }

    fn with_policy(mode: Mode, yaml: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("guard-exec-tree-")
            .tempdir()
            .expect("tempdir");
        broker::chmod(dir.path(), 0o755);
        // The precondition of every row is judged by the shipped packs
        // alone, as the lines themselves are.
        std::fs::write(dir.path().join("check.yaml"), POLICY).expect("write check config");
        let broker = match mode {
            Mode::Embedded => {
                for d in ["work", "home", "state", "check-state"] {
                    std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
                }
                std::fs::write(dir.path().join("config.yaml"), yaml).expect("write config");
                for cli in FAKES {
                    common::recording_stub(&dir.path().join("work"), cli);
                }
                None
            }
            Mode::Broker => {
                std::fs::create_dir_all(dir.path().join("check-state")).expect("mkdir");
                let users = Users::get().expect("checked before the case ran");
                let mut b = Broker::new(users, yaml);
                for cli in FAKES {
                    b.fake_cli(cli);
                }
                b.start();
                Some(b)
            }
        };
        Sandbox { dir, broker }
    }

    fn work(&self) -> PathBuf {
        match &self.broker {
            Some(b) => b.work(),
            None => self.dir.path().join("work"),
        }
    }

    fn bin(&self) -> PathBuf {
        match &self.broker {
            Some(b) => b.bin_dir(),
            None => self.work().join("bin"),
        }
    }

    fn home(&self) -> PathBuf {
        match &self.broker {
            Some(b) => b.users.agent.home.clone(),
            None => self.dir.path().join("home"),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn path_var(&self) -> String {
        format!("{}:{SYSTEM_PATH}", self.bin().display())
    }

    /// The file the fake `cli` appends to when it runs.
    fn marker(&self, cli: &str) -> PathBuf {
        self.work().join(format!("{cli}-ran"))
    }

    /// A fresh directory for one row, under the work dir.
    fn row_dir(&self, name: &str) -> PathBuf {
        let slug: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let d = self.work().join(slug);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir row dir");
        d
    }

    /// What root wrote for a row becomes the agent's, as if the agent had
    /// written it (broker mode; embedded lines run as root).
    fn hand_over(&self) {
        if let Some(b) = &self.broker {
            chown_tree(&b.work(), &b.users.agent);
        }
    }

    /// `guard ARGS…` as the line's user, in `cwd`, with no terminal.
    fn guard(&self, cwd: &Path, args: &[&str]) -> Command {
        self.guard_via(cwd, &[], args)
    }

    /// As `guard`, started by `via…` (a tracer of its own, say).
    fn guard_via(&self, cwd: &Path, via: &[&str], args: &[&str]) -> Command {
        let mut c = match &self.broker {
            Some(b) => match via.split_first() {
                None => b.agent(args),
                Some((first, rest)) => {
                    let bin = b.users.bin.display().to_string();
                    let mut all: Vec<&str> = rest.to_vec();
                    all.push(&bin);
                    all.extend_from_slice(args);
                    b.as_user(&b.users.agent, Path::new(first), &all)
                }
            },
            None => {
                let mut c = match via.split_first() {
                    None => Command::new(common::bin()),
                    Some((first, rest)) => {
                        let mut c = Command::new(first);
                        c.args(rest).arg(common::bin());
                        c
                    }
                };
                c.args(args)
                    .env_clear()
                    .env("HOME", self.home())
                    .env("PATH", self.path_var())
                    .env("GUARD_CONFIG", self.dir.path().join("config.yaml"))
                    .env("GUARD_STATE_DIR", self.state());
                c
            }
        };
        c.current_dir(cwd);
        common::detach(&mut c);
        c
    }

    /// `guard check -c LINE` in `cwd`: what the line-level analysis says
    /// about the line alone (its first output line).
    fn check(&self, cwd: &Path, line: &str) -> String {
        let out = Command::new(common::bin())
            .args(["check", "-c", line])
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", self.path_var())
            .env("GUARD_CONFIG", self.dir.path().join("check.yaml"))
            .env("GUARD_STATE_DIR", self.dir.path().join("check-state"))
            .current_dir(cwd)
            .output()
            .expect("run guard check");
        broker::text(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// Every record of the log the line's decisions go to.
    fn audit(&self) -> Vec<Value> {
        match &self.broker {
            Some(b) => b.audit(),
            None => common::audit_all(&self.state()),
        }
    }

    fn logs(&self) -> String {
        self.broker.as_ref().map(Broker::logs).unwrap_or_default()
    }

    /// A failure, with the broker's log when there is one.
    fn explain(&self, problem: String) -> String {
        match &self.broker {
            Some(_) => format!("{problem}\nbroker log:\n{}", self.logs()),
            None => problem,
        }
    }
}

/// Fail `case` with every problem its rows found.
fn verdict(case: &str, mode: Mode, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{case} ({mode:?}): {} failure(s)\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

fn chown_tree(dir: &Path, who: &broker::Account) {
    let _ = std::os::unix::fs::lchown(dir, Some(who.uid), Some(who.gid));
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            chown_tree(&p, who);
        } else {
            let _ = std::os::unix::fs::lchown(&p, Some(who.uid), Some(who.gid));
        }
    }
}

/// How a guarded line ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// It ran past this limit and was killed.
    hung: Option<Duration>,
}

impl Ran {
    fn of(out: Output) -> Ran {
        Ran {
            code: out.status.code(),
            stdout: broker::text(&out.stdout),
            stderr: broker::text(&out.stderr),
            hung: None,
        }
    }

    fn show(&self) -> String {
        let hung = self
            .hung
            .map(|l| format!(" (hung: killed after {l:?})"))
            .unwrap_or_default();
        format!(
            "exit {:?}{hung}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run_line(sb: &Sandbox, cwd: &Path, line: &str, env: &[(String, String)]) -> Ran {
    run_line_within(sb, cwd, line, env, LIMIT)
}

fn run_line_within(
    sb: &Sandbox,
    cwd: &Path,
    line: &str,
    env: &[(String, String)],
    limit: Duration,
) -> Ran {
    let mut cmd = sb.guard(cwd, &["-c", line]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_bounded(sb, &mut cmd, limit)
}

fn sigkill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Run `cmd` (a session of its own, see `Sandbox::guard`) to the end, or
/// kill it after `limit`. Killing the line is not always enough: a tracee
/// whose tracer is stuck cannot be reaped, so a stuck broker goes too.
fn run_bounded(sb: &Sandbox, cmd: &mut Command, limit: Duration) -> Ran {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id() as i32;
    let broker_pid = sb.broker.as_ref().and_then(Broker::pid);
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        use std::sync::mpsc::RecvTimeoutError::Timeout;
        if wait.recv_timeout(limit) != Err(Timeout) {
            return false;
        }
        for p in descendants(pid) {
            sigkill(p);
        }
        sigkill(pid);
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        if wait.recv_timeout(Duration::from_secs(10)) == Err(Timeout) {
            if let Some(b) = broker_pid {
                sigkill(b);
            }
        }
        true
    });
    let out = child.wait_with_output().expect("wait for guard");
    let _ = done.send(());
    let mut ran = Ran::of(out);
    ran.hung = watchdog.join().unwrap_or(true).then_some(limit);
    ran
}

// ---------------------------------------------------------------- files

fn file(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn program(dir: &Path, name: &str, text: &str) {
    file(dir, name, text);
    broker::chmod(&dir.join(name), 0o755);
}

/// `sh -c SCRIPT` in `dir`, as root, which must succeed (a row's setup).
fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .env("PATH", SYSTEM_PATH)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "setup `{script}` in {}: {}{}",
        dir.display(),
        broker::text(&out.stdout),
        broker::text(&out.stderr)
    );
}

/// A git repository with one staged file and `hook` as its pre-commit
/// hook; identity in the repo's own config, so no global config matters.
fn repo(dir: &Path, hook: &str) {
    sh(
        dir,
        "git init -q . && git config user.name 'Exec Tree' && \
         git config user.email exec-tree@example.com && git config commit.gpgsign false",
    );
    file(dir, "a.txt", "hello\n");
    program(dir, ".git/hooks/pre-commit", hook);
    sh(dir, "git add a.txt");
}

/// Whether `tool` is on the PATH the lines run with.
fn installed(tool: &str) -> bool {
    SYSTEM_PATH.split(':').any(|d| {
        std::fs::metadata(Path::new(d).join(tool))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

fn missing(tools: &[&str]) -> Option<String> {
    tools
        .iter()
        .find(|t| !installed(t))
        .map(|t| format!("{t} is not installed"))
}

// ---------------------------------------------------------------- records

/// The decision record of the line itself (not of an exec below it).
fn line_record<'a>(records: &'a [Value], line: &str) -> Option<&'a Value> {
    records
        .iter()
        .find(|r| r["kind"] == "decision" && r["mode"] != "exec" && r["line"] == line)
}

/// The exec decisions recorded under the line with decision record `seq`.
fn exec_records(records: &[Value], seq: &Value) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "decision" && r["mode"] == "exec" && &r["parent"] == seq)
        .cloned()
        .collect()
}

/// The line's exit record, which the tracer writes when the root ends.
fn exit_of(records: &[Value], seq: &Value) -> Option<Value> {
    records
        .iter()
        .find(|r| r["kind"] == "exit" && &r["of"] == seq)
        .cloned()
}

fn summary_of(records: &[Value], seq: &Value) -> Option<Value> {
    records
        .iter()
        .find(|r| r["mode"] == "exec-summary" && &r["parent"] == seq)
        .cloned()
}

/// Records since `from`, once `done` holds for them or `SETTLE` has
/// passed.
fn settled(sb: &Sandbox, from: usize, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let tail = || {
        sb.audit()
            .get(from..)
            .map(<[Value]>::to_vec)
            .unwrap_or_default()
    };
    let _ = broker::eventually(SETTLE, || done(&tail()));
    tail()
}

fn brief(records: &[Value]) -> String {
    records
        .iter()
        .map(|r| {
            format!(
                "  seq {} kind {} mode {} decision {} rule {} parent {} line {}",
                r["seq"], r["kind"], r["mode"], r["decision"], r["rule"], r["parent"], r["line"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------- refusal rows

/// Where a row's refusal must come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// An exec below a line the analysis allowed.
    Exec,
    /// The line itself: its analysis already sees the credential CLI.
    Line,
}

struct Row {
    name: &'static str,
    line: &'static str,
    /// The fake credential CLI the line must not reach.
    cli: &'static str,
    rule: &'static str,
    /// Writes the row's files into its (empty) directory, as root.
    setup: fn(&Path),
    needs: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    at: At,
    /// How long the line may take before it counts as hung.
    limit: Duration,
}

fn row(
    name: &'static str,
    line: &'static str,
    cli: &'static str,
    rule: &'static str,
    setup: fn(&Path),
) -> Row {
    Row {
        name,
        line,
        cli,
        rule,
        setup,
        needs: &[],
        env: &[],
        at: At::Exec,
        limit: LIMIT,
    }
}

impl Row {
    fn needs(mut self, tools: &'static [&'static str]) -> Row {
        self.needs = tools;
        self
    }

    fn env(mut self, vars: &'static [(&'static str, &'static str)]) -> Row {
        self.env = vars;
        self
    }

    fn at_the_line(mut self) -> Row {
        self.at = At::Line;
        self
    }

    /// A row known to hang guard gets a shorter bound than `LIMIT` (the
    /// line itself takes well under a second), so the suite stays quick
    /// while the bug is there.
    fn hang_bound(mut self, limit: Duration) -> Row {
        self.limit = limit;
        self
    }
}

const PY_SPAWN: &str = "import subprocess\n\
subprocess.run([\"kubectl\", \"get\", \"pods\"], check=True)\n";

const JS_SPAWN: &str = "const { spawnSync } = require(\"child_process\");\n\
const r = spawnSync(\"kubectl\", [\"get\", \"pods\"], { stdio: \"inherit\" });\n\
if (r.error) {\n  console.error(`x.js: ${r.error.message}`);\n  process.exit(1);\n}\n\
process.exit(r.status === null ? 1 : r.status);\n";

const PACKAGE_JSON: &str =
    "{\"name\": \"deployer\", \"version\": \"1.0.0\", \"private\": true,\n \"scripts\": {\"deploy\": \"aws s3 ls\"}}\n";

/// npm with nothing to fetch: no dependencies, and none of its own calls
/// home (update check, funding, audit).
const NPM_OFFLINE: &[(&str, &str)] = &[
    ("npm_config_update_notifier", "false"),
    ("npm_config_fund", "false"),
    ("npm_config_audit", "false"),
    ("npm_config_offline", "true"),
];

fn indirect_runs() -> Vec<Row> {
    vec![
        row("bash runs a script", "bash x.sh", "aws", AWS, |d| {
            file(d, "x.sh", "aws s3 ls\n")
        }),
        row("sh runs a script", "sh x.sh", "aws", AWS, |d| {
            file(d, "x.sh", "aws s3 ls\n")
        }),
        row("a script run by its shebang", "./x.sh", "aws", AWS, |d| {
            program(d, "x.sh", "#!/bin/sh\naws s3 ls\n")
        }),
        // guard reads what a line sources and decides it with the line, so
        // this one never gets as far as an exec.
        row("a sourced script", "source x.sh", "aws", AWS, |d| {
            file(d, "x.sh", "aws s3 ls\n")
        })
        .at_the_line(),
        row("python subprocess", "python3 x.py", "kubectl", KUBE, |d| {
            file(d, "x.py", PY_SPAWN)
        })
        .needs(&["python3"]),
        row("node child_process", "node x.js", "kubectl", KUBE, |d| {
            file(d, "x.js", JS_SPAWN)
        })
        .needs(&["node"]),
        row("a make recipe", "make", "psql", PSQL, |d| {
            file(d, "Makefile", "all:\n\tpsql -c 'select 1'\n")
        })
        .needs(&["make"]),
        row("an npm script", "npm run deploy", "aws", AWS, |d| {
            file(d, "package.json", PACKAGE_JSON)
        })
        .needs(&["npm"])
        .env(NPM_OFFLINE),
        row(
            "a git pre-commit hook",
            "git commit -q -m 'add a.txt'",
            "aws",
            AWS,
            |d| repo(d, "#!/bin/sh\naws s3 ls\n"),
        )
        .needs(&["git"]),
        row("a renamed copy of aws", "bash x.sh", "aws", AWS, |d| {
            file(d, "x.sh", "cp \"$(command -v aws)\" tool && ./tool s3 ls\n")
        }),
        // A decoy `aws` earlier on PATH must not hide the real one: every
        // copy on PATH is compared.
        row(
            "a renamed copy behind a decoy on PATH",
            "bash x.sh",
            "aws",
            AWS,
            |d| {
                file(
                    d,
                    "x.sh",
                    "mkdir -p decoy && printf '#!/bin/sh\\necho decoy\\n' > decoy/aws && chmod +x decoy/aws\n\
                     cp \"$(command -v aws)\" tool && PATH=\"$PWD/decoy:$PATH\" ./tool s3 ls\n",
                )
            },
        ),
        // An interpreter handed the CLI's own script (aws is a Python
        // script in its pip form; this fake is a shell script), by path
        // and as a renamed copy.
        row(
            "an interpreter running the CLI's script",
            "bash x.sh",
            "aws",
            AWS,
            |d| file(d, "x.sh", "sh \"$(command -v aws)\" s3 ls\n"),
        ),
        row(
            "an interpreter running a renamed copy",
            "bash x.sh",
            "aws",
            AWS,
            |d| {
                file(
                    d,
                    "x.sh",
                    "cp \"$(command -v aws)\" tool && bash -- ./tool s3 ls\n",
                )
            },
        ),
        // Bare `xargs -a file` would only echo the words, and `xargs -a
        // file env` on the line is already reviewed as dynamic: the
        // launcher has to be one the line does not show.
        row(
            "xargs takes the command from a file",
            "bash x.sh",
            "aws",
            AWS,
            |d| {
                file(d, "file", "aws s3 ls\n");
                file(d, "x.sh", "xargs -a file env\n");
            },
        )
        .needs(&["xargs"]),
        row("env -S in a script", "bash x.sh", "aws", AWS, |d| {
            file(d, "x.sh", "env -S 'aws s3 ls'\n")
        }),
        row("exec -a in a script", "bash x.sh", "aws", AWS, |d| {
            file(d, "x.sh", "exec -a other aws s3 ls\n")
        }),
        // Beyond the issue's list. The broker runs as its own user, so it
        // cannot look into a directory of the agent's that is 0700; the
        // exec is then judged only after the kernel has started it.
        row(
            "a renamed copy of aws in a directory only the agent can enter",
            "bash x.sh",
            "aws",
            AWS,
            |d| {
                file(
                    d,
                    "x.sh",
                    "mkdir -m 700 own && cp \"$(command -v aws)\" own/tool && own/tool s3 ls\n",
                )
            },
        ),
        // `/dev/fd/N` names the tracee's descriptor, which the tracer
        // cannot look up by that path: it finds its own descriptor N, or
        // none. 4 is a pipe of the tracer's own in both modes; 7 is
        // nothing of the tracer's.
        row(
            "aws exec'd through /dev/fd/7",
            "bash x.sh",
            "aws",
            AWS,
            |d| {
                file(
                    d,
                    "x.sh",
                    "exec 7< \"$(command -v aws)\"\n/dev/fd/7 s3 ls\n",
                )
            },
        ),
        row(
            "aws exec'd through /dev/fd/4",
            "bash x.sh",
            "aws",
            AWS,
            |d| {
                file(
                    d,
                    "x.sh",
                    "exec 4< \"$(command -v aws)\"\n/dev/fd/4 s3 ls\n",
                )
            },
        )
        .hang_bound(Duration::from_secs(20)),
    ]
}

fn two_step_and_indirect_runs_are_refused_at_the_inner_exec(mode: Mode) {
    let mut problems = Vec::new();
    for r in indirect_runs() {
        if let Some(why) = missing(r.needs) {
            eprintln!("skipped: {}: {why}", r.name);
            continue;
        }
        // A sandbox (and broker) per row: a row that runs the CLI, or
        // wedges the broker, cannot spoil the next.
        let sb = Sandbox::new(mode);
        match refusal(&sb, &r) {
            Ok(()) => eprintln!("{mode:?} {}: refused at the {:?}", r.name, r.at),
            Err(p) => {
                eprintln!("{mode:?} {}: FAILED", r.name);
                problems.push(sb.explain(p));
            }
        }
    }
    verdict("two-step and indirect runs", mode, &problems);
}

fn refusal(sb: &Sandbox, r: &Row) -> Result<(), String> {
    let dir = sb.row_dir(r.name);
    (r.setup)(&dir);
    sb.hand_over();
    let mut wrong = Vec::new();
    let check = sb.check(&dir, r.line);
    let allowed = check.starts_with("allow");
    match (r.at, allowed) {
        (At::Exec, false) => wrong.push(format!(
            "the line alone must pass the line-level analysis, got `{check}`"
        )),
        (At::Line, true) => wrong.push(format!(
            "the line-level analysis was expected to see the CLI, got `{check}`"
        )),
        _ => {}
    }
    let from = sb.audit().len();
    let env: Vec<(String, String)> = r
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ran = run_line_within(sb, &dir, r.line, &env, r.limit);
    let records = sb
        .audit()
        .get(from..)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();

    if let Some(limit) = ran.hung {
        wrong.push(format!("the line hung: killed after {limit:?}"));
    }
    if ran.code == Some(0) {
        wrong.push("exit status 0, expected a failure".to_string());
    }
    let marker = sb.marker(r.cli);
    if marker.exists() {
        wrong.push(format!(
            "{} ran: {}",
            r.cli,
            std::fs::read_to_string(&marker).unwrap_or_default().trim()
        ));
    }
    if !ran.stderr.contains("guard: denied:") {
        wrong.push("no `guard: denied:` on stderr".to_string());
    }
    let rule = format!("[rule {}]", r.rule);
    if !ran.stderr.contains(&rule) {
        wrong.push(format!("no `{rule}` on stderr"));
    }
    match line_record(&records, r.line) {
        None => wrong.push("no decision record for the line".to_string()),
        Some(rec) => {
            let seq = &rec["seq"];
            let execs = exec_records(&records, seq);
            let denied = execs.iter().any(|e| {
                e["decision"] == "deny"
                    && e["rule"] == r.rule
                    && e["pid"].is_u64()
                    && e["ppid"].is_u64()
            });
            match r.at {
                At::Exec => {
                    if rec["decision"] != "allow" {
                        wrong.push(format!("the line itself was decided {}", rec["decision"]));
                    }
                    if !denied {
                        wrong.push(format!(
                            "no `\"mode\":\"exec\"` deny record by {} with parent {seq}, pid and ppid",
                            r.rule
                        ));
                    }
                }
                At::Line => {
                    if rec["decision"] != "deny" || rec["rule"] != r.rule {
                        wrong.push(format!(
                            "the line was decided {} by {}, expected deny by {}",
                            rec["decision"], rec["rule"], r.rule
                        ));
                    }
                    if !execs.is_empty() {
                        wrong.push("a refused line has exec records below it".to_string());
                    }
                }
            }
        }
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(format!(
        "row `{}`: line `{}` in {}\n- {}\n{}records:\n{}",
        r.name,
        r.line,
        dir.display(),
        wrong.join("\n- "),
        ran.show(),
        brief(&records)
    ))
}

// ---------------------------------------------------------------- benign builds

struct Build {
    name: &'static str,
    line: &'static str,
    setup: fn(&Path),
    /// Programs the line's summary must list (`a|b`: either).
    programs: &'static [&'static str],
    /// Why this machine cannot run the row, if it cannot.
    ready: fn(Mode) -> Option<String>,
    /// Variables the line runs with, given its directory.
    env: fn(&Path) -> Vec<(String, String)>,
}

const MAIN_C: &str = "#include <stdio.h>\n#include \"calc.h\"\n\n\
int main(void) {\n    printf(\"%d\\n\", mul(add(1, 2), 3));\n    return 0;\n}\n";
const ADD_C: &str = "#include \"calc.h\"\n\nint add(int a, int b) { return a + b; }\n";
const MUL_C: &str = "#include \"calc.h\"\n\nint mul(int a, int b) { return a * b; }\n";
const CALC_H: &str = "int add(int a, int b);\nint mul(int a, int b);\n";
const C_MAKEFILE: &str = "OBJS = main.o add.o mul.o\n\n\
calc: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n\
%.o: %.c calc.h\n\t$(CC) -c -o $@ $<\n";

const PYTEST_SUITE: &str = "def test_adds():\n    assert 1 + 2 == 3\n\n\n\
def test_joins():\n    assert \"-\".join(\"ab\") == \"a-b\"\n";

const CARGO_TOML: &str =
    "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n";

fn shim_env(dir: &Path) -> Vec<(String, String)> {
    let shims = dir.join("shims").display().to_string();
    vec![("PATH".to_string(), format!("{shims}:{SYSTEM_PATH}"))]
}

fn no_env(_: &Path) -> Vec<(String, String)> {
    Vec::new()
}

fn pytest_ready(_: Mode) -> Option<String> {
    if let Some(why) = missing(&["python3"]) {
        return Some(why);
    }
    let ok = Command::new("python3")
        .args(["-c", "import pytest"])
        .env("PATH", SYSTEM_PATH)
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| "pytest is not installed for python3 (python3-pytest)".to_string())
}

/// The toolchain `cargo test` itself runs with: its `cargo` and `rustc`
/// sit side by side, so no rustup proxy is involved.
fn toolchain() -> Option<PathBuf> {
    let cargo = PathBuf::from(std::env::var_os("CARGO")?);
    let dir = cargo.parent()?.to_path_buf();
    (dir.join("cargo").is_file() && dir.join("rustc").is_file()).then_some(dir)
}

fn cargo_ready(mode: Mode) -> Option<String> {
    if mode == Mode::Broker {
        return Some("the cargo build runs in embedded mode only (as root)".to_string());
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("the cargo build runs as root".to_string());
    }
    toolchain()
        .is_none()
        .then(|| "no cargo/rustc pair next to $CARGO".to_string())
}

fn cargo_env(dir: &Path) -> Vec<(String, String)> {
    let tc = toolchain()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    vec![
        ("PATH".to_string(), format!("{tc}:{SYSTEM_PATH}")),
        (
            "CARGO_TARGET_DIR".to_string(),
            dir.join("target").display().to_string(),
        ),
        (
            "CARGO_HOME".to_string(),
            dir.join("cargo-home").display().to_string(),
        ),
    ]
}

fn builds() -> Vec<Build> {
    vec![
        Build {
            name: "a C project built with make -j2",
            line: "make -j2",
            setup: |d| {
                file(d, "main.c", MAIN_C);
                file(d, "add.c", ADD_C);
                file(d, "mul.c", MUL_C);
                file(d, "calc.h", CALC_H);
                file(d, "Makefile", C_MAKEFILE);
            },
            programs: &["make", "cc|gcc"],
            ready: |_| missing(&["make", "cc"]),
            env: no_env,
        },
        Build {
            name: "git commit with a pre-commit hook that greps",
            line: "git commit -q -m 'add a.txt'",
            setup: |d| repo(d, "#!/bin/sh\ngrep -q hello a.txt\n"),
            programs: &["git", "grep"],
            ready: |_| missing(&["git", "grep"]),
            env: no_env,
        },
        // pyenv, rbenv and asdf install one script under many names, an
        // `aws` among them: the others are not aws.
        Build {
            name: "a shim directory with one script under many names",
            line: "hello",
            setup: |d| {
                let shim = "#!/bin/sh\necho \"shim for ${0##*/}\"\n";
                program(&d.join("shims"), "aws", shim);
                program(&d.join("shims"), "hello", shim);
            },
            programs: &["hello"],
            ready: |_| None,
            env: shim_env,
        },
        Build {
            name: "a pytest suite",
            line: "python3 -m pytest -q",
            setup: |d| file(d, "test_tiny.py", PYTEST_SUITE),
            programs: &["python3"],
            ready: pytest_ready,
            env: no_env,
        },
        Build {
            name: "cargo build --offline of a crate with no dependencies",
            line: "cargo build --offline",
            setup: |d| {
                file(d, "Cargo.toml", CARGO_TOML);
                file(
                    d,
                    "src/main.rs",
                    "fn main() {\n    println!(\"tiny\");\n}\n",
                );
            },
            programs: &["cargo", "rustc"],
            ready: cargo_ready,
            env: cargo_env,
        },
    ]
}

fn benign_builds_run_with_no_prompt_under_the_same_tracer(mode: Mode) {
    let mut problems = Vec::new();
    for b in builds() {
        if let Some(why) = (b.ready)(mode) {
            eprintln!("skipped: {}: {why}", b.name);
            continue;
        }
        let sb = Sandbox::new(mode);
        match build(&sb, &b) {
            Ok(programs) => eprintln!("{mode:?} {}: ok ({programs})", b.name),
            Err(p) => {
                eprintln!("{mode:?} {}: FAILED", b.name);
                problems.push(sb.explain(p));
            }
        }
    }
    verdict("benign builds", mode, &problems);
}

/// Run one build; its summary's program list on success.
fn build(sb: &Sandbox, b: &Build) -> Result<String, String> {
    let dir = sb.row_dir(b.name);
    (b.setup)(&dir);
    sb.hand_over();
    let mut wrong = Vec::new();
    let check = sb.check(&dir, b.line);
    if !check.starts_with("allow") {
        wrong.push(format!("the line-level analysis says `{check}`"));
    }
    let from = sb.audit().len();
    let ran = run_line(sb, &dir, b.line, &(b.env)(&dir));
    if let Some(limit) = ran.hung {
        wrong.push(format!("the line hung: killed after {limit:?}"));
    }
    if ran.code != Some(0) {
        wrong.push(format!("exit {:?}, expected 0", ran.code));
    }
    if ran.stderr.contains("guard: denied") {
        wrong.push("`guard: denied` on stderr".to_string());
    }
    let seq = sb
        .audit()
        .get(from..)
        .and_then(|rs| line_record(rs, b.line).map(|r| r["seq"].clone()));
    let records = match &seq {
        Some(seq) => settled(sb, from, |rs| {
            summary_of(rs, seq).is_some() && exit_of(rs, seq).is_some()
        }),
        None => sb
            .audit()
            .get(from..)
            .map(<[Value]>::to_vec)
            .unwrap_or_default(),
    };
    let mut listed = String::new();
    match &seq {
        None => wrong.push("no decision record for the line".to_string()),
        Some(seq) => {
            let refused: Vec<Value> = exec_records(&records, seq)
                .into_iter()
                .filter(|r| r["decision"] != "allow")
                .collect();
            if !refused.is_empty() {
                wrong.push(format!("execs refused:\n{}", brief(&refused)));
            }
            match exit_of(&records, seq) {
                Some(e) if e["status"] == 0 => {}
                Some(e) => wrong.push(format!("the exit record says status {}", e["status"])),
                None => wrong.push(format!("no exit record of {seq}")),
            }
            match summary_of(&records, seq) {
                None => wrong.push(format!("no exec-summary record with parent {seq}")),
                Some(s) => {
                    listed = s["line"].as_str().unwrap_or_default().to_string();
                    let names: Vec<&str> = listed.split(' ').collect();
                    for want in b.programs {
                        if !want.split('|').any(|w| names.contains(&w)) {
                            wrong.push(format!("the summary `{listed}` does not list {want}"));
                        }
                    }
                    let reason = s["reason"].as_str().unwrap_or_default();
                    if !reason.contains("started by the line, allowed by policy") {
                        wrong.push(format!("summary reason `{reason}`"));
                    }
                }
            }
        }
    }
    if wrong.is_empty() {
        return Ok(listed);
    }
    Err(format!(
        "build `{}`: line `{}` in {}\n- {}\n{}records:\n{}",
        b.name,
        b.line,
        dir.display(),
        wrong.join("\n- "),
        ran.show(),
        brief(&records)
    ))
}

// ---------------------------------------------------------------- TOCTOU

/// Two threads share the exec's path and argv[0]: one keeps flipping them
/// between /bin/true and the fake aws, the other (the main thread, or a
/// second thread with `1`, whose exec takes over the leader's pid) execs
/// them. The tracer reads one value; the kernel may read the other.
const RACE_C: &str = r#"#include <pthread.h>
#include <string.h>
#include <unistd.h>

static char path[256] = "/bin/true";
static char arg0[256] = "true";

static void *flip(void *unused) {
    (void)unused;
    for (unsigned long i = 0;; i++) {
        strcpy(path, (i & 1) ? AWS : "/bin/true");
        strcpy(arg0, (i & 1) ? "aws" : "true");
        /* Without it the compiler keeps only the last of each pair of
         * stores, and the path never reads as aws. */
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

static void *run(void *unused) {
    (void)unused;
    char *argv[] = {arg0, "s3", "ls", NULL};
    char *envp[] = {NULL};
    for (int tries = 0; tries < 50; tries++)
        execve(path, argv, envp);
    _exit(3);
}

int main(int argc, char **argv) {
    pthread_t flipper, runner;
    pthread_create(&flipper, NULL, flip, NULL);
    if (argc > 1 && strcmp(argv[1], "1") == 0) {
        pthread_create(&runner, NULL, run, NULL);
        pthread_join(runner, NULL);
    } else {
        run(NULL);
    }
    return 4;
}
"#;

const RACE_LINE: &str = "n=0; for i in $(seq 200); do ./race $((i % 2)) 2>/dev/null && \
n=$((n+1)); done; echo \"true ran $n times\"";

fn a_path_rewritten_during_execve_never_runs_aws(mode: Mode) {
    if let Some(why) = missing(&["cc", "seq"]) {
        eprintln!("skipped: {why}");
        return;
    }
    let sb = Sandbox::new(mode);
    let dir = sb.row_dir("toctou");
    file(&dir, "race.c", RACE_C);
    let define = format!("-DAWS=\"{}\"", sb.bin().join("aws").display());
    let out = Command::new("cc")
        .args(["-O2", "-pthread", &define, "-o", "race", "race.c"])
        .current_dir(&dir)
        .env("PATH", SYSTEM_PATH)
        .output()
        .expect("run cc");
    assert!(out.status.success(), "cc: {}", broker::text(&out.stderr));
    sb.hand_over();
    let check = sb.check(&dir, RACE_LINE);
    let from = sb.audit().len();
    let ran = run_line(&sb, &dir, RACE_LINE, &[]);
    let records = sb
        .audit()
        .get(from..)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let killed = records
        .iter()
        .filter(|r| r["mode"] == "exec-killed")
        .count();
    let denied = records
        .iter()
        .filter(|r| r["mode"] == "exec" && r["decision"] == "deny")
        .count();
    eprintln!(
        "{mode:?}: {} ; guard killed {killed} mismatched exec(s), refused {denied} exec(s) of aws",
        ran.stdout.trim()
    );
    let mut wrong = Vec::new();
    if !check.starts_with("allow") {
        wrong.push(format!("the line-level analysis says `{check}`"));
    }
    let marker = sb.marker("aws");
    if marker.exists() {
        let text = std::fs::read_to_string(&marker).unwrap_or_default();
        let first: Vec<&str> = text.lines().take(4).collect();
        wrong.push(format!(
            "the fake aws ran ({} marker lines; first: {:?})",
            text.lines().count(),
            first
        ));
    }
    // Not a count of wins: only that the allowed side of the race ran at
    // all, so the loop exercised what it is meant to.
    let ran_true = ran
        .stdout
        .trim()
        .strip_prefix("true ran ")
        .and_then(|s| s.strip_suffix(" times"))
        .and_then(|n| n.parse::<u32>().ok());
    if ran_true.unwrap_or(0) == 0 {
        wrong.push("/bin/true never ran: the loop did not exercise the race".to_string());
    }
    if wrong.is_empty() {
        return;
    }
    // The summary names what ran unrecorded (an interpreter judged after
    // the fact shows up there); the kills say what guard caught.
    let evidence: Vec<Value> = records
        .iter()
        .filter(|r| r["mode"] == "exec-summary")
        .chain(
            records
                .iter()
                .filter(|r| r["mode"] == "exec-killed")
                .take(4),
        )
        .cloned()
        .collect();
    let reasons: Vec<String> = evidence
        .iter()
        .map(|r| format!("  {} {}: {}", r["mode"], r["line"], r["reason"]))
        .collect();
    let mut distinct: Vec<&str> = ran.stderr.lines().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let problem = format!(
        "line `{RACE_LINE}` in {}\n- {}\nexit {:?}{}, stdout {:?}\n\
         distinct stderr lines:\n  {}\nrecords:\n{}",
        dir.display(),
        wrong.join("\n- "),
        ran.code,
        if ran.hung.is_some() { " (hung)" } else { "" },
        ran.stdout.trim(),
        distinct.join("\n  "),
        reasons.join("\n")
    );
    verdict("TOCTOU", mode, &[sb.explain(problem)]);
}

// ---------------------------------------------------------------- faults

fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|w| w.parse::<i32>().ok()),
        );
    }
    out
}

fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut todo = children(pid);
    while let Some(p) = todo.pop() {
        out.push(p);
        todo.extend(children(p));
    }
    out
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Running, as opposed to gone or a zombie waiting to be reaped.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn the_tree_dies_with_its_tracer(mode: Mode) {
    let sb = Sandbox::new(mode);
    let dir = sb.row_dir("tracer dies");
    sb.hand_over();
    let line = "sleep 30; touch MARK";
    let mut child = sb
        .guard(&dir, &["-c", line])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn guard");
    let root = child.id() as i32;
    // Embedded: guard's one child is the tracer. Broker: the broker is.
    let tracer = || match &sb.broker {
        Some(b) => b.pid(),
        None => children(root).first().copied(),
    };
    let sleep = || descendants(root).into_iter().find(|p| comm(*p) == "sleep");
    let found = broker::eventually(Duration::from_secs(30), || {
        tracer().is_some() && sleep().is_some()
    });
    let (Some(tracer_pid), Some(sleep_pid), Some(_)) = (tracer(), sleep(), found) else {
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait guard");
        panic!(
            "{mode:?}: the sleep never started under a tracer: {}",
            Ran::of(out).show()
        );
    };
    assert_ne!(tracer_pid, sleep_pid);
    // Everything the tracer traces: embedded, what is below it; with a
    // broker, the agent's guard (which became the shell) and below.
    let tree: Vec<i32> = match &sb.broker {
        Some(_) => std::iter::once(root).chain(descendants(root)).collect(),
        None => descendants(tracer_pid),
    };
    sigkill(tracer_pid);
    let gone =
        broker::eventually(Duration::from_secs(20), || tree.iter().all(|p| !alive(*p))).is_some();
    let survivors: Vec<String> = tree
        .iter()
        .filter(|p| alive(**p))
        .map(|p| format!("{p} ({})", comm(*p)))
        .collect();
    for p in &tree {
        sigkill(*p);
    }
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if wait.recv_timeout(LIMIT) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            sigkill(root);
        }
    });
    let ran = Ran::of(child.wait_with_output().expect("wait guard"));
    let _ = done.send(());
    eprintln!(
        "{mode:?}: tracer {tracer_pid} killed; tree {tree:?} gone: {gone}; {}",
        ran.show().replace('\n', " | ")
    );
    let mut wrong = Vec::new();
    if !gone {
        wrong.push(format!("outlived their tracer: {}", survivors.join(", ")));
    }
    if ran.code == Some(0) {
        wrong.push("guard exited 0".to_string());
    }
    if dir.join("MARK").exists() {
        wrong.push("MARK appeared: the line went on untraced".to_string());
    }
    if !wrong.is_empty() {
        verdict(
            "the tree dies with its tracer",
            mode,
            &[sb.explain(format!(
                "line `{line}` in {}\n- {}\n{}",
                dir.display(),
                wrong.join("\n- "),
                ran.show()
            ))],
        );
    }
}

fn without_ptrace_the_line_is_refused(mode: Mode) {
    if let Some(why) = missing(&["strace"]) {
        eprintln!("skipped: {why}");
        return;
    }
    let sb = Sandbox::new(mode);
    let dir = sb.row_dir("no ptrace");
    sb.hand_over();
    let line = "touch MARK";
    // strace is the tree's tracer already, so guard's attach fails.
    let mut cmd = sb.guard_via(&dir, &["strace", "-f", "-o", "/dev/null"], &["-c", line]);
    let ran = run_bounded(&sb, &mut cmd, LIMIT);
    eprintln!("{mode:?}: {}", ran.show().replace('\n', " | "));
    let mut wrong = Vec::new();
    if ran.code != Some(126) {
        wrong.push(format!("exit {:?}, expected 126", ran.code));
    }
    if !ran.stdout.is_empty() {
        wrong.push("something on stdout".to_string());
    }
    let lines: Vec<&str> = ran.stderr.lines().collect();
    if lines.len() != 1 || !lines[0].starts_with("guard:") {
        wrong.push("stderr is not exactly one `guard:` line".to_string());
    }
    if dir.join("MARK").exists() {
        wrong.push("the command ran".to_string());
    }
    if !wrong.is_empty() {
        verdict(
            "without ptrace",
            mode,
            &[sb.explain(format!(
                "strace -f -o /dev/null guard -c '{line}' in {}\n- {}\n{}",
                dir.display(),
                wrong.join("\n- "),
                ran.show()
            ))],
        );
    }
}

// ---------------------------------------------------------------- inside the tree

/// Typing into a terminal: the pty is made this process's controlling
/// terminal first, so that without guard the kernel would allow it
/// (`dev.tty.legacy_tiocsti`) and only guard's filter says EPERM.
const TIOCSTI_PY: &str = r#"import fcntl, os, termios
master, slave = os.openpty()
try:
    os.setsid()
except OSError:
    print("already a session leader")
try:
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    print("controlling terminal: the pty")
except OSError as e:
    print("no controlling terminal:", e)
try:
    fcntl.ioctl(slave, termios.TIOCSTI, b"x")
    print("TIOCSTI errno 0")
except OSError as e:
    print("TIOCSTI errno", e.errno)
"#;

/// Attaching to the parent (embedded: the root-owned tracer) and to a
/// process of the same user outside the tree, which plain ptrace rules
/// would allow. An attach that works is undone (wait for the stop, then
/// detach), so a failing row leaves its target running.
const PTRACE_PY: &str = r#"import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
targets = [("outside", int(os.environ["OUTSIDE"]))]
if not os.environ.get("ONLY_OUTSIDE"):
    targets.insert(0, ("parent", os.getppid()))
for name, pid in targets:
    ctypes.set_errno(0)
    r = libc.ptrace(16, pid, None, None)
    print("ptrace", name, "errno", 0 if r == 0 else ctypes.get_errno())
    if r == 0:
        os.waitpid(pid, 0x40000000)
        libc.ptrace(17, pid, None, None)
"#;

fn inside_the_tree_steering_calls_fail_with_eperm(mode: Mode) {
    if let Some(why) = missing(&["python3", "sleep"]) {
        eprintln!("skipped: {why}");
        return;
    }
    let sb = Sandbox::new(mode);
    let dir = sb.row_dir("inside");
    sb.hand_over();
    // The ptrace target outside the tree, as the line's user: without
    // guard's filter nothing would stop the attach.
    let mut outside = match &sb.broker {
        Some(b) => b.as_user(&b.users.agent, Path::new("/bin/sleep"), &["120"]),
        None => {
            let mut c = Command::new("/bin/sleep");
            c.arg("120");
            c
        }
    };
    let mut sleeper = outside
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    let target = sleeper.id().to_string();
    let eperm = nix::libc::EPERM;
    let mut problems = Vec::new();
    for (what, code, want) in [
        (
            "TIOCSTI on its own pty",
            TIOCSTI_PY,
            vec![
                "controlling terminal: the pty".to_string(),
                format!("TIOCSTI errno {eperm}"),
            ],
        ),
        (
            "PTRACE_ATTACH",
            PTRACE_PY,
            vec![
                format!("ptrace parent errno {eperm}"),
                format!("ptrace outside errno {eperm}"),
            ],
        ),
    ] {
        let line = format!("python3 -c '{code}'");
        let check = sb.check(&dir, &line);
        let env = [("OUTSIDE".to_string(), target.clone())];
        let ran = run_line(&sb, &dir, &line, &env);
        eprintln!(
            "{mode:?} {what} in the tree: {}",
            ran.stdout.trim().replace('\n', "; ")
        );
        let mut wrong = Vec::new();
        if !check.starts_with("allow") {
            wrong.push(format!("the line-level analysis says `{check}`"));
        }
        for w in &want {
            if !ran.stdout.lines().any(|l| l == w) {
                wrong.push(format!("expected `{w}`"));
            }
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{what}: line `{line}`\n- {}\n{}",
                wrong.join("\n- "),
                ran.show()
            ));
        }
    }
    // What the same user gets without guard, for the reader: the EPERM
    // above is guard's only if this is not EPERM too.
    if problems.is_empty() {
        let mut base = match &sb.broker {
            Some(b) => b.as_user(
                &b.users.agent,
                Path::new("/bin/sh"),
                &["-c", "python3 -c \"$T\"; python3 -c \"$P\""],
            ),
            None => {
                let mut c = Command::new("/bin/sh");
                c.args(["-c", "python3 -c \"$T\"; python3 -c \"$P\""])
                    .env("PATH", SYSTEM_PATH);
                c
            }
        };
        base.env("T", TIOCSTI_PY)
            .env("P", PTRACE_PY)
            .env("OUTSIDE", &target)
            .env("ONLY_OUTSIDE", "1")
            .current_dir(&dir);
        common::detach(&mut base);
        let out = broker::run(&mut base);
        eprintln!(
            "{mode:?} the same calls without guard: {}",
            broker::text(&out.stdout).trim().replace('\n', "; ")
        );
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let problems: Vec<String> = problems.into_iter().map(|p| sb.explain(p)).collect();
    verdict("inside the tree", mode, &problems);
}

// ---------------------------------------------------------------- exec_tree: off

fn exec_tree_off_in_an_admin_config_turns_tracing_off(mode: Mode) {
    let sb = Sandbox::with_policy(mode, "exec_tree: off\napproval: {tty: false}\n");
    let dir = sb.row_dir("admin off");
    file(&dir, "x.sh", "aws s3 ls\n");
    sb.hand_over();
    let from = sb.audit().len();
    let ran = run_line(&sb, &dir, "bash x.sh", &[]);
    let records = sb
        .audit()
        .get(from..)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut wrong = Vec::new();
    if ran.code != Some(0) {
        wrong.push(format!("exit {:?}, expected 0", ran.code));
    }
    if !sb.marker("aws").exists() {
        wrong.push("the inner aws did not run: the tree was still traced".to_string());
    }
    if records
        .iter()
        .any(|r| r["mode"] == "exec" || r["mode"] == "exec-summary")
    {
        wrong.push("exec records for an untraced line".to_string());
    }
    if !wrong.is_empty() {
        verdict(
            "exec_tree: off (admin)",
            mode,
            &[sb.explain(format!(
                "line `bash x.sh` in {}\n- {}\n{}records:\n{}",
                dir.display(),
                wrong.join("\n- "),
                ran.show(),
                brief(&records)
            ))],
        );
    }
}

/// The agent's own file cannot switch tracing off: GUARD_CONFIG naming a
/// file the agent owns is read with the agent's trust, which ignores
/// `exec_tree` (and `approval`).
#[test]
fn exec_tree_off_in_an_agent_owned_config_is_ignored() {
    let users = require_users!();
    let agent = &users.agent;
    let dir = tempfile::Builder::new()
        .prefix("guard-exec-tree-")
        .tempdir()
        .expect("tempdir");
    broker::chmod(dir.path(), 0o755);
    let own = dir.path().join("agent");
    let work = own.join("work");
    let state = own.join("state");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(&state).expect("mkdir");
    broker::chmod(&state, 0o700);
    let config = own.join("config.yaml");
    std::fs::write(&config, "exec_tree: off\napproval: {tty: false}\n").expect("write config");
    let (_, marker) = common::recording_stub(&work, "aws");
    file(&work, "x.sh", "aws s3 ls\n");
    chown_tree(&own, agent);
    let as_agent = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", agent.uid))
            .arg(format!("--regid={}", agent.gid))
            .args(["--init-groups", "--"])
            .arg(&users.bin)
            .args(args)
            .env_clear()
            .env("HOME", &agent.home)
            .env("USER", &agent.name)
            .env(
                "PATH",
                format!("{}:{SYSTEM_PATH}", work.join("bin").display()),
            )
            .env("GUARD_CONFIG", &config)
            .env("GUARD_STATE_DIR", &state)
            .current_dir(&work);
        common::detach(&mut c);
        c
    };
    let status = broker::text(&broker::run(&mut as_agent(&["status"])).stdout);
    let ran = Ran::of(broker::run(&mut as_agent(&["-c", "bash x.sh"])));
    let records = common::audit_all(&state);
    let mut wrong = Vec::new();
    if !status.lines().any(|l| l.starts_with("exec_tree: on")) {
        wrong.push(format!("`guard status` as the agent says:\n{status}"));
    }
    if ran.code == Some(0) {
        wrong.push("exit status 0, expected a failure".to_string());
    }
    if marker.exists() {
        wrong.push("the inner aws ran: the agent's file turned tracing off".to_string());
    }
    if !ran.stderr.contains("guard: denied:") || !ran.stderr.contains("[rule cloud.aws]") {
        wrong.push("no `guard: denied: … [rule cloud.aws]` on stderr".to_string());
    }
    let denied = line_record(&records, "bash x.sh").is_some_and(|rec| {
        exec_records(&records, &rec["seq"])
            .iter()
            .any(|e| e["decision"] == "deny" && e["rule"] == AWS)
    });
    if !denied {
        wrong.push("no exec deny record under the line".to_string());
    }
    assert!(
        wrong.is_empty(),
        "agent-owned GUARD_CONFIG {} with `exec_tree: off`, line `bash x.sh` as {}\n- {}\n{}records:\n{}",
        config.display(),
        agent.name,
        wrong.join("\n- "),
        ran.show(),
        brief(&records)
    );
}

/// A signal a program in the tree gets, or dies of, is the same under
/// the tracer as without it, real-time signals (which glibc's own
/// threads, POSIX timers and `pthread_cancel` use) included: each row's
/// output is bash's own for the same line, run untraced.
fn signals_in_the_tree_are_the_programs_own(mode: Mode) {
    if let Some(why) = missing(&["sleep"]) {
        eprintln!("skipped: {why}");
        return;
    }
    let sb = Sandbox::new(mode);
    let dir = sb.row_dir("signals");
    sb.hand_over();
    let rows = [
        "sleep 5 & p=$!; sleep 0.2; kill -s RTMIN $p; wait $p; echo \"st=$?\"",
        "sleep 5 & p=$!; sleep 0.2; kill -s RTMIN+3 $p; wait $p; echo \"st=$?\"",
        "sleep 5 & p=$!; sleep 0.2; kill -s USR1 $p; wait $p; echo \"st=$?\"",
        "trap 'echo caught' RTMIN; kill -s RTMIN $$; echo \"after=$?\"",
        "bash -c 'kill -s RTMAX $$'; echo \"st=$?\"",
    ];
    for line in rows {
        let want = Command::new("bash")
            .args(["-c", line])
            .current_dir(&dir)
            .stderr(Stdio::null())
            .output()
            .expect("bash");
        let ran = run_line(&sb, &dir, line, &[]);
        assert_eq!(ran.code, Some(0), "{mode:?}: {line}: {}", ran.show());
        assert_eq!(
            ran.stdout,
            broker::text(&want.stdout),
            "{mode:?}: {line}: {}",
            ran.show()
        );
    }
}
