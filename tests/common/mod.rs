//! Test support: a builder for shell-mode runs of the real binary (one
//! test row in three lines), and the library entry point for table tests.
#![allow(dead_code)]

pub mod broker;
pub mod secrets;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use guard::parse::Env;
use guard::policy::{self, Input, Verdict};
use guard::rules::load::{self, Config};

pub const HOME: &str = "/home/agent";

/// The shipped packs alone, with a fixed home and cwd so tables do not
/// depend on the machine.
pub fn shipped() -> (Config, Env) {
    let env = Env {
        home: HOME.to_string(),
        cwd: "/home/agent/project".to_string(),
        path: guard::parse::DEFAULT_PATH.to_string(),
        fresh: true,
    };
    let cfg = load::load_with(&[], &env.home, true).expect("shipped packs load");
    (cfg, env)
}

pub fn decide(cfg: &Config, env: &Env, line: &str) -> Verdict {
    policy::decide(Input::Script(line), cfg, env)
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_guard"))
}

/// The shell front, which `build.rs` puts beside the full binary.
pub fn front() -> PathBuf {
    bin().with_file_name("guard-shell")
}

/// A `bin/NAME` under `dir` that appends its arguments, one per line, to
/// `dir/NAME-ran`, so a test can tell whether and how it ran. Returns a
/// PATH with that bin first, and the record file.
pub fn recording_stub(dir: &Path, name: &str) -> (String, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("create bin");
    let marker = dir.join(format!("{name}-ran"));
    let stub = bin.join(name);
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n",
            marker.display()
        ),
    )
    .expect("write stub");
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod stub");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, marker)
}

/// Every record of the audit log in `state`: decisions, events (session
/// and credential lifecycle) and exit records.
pub fn audit_all(state: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(state.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

/// The decision records of the audit log in `state`: what guard decided,
/// without events or the `exit` records of how commands ended.
pub fn audit_records(state: &Path) -> Vec<serde_json::Value> {
    audit_all(state)
        .into_iter()
        .filter(|r| r["kind"] == "decision")
        .collect()
}

/// The `exit` records: how each supervised command ended.
pub fn exit_records(state: &Path) -> Vec<serde_json::Value> {
    audit_all(state)
        .into_iter()
        .filter(|r| r["kind"] == "exit")
        .collect()
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// `sha256=<hex HMAC-SHA256>`, computed independently of guard's code so
/// the test servers check guard's signatures for real.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// An approver's answer, signed as guard requires: `X-Guard-Signature`
/// over the exact body with the shared secret.
pub fn signed_response(
    secret: &[u8],
    code: u16,
    body: &str,
) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let sig = tiny_http::Header::from_bytes(
        "X-Guard-Signature",
        signature(secret, body.as_bytes()).as_bytes(),
    )
    .expect("header");
    tiny_http::Response::from_string(body)
        .with_status_code(code)
        .with_header(sig)
}

/// The `id` of a webhook request body, which every decision must echo.
pub fn request_id(request_body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(request_body)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

/// A decision (`decision_json`, a JSON object) as the answer to the
/// request whose body is `request_body`: the same object with that
/// request's `id` added, as guard requires of every 200 answer. An answer
/// to a GET poll is for the request that was POSTed, so pass that body.
pub fn answer_for(request_body: &[u8], decision_json: &str) -> String {
    let id = request_id(request_body).unwrap_or_else(|| {
        panic!(
            "the approver was asked something with no request id: {}",
            String::from_utf8_lossy(request_body)
        )
    });
    let mut answer: serde_json::Value = serde_json::from_str(decision_json)
        .unwrap_or_else(|e| panic!("decision {decision_json:?} is not JSON: {e}"));
    answer
        .as_object_mut()
        .unwrap_or_else(|| panic!("decision {decision_json:?} is not an object"))
        .insert("id".to_string(), serde_json::Value::String(id));
    answer.to_string()
}

/// xorshift64*: a deterministic generator for table and fuzz tests, so a
/// failure reproduces.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The value of a request header, for the tests' HTTP servers.
pub fn header(req: &tiny_http::Request, name: &'static str) -> String {
    req.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_string())
        .unwrap_or_default()
}

/// Run `cmd` in a new session with no controlling terminal (as cron, CI
/// or a detached harness would), so no terminal approver is available.
pub fn detach(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        })
    }
}

/// An object's keys, sorted, for comparing a JSON shape with a schema.
pub fn sorted_keys(v: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shell-mode or admin-mode run of the real binary in a private state
/// dir, with an empty config unless one is given.
pub struct Guard {
    dir: tempfile::TempDir,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    config: Option<String>,
}

pub struct Run {
    pub output: Output,
    pub state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Guard {
    pub fn new() -> Guard {
        Guard {
            dir: tempfile::tempdir().expect("tempdir"),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
            config: None,
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Guard {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `guard -c LINE`
    pub fn c(self, line: &str) -> Guard {
        self.args(["-c", line])
    }

    pub fn env(mut self, k: &str, v: &str) -> Guard {
        self.envs.push((k.to_string(), v.to_string()));
        self
    }

    pub fn stdin(mut self, bytes: &[u8]) -> Guard {
        self.stdin = Some(bytes.to_vec());
        self
    }

    pub fn config(mut self, yaml: &str) -> Guard {
        self.config = Some(yaml.to_string());
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(self) -> Run {
        let state = self.dir.path().join("state");
        let config = self.dir.path().join("config.yaml");
        std::fs::write(&config, self.config.as_deref().unwrap_or("# empty\n"))
            .expect("write config");
        let mut cmd = Command::new(bin());
        cmd.args(&self.args)
            .env("GUARD_CONFIG", &config)
            .env("GUARD_STATE_DIR", &state)
            .env("HOME", HOME)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn guard");
        if let Some(bytes) = &self.stdin {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(bytes).expect("write stdin");
        }
        let output = child.wait_with_output().expect("wait guard");
        Run {
            output,
            state,
            _dir: self.dir,
        }
    }
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn audit(&self) -> Vec<serde_json::Value> {
        audit_records(&self.state)
    }

    /// A refusal: exit 126, nothing on stdout, one `guard:` line on stderr.
    pub fn assert_refused(&self) -> &Run {
        assert_eq!(self.code(), 126, "stderr: {}", self.stderr());
        assert_eq!(self.stdout(), "", "a refusal prints nothing on stdout");
        let err = self.stderr();
        assert_eq!(err.lines().count(), 1, "one stderr line, got: {err:?}");
        assert!(
            err.starts_with("guard: "),
            "stderr starts with guard: {err:?}"
        );
        self
    }
}

/// Start a session with `guard session start --json` in `state`, under
/// `config`, and return its id.
pub fn start_session(config: &Path, state: &Path, args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(["session", "start", "--json"])
        .args(args)
        .env("GUARD_CONFIG", config)
        .env("GUARD_STATE_DIR", state)
        .env_remove("GUARD_SESSION")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "session start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// A field of the test data's TSV files with its escapes undone (`\\`,
/// `\n`, `\t`, `\r`, as `tools/` writes them).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            other => panic!("bad escape \\{other:?} in {s:?}"),
        }
    }
    out
}
