//! `guard approver serve` end to end: a guard process asks over HTTP on
//! 127.0.0.1; the test answers on the approver's own pseudo-terminal.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use expectrl::{Expect, Regex};

struct Setup {
    dir: tempfile::TempDir,
    port: u16,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let aws = bin.join("aws");
    let marker = dir.path().join("aws-ran");
    std::fs::write(
        &aws,
        format!("#!/bin/sh\necho ran > '{}'\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "approver-test-secret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = common::free_port();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "approval:\n  tty: false\n  webhook:\n    url: http://127.0.0.1:{port}/approve\n    secret_file: {}\n    timeout: 30s\n",
            secret.display()
        ),
    )
    .unwrap();
    Setup { dir, port }
}

impl Setup {
    fn approver(&self) -> expectrl::session::OsSession {
        let mut c = Command::new(common::bin());
        c.args([
            "approver",
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", self.port),
            "--name",
            "ops-oncall",
        ])
        .arg("--secret-file")
        .arg(self.dir.path().join("secret"));
        let mut s = expectrl::Session::spawn(c).expect("spawn approver on a pty");
        s.set_expect_timeout(Some(Duration::from_secs(20)));
        s.expect("listening").unwrap();
        s
    }

    /// guard, detached from any terminal, in a thread.
    fn ask(&self, line: &str) -> std::thread::JoinHandle<std::process::Output> {
        let mut c = Command::new(common::bin());
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        c.args(["-c", line])
            .env("GUARD_CONFIG", self.dir.path().join("config.yaml"))
            .env("GUARD_STATE_DIR", self.dir.path().join("state"))
            .env("PATH", path)
            .stdin(Stdio::null());
        common::detach(&mut c);
        std::thread::spawn(move || c.output().unwrap())
    }

    fn ran(&self) -> bool {
        self.dir.path().join("aws-ran").exists()
    }
}

#[test]
fn y_on_the_approvers_terminal_lets_the_command_run() {
    let t = setup();
    let mut approver = t.approver();
    let guard = t.ask("aws s3 ls");
    approver.expect("$ aws s3 ls").unwrap();
    approver.expect("cloud.aws").unwrap();
    approver.expect(Regex("allow\\? \\[y/n\\]")).unwrap();
    approver.send_line("y").unwrap();
    let out = guard.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.ran());
    let audit = std::fs::read_to_string(t.dir.path().join("state/audit.jsonl")).unwrap();
    let record: serde_json::Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(record["approval"]["channel"], "webhook");
    assert_eq!(record["approval"]["approver"], "ops-oncall");
}

#[test]
fn n_with_a_reason_refuses() {
    let t = setup();
    let mut approver = t.approver();
    let guard = t.ask("aws s3 ls");
    approver.expect(Regex("allow\\? \\[y/n\\]")).unwrap();
    approver.send_line("n not during the freeze").unwrap();
    let out = guard.join().unwrap();
    assert_eq!(out.status.code(), Some(126));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "guard: denied by ops-oncall: not during the freeze\n"
    );
    assert!(!t.ran());
}

#[test]
fn a_bad_signature_gets_401() {
    let t = setup();
    let _approver = t.approver();
    let body = r#"{"id":"abc"}"#;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{}/approve", t.port))
        .header("X-Guard-Signature", "sha256=00")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
