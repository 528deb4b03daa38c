//! A real approver service for tests: `guard approver serve` on a free
//! port on 127.0.0.1, over SQLite or a real PostgreSQL this harness
//! starts, with guard processes that ask it over the webhook protocol.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common;

pub const SECRET: &str = "approver-service-test-secret";
pub const PASSWORD: &str = "correct horse battery";

/// The user guard runs as here: the agent, whose name must never be
/// able to approve its own request.
pub fn agent() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map_or_else(|| "unknown".to_string(), |u| u.name)
}

pub struct Service {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub database: String,
    child: Option<Child>,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Service {
    /// An approver over `database` with `config` (the approver's own YAML).
    pub fn start(database: &str, config: &str) -> Service {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), format!("{SECRET}\n")).unwrap();
        std::fs::set_permissions(
            dir.path().join("secret"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::fs::write(dir.path().join("approver.yaml"), config).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let aws = bin.join("aws");
        std::fs::write(
            &aws,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\n",
                dir.path().join("aws-ran").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755)).unwrap();
        let database = if database == "sqlite" {
            format!("sqlite:{}", dir.path().join("db/approver.sqlite").display())
        } else {
            database.to_string()
        };
        let mut s = Service {
            dir,
            port: common::free_port(),
            database,
            child: None,
        };
        s.write_guard_config(30);
        s.spawn();
        s
    }

    /// A second approver process over the same database, on its own port.
    pub fn sibling(&self) -> Service {
        let dir = tempfile::tempdir().unwrap();
        for f in ["secret", "approver.yaml"] {
            std::fs::copy(self.dir.path().join(f), dir.path().join(f)).unwrap();
        }
        let mut s = Service {
            dir,
            port: common::free_port(),
            database: self.database.clone(),
            child: None,
        };
        s.spawn();
        s
    }

    pub fn audit_dir(&self) -> PathBuf {
        self.dir.path().join("approver-audit")
    }

