//! guard as a real login shell, end to end: a private sshd on 127.0.0.1
//! whose test user (`guardtest`) has guard as its shell, driven by the
//! real ssh, scp, rsync and git clients; `su -`; tmux; and the shapes in
//! which agent harnesses (Codex, Claude Code) call the shell.
//!
//! Every case runs twice: `NAME` in embedded mode, where guard decides
//! in-process, and `NAME_with_broker`, where the shell only asks a real
//! `guard broker` running as the `guard` user (tests/common/broker.rs),
//! which holds the policy, the approver's secret and the audit log. The
//! commands and what they must produce are the same in both.
//!
//! These tests need root (to create the users and run sshd) and the tools
//! they drive. Without them a test prints why on stderr and passes; CI
//! runs as root with every tool installed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::Expect;
use nix::unistd::{Gid, Uid, User};

use common::broker::{Account, Broker, Users, BROKER_USER};

const USER: &str = "guardtest";
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";
const SECRET: &str = "login-shell-e2e-secret";
/// A client command still running after this long is killed, so a hang
/// fails its test instead of stalling CI.
const LIMIT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------- modes

/// Who decides each line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// guard itself, from the config GUARD_CONFIG names.
    Embedded,
    /// A `guard broker` as its own user; GUARD_CONFIG names only it.
    Broker,
}

/// `in_both_modes! { case / case_with_broker, … }`: a test per mode for
/// each `case::NAME`. The broker-mode one skips (passing) where the broker
/// cannot run as its own user.
macro_rules! in_both_modes {
    ($($case:ident / $with_broker:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            case::$case(Mode::Embedded)
        }

        #[test]
        fn $with_broker() {
            if let Err(why) = Users::get() {
                eprintln!("skipped: {why}");
                return;
            }
            case::$case(Mode::Broker)
        }
    )*};
}

in_both_modes! {
    ssh_runs_an_allowed_command_byte_exact / ssh_runs_an_allowed_command_byte_exact_with_broker,
    ssh_aws_is_refused_and_audited / ssh_aws_is_refused_and_audited_with_broker,
    ssh_reads_a_script_from_stdin / ssh_reads_a_script_from_stdin_with_broker,
    scp_legacy_protocol_is_reviewed_and_approved
        / scp_legacy_protocol_is_reviewed_and_approved_with_broker,
    scp_over_sftp_goes_through_the_shell_and_is_reviewed
        / scp_over_sftp_goes_through_the_shell_and_is_reviewed_with_broker,
    rsync_push_and_pull_are_allowed_without_review
        / rsync_push_and_pull_are_allowed_without_review_with_broker,
    git_clone_and_push_over_ssh_are_allowed_without_review
        / git_clone_and_push_over_ssh_are_allowed_without_review_with_broker,
    ssh_interactive_session_keeps_the_cwd / ssh_interactive_session_keeps_the_cwd_with_broker,
    ssh_interactive_state_carries_over_and_ctrl_c_kills_only_the_command
        / ssh_interactive_state_carries_over_and_ctrl_c_kills_only_the_command_with_broker,
    su_login_runs_through_guard / su_login_runs_through_guard_with_broker,
    tmux_session_with_guard_as_its_shell / tmux_session_with_guard_as_its_shell_with_broker,
    codex_shape_bash_lc_through_a_bash_symlink
        / codex_shape_bash_lc_through_a_bash_symlink_with_broker,
    claude_code_shape_snapshot_eval_and_cwd_file
        / claude_code_shape_snapshot_eval_and_cwd_file_with_broker,
}

// ---------------------------------------------------------------- skipping

/// Why this machine cannot run a test, if it cannot.
fn missing(need_root: bool, tools: &[&str]) -> Option<String> {
    if need_root && !nix::unistd::geteuid().is_root() {
        return Some("needs root (creates a user and runs sshd)".into());
    }
    tools
        .iter()
        .find(|t| !installed(t))
        .map(|t| format!("{t} is not installed"))
}

fn installed(tool: &str) -> bool {
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if tool.starts_with('/') {
        return executable(Path::new(tool));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| executable(&d.join(tool))))
}

