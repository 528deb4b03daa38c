//! `scope: command` credentials: minted for each command from its
//! context (on the provider's stdin), never cached in the session,
//! revoked when the command ends; a failed mint refuses the command.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("bin")).unwrap();
        // The provider: logs the context it got, mints a numbered key,
        // and refuses one bucket (a scoped mint that fails).
        write_exec(
            &d.join("mint"),
            &format!(
                r#"#!/bin/bash
log={d}
if [ "$1" = --revoke ]; then echo "revoked $(cat | tr -d '\n')" >> "$log/revoked.log"; exit 0; fi
n=$(( $(ls "$log"/ctx-*.json 2>/dev/null | wc -l) + 1 ))
cat > "$log/ctx-$n.json"
if grep -q s3://forbidden "$log/ctx-$n.json"; then echo "mint: no policy for that bucket" >&2; exit 4; fi
echo "AWS_SECRET_ACCESS_KEY=minted-$n"
"#,
                d = d.display()
            ),
        );
        write_exec(
            &d.join("bin/aws"),
            &format!(
                "#!/bin/bash\necho \"$AWS_SECRET_ACCESS_KEY $*\" >> {}/aws.log\n",
                d.display()
            ),
        );
        // An approver that says yes, so the shipped review of `aws` is
        // answered and the grant is what is tested.
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        std::thread::spawn(move || {
            for mut req in server.incoming_requests() {
                let mut body = Vec::new();
                let _ = req.as_reader().read_to_end(&mut body);
                let answer = common::answer_for(&body, r#"{"decision":"allow","approver":"ann"}"#);
                let _ = req.respond(common::signed_response(b"s3cret", 200, &answer));
            }
        });
        std::fs::write(d.join("secret"), "s3cret\n").unwrap();
        std::fs::set_permissions(d.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let mint = d.join("mint").display().to_string();
        std::fs::write(
            d.join("config.yaml"),
            format!(
                r#"approval:
  tty: false
  webhook:
    url: http://127.0.0.1:{port}/
    secret_file: {secret}
    timeout: 10s
credentials:
  - name: aws-cmd
    provider: {{command: ["{mint}"]}}
    env: [AWS_SECRET_ACCESS_KEY]
    scope: command
    revoke: {{command: ["{mint}", "--revoke"]}}
rules:
  - id: test.aws-cmd
    description: AWS calls get a credential minted for the one command
    match: {{program: [aws]}}
    action: allow
    grants: [aws-cmd]
    message: AWS call with a per-command credential
"#,
                secret = d.join("secret").display()
            ),
        )
        .unwrap();
        Env { dir }
    }

    fn d(&self) -> &Path {
        self.dir.path()
    }

    fn guard(&self, session: &str, line: &str) -> std::process::Output {
        let mut c = Command::new(common::bin());
        c.args(["-c", line])
            .env("GUARD_CONFIG", self.d().join("config.yaml"))
            .env("GUARD_STATE_DIR", self.d().join("state"))
            .env("GUARD_SESSION", session)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.d().join("bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::null());
        common::detach(&mut c);
        c.output().unwrap()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.d().join(name)).unwrap_or_default()
    }

    fn context(&self, n: usize) -> serde_json::Value {
        serde_json::from_str(&self.read(&format!("ctx-{n}.json"))).unwrap()
    }

    fn revoked(&self, n: usize) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let lines: Vec<String> = self
                .read("revoked.log")
                .lines()
                .map(str::to_string)
                .collect();
            if lines.len() >= n || Instant::now() > until {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every issue record the session's state holds.
    fn cached(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self.d().join("state")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p
                    .parent()
                    .and_then(|x| x.file_name())
                    .is_some_and(|n| n == "creds")
                    && p.extension().is_some_and(|x| x == "json")
                {
                    out.push(p.display().to_string());
                }
            }
        }
        out
    }
}

#[test]
fn each_command_gets_its_own_credential_and_loses_it_when_it_ends() {
    let env = Env::new();
    let session = common::start_session(
        &env.d().join("config.yaml"),
        &env.d().join("state"),
        &["--purpose", "publish the nightly report"],
    );
    let first = env.guard(
        &session,
        "aws --profile reports s3 ls s3://nightly-reports/2026",
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // The provider was told what the command is and what it targets.
    let ctx = env.context(1);
    assert_eq!(ctx["credential"], "aws-cmd");
    assert_eq!(ctx["scope"], "command");
    assert_eq!(ctx["program"], "aws");
    assert_eq!(ctx["subcommand"], "s3 ls");
    assert_eq!(
        ctx["argv"],
        serde_json::json!([
            "aws",
            "--profile",
            "reports",
            "s3",
            "ls",
            "s3://nightly-reports/2026"
        ])
    );
    assert_eq!(ctx["targets"]["bucket"], "nightly-reports");
    assert_eq!(ctx["targets"]["profile"], "reports");
    assert_eq!(ctx["aws"]["actions"], serde_json::json!(["s3:ListBucket"]));
    assert_eq!(
        ctx["aws"]["resources"],
        serde_json::json!(["arn:aws:s3:::nightly-reports"])
    );
    assert_eq!(ctx["session"]["id"], session.as_str());
    assert_eq!(ctx["session"]["purpose"], "publish the nightly report");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schemas/credential-context.schema.json"))
            .unwrap(),
    )
    .unwrap();
    for key in schema["required"].as_array().unwrap() {
        assert!(
            ctx.get(key.as_str().unwrap()).is_some(),
            "context lacks {key}: {ctx}"
        );
    }
    // A second command mints a second credential, with its own context.
    let second = env.guard(
        &session,
        "kubectl version >/dev/null 2>&1; aws s3 cp s3://drop/x.csv .",
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(env.context(2)["targets"]["bucket"], "drop");
    assert_eq!(
        env.read("aws.log").lines().collect::<Vec<_>>(),
        [
            "minted-1 --profile reports s3 ls s3://nightly-reports/2026",
            "minted-2 s3 cp s3://drop/x.csv ."
        ]
    );
    // Both are revoked once their commands end, each once.
    let revoked = env.revoked(2);
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert!(
        revoked[0].contains("minted-1") && revoked[1].contains("minted-2"),
        "{revoked:?}"
    );
    // And nothing was kept for the session.
    let until = Instant::now() + Duration::from_secs(5);
    while !env.cached().is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(env.cached(), Vec::<String>::new());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(env.revoked(2).len(), 2, "revoked twice");
}

#[test]
fn a_failed_scoped_mint_refuses_the_command() {
    let env = Env::new();
    let session = common::start_session(
        &env.d().join("config.yaml"),
        &env.d().join("state"),
        &["--purpose", "t"],
    );
    let out = env.guard(&session, "aws s3 ls s3://forbidden");
    assert_eq!(out.status.code(), Some(126));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("guard: denied: credential `aws-cmd`")
            && err.contains("no policy for that bucket"),
        "{err}"
    );
    assert_eq!(env.read("aws.log"), "", "ran with a broader credential");
}

/// A hook has no command to revoke after: a per-command credential is
/// refused there, never minted for good.
#[test]
fn scope_command_needs_a_command_provider() {
    let env = Env::new();
    std::fs::write(
        env.d().join("bad.yaml"),
        "credentials:\n  - name: x\n    provider: {static: {A: b}}\n    env: [A]\n    scope: command\n    revoke: {command: [/bin/true]}\n",
    )
    .unwrap();
    let out = Command::new(common::bin())
        .args(["rules", "lint"])
        .arg(env.d().join("bad.yaml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("scope: command needs a command provider"),
        "{err}"
    );
}
