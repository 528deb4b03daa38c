//! Sessions and scoped credentials, end to end: real guard processes, real
//! bash, a real provider script that logs what it issues and revokes, fake
//! `aws`/`kubectl` that record the environment they were given, and a
//! real webhook approver on 127.0.0.1.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The agent's own credentials, present in the environment guard starts
/// in. No child may ever see them.
const AGENT_KEY_ID: &str = "AKIAAGENTOWNKEY0001X";
const AGENT_SECRET: &str = "agent-own-secret-value-0123456789";
const AGENT_TOKEN: &str = "agent-own-github-token-value";
/// What the provider mints.
const MINTED_SECRET: &str = "minted-staging-secret-7f3a";
const MINTED_TOKEN: &str = "minted-staging-session-token-19c2";
const KUBECONFIG_TEXT: &str = "apiVersion: v1\nkind: Config\ncurrent-context: staging-eu\n";

struct Env {
    dir: tempfile::TempDir,
    path: String,
    _approver: Approver,
}

/// A webhook approver that allows everything it is asked, and keeps
/// each request body.
struct Approver {
    port: u16,
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    /// How long the approver thinks before it answers.
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn approver() -> Approver {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = server.server_addr().to_ip().expect("ip").port();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let count = std::sync::Arc::clone(&asked);
    let kept = std::sync::Arc::clone(&bodies);
    let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let delay = std::sync::Arc::clone(&delay_ms);
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = String::new();
            let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
            if let Ok(v) = serde_json::from_str(&body) {
                kept.lock().unwrap().push(v);
            }
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(
                delay.load(std::sync::atomic::Ordering::SeqCst),
            ));
            let _ = req.respond(common::signed_response(
                b"s3cret",
                200,
                &common::answer_for(
                    body.as_bytes(),
                    r#"{"decision":"allow","approver":"ops-oncall","scope":"once"}"#,
                ),
            ));
        }
    });
    Approver {
        port,
        asked,
        bodies,
        delay_ms,
    }
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    // The provider: mints per argument, logs each issue and revoke.
    write_exec(
        &d.join("mint"),
        &format!(
            r#"#!/bin/bash
log={log}
if [ "$1" = --revoke ]; then echo "revoked $2 $(cat)" >> "$log"; exit 0; fi
echo "issued $1" >> "$log"
case "$1" in
  aws) printf 'AWS_ACCESS_KEY_ID=ASIAMINTED00STAGING\nAWS_SECRET_ACCESS_KEY={MINTED_SECRET}\nexport AWS_SESSION_TOKEN="{MINTED_TOKEN}"\n' ;;
  kube) printf '{{"data":{{"kubeconfig":"%s"}}}}' 'apiVersion: v1\nkind: Config\ncurrent-context: staging-eu\n' ;;
  broken) echo "mint: the vault is sealed" >&2; exit 3 ;;
esac
"#,
            log = d.join("provider.log").display()
        ),
    );
    // Fake tools that record the environment they got.
    for tool in ["aws", "kubectl"] {
        write_exec(
            &bin.join(tool),
            &format!(
                "#!/bin/bash\nenv > {out}\nif [ -n \"$KUBECONFIG\" ]; then stat -c '%a' \"$KUBECONFIG\" \"$(dirname \"$KUBECONFIG\")\" > {out}.perms; cat \"$KUBECONFIG\" > {out}.kubeconfig; fi\n",
                out = d.join(format!("{tool}.env")).display()
            ),
        );
    }
    let ap = approver();
    let mint = d.join("mint").display().to_string();
    std::fs::write(
        d.join("config.yaml"),
        format!(
            r#"approval:
  tty: false
  webhook:
    url: http://127.0.0.1:{port}/approve
    secret_file: {secret}
    timeout: 10s
credentials:
  - name: aws-staging
    provider: {{command: ["{mint}", "aws"]}}
    env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN]
    ttl: 15m
    boundary: staging
    revoke: {{command: ["{mint}", "--revoke", "aws-staging"]}}
  - name: kube-staging
    provider: {{command: ["{mint}", "kube"]}}
    files: [{{env: KUBECONFIG, from: data.kubeconfig}}]
    boundary: staging
    revoke: {{command: ["{mint}", "--revoke", "kube-staging"]}}
  - name: broken
    provider: {{command: ["{mint}", "broken"]}}
    env: [NOTHING]
  - name: aws-short
    provider: {{command: ["{mint}", "aws"]}}
    env: [AWS_SECRET_ACCESS_KEY]
    ttl: 1s
    revoke: {{command: ["{mint}", "--revoke", "aws-short"]}}
boundaries:
  prod:
    aws_profiles: ["prod*"]
    kube_contexts: ["prod-*"]
    hosts: ["*.prod.example.com", "db-prod*"]
  staging:
    aws_profiles: ["staging*"]
    kube_contexts: ["staging-*"]
    hosts: ["*.staging.example.com"]
cross_boundary: deny
rules:
  - id: test.aws-staging
    description: AWS calls get the staging credentials
    match: {{program: [aws]}}
    action: review
    grants: [aws-staging]
    message: AWS call with staging credentials
  - id: test.kubectl-staging
    description: kubectl gets the staging kubeconfig
    match: {{program: [kubectl]}}
    action: review
    grants: [kube-staging]
    message: kubectl with the staging kubeconfig
  - id: test.broken
    description: a tool whose credential cannot be minted
    match: {{program: [vault-tool]}}
    action: allow
    grants: [broken]
    message: vault tool
  - id: test.short
    description: a tool whose credential lives one second
    match: {{program: [shorttool]}}
    action: allow
    grants: [aws-short]
    message: short-lived credential
"#,
            port = ap.port,
            secret = d.join("secret").display(),
        ),
    )
    .unwrap();
    std::fs::write(d.join("secret"), "s3cret\n").unwrap();
    std::fs::set_permissions(d.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Env {
        dir,
        path,
        _approver: ap,
    }
}