/// `require!(sshd, "scp")` (root, sshd and ssh, then more tools),
/// `require!(root; "su")` or `require!("tmux")`: return early, passing,
/// when the machine cannot run the test.
macro_rules! require {
    (sshd $(, $tool:expr)* $(,)?) => {
        let mut tools = SSHD.to_vec();
        tools.extend_from_slice(&[$($tool),*]);
        if let Some(why) = missing(true, &tools) {
            eprintln!("skipped: {why}");
            return;
        }
    };
    (root; $($tool:expr),* $(,)?) => {
        if let Some(why) = missing(true, &[$($tool),*]) {
            eprintln!("skipped: {why}");
            return;
        }
    };
    ($($tool:expr),* $(,)?) => {
        if let Some(why) = missing(false, &[$($tool),*]) {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

const SSHD: &[&str] = &["/usr/sbin/sshd", "ssh", "ssh-keygen", "useradd", "runuser"];

// ---------------------------------------------------------------- running

/// Run to completion with `stdin` (or /dev/null), killing the command
/// after [`LIMIT`].
fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || pipe.write_all(&bytes));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (done, wait) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if wait.recv_timeout(LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    let out = child.wait_with_output().expect("wait");
    let _ = done.send(());
    out
}

/// Run a set-up step that must succeed.
fn sh(cmd: &mut Command) {
    let out = run(cmd, None);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Detach from any controlling terminal, so that no /dev/tty prompt can
/// appear and a review goes to the webhook (or nowhere).
fn no_tty(cmd: &mut Command) -> &mut Command {
    common::detach(cmd)
}

/// A refusal: exit 126, nothing on stdout, one `guard:` line on stderr.
fn assert_refused(out: &Output, context: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(126), "{context}: stderr {err:?}");
    assert_eq!(text(&out.stdout), "", "{context}: a refusal prints nothing");
    assert_eq!(
        err.lines().count(),
        1,
        "{context}: one stderr line: {err:?}"
    );
    assert!(err.starts_with("guard: "), "{context}: {err:?}");
}

fn assert_ok(out: &Output, context: &str) {
    assert!(
        out.status.success(),
        "{context}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    use std::io::Read;
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf
}

fn chown(path: &Path, user: &TestUser) {
    std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

// ---------------------------------------------------------------- the user

struct TestUser {
    uid: Uid,
    gid: Gid,
    home: PathBuf,
    /// guard, at a path the user can reach.
    shell: PathBuf,
}

/// `guardtest`, created if missing, with guard as its login shell.
fn test_user() -> &'static TestUser {
    static ONCE: OnceLock<TestUser> = OnceLock::new();
    ONCE.get_or_init(|| {
        if User::from_name(USER).unwrap().is_none() {
            sh(Command::new("useradd").args(["-m", "-s", "/bin/bash", USER]));
        }
        // `*` allows no password, yet is not a locked account (`!`),
        // which sshd refuses when UsePAM is off.
        sh(Command::new("usermod").args(["-p", "*", USER]));
        let u = User::from_name(USER).unwrap().expect("user exists");
        let user = TestUser {
            uid: u.uid,
            gid: u.gid,
            home: u.dir.clone(),
            shell: PathBuf::new(),
        };
        fs::create_dir_all(&user.home).unwrap();
        chown(&user.home, &user);
        let shell = reachable_guard();
        sh(Command::new("usermod").arg("-s").arg(&shell).arg(USER));
        TestUser { shell, ..user }
    })
}

/// The guard binary under test if the user can execute it where cargo
/// built it, otherwise a copy in /usr/local/libexec/guard-test.
/// guard as `install.sh` lays it out, where the test user can run it:
/// the shell front is the login shell, handing what it does not run
/// itself to the full binary.
fn reachable_guard() -> PathBuf {
    common::broker::installed()
}

// ---------------------------------------------------------------- webhook

/// A real approver on 127.0.0.1 that checks guard's HMAC and answers
/// every well-signed request with one decision, by approver `e2e`.
struct Webhook {
    port: u16,
    seen: Arc<Mutex<Vec<(serde_json::Value, bool)>>>,
}

impl Webhook {
    fn answering(decision: &'static str) -> Webhook {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for mut req in server.incoming_requests() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let signature = common::header(&req, "X-Guard-Signature");
                let ok = signature == common::signature(SECRET.as_bytes(), body.as_bytes());
                let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                log.lock().unwrap().push((json, ok));
                let reply = if ok {
                    common::signed_response(
                        SECRET.as_bytes(),
                        200,
                        &common::answer_for(
                            body.as_bytes(),
                            &format!(
                                r#"{{"decision":"{decision}","approver":"e2e","reason":"e2e says {decision}"}}"#
                            ),
                        ),
                    )
                } else {
                    tiny_http::Response::from_string("bad signature").with_status_code(401)
                };
                let _ = req.respond(reply);
            }
        });
        Webhook { port, seen }
    }

    /// The `command` of every request so far.
    fn commands(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        assert!(
            seen.iter().all(|(_, ok)| *ok),
            "a request was not signed with the shared secret"
        );
        seen.iter()
            .map(|(body, _)| body["command"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

// ---------------------------------------------------------------- sandbox

/// What a test's guard config holds.
#[derive(Default)]
struct Setup {
    webhook: Option<u16>,
    transfers: bool,
}

/// A temp dir `/tmp/guard-e2e-*` with guard's config, its state dir and a
/// bin dir of fake `aws`/`kubectl` that record their argv; readable (and,
/// where guard writes, writable) by `owner`.
///
/// Embedded, the config is the policy itself and the webhook secret sits
/// beside it. With a broker, the policy and secret are the broker's own,
/// and the config is a root-owned file naming the broker's socket, as an
/// admin would install it.
struct Sandbox {
    dir: tempfile::TempDir,
    /// The broker deciding every line, in broker mode.
    broker: Option<Broker>,
    /// Whom guard runs as when a test starts it without sshd or su: the
    /// agent in broker mode (the broker tells users apart by uid), the
    /// test's own user embedded.
    agent: Option<&'static TestUser>,
}

impl Setup {
    fn new() -> Setup {
        Setup::default()
    }

    fn webhook(mut self, hook: &Webhook) -> Setup {
        self.webhook = Some(hook.port);
        self
    }

    fn transfers(mut self) -> Setup {
        self.transfers = true;
        self
    }

    /// The policy every test relies on; `secret` is the webhook's.
    fn policy(&self, owner: Option<&TestUser>, secret: &Path) -> String {
        let mut yaml = String::from("# tests/login_shell.rs\napproval:\n  tty: false\n");
        if let Some(port) = self.webhook {
            yaml += &format!(
                "  webhook:\n    url: http://127.0.0.1:{port}/approve\n    secret_file: {}\n    timeout: 10s\n",
                secret.display()
            );
        }
        if self.transfers {
            let home = owner.map_or_else(|| "~".to_string(), |u| u.home.display().to_string());
            yaml += &format!(
                "transfers:\n  paths: [\"{home}/**\", \"/tmp/guard-e2e-*/**\"]\n  sftp_server: {SFTP_SERVER}\n"
            );
        }
        yaml
    }

    /// In broker mode the owner is always the agent, `guardtest`.
    fn build(self, mode: Mode, owner: Option<&'static TestUser>) -> Sandbox {
        let owner = owner.or((mode == Mode::Broker).then(test_user));
        let dir = tempfile::Builder::new()
            .prefix("guard-e2e-")
            .tempdir()
            .expect("tempdir");
        chmod(dir.path(), 0o755);
        let mut sb = Sandbox {
            dir,
            broker: None,
            agent: None,
        };
        for d in [sb.bin(), sb.state(), sb.marks()] {
            fs::create_dir_all(&d).unwrap();
        }
        for tool in ["aws", "kubectl"] {
            let path = sb.bin().join(tool);
            let mark = sb.marks().join(tool);
            fs::write(
                &path,
                format!("#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n", mark.display()),
            )
            .unwrap();
            chmod(&path, 0o755);
        }
        let mut owned = vec![sb.state(), sb.marks()];
        match mode {
            Mode::Embedded => {
                let secret = sb.path().join("secret");
                fs::write(&secret, format!("{SECRET}\n")).unwrap();
                chmod(&secret, 0o600);
                fs::write(sb.config(), self.policy(owner, &secret)).unwrap();
                owned.push(secret);
            }
            Mode::Broker => {
                let user = owner.expect("broker mode has an agent");
                let users = Users::get().expect("checked before the case ran");
                let agent = Account {
                    name: USER.to_string(),
                    uid: user.uid.as_raw(),
                    gid: user.gid.as_raw(),
                    home: user.home.clone(),
                };
                let mut broker = Broker::for_agent(users, agent, "# written below\n");
                let secret = broker.private_file("webhook.secret", &format!("{SECRET}\n"), 0o600);
                broker.write_config(&self.policy(owner, &secret));
                broker.start();
                fs::write(
                    sb.config(),
                    format!(
                        "# tests/login_shell.rs: root-owned, so the agent cannot change where its lines go\n\
                         broker: {}\nbroker_user: {BROKER_USER}\nbroker_timeout: 10s\n",
                        broker.socket().display()
                    ),
                )
                .unwrap();
                chmod(&sb.config(), 0o644);
                sb.broker = Some(broker);
                sb.agent = Some(user);
                fs::create_dir_all(sb.writable()).unwrap();
                owned.push(sb.writable());
            }
        }
        if let Some(user) = owner {
            for p in owned {
                chown(&p, user);
            }
        }
        sb
    }
}

impl Sandbox {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn bin(&self) -> PathBuf {
        self.path().join("bin")
    }

    fn config(&self) -> PathBuf {
        self.path().join("config.yaml")
    }

    fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    fn marks(&self) -> PathBuf {
        self.path().join("marks")
    }

    /// A dir the user `command` runs as may write: the sandbox itself
    /// embedded (root), a dir of the agent's in broker mode (the sandbox
    /// must stay root's, or its config would not be an admin's).
    fn writable(&self) -> PathBuf {
        match self.agent {
            Some(_) => self.path().join("agent"),
            None => self.path().to_path_buf(),
        }
    }

    /// The guard binary `command`'s user can execute.
    fn guard(&self) -> PathBuf {
        self.agent
            .map_or_else(common::bin, |user| user.shell.clone())
    }

    /// The fake bin dir first, then the system's.
    fn path_var(&self) -> String {
        format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin().display())
    }

    /// What the fake `tool` was called with, if it ran at all.
    fn ran(&self, tool: &str) -> Option<String> {
        fs::read_to_string(self.marks().join(tool)).ok()
    }

    /// The decision records of whoever decided: the broker's log in
    /// broker mode, the state dir's embedded.
    fn audit(&self) -> Vec<serde_json::Value> {
        match &self.broker {
            Some(b) => b.decisions(),
            None => audit_at(&self.state().join("audit.jsonl")),
        }
    }

    /// In broker mode, that the broker decided a line starting with
    /// `prefix`: for the cases whose other checks would pass just as well
    /// if the shell had quietly decided in-process.
    fn assert_broker_decided(&self, prefix: &str) {
        if let Some(b) = &self.broker {
            let audit = b.decisions();
            assert!(
                !records(&audit, prefix).is_empty(),
                "the broker never decided {prefix:?}: {audit:?}\nbroker log:\n{}",
                b.logs()
            );
        }
    }

    /// guard (or `program`) with this sandbox's config, state and PATH, as
    /// the sandbox's agent if it has one.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = match self.agent {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={}", user.uid))
                    .arg(format!("--regid={}", user.gid))
                    .args(["--init-groups", "--"])
                    .arg(program)
                    .env("HOME", &user.home)
                    .env("USER", USER)
                    .env("LOGNAME", USER);
                c
            }
            None => Command::new(program),
        };
        c.env("GUARD_CONFIG", self.config())
            .env("GUARD_STATE_DIR", self.state())
            .env("PATH", self.path_var())
            .env_remove("GUARD_SESSION")
            .current_dir(self.path());
        c
    }
}