    /// guard's config: the webhook is this service, and no terminal.
    pub fn write_guard_config(&self, timeout_secs: u64) {
        std::fs::write(
            self.dir.path().join("guard.yaml"),
            format!(
                "approval:\n  tty: false\n  webhook:\n    url: {}/v1/requests\n    secret_file: {}\n    timeout: {timeout_secs}s\n",
                self.url(),
                self.dir.path().join("secret").display()
            ),
        )
        .unwrap();
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let mut c = Command::new(common::bin());
        c.args([
            "approver",
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", self.port),
        ])
        .args(["--database", &self.database])
        .arg("--secret-file")
        .arg(self.dir.path().join("secret"))
        .arg("--config")
        .arg(self.dir.path().join("approver.yaml"))
        .arg("--audit-dir")
        .arg(self.audit_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        let mut child = c.spawn().expect("start guard approver serve");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            if let Some(Ok(l)) = lines.next() {
                let _ = tx.send(l);
            }
            for _ in lines {}
        });
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the approver did not start");
        assert!(first.contains("listening"), "{first}");
        self.child = Some(child);
    }

    /// kill -9, as a crash would.
    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            c.wait().unwrap();
        }
    }

    pub fn restart(&mut self) {
        self.crash();
        self.spawn();
    }

    pub fn add_reviewer(&self, name: &str) {
        let mut c = Command::new(common::bin())
            .args([
                "approver",
                "user",
                "add",
                name,
                "--database",
                &self.database,
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `guard approver --url … --user NAME ARGS…`.
    pub fn cli(&self, user: &str, args: &[&str]) -> Output {
        self.cli_with(user, PASSWORD, args)
    }

    pub fn cli_with(&self, user: &str, password: &str, args: &[&str]) -> Output {
        Command::new(common::bin())
            .args(["approver", "--url", &self.url(), "--user", user])
            .args(args)
            .env("GUARD_APPROVER_PASSWORD", password)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn list(&self, user: &str, all: bool) -> Vec<Value> {
        let mut args = vec!["list", "--json"];
        if all {
            args.push("--all");
        }
        let out = self.cli(user, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// Wait until `n` requests are pending, and return them.
    pub fn wait_pending(&self, user: &str, n: usize) -> Vec<Value> {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = self.list(user, false);
            if rows.len() >= n {
                return rows;
            }
            assert!(
                Instant::now() < until,
                "only {} of {n} requests arrived",
                rows.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// guard -c LINE, detached from any terminal, in a thread.
    pub fn ask(&self, line: &str) -> std::thread::JoinHandle<Output> {
        self.ask_env(line, &[])
    }

    pub fn ask_env(&self, line: &str, env: &[(&str, String)]) -> std::thread::JoinHandle<Output> {
        let mut c = Command::new(common::bin());
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        c.args(["-c", line])
            .env("GUARD_CONFIG", self.dir.path().join("guard.yaml"))
            .env("GUARD_STATE_DIR", self.dir.path().join("state"))
            .env("PATH", path)
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        common::detach(&mut c);
        std::thread::spawn(move || c.output().unwrap())
    }

    pub fn aws_runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("aws-ran"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn guard_audit(&self) -> Vec<Value> {
        common::audit_records(&self.dir.path().join("state"))
    }

    /// The approver's own log passes `guard audit verify`.
    pub fn verify_audit(&self) -> String {
        let out = Command::new(common::bin())
            .args(["audit", "--dir"])
            .arg(self.audit_dir())
            .arg("verify")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "approver audit does not verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(self.audit_dir().join("audit.jsonl")).unwrap_or_default()
    }

    /// POST a request body as guard would, signed (or not).
    pub fn post(&self, body: &[u8], signature: Option<String>) -> (u16, Value) {
        let http = http();
        let mut req = http
            .post(format!("{}/v1/requests", self.url()))
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("X-Guard-Signature", sig);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }

    pub fn post_signed(&self, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let sig = common::signature(SECRET.as_bytes(), &bytes);
        self.post(&bytes, Some(sig))
    }

    /// A login token for the page and the API.
    pub fn token(&self, user: &str) -> String {
        let resp = http()
            .post(format!("{}/api/v1/login", self.url()))
            .json(&json!({"user": user, "password": PASSWORD}))
            .send()
            .unwrap();
        assert!(
            resp.status().is_success(),
            "login {user}: {}",
            resp.status()
        );
        resp.json::<Value>().unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A blocking HTTP client; guard builds reqwest without a default TLS
/// provider, so the test picks one as guard does.
pub fn http() -> reqwest::blocking::Client {
    http_builder().build().unwrap()
}

pub fn http_builder() -> reqwest::blocking::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
}

/// A request body in guard's shape, for tests that speak the protocol
/// directly.
pub fn request(id: &str, command: &str, rule: &str, session: Option<&str>) -> Value {
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60);
    json!({
        "id": id,
        "requested_at": jiff::Timestamp::now().to_string(),
        "expires_at": expires.to_string(),
        "session": {"id": session, "purpose": "rotate the staging keys", "boundary": null, "grants": [], "owner": "olive"},
        "targets": [],
        "grants": [],
        "user": "agent7",
        "host": "build-3",
        "cwd": "/work",
        "command": command,
        "audit_head": null,
        "commands": [{"argv": command.split_whitespace().collect::<Vec<_>>(), "dynamic": false, "via": []}],
        "triggers": [command.split_whitespace().next().unwrap_or("")],
        "matches": [{"rule": rule, "action": "review", "risk": "high", "message": "cloud CLI"}],
    })
}

/// The shared PostgreSQL server of this test process: Debian's binaries,
/// run as the `postgres` user (it refuses root) in a temp dir, killed
/// when the test process exits.
struct Pg {
    port: u16,
}

fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("postgres").exists())
        .collect();
    found.sort();
    found.pop().expect(
        "PostgreSQL's server binaries are not installed (Debian's `postgresql`; .ci/run installs it)",
    )
}

fn as_postgres(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if nix::unistd::geteuid().is_root() {
        let u = nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .expect("the postgres user (Debian's postgresql package makes it)");
        c.uid(u.uid.as_raw()).gid(u.gid.as_raw());
    }
    c
}

fn pg() -> &'static Pg {
    static PG: OnceLock<Pg> = OnceLock::new();
    PG.get_or_init(|| {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("guard-test-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if nix::unistd::geteuid().is_root() {
            let u = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .unwrap();
            nix::unistd::chown(&dir, Some(u.uid), Some(u.gid)).unwrap();
        }
        let data = dir.join("data");
        let out = as_postgres(Command::new(bin.join("initdb")).arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ]))
        .current_dir(&dir)
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = common::free_port();
        let (tx, rx) = std::sync::mpsc::channel();
        let postgres = bin.join("postgres");
        // The server's parent is this thread, which never ends: the
        // death signal then fires only when the test process is gone.
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut c = Command::new(postgres);
            c.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                .arg("-k")
                .arg(&dir)
                .args(["-c", "fsync=off", "-c", "max_connections=300"])
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            as_postgres(&mut c);
            // SAFETY: prctl is async-signal-safe.
            unsafe {
                c.pre_exec(|| {
                    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                        .map_err(std::io::Error::from)
                });
            }
            let mut child = c.spawn().expect("start postgres");
            tx.send(child.id()).unwrap();
            let _ = child.wait();
        });
        rx.recv().unwrap();
        let until = Instant::now() + Duration::from_secs(60);
        while psql(port, "postgres", "SELECT 1").is_err() {
            assert!(Instant::now() < until, "postgres did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
        Pg { port }
    })
}

pub fn psql(port: u16, db: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            db,
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-tA", "-c", sql])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The shared server's port.
pub fn postgres_port() -> u16 {
    pg().port
}

/// A fresh database on the shared server, as a `postgres://` URL.
pub fn postgres() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let pg = pg();
    let name = format!(
        "approver_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    psql(pg.port, "postgres", &format!("CREATE DATABASE {name}")).expect("createdb");
    format!("postgres://postgres@127.0.0.1:{}/{name}", pg.port)
}

/// Wait for a guard thread, at most a minute.
pub fn join(h: std::thread::JoinHandle<Output>) -> Output {
    let until = Instant::now() + Duration::from_secs(90);
    while !h.is_finished() {
        assert!(Instant::now() < until, "guard did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.join().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
