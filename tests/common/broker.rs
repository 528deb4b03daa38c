//! Broker-mode test support: two real users (the broker's `guard` and an
//! agent, `guardagent`), a real `guard broker` started as `guard` on a
//! temp socket, and the agent's commands run through a root-owned client
//! config that names it. Nothing is mocked. A test with an agent account
//! of its own (a login shell's user) passes it to `Broker::for_agent`.
//!
//! Needs root (users, setpriv). Without it `Users::get` says why and the
//! test passes having checked nothing but that.

use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BROKER_USER: &str = "guard";
pub const AGENT: &str = "guardagent";
/// A second agent, for "another user's session".
pub const OTHER: &str = "guardother";

#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

pub struct Users {
    pub broker: Account,
    pub agent: Account,
    pub other: Account,
    /// guard, where every user can run it: the shell front.
    pub bin: PathBuf,
    /// The full binary the front hands all but `-c LINE` to.
    pub full: PathBuf,
}

fn account(name: &str, system: bool) -> Account {
    if nix::unistd::User::from_name(name).ok().flatten().is_none() {
        let mut c = Command::new("useradd");
        if system {
            c.args([
                "--system",
                "--no-create-home",
                "--home-dir",
                "/var/lib/guard",
            ])
            .args(["--shell", "/usr/sbin/nologin"]);
        } else {
            c.args(["-m", "-s", "/bin/bash"]);
        }
        let out = c.arg(name).output().expect("useradd");
        assert!(
            out.status.success() || nix::unistd::User::from_name(name).ok().flatten().is_some(),
            "useradd {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let u = nix::unistd::User::from_name(name)
        .unwrap()
        .expect("user exists");
    if !system {
        let _ = std::fs::create_dir_all(&u.dir);
        let _ = std::os::unix::fs::chown(&u.dir, Some(u.uid.as_raw()), Some(u.gid.as_raw()));
    }
    Account {
        name: name.to_string(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        home: u.dir,
    }
}

/// guard copied where every user can execute it.
/// The binaries as `install.sh` lays them out, where every user can run
/// them: the shell front as `bin/guard` (what agents run, and what the
/// broker is started as), the full binary it hands everything else to as
/// `libexec/guard/guard`.
pub fn installed() -> PathBuf {
    static ONCE: OnceLock<PathBuf> = OnceLock::new();
    ONCE.get_or_init(place_binaries).clone()
}

fn place_binaries() -> PathBuf {
    let root = Path::new("/usr/local/libexec/guard-test/prefix");
    let place = |from: &Path, dest: &Path, mode: u32| {
        let dir = dest.parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        for d in dir
            .ancestors()
            .take_while(|d| d.starts_with("/usr/local/libexec"))
        {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let tmp = dir.join(format!(".guard.{}", std::process::id()));
        std::fs::copy(from, &tmp).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).unwrap();
        std::fs::rename(&tmp, dest).unwrap();
    };
    place(&super::bin(), &root.join("libexec/guard/guard"), 0o755);
    let front = root.join("bin/guard");
    // As install.sh has it: executable, not readable.
    place(&super::front(), &front, 0o711);
    front
}

impl Users {
    /// The users, created once; `Err` says why this machine cannot.
    pub fn get() -> Result<&'static Users, String> {
        static ONCE: OnceLock<Result<Users, String>> = OnceLock::new();
        ONCE.get_or_init(|| {
            if !nix::unistd::geteuid().is_root() {
                return Err("needs root (creates users, runs the broker as `guard`)".into());
            }
            for tool in ["useradd", "setpriv", "runuser"] {
                if Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .map_or(true, |o| !o.status.success())
                {
                    return Err(format!("{tool} is not installed"));
                }
            }
            Ok(Users {
                broker: account(BROKER_USER, true),
                agent: account(AGENT, false),
                other: account(OTHER, false),
                bin: installed(),
                full: installed()
                    .parent()
                    .and_then(Path::parent)
                    .expect("PREFIX/bin/guard")
                    .join("libexec/guard/guard"),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
    }
}

/// `require_users!()`: the users, or return early (passing) saying why.
#[macro_export]
macro_rules! require_users {
    () => {
        match common::broker::Users::get() {
            Ok(u) => u,
            Err(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        }
    };
}

pub fn chown(path: &Path, who: &Account) {
    std::os::unix::fs::chown(path, Some(who.uid), Some(who.gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A broker's home for one test: its config, state and audit dirs (the
/// broker's, 0700), its socket, and a root-owned client config naming it.
/// `work` is a scratch dir the agent owns.
pub struct Broker {
    pub users: &'static Users,
    /// Whose lines it decides: `users.agent` unless a test brings its own.
    account: Account,
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Broker {
    /// Lay out the dirs and write the broker's config (as `guard`, 0600).
    pub fn new(users: &'static Users, config: &str) -> Broker {
        Broker::for_agent(users, users.agent.clone(), config)
    }

    /// As `new`, for an agent account the test made itself (a login
    /// shell's user, say).
    pub fn for_agent(users: &'static Users, agent: Account, config: &str) -> Broker {
        let dir = tempfile::Builder::new()
            .prefix("guard-broker-")
            .tempdir()
            .unwrap();
        chmod(dir.path(), 0o755);
        let b = Broker {
            users,
            account: agent,
            dir,
            child: None,
            log: PathBuf::new(),
        };
        for d in [b.state(), b.audit_dir(), b.private()] {
            std::fs::create_dir_all(&d).unwrap();
            chown(&d, &users.broker);
            chmod(&d, 0o700);
        }
        std::fs::create_dir_all(b.run()).unwrap();
        chown(&b.run(), &users.broker);
        chmod(&b.run(), 0o755);
        std::fs::create_dir_all(b.work()).unwrap();
        chown(&b.work(), &b.account);
        b.write_config(config);
        std::fs::write(
            b.client_config(),
            format!(
                "# root-owned: the agent cannot change where its lines go\nbroker: {}\nbroker_user: {BROKER_USER}\nbroker_timeout: 5s\n",
                b.socket().display()
            ),
        )
        .unwrap();
        chmod(&b.client_config(), 0o644);
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's own files: config, secret, provider scripts.
    pub fn private(&self) -> PathBuf {
        self.path().join("private")
    }

    pub fn config(&self) -> PathBuf {
        self.private().join("broker.yaml")
    }

    pub fn write_config(&self, yaml: &str) {
        let tmp = self.private().join(".broker.yaml.tmp");
        std::fs::write(&tmp, yaml).unwrap();
        chown(&tmp, &self.users.broker);
        chmod(&tmp, 0o600);
        std::fs::rename(&tmp, self.config()).unwrap();
    }

    /// A file only the broker can read (a secret, a provider script).
    pub fn private_file(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        let p = self.private().join(name);
        std::fs::write(&p, content).unwrap();
        chown(&p, &self.users.broker);
        chmod(&p, mode);
        p
    }

    pub fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    pub fn audit_dir(&self) -> PathBuf {
        self.path().join("audit")
    }

    pub fn audit_log(&self) -> PathBuf {
        self.audit_dir().join("audit.jsonl")
    }

    pub fn run(&self) -> PathBuf {
        self.path().join("run")
    }

    pub fn socket(&self) -> PathBuf {
        self.run().join("broker.sock")
    }

    pub fn client_config(&self) -> PathBuf {
        self.path().join("client.yaml")
    }

    /// A directory the agent owns, for its scripts and markers.
    pub fn work(&self) -> PathBuf {
        self.path().join("work")
    }

    /// Start `guard broker` as `guard` and wait for its socket.
    pub fn start(&mut self) -> &mut Broker {
        let n = std::fs::read_dir(self.path())
            .map(|d| d.count())
            .unwrap_or(0);
        self.log = self.path().join(format!("broker-{n}.log"));
        let log = std::fs::File::create(&self.log).unwrap();
        let err = log.try_clone().unwrap();
        let child = Command::new("setpriv")
            .arg(format!("--reuid={BROKER_USER}"))
            .arg(format!("--regid={BROKER_USER}"))
            .args([
                "--init-groups",
                "--inh-caps=+sys_ptrace,+dac_read_search",
                "--ambient-caps=+sys_ptrace,+dac_read_search",
            ])
            .arg(&self.users.bin)
            .arg("broker")
            .arg("--socket")
            .arg(self.socket())
            .arg("--config")
            .arg(self.config())
            .arg("--state-dir")
            .arg(self.state())
            .arg("--audit-dir")
            .arg(self.audit_dir())
            .env_clear()
            // Fake CLIs first, so providers that call one find it.
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin_dir().display()),
            )
            .env("RUST_BACKTRACE", "1")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn setpriv guard broker");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if std::fs::read_to_string(&self.log).is_ok_and(|l| l.contains("listening on")) {
                break;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "broker exited ({status}): {}",
                        std::fs::read_to_string(&self.log).unwrap_or_default()
                    );
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "broker did not start: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// Stop the broker (SIGTERM) and wait for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(pid) = self.pid() {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap();
        }
    }

    /// Everything the broker logged so far, across restarts.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(self.path()) {
            let mut logs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                // By file name: the temp dir's own name starts `guard-broker-`.
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("broker-"))
                })
                .collect();
            logs.sort();
            for l in logs {
                out.push_str(&std::fs::read_to_string(l).unwrap_or_default());
            }
        }
        out
    }

    /// The agent running `guard ARGS…` through the client config, in
    /// `work`, with a clean environment plus `env`.
    pub fn agent(&self, args: &[&str]) -> Command {
        self.as_user(&self.account, &self.users.bin, args)
    }

    /// As `agent`, with the full binary as the client instead of the
    /// front.
    pub fn agent_full(&self, args: &[&str]) -> Command {
        self.as_user(&self.account, &self.users.full, args)
    }

    /// `who` running `program ARGS…` with the client config set.
    pub fn as_user(&self, who: &Account, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", who.uid))
            .arg(format!("--regid={}", who.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .args(args)
            .env_clear()
            .env("HOME", &who.home)
            .env("USER", &who.name)
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin_dir().display()),
            )
            .env("GUARD_CONFIG", self.client_config())
            .current_dir(self.work());
        c
    }

    /// Where fake credential CLIs live (agent-readable).
    pub fn bin_dir(&self) -> PathBuf {
        self.path().join("bin")
    }

    /// A fake `name` that records its argv and the credential variables
    /// it was given into `work/NAME-ran`.
    pub fn fake_cli(&self, name: &str) -> PathBuf {
        std::fs::create_dir_all(self.bin_dir()).unwrap();
        chmod(&self.bin_dir(), 0o755);
        let marker = self.work().join(format!("{name}-ran"));
        let p = self.bin_dir().join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\n{{ printf 'argv:'; printf ' %s' \"$@\"; printf '\\n'; env | grep -E '^(AWS_|KUBECONFIG|GUARD_SESSION|TOKEN)' | sort; }} >> '{}'\n",
                marker.display()
            ),
        )
        .unwrap();
        chmod(&p, 0o755);
        marker
    }

    /// Every record of the broker's log.
    /// A last line still being written (no newline yet) is not a record
    /// yet.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.audit_log()).unwrap_or_default();
        let done = text.rfind('\n').map_or("", |i| &text[..=i]);
        done.lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    pub fn decisions(&self) -> Vec<serde_json::Value> {
        self.audit()
            .into_iter()
            .filter(|r| r["kind"] == "decision")
            .collect()
    }

    /// `guard audit verify` on the broker's log, run as root.
    pub fn verify(&self) -> (i32, String) {
        let out = Command::new(super::bin())
            .args(["audit", "verify"])
            .arg(self.audit_log())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Run to completion, killing it after `limit`.
pub fn run_for(cmd: &mut Command, stdin: Option<&[u8]>, limit: Duration) -> Output {
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
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || pipe.write_all(&bytes));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if wait.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    out
}

pub fn run(cmd: &mut Command) -> Output {
    run_for(cmd, None, Duration::from_secs(60))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Read lines from a child's stderr until one contains `needle`.
pub fn wait_line(reader: &mut impl BufRead, needle: &str, limit: Duration) -> Option<String> {
    let start = Instant::now();
    let mut line = String::new();
    while start.elapsed() < limit {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.contains(needle) {
            return Some(line);
        }
    }
    None
}

/// Wait until `f` holds, up to `limit`; how long it took.
pub fn eventually(limit: Duration, f: impl Fn() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f().then(|| start.elapsed())
}