/// The decision records (not events or `exit` records) of the log at `path`.
fn audit_at(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("audit line is JSON"))
        .filter(|r| r["kind"] == "decision")
        .collect()
}

/// The audit records whose line starts with `prefix`.
fn records<'a>(audit: &'a [serde_json::Value], prefix: &str) -> Vec<&'a serde_json::Value> {
    audit
        .iter()
        .filter(|r| r["line"].as_str().is_some_and(|l| l.starts_with(prefix)))
        .collect()
}

// ---------------------------------------------------------------- sshd

/// A private sshd on 127.0.0.1 for `guardtest`, with its own host key,
/// config and pid file; killed on drop. The client key is authorized
/// through a per-test file in the user's ~/.ssh, and the test gets a
/// scratch dir in the user's home (`work`).
struct Sshd {
    sb: Sandbox,
    port: u16,
    child: Child,
    key: PathBuf,
    keys_file: PathBuf,
    work: PathBuf,
}

impl Sshd {
    fn start(setup: Setup, mode: Mode) -> Sshd {
        let user = test_user();
        let sb = setup.build(mode, Some(user));
        // The privilege separation dir, missing where the service never ran.
        fs::create_dir_all("/run/sshd").unwrap();
        let host_key = sb.path().join("host_key");
        let key = sb.path().join("client_key");
        for k in [&host_key, &key] {
            sh(Command::new("ssh-keygen")
                .args(["-t", "ed25519", "-N", "", "-q", "-f"])
                .arg(k));
        }
        let tag = sb
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let ssh_dir = user.home.join(".ssh");
        fs::create_dir_all(&ssh_dir).unwrap();
        chown(&ssh_dir, user);
        chmod(&ssh_dir, 0o700);
        let keys_name = format!("authorized_keys.{tag}");
        let keys_file = ssh_dir.join(&keys_name);
        fs::copy(key.with_extension("pub"), &keys_file).unwrap();
        chown(&keys_file, user);
        let work = user.home.join(&tag);
        fs::create_dir_all(&work).unwrap();
        chown(&work, user);

        let config = sb.path().join("sshd_config");
        let log = sb.path().join("sshd.log");
        for _attempt in 0..5 {
            let port = common::free_port();
            fs::write(
                &config,
                format!(
                    "Port {port}\n\
                     ListenAddress 127.0.0.1\n\
                     HostKey {host_key}\n\
                     PidFile {pid}\n\
                     AuthorizedKeysFile .ssh/{keys_name}\n\
                     StrictModes no\n\
                     UsePAM no\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     PrintMotd no\n\
                     PrintLastLog no\n\
                     AllowUsers {USER}\n\
                     Subsystem sftp {SFTP_SERVER}\n\
                     SetEnv GUARD_CONFIG={cfg} GUARD_STATE_DIR={state} PATH={path}\n",
                    host_key = host_key.display(),
                    pid = sb.path().join("sshd.pid").display(),
                    cfg = sb.config().display(),
                    state = sb.state().display(),
                    path = sb.path_var(),
                ),
            )
            .unwrap();
            let mut child = Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap())
                .spawn()
                .expect("spawn sshd");
            if listening(&mut child, port) {
                return Sshd {
                    sb,
                    port,
                    child,
                    key,
                    keys_file,
                    work,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Options for every ssh client, without the port (ssh says -p, scp -P).
    fn options(&self) -> Vec<String> {
        let mut o = vec!["-F".into(), "/dev/null".into(), "-i".into()];
        o.push(self.key.display().to_string());
        for opt in [
            "IdentitiesOnly=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "LogLevel=ERROR",
            "ConnectTimeout=10",
        ] {
            o.push("-o".into());
            o.push(opt.into());
        }
        o
    }

    /// `ssh -p PORT …` as one string, for `rsync -e` and GIT_SSH_COMMAND.
    fn ssh_command(&self) -> String {
        format!("ssh -p {} {}", self.port, self.options().join(" "))
    }

    /// `ssh … guardtest@127.0.0.1`; append the remote command, if any.
    fn ssh(&self) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-p")
            .arg(self.port.to_string())
            .args(self.options())
            .arg(format!("{USER}@127.0.0.1"))
            .current_dir(self.sb.path());
        c
    }

    fn scp(&self) -> Command {
        let mut c = Command::new("scp");
        c.arg("-P")
            .arg(self.port.to_string())
            .args(self.options())
            .current_dir(self.sb.path());
        c
    }

    /// `guardtest@127.0.0.1:PATH`
    fn remote(&self, path: &Path) -> String {
        format!("{USER}@127.0.0.1:{}", path.display())
    }

    /// sshd's log, then the broker's in broker mode.
    fn log(&self) -> String {
        let sshd = fs::read_to_string(self.sb.path().join("sshd.log")).unwrap_or_default();
        match &self.sb.broker {
            Some(b) => format!("{sshd}\nbroker log:\n{}", b.logs()),
            None => sshd,
        }
    }

    /// Run a client to completion; failures show sshd's log too.
    fn client(&self, cmd: &mut Command, what: &str) -> Output {
        let out = run(cmd, None);
        if !out.status.success() {
            eprintln!("{what}: sshd log:\n{}", self.log());
        }
        out
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.keys_file);
        let _ = fs::remove_dir_all(&self.work);
    }
}

/// Wait until sshd accepts connections; false if it exited instead.
fn listening(child: &mut Child, port: u16) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

// ---------------------------------------------------------------- terminal

/// A pseudo-terminal session read by hand: every match consumes only up
/// to its own end, and cursor-position queries (`ESC[6n`, which line
/// editors send) are answered as a terminal would.
struct Screen {
    s: OsSession,
    all: Vec<u8>,
    /// How far `all` has been consumed by matches.
    pos: usize,
    answered: usize,
    eof: bool,
}

impl Screen {
    fn spawn(cmd: Command) -> Screen {
        Screen {
            s: expectrl::Session::spawn(cmd).expect("spawn on a pty"),
            all: Vec::new(),
            pos: 0,
            answered: 0,
            eof: false,
        }
    }