impl Env {
    fn d(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self) -> PathBuf {
        self.d().join("state")
    }

    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env("GUARD_CONFIG", self.d().join("config.yaml"))
            .env("GUARD_STATE_DIR", self.state())
            .env("PATH", &self.path)
            .env("AWS_ACCESS_KEY_ID", AGENT_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", AGENT_SECRET)
            .env("GITHUB_TOKEN", AGENT_TOKEN)
            .env("GUARD_BIN", common::bin())
            .env_remove("GUARD_SESSION")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .current_dir(self.d());
        common::detach(&mut c);
        c
    }

    fn guard(&self, session: Option<&str>, line: &str) -> Output {
        let mut c = self.command(&common::bin());
        c.args(["-c", line]);
        if let Some(s) = session {
            c.env("GUARD_SESSION", s);
        }
        c.output().unwrap()
    }

    fn admin(&self, args: &[&str]) -> Output {
        let mut c = self.command(&common::bin());
        c.args(args);
        c.output().unwrap()
    }

    fn start(&self, args: &[&str]) -> String {
        common::start_session(&self.d().join("config.yaml"), &self.state(), args)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.d().join("provider.log")).unwrap_or_default()
    }

    fn count(&self, what: &str) -> usize {
        self.log().lines().filter(|l| l.starts_with(what)).count()
    }

    fn tool_env(&self, tool: &str) -> String {
        std::fs::read_to_string(self.d().join(format!("{tool}.env"))).unwrap_or_default()
    }

    fn asked(&self) -> usize {
        self._approver
            .asked
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_explicit_session_is_recorded_joined_and_ended() {
    let t = setup();
    let id = t.start(&["--purpose", "rotate staging certs", "--boundary", "staging"]);
    assert!(id.starts_with("20"), "time-ordered id: {id}");
    let out = t.guard(Some(&id), "true");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = common::audit_records(&t.state());
    let last = records.last().unwrap();
    assert_eq!(last["session"], id.as_str());
    assert_eq!(last["purpose"], "rotate staging certs");
    assert_eq!(last["boundary"], "staging");

    let status = t.admin(&["session", "status", &id, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["state"], "live");
    assert_eq!(v["purpose"], "rotate staging certs");

    let end = t.admin(&["session", "end", &id]);
    assert_eq!(end.status.code(), Some(0), "{}", stderr(&end));
    // Ending twice is fine; joining an ended session is not.
    assert_eq!(t.admin(&["session", "end", &id]).status.code(), Some(0));
    let out = t.guard(Some(&id), "true");
    assert_eq!(out.status.code(), Some(126));
    assert!(stderr(&out).contains("has ended"), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

    let list = t.admin(&["session", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let mine = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap();
    assert_eq!(mine["state"], "ended");
    let events = common::audit_all(&t.state());
    assert!(events
        .iter()
        .any(|r| r["mode"] == "session-end" && r["session"] == id.as_str()));
}

#[test]
fn unknown_or_malformed_sessions_are_refused() {
    let t = setup();
    for (id, why) in [
        ("no-such-session", "does not exist"),
        ("../etc", "not a valid session id"),
    ] {
        let out = t.guard(Some(id), "true");
        assert_eq!(out.status.code(), Some(126), "{id}");
        assert!(stderr(&out).starts_with("guard: "), "{}", stderr(&out));
        assert!(stderr(&out).contains(why), "{id}: {}", stderr(&out));
    }
    let bad = t.admin(&["session", "start", "--purpose", "x", "--boundary", "qa"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("unknown boundary `qa`"),
        "{}",
        stderr(&bad)
    );
    let wide = t.admin(&[
        "session",
        "start",
        "--purpose",
        "x",
        "--boundary",
        "prod",
        "--grant",
        "aws-staging",
    ]);
    assert_eq!(wide.status.code(), Some(2));
    assert!(
        stderr(&wide).contains("belongs to boundary staging"),
        "{}",
        stderr(&wide)
    );
}

#[test]
fn a_harness_session_ends_when_the_harness_exits() {
    let t = setup();
    // `timeout` is the harness: guard's parent is sh, a shell, whose
    // parent is timeout.
    let mut h = t.command(Path::new("timeout"));
    h.args([
        "60",
        "sh",
        "-c",
        r#""$GUARD_BIN" -c true && "$GUARD_BIN" -c 'echo second'"#,
    ]);
    let child = h.spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let records = common::audit_records(&t.state());
    assert_eq!(records.len(), 2);
    let id = records[0]["session"].as_str().unwrap().to_string();
    assert!(
        id.starts_with(&format!("h-{pid}-")),
        "{id} is not bound to {pid}"
    );
    assert_eq!(records[1]["session"], id.as_str());

    // The harness is gone: the next guard start ends its session.
    assert_eq!(t.guard(None, "true").status.code(), Some(0));
    let ended = t.state().join("ended").join(format!("{id}.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(ended).unwrap()).unwrap();
    assert!(
        v["reason"].as_str().unwrap().contains("is gone"),
        "{}",
        v["reason"]
    );
    assert!(!t.state().join("sessions").join(&id).exists());
}

#[test]
fn a_reused_pid_does_not_join_an_old_session() {
    let t = setup();
    assert_eq!(t.guard(None, "true").status.code(), Some(0));
    let real = common::audit_records(&t.state())[0]["session"]
        .as_str()
        .unwrap()
        .to_string();
    let me = std::process::id();
    assert!(real.starts_with(&format!("h-{me}-")), "{real}");
    // The same pid with another start time: an earlier process that had
    // this pid. Its session must end, not be joined.
    let start: u64 = real.rsplit('-').next().unwrap().parse().unwrap();
    let stale = format!("h-{me}-{}", start - 1);
    let dir = t.state().join("sessions");
    let text = std::fs::read_to_string(dir.join(&real).join("session.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["id"] = stale.clone().into();
    v["owner"]["start"] = (start - 1).into();
    std::fs::create_dir(dir.join(&stale)).unwrap();
    std::fs::write(dir.join(&stale).join("session.json"), v.to_string()).unwrap();

    assert_eq!(t.guard(None, "true").status.code(), Some(0));
    let records = common::audit_records(&t.state());
    assert_eq!(records[1]["session"], real.as_str());
    assert!(!dir.join(&stale).exists(), "stale session survived");
    assert!(t
        .state()
        .join("ended")
        .join(format!("{stale}.json"))
        .exists());
    assert!(dir.join(&real).exists(), "live session was ended");
}

#[test]
fn credentials_reach_only_the_approved_command_and_are_revoked_once() {
    let t = setup();
    let id = t.start(&[
        "--purpose",
        "deploy staging",
        "--boundary",
        "staging",
        "--grant",
        "aws-staging",
        "--grant",
        "kube-staging",
    ]);
    let out = t.guard(Some(&id), "aws s3 ls");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let aws = t.tool_env("aws");
    assert!(
        aws.contains(&format!("AWS_SECRET_ACCESS_KEY={MINTED_SECRET}")),
        "{aws}"
    );
    assert!(
        aws.contains(&format!("AWS_SESSION_TOKEN={MINTED_TOKEN}")),
        "{aws}"
    );
    assert!(
        aws.contains("AWS_ACCESS_KEY_ID=ASIAMINTED00STAGING"),
        "{aws}"
    );
    assert!(aws.contains(&format!("GUARD_SESSION={id}")), "{aws}");
    // A second command reuses what was minted.
    assert_eq!(t.guard(Some(&id), "aws s3 ls").status.code(), Some(0));
    assert_eq!(t.count("issued aws"), 1, "{}", t.log());

    // Allowed commands in the same session get nothing: neither the
    // minted values nor the agent's own.
    let mut probes = vec!["env", "bash -c printenv", "sh -c 'env; echo done'"];
    if Command::new("python3").arg("-V").output().is_ok() {
        probes.push("python3 -c 'import os; print(dict(os.environ))'");
    }
    for line in probes {
        let out = t.guard(Some(&id), line);
        assert_eq!(out.status.code(), Some(0), "{line}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.contains("PATH"),
            "{line} printed no environment: {text}"
        );
        for secret in [
            MINTED_SECRET,
            MINTED_TOKEN,
            AGENT_SECRET,
            AGENT_KEY_ID,
            AGENT_TOKEN,
        ] {
            assert!(!text.contains(secret), "{line} saw {secret}");
        }
    }
    // The agent's own key never reaches even the approved command.
    assert!(!aws.contains(AGENT_SECRET) && !aws.contains(AGENT_KEY_ID));

    // The audit log names the credential, never its value.
    let records = common::audit_records(&t.state());
    assert_eq!(
        records[0]["credentials"],
        serde_json::json!(["aws-staging"])
    );
    assert_eq!(records[0]["approval"]["approver"], "ops-oncall");
    let log = std::fs::read_to_string(t.state().join("audit.jsonl")).unwrap();
    for secret in [MINTED_SECRET, MINTED_TOKEN, AGENT_SECRET, AGENT_TOKEN] {
        assert!(!log.contains(secret), "audit log holds {secret}");
    }

    let end = t.admin(&["session", "end", &id]);
    assert_eq!(end.status.code(), Some(0), "{}", stderr(&end));
    assert!(
        stdout(&end).contains("aws-staging (revoked)"),
        "{}",
        stdout(&end)
    );
    assert_eq!(t.count("revoked aws-staging"), 1, "{}", t.log());
    // The revoke helper got exactly what was issued.
    let line = t
        .log()
        .lines()
        .find(|l| l.starts_with("revoked"))
        .unwrap()
        .to_string();
    let json: serde_json::Value =
        serde_json::from_str(line.trim_start_matches("revoked aws-staging ")).unwrap();
    assert_eq!(json["values"]["AWS_SECRET_ACCESS_KEY"], MINTED_SECRET);
    assert_eq!(json["session"], id.as_str());
    // Teardown is idempotent.
    t.admin(&["session", "end", &id]);
    t.admin(&["session", "reap"]);
    assert_eq!(t.guard(None, "true").status.code(), Some(0));
    assert_eq!(t.count("revoked aws-staging"), 1, "{}", t.log());
    // Session and credential events sit in the same unbroken chain.
    let verify = t.admin(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    let events: Vec<String> = common::audit_all(&t.state())
        .iter()
        .filter(|r| r["kind"] == "event")
        .map(|r| r["mode"].as_str().unwrap().to_string())
        .collect();
    for e in ["session-start", "credential-issued", "session-end"] {
        assert!(events.iter().any(|m| m == e), "no {e} event: {events:?}");
    }
}

#[test]
fn materialised_files_are_private_and_gone_after_teardown() {
    let t = setup();
    let id = t.start(&[
        "--purpose",
        "inspect staging pods",
        "--boundary",
        "staging",
        "--grant",
        "kube-staging",
    ]);
    let out = t.guard(Some(&id), "kubectl --context staging-eu get pods");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let env = t.tool_env("kubectl");
    let path = env
        .lines()
        .find_map(|l| l.strip_prefix("KUBECONFIG="))
        .expect("KUBECONFIG injected")
        .to_string();
    let perms = std::fs::read_to_string(t.d().join("kubectl.env.perms")).unwrap();
    assert_eq!(perms.split_whitespace().collect::<Vec<_>>(), ["600", "700"]);
    let content = std::fs::read_to_string(t.d().join("kubectl.env.kubeconfig")).unwrap();
    assert_eq!(content, KUBECONFIG_TEXT);
    assert!(Path::new(&path).exists());
    assert!(path.starts_with(t.state().join("sessions").join(&id).to_str().unwrap()));

    assert_eq!(t.admin(&["session", "end", &id]).status.code(), Some(0));
    assert!(!Path::new(&path).exists(), "{path} survived teardown");
    assert!(!Path::new(&path).parent().unwrap().exists());
    assert_eq!(t.count("revoked kube-staging"), 1, "{}", t.log());
}

#[test]
fn killing_the_harness_revokes_at_the_next_start() {
    let t = setup();
    // A harness that runs one approved aws command and then hangs, as a
    // crashed agent would.
    let mut h = t.command(Path::new("timeout"));
    h.args([
        "120",
        "sh",
        "-c",
        r#""$GUARD_BIN" -c 'aws sts get-caller-identity'; exec sleep 120"#,
    ]);
    // `command` starts it with setsid: it leads its own process group.
    let mut child = h.spawn().unwrap();
    wait_for("the approved aws to run", || {
        t.count("issued aws") == 1 && !t.tool_env("aws").is_empty()
    });
    // The harness session had no grants: the widening went to the approver.
    assert_eq!(t.asked(), 1);
    assert_eq!(t.count("revoked"), 0);
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    // Anything guard starts reaps the dead harness's session.
    assert_eq!(t.guard(None, "true").status.code(), Some(0));
    assert_eq!(t.count("revoked aws-staging"), 1, "{}", t.log());
    assert_eq!(t.guard(None, "true").status.code(), Some(0));
    assert_eq!(t.count("revoked aws-staging"), 1, "{}", t.log());
}

/// Cross-boundary table: (line, expected exit, text on stderr).
const CROSSINGS: &[(&str, i32, &str)] = &[
    (
        "kubectl --context prod-eu get pods",
        126,
        "session is scoped to staging; this command targets prod (kube context prod-eu)",
    ),
    (
        "AWS_PROFILE=prod aws s3 ls",
        126,
        "session is scoped to staging; this command targets prod (aws profile prod)",
    ),
    (
        "aws --profile prod-admin s3 ls",
        126,
        "targets prod (aws profile prod-admin)",
    ),
    (
        "env AWS_PROFILE=prod aws s3 ls",
        126,
        "targets prod (aws profile prod)",
    ),
    (
        "sudo -n kubectl --context=prod-us get ns",
        126,
        "targets prod (kube context prod-us)",
    ),
    (
        "psql -h db-prod1 -c 'select 1'",
        126,
        "targets prod (host db-prod1)",
    ),
    (
        "curl -s https://api.prod.example.com/v1/health",
        126,
        "targets prod (host api.prod.example.com)",
    ),
    (
        "ssh deploy@bastion.prod.example.com uptime",
        126,
        "targets prod (host bastion.prod.example.com)",
    ),
    (
        "export AWS_PROFILE=prod; aws s3 ls",
        126,
        "targets prod (aws profile prod)",
    ),
    // Staging targets go by the rules: reviewed, and the approver allows.
    ("kubectl --context staging-eu get pods", 0, ""),
    ("aws --profile staging s3 ls", 0, ""),
    // Reading a file that names prod is not using prod.
    ("grep -r db-prod1 .", 0, ""),
    ("echo https://api.prod.example.com", 0, ""),
];

#[test]
fn a_staging_session_cannot_cross_into_prod() {
    let t = setup();
    let id = t.start(&[
        "--purpose",
        "staging only",
        "--boundary",
        "staging",
        "--grant",
        "aws-staging",
        "--grant",
        "kube-staging",
    ]);
    for (line, code, text) in CROSSINGS {
        let asked = t.asked();
        let out = t.guard(Some(&id), line);
        assert_eq!(out.status.code(), Some(*code), "{line}: {}", stderr(&out));
        if *code == 126 {
            let err = stderr(&out);
            assert!(err.contains(text), "{line}: {err}");
            assert_eq!(err.lines().count(), 1, "{line}: {err}");
            assert_eq!(t.asked(), asked, "{line}: a crossing is denied, not asked");
        }
    }
    let records = common::audit_records(&t.state());
    assert!(records
        .iter()
        .any(|r| r["rule"] == "guard.boundary" && r["decision"] == "deny"));
}

#[test]
fn a_session_without_a_boundary_shows_the_target_to_the_approver() {
    let t = setup();
    let id = t.start(&["--purpose", "any", "--grant", "aws-staging"]);
    // No boundary: the crossing rule does not apply; the rules do, and
    // the approver is told which boundary the command targets.
    let out = t.guard(Some(&id), "aws --profile prod s3 ls");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bodies = t._approver.bodies.lock().unwrap().clone();
    let body = bodies.last().expect("the approver was asked");
    assert_eq!(
        body["targets"],
        serde_json::json!([{"boundary": "prod", "signal": "aws profile prod"}])
    );
    assert_eq!(body["session"]["id"], id.as_str());
    assert_eq!(body["session"]["purpose"], "any");
    assert_eq!(body["session"]["boundary"], serde_json::Value::Null);
    assert_eq!(body["grants"], serde_json::json!(["aws-staging"]));
    // Never a credential value in what the approver sees.
    let text = body.to_string();
    assert!(!text.contains(MINTED_SECRET) && !text.contains(AGENT_SECRET));
}

#[test]
fn an_env_file_provider_must_be_private() {
    let t = setup();
    let file = t.d().join("creds.env");
    std::fs::write(&file, "DB_PASSWORD=from-env-file-9d1\n").unwrap();
    let config = t.d().join("config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = text.replace(
        "boundaries:\n",
        &format!(
            "  - name: db\n    provider: {{env_file: {}}}\n    env: [DB_PASSWORD]\n\
             boundaries:\n",
            file.display()
        ),
    );
    text.push_str(
        "  - id: test.db\n    description: db tool\n    match: {program: [dbtool]}\n    action: allow\n    grants: [db]\n    message: db tool\n",
    );
    std::fs::write(&config, text).unwrap();
    write_exec(
        &t.d().join("bin/dbtool"),
        &format!(
            "#!/bin/bash\necho \"$DB_PASSWORD\" > {}\n",
            t.d().join("db.out").display()
        ),
    );
    let id = t.start(&["--purpose", "db", "--grant", "db"]);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = t.guard(Some(&id), "dbtool");
    assert_eq!(out.status.code(), Some(126));
    assert!(stderr(&out).contains("it must be 0600"), "{}", stderr(&out));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = t.guard(Some(&id), "dbtool");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(t.d().join("db.out")).unwrap(),
        "from-env-file-9d1\n"
    );
}

#[test]
fn widening_a_session_needs_review_and_a_failing_provider_denies() {
    let t = setup();
    let id = t.start(&["--purpose", "no grants", "--boundary", "staging"]);
    let asked = t.asked();
    let out = t.guard(Some(&id), "aws s3 ls");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(t.asked(), asked + 1, "a widening must be reviewed");
    let records = common::audit_records(&t.state());
    let hits: Vec<&str> = records[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    assert!(hits.contains(&"guard.grant"), "{hits:?}");

    let out = t.guard(Some(&id), "vault-tool read");
    assert_eq!(out.status.code(), Some(126));
    let err = stderr(&out);
    assert!(
        err.starts_with("guard: denied: credential `broken`"),
        "{err}"
    );
    assert!(err.contains("the vault is sealed"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Granted variables reach the whole line: a line that also runs
/// something other than the granting command and plain filters is shown
/// to a human. (line, reviewed for exposure)
const EXPOSURE: &[(&str, bool)] = &[
    ("aws s3 ls | grep logs", false),
    ("aws s3 ls | head -5 | sort -u", false),
    ("aws s3 ls > listing.txt", false),
    ("bash -c 'aws s3 ls'", false),
    ("aws s3 ls | xargs -n1 echo", false),
    ("aws s3 ls; env", true),
    ("aws s3 ls && python3 -c 'print(1)'", true),
    ("aws s3 ls | cat /proc/self/environ", true),
    (
        "aws s3 ls | awk '{print ENVIRON[\"AWS_SECRET_ACCESS_KEY\"]}'",
        true,
    ),
    ("aws s3 ls; printenv AWS_SECRET_ACCESS_KEY", true),
    // Found in review: a filter with an env function, a launcher exempted
    // by name, a launcher that starts something else.
    ("aws s3 ls | jq -n env", true),
    ("aws s3 ls | yq -n env", true),
    ("aws s3 ls | sort --compress-program=sh", true),
    ("env X=1 aws s3 ls; env", true),
    ("bash -c 'aws s3 ls'; bash x.sh", true),
    ("sudo -n aws s3 ls; sudo -n env", true),
    ("env X=1 aws s3 ls | head", false),
    ("sudo -n aws s3 ls | grep x", false),
    // Found in the second review: a filter that is not the system's, a
    // launcher that runs start-up files or traces, `sort --co`.
    ("aws s3 ls | ./evil/grep x", true),
    ("aws s3 ls | PATH=/tmp/evil:$PATH grep x", true),
    ("aws s3 ls | LD_PRELOAD=/tmp/x.so cat", true),
    ("bash -lc 'aws s3 ls'", true),
    ("bash --rcfile x.sh -ic 'aws s3 ls'", true),
    ("sudo -i aws s3 ls", true),
    ("strace -f aws s3 ls", true),
    ("aws s3 ls; sort -S 64K --co=sh big.txt", true),
    ("aws s3 ls | sort -u", false),
];

#[test]
fn credentials_shared_with_other_commands_of_a_line_are_reviewed() {
    let t = setup();
    let id = t.start(&["--purpose", "exposure", "--grant", "aws-staging"]);
    for (line, exposed) in EXPOSURE {
        let out = t.guard(Some(&id), line);
        assert_ne!(out.status.code(), Some(126), "{line}: {}", stderr(&out));
        let records = common::audit_records(&t.state());
        let last = records.last().unwrap();
        assert_eq!(last["line"], *line);
        let hit = last["matches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["rule"] == "guard.grant-exposure");
        assert_eq!(hit, *exposed, "{line}: {}", last["matches"]);
    }
}

#[test]
fn a_prod_kubeconfig_is_caught_when_used_not_when_read() {
    let t = setup();
    let home = t.d().join("home");
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    std::fs::write(
        home.join(".kube/config"),
        "apiVersion: v1\nkind: Config\ncurrent-context: prod-eu\ncontexts: []\n",
    )
    .unwrap();
    std::fs::write(
        t.d().join("handover.yaml"),
        "apiVersion: v1\nkind: Config\ncurrent-context: prod-us\ncontexts:\n- name: prod-us\n  context: {cluster: c-77, user: u-77}\n- name: staging-x\n  context: {cluster: c-77, user: u-77}\n",
    )
    .unwrap();
    let id = t.start(&[
        "--purpose",
        "staging pods",
        "--boundary",
        "staging",
        "--grant",
        "kube-staging",
    ]);
    let run = |line: &str| {
        let mut c = t.command(&common::bin());
        c.args(["-c", line])
            .env("GUARD_SESSION", &id)
            .env("HOME", &home);
        c.output().unwrap()
    };
    // Reading the file that names prod is fine.
    assert_eq!(run("cat handover.yaml").status.code(), Some(0));
    for (line, context) in [
        ("kubectl get pods", "prod-eu"),
        ("kubectl --kubeconfig handover.yaml get pods", "prod-us"),
        ("KUBECONFIG=handover.yaml kubectl get pods", "prod-us"),
        // Found in review: --cluster/--user instead of --context.
        (
            "kubectl --kubeconfig handover.yaml --cluster c-77 --user u-77 get pods",
            "prod-us",
        ),
        ("kubectl --cluster prod-east get pods", "prod-east"),
        // A context renamed into staging still points at prod's cluster.
        (
            "kubectl --kubeconfig handover.yaml --context staging-x get pods",
            "prod-us",
        ),
    ] {
        let out = run(line);
        assert_eq!(out.status.code(), Some(126), "{line}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("targets prod (kube context {context})")),
            "{line}: {err}"
        );
    }
    // An explicit staging context is what counts when given.
    let out = run("kubectl --context staging-eu get pods");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_session_ended_during_approval_gets_nothing_minted() {
    let t = setup();
    let id = t.start(&["--purpose", "race", "--grant", "aws-staging"]);
    t._approver
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let mut c = t.command(&common::bin());
    c.args(["-c", "aws s3 ls"])
        .env("GUARD_SESSION", &id)
        .stderr(Stdio::piped());
    let pending = c.spawn().unwrap();
    wait_for("the approval request", || t.asked() == 1);
    let end = t.admin(&["session", "end", &id]);
    assert_eq!(end.status.code(), Some(0), "{}", stderr(&end));
    let out = pending.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    let err = stderr(&out);
    assert!(err.contains("ended before it could be issued"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(t.count("issued"), 0, "{}", t.log());
    assert!(t.tool_env("aws").is_empty(), "aws ran");
    // Nothing was left behind for a reaper to miss.
    assert!(!t.state().join("sessions").join(&id).exists());
}

#[test]
fn interactive_credentials_do_not_outlive_their_line() {
    use expectrl::Expect;
    let t = setup();
    let config = t.d().join("config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    // Allowed and granted without review, so the pty sees no card.
    text.push_str(
        "  - id: test.deploy\n    description: deploy tool\n    match: {program: [deploytool]}\n    action: allow\n    grants: [aws-staging]\n    message: deploy\n",
    );
    std::fs::write(&config, text).unwrap();
    write_exec(
        &t.d().join("bin/deploytool"),
        "#!/bin/bash\necho \"deploy-saw-${#AWS_SECRET_ACCESS_KEY}\"\n",
    );
    let id = t.start(&["--purpose", "interactive", "--grant", "aws-staging"]);
    let mut c = Command::new(common::bin());
    c.env("GUARD_CONFIG", &config)
        .env("GUARD_STATE_DIR", t.state())
        .env("GUARD_SESSION", &id)
        .env("PATH", &t.path)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("AWS_SECRET_ACCESS_KEY", AGENT_SECRET)
        .current_dir(t.d());
    let mut s = expectrl::Session::spawn(c).expect("spawn guard on a pty");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s.expect(" $ ").unwrap();
    s.send_line("deploytool").unwrap();
    s.expect(format!("deploy-saw-{}", MINTED_SECRET.len()).as_str())
        .unwrap();
    // The next line, and anything saved between lines, has none of it.
    s.send_line("env > second-line.env; echo end-$((6*7))")
        .unwrap();
    s.expect("end-42").unwrap();
    let snapshot = t.state().join("sessions").join(&id).join("snapshot.sh");
    let saved = std::fs::read_to_string(&snapshot).unwrap();
    s.send_line("exit").unwrap();
    s.expect(expectrl::Eof).unwrap();
    let second = std::fs::read_to_string(t.d().join("second-line.env")).unwrap();
    assert!(second.contains("PATH="), "{second}");
    for (what, text) in [("the next line", &second), ("the snapshot", &saved)] {
        assert!(!text.contains(MINTED_SECRET), "{what} holds the credential");
        assert!(!text.contains(MINTED_TOKEN), "{what} holds the credential");
        assert!(
            !text.contains(AGENT_SECRET),
            "{what} holds the agent's secret"
        );
    }
    let records = common::audit_records(&t.state());
    assert_eq!(
        records[0]["credentials"],
        serde_json::json!(["aws-staging"])
    );
    assert_eq!(records[1]["credentials"], serde_json::json!([]));
    // An interactive shell that joined a session leaves it running.
    assert!(t
        .state()
        .join("sessions")
        .join(&id)
        .join("session.json")
        .exists());
}

#[test]
fn a_session_past_its_ttl_is_ended_and_refused() {
    let t = setup();
    let id = t.start(&["--purpose", "brief", "--ttl", "1s"]);
    assert_eq!(t.guard(Some(&id), "true").status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(1300));
    let out = t.guard(Some(&id), "true");
    assert_eq!(out.status.code(), Some(126));
    let err = stderr(&out);
    assert!(err.contains("has ended (expired)"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let ended = t.state().join("ended").join(format!("{id}.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(ended).unwrap()).unwrap();
    assert_eq!(v["reason"], "expired");
}

#[test]
fn an_expired_credential_is_revoked_and_minted_afresh() {
    let t = setup();
    write_exec(
        &t.d().join("bin/shorttool"),
        &format!(
            "#!/bin/bash\necho \"$AWS_SECRET_ACCESS_KEY\" >> {}\n",
            t.d().join("short.out").display()
        ),
    );
    let id = t.start(&["--purpose", "short", "--grant", "aws-short"]);
    assert_eq!(t.guard(Some(&id), "shorttool").status.code(), Some(0));
    assert_eq!(t.guard(Some(&id), "shorttool").status.code(), Some(0));
    // Within its TTL: minted once, reused.
    assert_eq!(t.count("issued aws"), 1, "{}", t.log());
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(t.guard(Some(&id), "shorttool").status.code(), Some(0));
    assert_eq!(t.count("issued aws"), 2, "{}", t.log());
    assert_eq!(t.count("revoked aws-short"), 1, "{}", t.log());
    let seen = std::fs::read_to_string(t.d().join("short.out")).unwrap();
    assert_eq!(seen.lines().collect::<Vec<_>>(), [MINTED_SECRET; 3]);
    assert_eq!(t.admin(&["session", "end", &id]).status.code(), Some(0));
    assert_eq!(t.count("revoked aws-short"), 2, "{}", t.log());
    let events: Vec<String> = common::audit_all(&t.state())
        .iter()
        .map(|r| r["mode"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        events.iter().any(|m| m == "credential-expired"),
        "{events:?}"
    );
}