    fn fill(&mut self) {
        let mut buf = [0u8; 4096];
        match self.s.try_read(&mut buf) {
            Ok(0) => self.eof = true,
            Ok(n) => self.all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            // A pty whose other side has closed reads as EIO.
            Err(_) => self.eof = true,
        }
        let queries = self.all.windows(4).filter(|w| w == b"\x1b[6n").count();
        while self.answered < queries {
            self.send("\x1b[1;1R");
            self.answered += 1;
        }
    }

    /// Wait for `pattern` (a regex) in output not yet consumed; return the
    /// text up to and including it.
    fn until(&mut self, pattern: &str) -> String {
        let re = regex::bytes::Regex::new(pattern).unwrap();
        let start = Instant::now();
        loop {
            if let Some(m) = re.find(&self.all[self.pos..]) {
                let got = text(&self.all[self.pos..self.pos + m.end()]);
                self.pos += m.end();
                return got;
            }
            assert!(
                !self.eof && start.elapsed() < Duration::from_secs(20),
                "no {pattern:?} (eof: {}); unconsumed output: {:?}",
                self.eof,
                text(&self.all[self.pos..])
            );
            self.fill();
        }
    }

    /// Wait for a prompt, then for the output to go quiet (a line editor
    /// may redraw), and consume all of it.
    fn prompt(&mut self) {
        self.until(PROMPT);
        let mut quiet = Instant::now();
        let mut seen = self.all.len();
        while quiet.elapsed() < Duration::from_millis(300) && !self.eof {
            self.fill();
            if self.all.len() != seen {
                seen = self.all.len();
                quiet = Instant::now();
            }
        }
        self.pos = self.all.len();
    }

    fn send(&mut self, keys: &str) {
        self.s.send(keys).expect("write to the pty");
    }

    /// Wait for the process to end; its exit code.
    fn finish(mut self) -> i32 {
        let start = Instant::now();
        while !self.eof {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "still running; output: {:?}",
                text(&self.all[self.pos..])
            );
            self.fill();
        }
        match self.s.get_process().wait().expect("wait") {
            WaitStatus::Exited(_, code) => code,
            other => panic!("unexpected status {other:?}"),
        }
    }
}

/// A prompt: guard's, whatever it looks like, ends in `$ ` or names guard.
const PROMPT: &str = r"\$ |guard";

// ---------------------------------------------------------------- helpers

/// Every file and dir under `root`, relative, with its mode and contents.
fn tree(root: &Path) -> BTreeMap<PathBuf, (u32, Option<Vec<u8>>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let mode = meta.permissions().mode() & 0o777;
            if meta.is_dir() {
                todo.push(path);
                out.insert(rel, (mode, None));
            } else {
                out.insert(rel, (mode, Some(fs::read(&path).unwrap())));
            }
        }
    }
    out
}

/// git with no system or global config, as root.
fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "e2e")
        .env("GIT_AUTHOR_EMAIL", "e2e@example.invalid")
        .env("GIT_COMMITTER_NAME", "e2e")
        .env("GIT_COMMITTER_EMAIL", "e2e@example.invalid")
        .args(["-c", "init.defaultBranch=main", "-c", "safe.directory=*"]);
    c
}

/// A private tmux server (its own socket), run as the sandbox's agent,
/// killed on drop.
struct Tmux {
    sb: Sandbox,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        let mut c = self.sb.command("tmux");
        c.arg("-S")
            .arg(self.sb.writable().join("tmux.sock"))
            .args(args)
            .env("SHELL", "/bin/sh");
        run(&mut c, None)
    }

    /// Poll the pane until `what` holds for its text.
    fn wait_for(&self, what: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = text(&self.run(&["capture-pane", "-p", "-t", "e2e"]).stdout);
            if what(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let panes = text(&self.run(&["list-panes", "-a", "-F", "#{pane_pid}"]).stdout);
        self.run(&["kill-server"]);
        // guard ends its session on the hang-up, writing to its state dir;
        // gone first, or it recreates that dir after the sandbox is removed.
        let start = Instant::now();
        for pid in panes.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            while Path::new(&format!("/proc/{pid}")).exists()
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The cases, each run in both modes (`in_both_modes!`).
mod case {
    use super::*;

    // ================================================================ ssh

    pub(super) fn ssh_runs_an_allowed_command_byte_exact(mode: Mode) {
        require!(sshd);
        let sshd = Sshd::start(Setup::new(), mode);
        let out = sshd.client(sshd.ssh().arg("echo ok"), "ssh echo ok");
        assert_ok(&out, "ssh 'echo ok'");
        assert_eq!(text(&out.stdout), "ok\n");
        let audit = sshd.sb.audit();
        let rec = records(&audit, "echo ok");
        assert_eq!(rec.len(), 1, "{audit:?}");
        assert_eq!(rec[0]["decision"], "allow");
        assert_eq!(rec[0]["user"], USER);
    }

    pub(super) fn ssh_aws_is_refused_and_audited(mode: Mode) {
        require!(sshd);
        let hook = Webhook::answering("deny");
        let sshd = Sshd::start(Setup::new().webhook(&hook), mode);
        let out = run(sshd.ssh().arg("aws s3 ls"), None);
        assert_refused(&out, "ssh 'aws s3 ls'");
        assert!(text(&out.stderr).contains("e2e"), "{}", text(&out.stderr));
        assert_eq!(sshd.sb.ran("aws"), None, "the fake aws ran");
        assert_eq!(hook.commands(), ["aws s3 ls"]);
        // Root reads the log, whoever owns it: the user, or the broker.
        let audit = sshd.sb.audit();
        let rec = records(&audit, "aws s3 ls");
        assert_eq!(rec.len(), 1, "{audit:?}");
        assert_eq!(rec[0]["decision"], "deny");
        assert_eq!(rec[0]["rule"], "cloud.aws");
        assert_eq!(rec[0]["approval"]["channel"], "webhook");
        assert_eq!(rec[0]["approval"]["approver"], "e2e");
    }

    pub(super) fn ssh_reads_a_script_from_stdin(mode: Mode) {
        require!(sshd);
        let sshd = Sshd::start(Setup::new(), mode);
        let script = b"cd /tmp\necho \"$PWD\"\necho two\n";
        let out = run(&mut sshd.ssh(), Some(script));
        assert_ok(&out, "ssh < script.sh");
        assert_eq!(text(&out.stdout), "/tmp\ntwo\n");
        sshd.sb.assert_broker_decided("cd /tmp");
    }

    pub(super) fn scp_legacy_protocol_is_reviewed_and_approved(mode: Mode) {
        require!(sshd, "scp");
        let hook = Webhook::answering("allow");
        let sshd = Sshd::start(Setup::new().webhook(&hook).transfers(), mode);
        let data = random_bytes(256 * 1024);
        let local = sshd.sb.path().join("up.bin");
        fs::write(&local, &data).unwrap();
        let remote = sshd.work.join("up.bin");

        let out = sshd.client(
            sshd.scp().arg("-O").arg(&local).arg(sshd.remote(&remote)),
            "scp -O upload",
        );
        assert_ok(&out, "scp -O upload");
        assert_eq!(fs::read(&remote).unwrap(), data, "uploaded bytes differ");

        let back = sshd.sb.path().join("down.bin");
        let out = sshd.client(
            sshd.scp().arg("-O").arg(sshd.remote(&remote)).arg(&back),
            "scp -O download",
        );
        assert_ok(&out, "scp -O download");
        assert_eq!(fs::read(&back).unwrap(), data, "downloaded bytes differ");

        let commands = hook.commands();
        assert_eq!(commands.len(), 2, "one review per transfer: {commands:?}");
        assert!(commands[0].starts_with("scp ") && commands[0].contains(" -t"));
        assert!(commands[1].starts_with("scp ") && commands[1].contains(" -f"));
        let audit = sshd.sb.audit();
        let scps = records(&audit, "scp ");
        assert_eq!(scps.len(), 2, "{audit:?}");
        for r in scps {
            assert_eq!(r["decision"], "allow");
            assert_eq!(r["approval"]["approver"], "e2e");
        }
    }

    pub(super) fn scp_over_sftp_goes_through_the_shell_and_is_reviewed(mode: Mode) {
        require!(sshd, "scp", SFTP_SERVER);
        let hook = Webhook::answering("allow");
        let sshd = Sshd::start(Setup::new().webhook(&hook).transfers(), mode);
        let data = random_bytes(256 * 1024);
        let local = sshd.sb.path().join("up.bin");
        fs::write(&local, &data).unwrap();
        let remote = sshd.work.join("up.bin");

        let out = sshd.client(
            sshd.scp().arg(&local).arg(sshd.remote(&remote)),
            "scp (sftp) upload",
        );
        assert_ok(&out, "scp (sftp) upload");
        assert_eq!(fs::read(&remote).unwrap(), data, "uploaded bytes differ");

        let back = sshd.sb.path().join("down.bin");
        let out = sshd.client(
            sshd.scp().arg(sshd.remote(&remote)).arg(&back),
            "scp (sftp) download",
        );
        assert_ok(&out, "scp (sftp) download");
        assert_eq!(fs::read(&back).unwrap(), data, "downloaded bytes differ");

        let commands = hook.commands();
        assert_eq!(commands.len(), 2, "one review per session: {commands:?}");
        for c in &commands {
            assert!(c.contains("sftp-server"), "{commands:?}");
        }
    }

    pub(super) fn rsync_push_and_pull_are_allowed_without_review(mode: Mode) {
        require!(sshd, "rsync");
        let hook = Webhook::answering("allow");
        let sshd = Sshd::start(Setup::new().webhook(&hook).transfers(), mode);
        let src = sshd.sb.path().join("src");
        fs::create_dir_all(src.join("sub/deeper")).unwrap();
        fs::create_dir_all(src.join("empty")).unwrap();
        fs::write(src.join("a.txt"), "alpha\n").unwrap();
        fs::write(src.join("sub/b.bin"), random_bytes(64 * 1024)).unwrap();
        fs::write(src.join("sub/deeper/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        chmod(&src.join("sub/deeper/run.sh"), 0o755);
        let remote = sshd.work.join("tree");

        let out = sshd.client(
            Command::new("rsync")
                .args(["-a", "-e", &sshd.ssh_command()])
                .arg(format!("{}/", src.display()))
                .arg(format!("{}/", sshd.remote(&remote))),
            "rsync push",
        );
        assert_ok(&out, "rsync push");
        assert_eq!(tree(&remote), tree(&src), "pushed tree differs");

        let pulled = sshd.sb.path().join("pulled");
        let out = sshd.client(
            Command::new("rsync")
                .args(["-a", "-e", &sshd.ssh_command()])
                .arg(format!("{}/", sshd.remote(&remote)))
                .arg(format!("{}/", pulled.display())),
            "rsync pull",
        );
        assert_ok(&out, "rsync pull");
        assert_eq!(tree(&pulled), tree(&src), "pulled tree differs");

        assert_eq!(hook.commands(), Vec::<String>::new(), "rsync was reviewed");
        let audit = sshd.sb.audit();
        let servers = records(&audit, "rsync --server");
        assert_eq!(servers.len(), 2, "{audit:?}");
        assert!(servers.iter().all(|r| r["decision"] == "allow"));
    }

    pub(super) fn git_clone_and_push_over_ssh_are_allowed_without_review(mode: Mode) {
        require!(sshd, "git");
        let hook = Webhook::answering("allow");
        let sshd = Sshd::start(Setup::new().webhook(&hook).transfers(), mode);
        let here = sshd.sb.path();

        // A bare repo in the user's home, owned by the user, with one commit.
        let bare = sshd.work.join("repo.git");
        sh(git(here).args(["init", "-q", "--bare"]).arg(&bare));
        let seed = here.join("seed");
        sh(git(here).args(["init", "-q"]).arg(&seed));
        fs::write(seed.join("README"), "seeded\n").unwrap();
        sh(git(&seed).args(["add", "README"]));
        sh(git(&seed).args(["commit", "-q", "-m", "seed"]));
        sh(git(&seed).arg("push").arg("-q").arg(&bare).arg("main"));
        sh(Command::new("chown")
            .arg("-R")
            .arg(format!("{USER}:"))
            .arg(&bare));

        let url = format!("ssh://{USER}@127.0.0.1:{}{}", sshd.port, bare.display());
        let clone = here.join("clone");
        let out = sshd.client(
            git(here)
                .env("GIT_SSH_COMMAND", sshd.ssh_command())
                .args(["clone", "-q", &url])
                .arg(&clone),
            "git clone",
        );
        assert_ok(&out, "git clone");
        assert_eq!(
            fs::read_to_string(clone.join("README")).unwrap(),
            "seeded\n"
        );

        fs::write(clone.join("pushed.txt"), "from the clone\n").unwrap();
        sh(git(&clone).args(["add", "pushed.txt"]));
        sh(git(&clone).args(["commit", "-q", "-m", "pushed over ssh"]));
        let out = sshd.client(
            git(&clone)
                .env("GIT_SSH_COMMAND", sshd.ssh_command())
                .args(["push", "-q", "origin", "main"]),
            "git push",
        );
        assert_ok(&out, "git push");

        let log = run(
            git(here)
                .arg(format!("--git-dir={}", bare.display()))
                .args(["log", "--format=%s", "main"]),
            None,
        );
        assert_ok(&log, "git log");
        assert_eq!(text(&log.stdout), "pushed over ssh\nseed\n");

        assert_eq!(hook.commands(), Vec::<String>::new(), "git was reviewed");
        let audit = sshd.sb.audit();
        for program in ["git-upload-pack", "git-receive-pack"] {
            let rec = records(&audit, program);
            assert_eq!(rec.len(), 1, "{program}: {audit:?}");
            assert_eq!(rec[0]["decision"], "allow");
        }
    }

    pub(super) fn ssh_interactive_session_keeps_the_cwd(mode: Mode) {
        require!(sshd);
        let sshd = Sshd::start(Setup::new(), mode);
        let mut cmd = sshd.ssh();
        cmd.arg("-tt").env("TERM", "xterm").env("NO_COLOR", "1");
        let mut t = Screen::spawn(cmd);
        t.prompt();
        t.send("cd /tmp\r");
        t.prompt();
        t.send("pwd\r");
        // `/tmp` alone on a line (the echoed `cd /tmp` has it after a space).
        t.until(r"[\r\n](\x1b\[[0-9;?]*[A-Za-z])*/tmp\r?\n");
        t.prompt();
        t.send("exit\r");
        assert_eq!(t.finish(), 0);
        sshd.sb.assert_broker_decided("cd /tmp");
    }

    pub(super) fn ssh_interactive_state_carries_over_and_ctrl_c_kills_only_the_command(mode: Mode) {
        require!(sshd);
        let sshd = Sshd::start(Setup::new(), mode);
        let mut cmd = sshd.ssh();
        cmd.arg("-tt").env("TERM", "xterm").env("NO_COLOR", "1");
        let mut t = Screen::spawn(cmd);
        t.prompt();
        // Each marker appears in the output only if the line really ran.
        for line in [
            "export E2E_VAR=carried",
            "alias e2ealias='echo from-the-alias'",
            "e2efn() { echo from-the-function; }",
        ] {
            t.send(&format!("{line}\r"));
            t.prompt();
        }
        for (line, marker) in [
            ("printenv E2E_VAR", "carried"),
            ("e2ealias", "from-the-alias"),
            ("e2efn", "from-the-function"),
        ] {
            t.send(&format!("{line}\r"));
            t.until(marker);
            t.prompt();
        }

        t.send("sleep 30\r");
        std::thread::sleep(Duration::from_secs(2));
        let start = Instant::now();
        t.send("\x03");
        t.prompt();
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "Ctrl-C did not stop sleep"
        );
        t.send("expr 40 + 2\r");
        t.until("42");
        t.prompt();
        // Ctrl-D on an empty line ends the session.
        t.send("\x04");
        assert_eq!(t.finish(), 0);
        sshd.sb.assert_broker_decided("export E2E_VAR");
    }

    // ================================================================ su

    pub(super) fn su_login_runs_through_guard(mode: Mode) {
        require!(root; "su", "useradd", "runuser");
        let user = test_user();
        let shell = User::from_name(USER).unwrap().unwrap().shell;
        assert_eq!(shell, user.shell, "guard is the login shell");
        let sb = (mode == Mode::Broker).then(|| Setup::new().build(mode, Some(user)));
        let su = |line: &str| {
            let mut c = Command::new("su");
            if let Some(sb) = &sb {
                // `su -` clears the environment, and the config naming the
                // broker cannot go in /etc/guard while embedded cases run
                // alongside; so it is passed through, as sshd's SetEnv does.
                c.args(["-w", "GUARD_CONFIG,GUARD_STATE_DIR"])
                    .env("GUARD_CONFIG", sb.config())
                    .env("GUARD_STATE_DIR", sb.state());
            }
            c.args(["-", USER, "-c", line]);
            run(no_tty(&mut c), None)
        };
        let out = su("echo ok");
        assert_ok(&out, "su - guardtest -c 'echo ok'");
        assert_eq!(text(&out.stdout), "ok\n");

        let out = su("kubectl get pods");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(126), "stderr: {err}");
        assert!(err.lines().any(|l| l.starts_with("guard:")), "{err:?}");
        assert_eq!(text(&out.stdout), "");
        if let Some(sb) = &sb {
            sb.assert_broker_decided("echo ok");
            sb.assert_broker_decided("kubectl get pods");
        }
    }

    // ================================================================ tmux

    pub(super) fn tmux_session_with_guard_as_its_shell(mode: Mode) {
        require!("tmux");
        let tmux = Tmux {
            sb: Setup::new().build(mode, None),
        };
        let guard = tmux.sb.guard();
        let out = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "120",
            "-y",
            "30",
            guard.to_str().unwrap(),
        ]);
        assert_ok(&out, "tmux new-session");
        // The prompt first, so the keys go to guard's line editor.
        tmux.wait_for(|s| !s.trim().is_empty());
        tmux.run(&["send-keys", "-t", "e2e", "echo tmux-ok-$((40+2))", "Enter"]);
        tmux.wait_for(|s| s.contains("tmux-ok-42"));
        let audit = tmux.sb.audit();
        assert!(
            records(&audit, "echo tmux-ok-")
                .iter()
                .any(|r| r["decision"] == "allow"),
            "{audit:?}"
        );
    }

    // ================================================================ harnesses

    pub(super) fn codex_shape_bash_lc_through_a_bash_symlink(mode: Mode) {
        require!("/bin/bash");
        let sb = Setup::new().build(mode, None);
        let shim = sb.path().join("shim");
        fs::create_dir_all(&shim).unwrap();
        symlink(sb.guard(), shim.join("bash")).unwrap();
        let path = format!("{}:{}", shim.display(), sb.path_var());
        let bash = |line: &str| {
            let mut c = sb.command("bash");
            c.args(["-lc", line]).env("PATH", &path);
            run(no_tty(&mut c), None)
        };
        let out = bash("echo hi");
        assert_ok(&out, "bash -lc 'echo hi'");
        assert_eq!(text(&out.stdout), "hi\n");
        assert_eq!(text(&out.stderr), "");

        let out = bash("aws s3 ls");
        assert_refused(&out, "bash -lc 'aws s3 ls'");
        assert!(text(&out.stderr).contains("[rule cloud.aws]"));
        assert_eq!(sb.ran("aws"), None, "the fake aws ran");
        // guard decided both (the symlink really is guard).
        assert_eq!(sb.audit().len(), 2, "{:?}", sb.audit());
    }

    pub(super) fn claude_code_shape_snapshot_eval_and_cwd_file(mode: Mode) {
        require!("/bin/bash");
        let sb = Setup::new().build(mode, None);
        let snap = sb.path().join("snapshot-bash.sh");
        fs::write(
            &snap,
            "# Snapshot file\n\
             unalias -a 2>/dev/null || true\n\
             deploy() { aws s3 sync . s3://prod; }\n\
             alias ll='ls -l'\n\
             export FOO=1\n",
        )
        .unwrap();
        let project = sb.path().join("project");
        fs::create_dir_all(&project).unwrap();
        let cwd_file = sb.writable().join("claude-cwd");
        let guard = sb.guard();
        let line = |cmd: &str| {
            format!(
                "source {} 2>/dev/null || true && export BAR=2 && eval '{cmd}' < /dev/null && pwd -P >| {}",
                snap.display(),
                cwd_file.display()
            )
        };
        let shell = |cmd: &str| {
            let mut c = sb.command(&guard);
            c.args(["-c", "-l", &line(cmd)])
                .env("SHELL", &guard)
                .current_dir(&project);
            run(no_tty(&mut c), None)
        };

        let out = shell("echo $FOO$BAR");
        assert_ok(&out, "the prelude and a plain command");
        assert_eq!(text(&out.stdout), "12\n");
        assert_eq!(
            fs::read_to_string(&cwd_file).unwrap(),
            format!("{}\n", project.canonicalize().unwrap().display())
        );
        fs::remove_file(&cwd_file).unwrap();

        for cmd in ["deploy", "aws s3 ls"] {
            let out = shell(cmd);
            assert_refused(&out, &format!("eval '{cmd}'"));
            // The function's body was seen, not merely some unknown word.
            assert!(text(&out.stderr).contains("[rule cloud.aws]"), "{cmd}");
            assert!(!cwd_file.exists(), "{cmd}: the line ran");
        }
        assert_eq!(sb.ran("aws"), None, "the fake aws ran");
        sb.assert_broker_decided("source ");
    }
}
