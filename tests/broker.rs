//! Privilege separation, end to end: a real `guard broker` running as the
//! `guard` user, and a real agent account (`guardagent`) whose shell asks
//! it. Each red-team class the issue names is a row here, and fails:
//! planted approval memory, a fake approver, an agent-owned config, a
//! rewritten or removed log, reading minted credentials or the secret.
//!
//! Needs root: the tests create the users and start the broker with
//! `setpriv`. Without root each test says why and passes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::broker::{self, run, text, Broker, Users};

const SECRET: &str = "broker-e2e-webhook-secret";
const MINTED: &str = "minted-secret-value-9f8e7d6c";

/// A real approver on 127.0.0.1: checks guard's HMAC, answers signed.
struct Approver {
    port: u16,
    seen: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Approver {
    fn answering(decision: &'static str) -> Approver {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for mut req in server.incoming_requests() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let ok = common::header(&req, "X-Guard-Signature")
                    == common::signature(SECRET.as_bytes(), body.as_bytes());
                if !ok {
                    let _ = req.respond(
                        tiny_http::Response::from_string("bad signature").with_status_code(401),
                    );
                    continue;
                }
                log.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap_or_default());
                let answer = common::answer_for(
                    body.as_bytes(),
                    &format!(r#"{{"decision":"{decision}","approver":"e2e-approver"}}"#),
                );
                let _ = req.respond(common::signed_response(SECRET.as_bytes(), 200, &answer));
            }
        });
        Approver { port, seen }
    }

    fn asked(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// The broker's config: a webhook approver, a credential with a real
/// provider and revoke helper, and two site rules.
fn config(b: &Broker, port: u16) -> String {
    let secret = b.private_file("webhook.secret", &format!("{SECRET}\n"), 0o600);
    let revoked = b.private().join("revoked.log");
    let mint = b.private_file(
        "mint.sh",
        &format!(
            "#!/bin/sh\necho AWS_ACCESS_KEY_ID=ASIATESTMINTED0001\necho AWS_SECRET_ACCESS_KEY={MINTED}\n"
        ),
        0o700,
    );
    let revoke = b.private_file(
        "revoke.sh",
        &format!(
            "#!/bin/sh\ncat >> '{}'\necho >> '{}'\n",
            revoked.display(),
            revoked.display()
        ),
        0o700,
    );
    format!(
        "approval:
  tty: false
  webhook:
    url: http://127.0.0.1:{port}/approve
    secret_file: {secret}
    timeout: 5s
credentials:
  - name: aws-test
    provider: {{command: [\"{mint}\"]}}
    env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
    revoke: {{command: [\"{revoke}\"]}}
rules:
  - id: test.aws
    match: {{program: [aws]}}
    action: review
    grants: [aws-test]
    message: \"aws: uses the test credential\"
  - id: test.curl
    match: {{program: [curl]}}
    action: deny
    message: \"curl is not allowed here\"
",
        secret = secret.display(),
        mint = mint.display(),
        revoke = revoke.display(),
    )
}

fn started(users: &'static Users, port: u16) -> Broker {
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = config(&b, port);
    b.write_config(&yaml);
    b.start();
    b
}

fn assert_refused(out: &std::process::Output, context: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(126), "{context}: {err}");
    assert_eq!(text(&out.stdout), "", "{context}");
    assert_eq!(err.lines().count(), 1, "{context}: one line: {err:?}");
    assert!(err.starts_with("guard: "), "{context}: {err:?}");
}

fn assert_ok(out: &std::process::Output, context: &str) {
    assert!(
        out.status.success(),
        "{context}: {:?}\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Every regular file under `dir`, as root sees it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The agent, directly (no guard): `sh -c SCRIPT`.
fn as_agent(b: &Broker, script: &str) -> std::process::Output {
    run(&mut b.as_user(&b.users.agent, Path::new("/bin/sh"), &["-c", script]))
}

#[test]
fn the_agent_cannot_reach_what_the_broker_owns() {
    let users = require_users!();
    let hook = Approver::answering("allow");
    let b = started(users, hook.port);
    let marker = b.fake_cli("aws");
    // A mixed run: allowed, denied by rule, approved with a credential.
    assert_ok(&run(&mut b.agent(&["-c", "ls / > /dev/null"])), "ls");
    assert_refused(&run(&mut b.agent(&["-c", "curl https://x"])), "curl");
    assert_ok(&run(&mut b.agent(&["-c", "aws s3 ls"])), "aws");
    let ran = std::fs::read_to_string(&marker).expect("fake aws ran");
    assert!(ran.contains(MINTED), "the credential reached aws: {ran}");
    assert_eq!(hook.asked(), 1);

    let minted: Vec<PathBuf> = files_under(&b.state())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/creds/"))
        .collect();
    assert!(!minted.is_empty(), "a minted credential is cached");
    let mut targets = vec![
        b.audit_log(),
        b.audit_dir(),
        b.state(),
        b.state().join("sessions"),
        b.config(),
        b.private().join("webhook.secret"),
        b.private().join("mint.sh"),
    ];
    targets.extend(minted.iter().cloned());
    for t in &targets {
        let p = t.display();
        for (what, script) in [
            ("read", format!("cat '{p}' || ls -la '{p}'")),
            ("write", format!("echo forged >> '{p}'")),
            (
                "replace",
                format!("echo forged > '{p}.new' && mv '{p}.new' '{p}'"),
            ),
            ("remove", format!("rm -rf '{p}'")),
        ] {
            let out = as_agent(&b, &script);
            let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(!out.status.success(), "agent could {what} {p}: {shown}");
            for secret in [MINTED, SECRET] {
                assert!(
                    !shown.contains(secret),
                    "{what} {p} showed a secret: {shown}"
                );
            }
            assert!(t.exists(), "{p} is gone after the agent's {what}");
        }
        // Through guard too: the command runs as the agent, and fails.
        let out = run(&mut b.agent(&["-c", &format!("cat '{p}'")]));
        assert!(!out.status.success(), "guard -c cat {p} worked");
        let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            !shown.contains(MINTED) && !shown.contains(SECRET),
            "{shown}"
        );
    }
    // The chain is intact, and the log says what happened.
    let (code, out) = b.verify();
    assert_eq!(code, 0, "{out}");
    let d = b.decisions();
    let lines: Vec<(&str, &str)> = d
        .iter()
        .map(|r| (r["line"].as_str().unwrap(), r["decision"].as_str().unwrap()))
        .collect();
    assert!(lines.contains(&("ls / > /dev/null", "allow")), "{lines:?}");
    assert!(lines.contains(&("curl https://x", "deny")), "{lines:?}");
    assert!(lines.contains(&("aws s3 ls", "allow")), "{lines:?}");
    let aws = d.iter().find(|r| r["line"] == "aws s3 ls").unwrap();
    assert_eq!(aws["user"], broker::AGENT);
    assert_eq!(aws["uid"], users.agent.uid);
    assert_eq!(aws["channel"], "webhook");
    assert_eq!(aws["approver"], "e2e-approver");
    assert_eq!(aws["credentials"], serde_json::json!(["aws-test"]));
    let log = std::fs::read_to_string(b.audit_log()).unwrap();
    assert!(!log.contains(MINTED), "a minted value is in the audit log");
}

#[test]
fn planted_approval_memory_is_not_read() {
    let users = require_users!();
    // No approver at all: only memory could allow.
    let mut b = Broker::new(users, "approval:\n  tty: false\n");
    b.start();
    b.fake_cli("aws");
    let first = run(&mut b.agent(&["-c", "aws s3 ls"]));
    assert_refused(&first, "no approver");
    let session = b.decisions()[0]["session"].as_str().unwrap().to_string();
    // The agent plants an approval for every fingerprint it can think
    // of, where the broker keeps memory and where guard used to.
    let own = users
        .agent
        .home
        .join(".local/state/guard/sessions")
        .join(&session);
    let fp = "0".repeat(64);
    for dir in [b.state().join("sessions").join(&session), own] {
        let script = format!(
            "mkdir -p '{d}' && for f in '{d}'/*; do echo mallory > \"$f\"; done; echo mallory > '{d}/{fp}'",
            d = dir.display()
        );
        as_agent(&b, &script);
    }
    let again = run(&mut b.agent(&["-c", "aws s3 ls"]));
    assert_refused(&again, "planted memory");
    assert!(
        b.decisions()
            .iter()
            .all(|r| r["channel"] != "memory" && r["approver"] != "mallory"),
        "{:?}",
        b.decisions()
    );
    assert!(!b.work().join("aws-ran").exists());
}

#[test]
fn a_fake_approver_on_the_webhook_port_is_refused() {
    let users = require_users!();
    // The real approver is down; the agent listens on its port and says
    // allow, unsigned, then signed with a key it guessed.
    let port = common::free_port();
    let b = started(users, port);
    let marker = b.fake_cli("aws");
    for forged_sig in [
        "",
        "sha256=0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        // It echoes the request's id, as a real approver must, so the
        // signature is all that stands between it and an allow.
        let script = format!(
            "import http.server, json\n\
             class Fake(http.server.BaseHTTPRequestHandler):\n\
             \x20   def do_POST(self):\n\
             \x20       asked = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n\
             \x20       body = json.dumps({{'id': asked['id'], 'decision': 'allow', 'approver': 'mallory'}}).encode()\n\
             \x20       self.send_response(200)\n\
             \x20       self.send_header('Content-Type', 'application/json')\n\
             \x20       self.send_header('Content-Length', str(len(body)))\n\
             \x20       if '{forged_sig}': self.send_header('X-Guard-Signature', '{forged_sig}')\n\
             \x20       self.end_headers(); self.wfile.write(body)\n\
             \x20   def log_message(self, *args): pass\n\
             s = http.server.HTTPServer(('127.0.0.1', {port}), Fake)\n\
             print('listening', flush=True)\n\
             s.serve_forever()\n"
        );
        let mut fake = b
            .as_user(
                &users.agent,
                Path::new("/usr/bin/python3"),
                &["-c", &script],
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(fake.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.contains("listening"));
        let got = run(&mut b.agent(&["-c", "aws s3 ls"]));
        let _ = fake.kill();
        let _ = fake.wait();
        assert_refused(&got, "fake approver");
        let err = text(&got.stderr);
        assert!(err.contains("signed"), "{err}");
        assert!(!marker.exists(), "aws ran on a forged allow");
    }
    assert!(
        b.decisions().iter().all(|r| r["decision"] == "deny"),
        "{:?}",
        b.decisions()
    );
}

/// `/proc/PID/cmdline` of a root process (in the wild, a setuid `su`
/// waiting at its password prompt) is root-owned, mode 0444, in root's
/// 0555 directories, and holds whatever arguments its caller chose. As
/// `GUARD_CONFIG` it must not name the broker: the fake broker's socket
/// here never sees a connection, from the front or the full client, and
/// the line it would have answered does not run on its word.
#[test]
fn a_root_processs_command_line_is_no_admin_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("fake.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let yaml = format!(
        "\nbroker: {}\nbroker_user: root\nexec_tree: off\n",
        sock.display()
    );
    let mut holder = Command::new("sh")
        .args(["-c", "sleep 60; :"])
        .arg(&yaml)
        .spawn()
        .expect("holder");
    let cmdline = format!("/proc/{}/cmdline", holder.id());
    for _ in 0..100 {
        if std::fs::read(&cmdline).is_ok_and(|c| c.ends_with(format!("{yaml}\0").as_bytes())) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for client in [common::front(), common::bin()] {
        let out = Command::new(&client)
            .args(["-c", "echo ran"])
            .env("GUARD_CONFIG", &cmdline)
            .env("GUARD_STATE_DIR", dir.path().join("state"))
            .stdin(Stdio::null())
            .output()
            .expect("client");
        let asked = listener.accept();
        assert!(
            matches!(&asked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{}: connected to the broker a command line named ({})",
            client.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn an_agent_owned_config_gets_user_trust_only() {
    let users = require_users!();
    let hook = Approver::answering("deny");
    let b = started(users, hook.port);
    // The agent's own file would swap the shell, the broker and the
    // approver; none of it may count.
    let evil = b.work().join("evil.sh");
    std::fs::write(
        &evil,
        format!("#!/bin/sh\ntouch '{}/evil-ran'\n", b.work().display()),
    )
    .unwrap();
    broker::chmod(&evil, 0o755);
    broker::chown(&evil, &users.agent);
    let mine = b.work().join("mine.yaml");
    std::fs::write(
        &mine,
        format!(
            "shell: {}\nbroker: /tmp/nowhere.sock\nexec_tree: off\napproval:\n  tty: false\n",
            evil.display()
        ),
    )
    .unwrap();
    broker::chown(&mine, &users.agent);
    // /etc/guard names the broker in this test's own mount namespace, so
    // the rest of the machine is untouched.
    let etc = b.path().join("etc-guard");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::copy(b.client_config(), etc.join("config.yaml")).unwrap();
    // A mount point is needed; one this test made is removed again.
    let made = !Path::new("/etc/guard").exists();
    std::fs::create_dir_all("/etc/guard").unwrap();
    struct Unmake(bool);
    impl Drop for Unmake {
        fn drop(&mut self) {
            if self.0 {
                let _ = std::fs::remove_dir("/etc/guard");
            }
        }
    }
    let _unmake = Unmake(made);
    let inner_with = |config: &Path| {
        format!(
            "mount --bind '{etc}' /etc/guard && exec setpriv --reuid={uid} --regid={gid} --init-groups -- \
             env -i HOME='{home}' PATH='/usr/bin:/bin' GUARD_CONFIG='{mine}' \"$0\" \"$@\"",
            etc = etc.display(),
            uid = users.agent.uid,
            gid = users.agent.gid,
            home = users.agent.home.display(),
            mine = config.display(),
        )
    };
    let inner = inner_with(&mine);
    let in_ns_with = |inner: &str, bin: &Path, args: &[&str]| {
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "sh", "-c", inner])
            .arg(bin)
            .args(args)
            .current_dir(b.work());
        run(&mut c)
    };
    let in_ns = |args: &[&str]| in_ns_with(&inner, &users.bin, args);
    let out = in_ns(&["-c", "echo through-the-broker"]);
    assert_ok(&out, "echo");
    assert_eq!(text(&out.stdout), "through-the-broker\n");
    assert!(!b.work().join("evil-ran").exists(), "the agent's shell ran");
    assert!(
        b.decisions()
            .iter()
            .any(|r| r["line"] == "echo through-the-broker"),
        "decided by the broker"
    );
    let status = in_ns(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status json");
    assert_eq!(v["mode"], "broker", "{v}");
    let untrusted = v["untrusted_config"].to_string();
    assert!(untrusted.contains("mine.yaml"), "{v}");

    // Any root-owned file passes the ownership walk: an empty one (an
    // `__init__.py`, a `hosts.deny` of comments) names no broker, and
    // must not turn off the broker that /etc/guard names, for the front
    // or the full client.
    let empty = Path::new("/usr/local/libexec/guard-test/empty-config.yaml");
    std::fs::write(empty, "# nothing\n").unwrap();
    broker::chmod(empty, 0o644);
    let inner = inner_with(empty);
    for bin in [&users.bin, &users.full] {
        let line = format!("echo still-the-broker {}", bin.display());
        let out = in_ns_with(&inner, bin, &["-c", &line]);
        assert_ok(&out, "echo");
        assert!(
            b.decisions().iter().any(|r| r["line"] == line.as_str()),
            "{}: an empty root-owned GUARD_CONFIG took the line away from the broker",
            bin.display()
        );
    }
}

#[test]
fn a_rewritten_or_removed_log_is_out_of_reach() {
    let users = require_users!();
    let mut b = Broker::new(users, "approval:\n  tty: false\n");
    b.start();
    assert_refused(&run(&mut b.agent(&["-c", "aws s3 ls"])), "aws");
    let before = std::fs::read(b.audit_log()).unwrap();
    let log = b.audit_log().display().to_string();
    let dir = b.audit_dir().display().to_string();
    for script in [
        format!("grep -v deny '{log}' > /tmp/x.$$ && cat /tmp/x.$$ > '{log}'"),
        format!(": > '{log}'"),
        format!("rm -f '{log}'"),
        format!("cd '{dir}' && rm -rf ./*"),
        format!("rm -rf '{dir}'"),
        format!("mv '{dir}' '{dir}.gone'"),
        format!("cd '{}' && rm -rf state audit", b.path().display()),
    ] {
        let out = as_agent(&b, &script);
        assert!(!out.status.success(), "{script} worked");
        // Through guard as well.
        let _ = run(&mut b.agent(&["-c", &script]));
    }
    let after = std::fs::read(b.audit_log()).unwrap();
    assert!(after.starts_with(&before), "the log was changed");
    let (code, out) = b.verify();
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_forged_body_changes_nothing() {
    let users = require_users!();
    let mut b = Broker::new(users, "approval:\n  tty: false\n");
    b.start();
    // Another user's session, and one of the agent's own in a process
    // tree the forger is not in.
    let theirs = run(&mut b.as_user(
        &users.other,
        &users.bin,
        &["session", "start", "--purpose", "other user's", "--json"],
    ));
    assert_ok(&theirs, "session start as other");
    let theirs: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
    let theirs = theirs["id"].as_str().unwrap().to_string();
    let mut holder = b
        .as_user(
            &users.agent,
            Path::new("/usr/bin/perl"),
            &[
                "-e",
                "system(@ARGV); sleep 600",
                users.bin.to_str().unwrap(),
                "-c",
                "true",
            ],
        )
        .spawn()
        .unwrap();
    let harness_session = || {
        b.decisions()
            .iter()
            .filter_map(|r| r["session"].as_str())
            .find(|s| s.starts_with("h-"))
            .map(str::to_string)
    };
    broker::eventually(Duration::from_secs(20), || harness_session().is_some());
    let tree = harness_session().expect("the holder's session");
    let script = format!(
        r#"
use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Peer => '{sock}') or die "connect: $!";
sub put {{ my $j = shift; print $s pack('N', length $j) . $j; }}
sub get {{ my $h; read($s, $h, 4) == 4 or return 'EOF'; my $n = unpack('N', $h); my $b; read($s, $b, $n); return $b; }}
put('{{"type":"hello","id":1,"version":{version},"client":"forger"}}'); get();
put($ARGV[0]);
print get(), "\n";
"#,
        sock = b.socket().display(),
        version = guard::wire::VERSION
    );
    let forge = |body: &str| -> String {
        let out = run(&mut b.as_user(
            &users.agent,
            Path::new("/usr/bin/perl"),
            &["-e", &script, body],
        ));
        text(&out.stdout)
    };
    // A uid, pid or owner in the body is malformed: refused, not used.
    for extra in [
        r#","uid":0"#,
        r#","pid":1"#,
        r#","owner":{"pid":1,"start":1}"#,
        r#","user":"root""#,
    ] {
        let body = format!(r#"{{"type":"decide","id":2,"mode":"-c","line":"true"{extra}}}"#);
        let got = forge(&body);
        assert!(got.contains(r#""type":"error""#), "{extra}: {got}");
    }
    // Naming a session that is not the forger's changes nothing either.
    for (named, why) in [(&theirs, "another user"), (&tree, "another process tree")] {
        let body =
            format!(r#"{{"type":"decide","id":2,"mode":"-c","line":"true","session":"{named}"}}"#);
        let got = forge(&body);
        assert!(got.contains(r#""allow":false"#), "{named}: {got}");
        assert!(got.contains(why), "{named}: {got}");
    }
    let _ = holder.kill();
    let _ = holder.wait();
    // Every record names the agent as the kernel saw it.
    for r in b.audit() {
        if r["kind"] == "decision" {
            assert_eq!(r["uid"], users.agent.uid, "{r}");
        }
    }
    let refused: Vec<_> = b
        .audit()
        .into_iter()
        .filter(|r| r["mode"] == "session-refused")
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
}

#[test]
fn kill_9_of_the_harness_revokes_its_credentials_at_once() {
    let users = require_users!();
    let hook = Approver::answering("allow");
    let b = started(users, hook.port);
    b.fake_cli("aws");
    let revoked = b.private().join("revoked.log");
    // A harness (not a shell) runs one approved command, then idles.
    let mut harness = b
        .as_user(
            &users.agent,
            Path::new("/usr/bin/perl"),
            &[
                "-e",
                "$|=1; system(@ARGV) == 0 or die; print \"ran\\n\"; sleep 600",
                users.bin.to_str().unwrap(),
                "-c",
                "aws s3 ls",
            ],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(harness.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ran\n", "the approved command ran");
    assert!(!revoked.exists(), "revoked before the harness died");
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(harness.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = harness.wait();
    // Nothing else runs guard: only the broker's watch can notice.
    let took = broker::eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&revoked).is_ok_and(|t| t.contains("aws-test"))
    });
    let took = took.unwrap_or_else(|| panic!("not revoked; broker log:\n{}", b.logs()));
    eprintln!(
        "kill -9 to revoke: {:?} (from the kill: {:?})",
        took,
        killed.elapsed()
    );
    // The record follows the revoke helper.
    let end_of = || b.audit().into_iter().find(|r| r["mode"] == "session-end");
    broker::eventually(Duration::from_secs(10), || end_of().is_some());
    let end = end_of().expect("session-end recorded");
    let reason = end["reason"].as_str().unwrap();
    assert!(
        reason.contains("is gone") && reason.contains("aws-test (revoked)"),
        "{reason}"
    );
    assert_eq!(end["user"], broker::AGENT);
}

#[test]
fn broker_down_refuses_and_a_restart_continues_sessions_and_chain() {
    let users = require_users!();
    let mut b = Broker::new(users, "approval:\n  tty: false\n");
    b.start();
    let start = run(&mut b.agent(&["session", "start", "--purpose", "restart test", "--json"]));
    assert_ok(&start, "session start");
    let id = serde_json::from_slice::<serde_json::Value>(&start.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let in_session = |b: &Broker, line: &str| {
        let mut c = b.agent(&["-c", line]);
        c.env("GUARD_SESSION", &id);
        run(&mut c)
    };
    assert_ok(&in_session(&b, "true"), "before");
    b.stop();
    for line in ["true", "ls /", "aws s3 ls"] {
        let out = in_session(&b, line);
        assert_refused(&out, "broker down");
        assert!(
            text(&out.stderr).contains("not answering"),
            "{}",
            text(&out.stderr)
        );
    }
    b.start();
    let out = in_session(&b, "echo back");
    assert_ok(&out, "after restart");
    let d = b.decisions();
    let last = d.last().unwrap();
    assert_eq!(last["session"], id.as_str());
    assert_eq!(last["purpose"], "restart test");
    let (code, v) = b.verify();
    assert_eq!(code, 0, "{v}");
    let seqs: Vec<u64> = b
        .audit()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn sighup_with_a_broken_rules_file_keeps_the_old_rules() {
    let users = require_users!();
    let rules = "approval:\n  tty: false\nrules:\n  - id: site.no-curl\n    match: {program: [curl]}\n    action: deny\n    message: no curl here\n";
    let mut b = Broker::new(users, rules);
    b.start();
    let before = run(&mut b.agent(&["-c", "curl https://example.com"]));
    assert_refused(&before, "curl before");
    assert!(text(&before.stderr).contains("site.no-curl"));
    b.write_config("rules:\n  - id: broken\n    match: {program: [curl]\n    action: nope\n");
    b.signal(nix::sys::signal::Signal::SIGHUP);
    let said = broker::eventually(Duration::from_secs(10), || {
        b.logs().contains("keeping the rules")
    });
    assert!(said.is_some(), "{}", b.logs());
    let logs = b.logs();
    assert!(
        logs.contains("broker.yaml:"),
        "the error names the file: {logs}"
    );
    let after = run(&mut b.agent(&["-c", "curl https://example.com"]));
    assert_refused(&after, "curl after");
    assert!(
        text(&after.stderr).contains("site.no-curl"),
        "old rules kept"
    );
    assert_ok(&run(&mut b.agent(&["-c", "true"])), "still serving");
    let status = run(&mut b.agent(&["status", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        v["broker"]["report"]["last_reload_error"]
            .as_str()
            .is_some_and(|e| e.contains("keeping")),
        "{v}"
    );
    // A good file is picked up without a signal.
    b.write_config("approval:\n  tty: false\n");
    let fixed = broker::eventually(Duration::from_secs(10), || {
        run(&mut b.agent(&["-c", "curl --version > /dev/null"]))
            .status
            .code()
            != Some(126)
    });
    assert!(fixed.is_some(), "{}", b.logs());
}

#[test]
fn a_thousand_clients_from_fifty_processes() {
    let users = require_users!();
    let mut b = Broker::new(
        users,
        "approval:\n  tty: false\naudit:\n  fsync: true\nrules:\n  - id: site.no-curl\n    match: {program: [curl]}\n    action: deny\n",
    );
    b.start();
    let script = format!(
        "i=0; while [ $i -lt 20 ]; do \
           if [ $((i % 2)) -eq 0 ]; then '{g}' -c \"true $$ $i\" || echo FAIL-ALLOW; \
           else '{g}' -c \"curl $$ $i\" 2>/dev/null; [ $? -eq 126 ] || echo FAIL-DENY; fi; \
           i=$((i+1)); done",
        g = users.bin.display()
    );
    let started = Instant::now();
    let children: Vec<_> = (0..50)
        .map(|_| {
            b.as_user(&users.agent, Path::new("/bin/sh"), &["-c", &script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(text(&out.stdout), "", "{}", text(&out.stderr));
    }
    eprintln!("1000 decisions from 50 processes: {:?}", started.elapsed());
    let d = b.decisions();
    assert_eq!(d.len(), 1000, "every decision recorded");
    assert_eq!(d.iter().filter(|r| r["decision"] == "allow").count(), 500);
    assert_eq!(d.iter().filter(|r| r["decision"] == "deny").count(), 500);
    let (code, out) = b.verify();
    assert_eq!(code, 0, "{out}");
}

/// A traced line's inner exec, reviewed on the client's own terminal:
/// the terminal rides on the line's `decide`, the broker's tracer draws
/// the card there (a real pty), and the key pressed decides whether the
/// credential CLI runs. The line itself (`python3 x.py`) names no
/// credential CLI, so only the exec can be what is reviewed.
#[test]
fn an_inner_exec_is_reviewed_on_the_clients_terminal() {
    use expectrl::Expect;
    let users = require_users!();
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("skipped: no /usr/bin/python3");
        return;
    }
    let mut b = Broker::new(users, "approval:\n  tty: true\n  timeout: 30s\n");
    b.start();
    let marker = b.fake_cli("aws");
    let script = b.work().join("x.py");
    // A bare name: `execvp` tries it in every PATH directory, each try an
    // exec of its own, and one answer at the terminal is the answer to
    // all of them (one card, not one per directory).
    std::fs::write(
        &script,
        "import subprocess, sys\ntry:\n    sys.exit(subprocess.run(['aws', 's3', 'ls']).returncode)\nexcept PermissionError:\n    sys.exit(13)\n",
    )
    .unwrap();
    broker::chmod(&script, 0o644);
    // One shell on one terminal runs both lines: the session is opened on
    // that terminal, and only that terminal may approve.
    let mut c = b.as_user(
        &users.agent,
        Path::new("/bin/bash"),
        &[
            "-c",
            r#""$GUARD" -c 'python3 x.py'; echo "first=$?"; "$GUARD" -c 'python3 x.py'; echo "second=$?"; "$GUARD" -c 'aws s3 ls'; echo "third=$?""#,
        ],
    );
    c.env("GUARD", &users.bin)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let mut s = expectrl::Session::spawn(c).expect("spawn on a pty");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    let card = match s.expect("[y] allow once") {
        Ok(c) => c,
        Err(e) => {
            let rest = s
                .expect(expectrl::Eof)
                .map(|c| String::from_utf8_lossy(c.before()).into_owned())
                .unwrap_or_default();
            panic!(
                "no first card ({e}): {rest}\nbroker log:\n{}\naudit: {:?}",
                b.logs(),
                b.audit()
            );
        }
    };
    let shown = String::from_utf8_lossy(card.before()).into_owned();
    assert!(shown.contains("aws s3 ls"), "{shown}");
    s.send("n").unwrap();
    s.expect("first=13")
        .expect("the first line ends with EACCES");
    assert!(
        !marker.exists(),
        "refused at the terminal, yet aws ran: {:?}",
        std::fs::read_to_string(&marker)
    );
    s.expect("[y] allow once").expect("the second card");
    s.send("y").unwrap();
    s.expect("second=0").expect("the second line runs aws");
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(ran.contains("argv: s3 ls"), "{ran}");
    // The line's own review (`tty-request`) on the same terminal; the
    // exec of what it approved is not asked about again.
    s.expect("[y] allow once").expect("the line's card");
    s.send("y").unwrap();
    let rest = s.expect("third=").expect("the third line ends");
    let after = String::from_utf8_lossy(rest.before()).into_owned();
    assert!(!after.contains("allow once"), "asked twice: {after}");
    s.expect("0").expect("the third line's status");
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert_eq!(ran.matches("argv: s3 ls").count(), 2, "{ran}");
    // Both inner decisions are the broker's, approved or refused at the
    // terminal, each linked to its line.
    let execs: Vec<serde_json::Value> = b
        .audit()
        .into_iter()
        .filter(|r| r["parent"].is_u64() && r["rule"] == "cloud.aws")
        .collect();
    assert_eq!(execs.len(), 2, "{execs:?}");
    assert_eq!(execs[0]["decision"], "deny", "{:?}", execs[0]);
    assert_eq!(execs[1]["decision"], "allow", "{:?}", execs[1]);
    assert_eq!(execs[1]["approval"]["channel"], "tty", "{:?}", execs[1]);
    let line = b
        .decisions()
        .into_iter()
        .find(|r| r["line"] == "aws s3 ls" && r["mode"] == "-c")
        .expect("the third line's record");
    assert_eq!(line["decision"], "allow", "{line:?}");
    assert_eq!(line["approval"]["channel"], "tty", "{line:?}");
    let (code, v) = b.verify();
    assert_eq!(code, 0, "{v}");
}

/// What may ride on a `decide`: the client's terminal, once, and only
/// when it says so. Anything else closes the connection; a descriptor
/// that is not the session's terminal is dropped, and the line is still
/// decided (and traced) as usual.
#[test]
fn descriptors_on_a_decide_are_the_terminal_or_nothing() {
    let users = require_users!();
    let mut b = Broker::new(users, "approval:\n  tty: false\n");
    b.start();
    const SENDER: &str = r#"
import json, os, socket, struct, sys
sock, version, tty, nfds = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
s = socket.socket(socket.AF_UNIX)
s.settimeout(15)
s.connect(sock)
def put(msg, fds=()):
    body = json.dumps(msg).encode()
    frame = struct.pack(">I", len(body)) + body
    if fds:
        socket.send_fds(s, [frame], list(fds))
    else:
        s.sendall(frame)
def get():
    head = b""
    while len(head) < 4:
        more = s.recv(4 - len(head))
        if not more:
            return "EOF"
        head += more
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return body.decode()
put({"type": "hello", "id": 1, "version": version, "client": "fds"})
get()
fds = [os.open("/dev/null", os.O_RDWR) for _ in range(nfds)]
put({"type": "decide", "id": 2, "mode": "-c", "line": "true", "tty": tty}, fds)
print(get())
"#;
    let sock = b.socket().display().to_string();
    let version = guard::wire::VERSION.to_string();
    // (tty flag, descriptors sent) -> an allowed verdict, or an error.
    let cases: &[(bool, usize, bool)] = &[
        (false, 0, true),
        (true, 0, true),
        (true, 1, true),
        (false, 1, false),
        (true, 2, false),
    ];
    for &(tty, nfds, allowed) in cases {
        let out = run(&mut b.as_user(
            &users.agent,
            Path::new("/usr/bin/python3"),
            &[
                "-c",
                SENDER,
                &sock,
                &version,
                if tty { "1" } else { "0" },
                &nfds.to_string(),
            ],
        ));
        let got = text(&out.stdout);
        let what = format!("tty {tty}, {nfds} descriptors: {got} {}", text(&out.stderr));
        if allowed {
            assert!(got.contains(r#""type":"verdict""#), "{what}");
            assert!(got.contains(r#""allow":true"#), "{what}");
            assert!(got.contains(r#""trace":true"#), "{what}");
        } else {
            assert!(got.contains(r#""type":"error""#), "{what}");
            assert!(got.contains("descriptors on decide"), "{what}");
        }
    }
    assert!(b.logs().contains("descriptors on decide"));
    let (code, v) = b.verify();
    assert_eq!(code, 0, "{v}");
}

#[test]
fn a_fuzzed_protocol_stream_never_crashes_the_broker() {
    let users = require_users!();
    let mut b = Broker::new(users, "approval:\n  tty: false\n");
    b.start();
    let mut rng = common::Rng(0x9e37_79b9_7f4a_7c15);
    let hello = format!(
        r#"{{"type":"hello","id":1,"version":{},"client":"fuzz"}}"#,
        guard::wire::VERSION
    );
    let hello = hello.as_bytes();
    let frame = |body: &[u8]| {
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    };
    let valid_decide = br#"{"type":"decide","id":2,"mode":"-c","line":"true"}"#;
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0xff; 4],
        (u32::MAX).to_be_bytes().to_vec(),
        ((1u32 << 20) + 1).to_be_bytes().to_vec(),
        frame(b"not json"),
        frame(valid_decide),
        [frame(hello), frame(hello)].concat(),
        [frame(hello), frame(br#"{"type":"attach","id":2}"#)].concat(),
        [
            frame(hello),
            frame(br#"{"type":"decide","id":1,"mode":"-c","line":"true"}"#),
        ]
        .concat(),
        [
            frame(hello),
            frame(br#"{"type":"decide","id":2,"mode":"weird","line":"true"}"#),
        ]
        .concat(),
        [
            frame(hello),
            frame(br#"{"type":"decide","id":2,"mode":"-c"}"#),
        ]
        .concat(),
        [frame(hello), frame(&vec![b'['; 100_000])].concat(),
        frame(&[0u8; 1000]),
    ];
    let full = [frame(hello), frame(valid_decide)].concat();
    for cut in [1, 3, 4, 5, 20, full.len() - 1] {
        cases.push(full[..cut].to_vec());
    }
    for _ in 0..300 {
        let n = rng.below(200);
        let mut bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 {
            bytes = [frame(hello), bytes].concat();
        }
        if rng.below(3) == 0 {
            let mut body = valid_decide.to_vec();
            let at = rng.below(body.len());
            body[at] = rng.next() as u8;
            bytes = [frame(hello), frame(&body)].concat();
        }
        cases.push(bytes);
    }
    // Sent by a process of the agent's, one connection per case: a
    // mutated decide may still be a valid one, and the broker seizes
    // whoever asks for a line that is allowed.
    const SENDER: &str = r#"
import socket, struct, sys
data = sys.stdin.buffer.read()
i = sent = 0
while i < len(data):
    (n,) = struct.unpack(">I", data[i:i + 4])
    case = data[i + 4:i + 4 + n]
    i += 4 + n
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(15)
    s.connect(sys.argv[1])
    try:
        s.sendall(case)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
    sent += 1
print("sent", sent)
"#;
    let stream: Vec<u8> = cases.iter().flat_map(|c| frame(c)).collect();
    let sock = b.socket().display().to_string();
    let out = broker::run_for(
        &mut b.as_user(
            &users.agent,
            Path::new("/usr/bin/python3"),
            &["-c", SENDER, &sock],
        ),
        Some(&stream),
        Duration::from_secs(600),
    );
    assert_eq!(
        text(&out.stdout),
        format!("sent {}\n", cases.len()),
        "broker stopped answering: {}; log:\n{}",
        text(&out.stderr),
        b.logs()
    );
    // Connections that trickle or stall, more than one user may hold:
    // they must not keep another user's shell from its answer.
    let stalled: Vec<std::os::unix::net::UnixStream> = (0..200)
        .filter_map(|_| {
            use std::io::Write;
            let mut s = std::os::unix::net::UnixStream::connect(b.socket()).ok()?;
            let _ = s.write_all(&[0, 0]);
            Some(s)
        })
        .collect();
    assert!(!stalled.is_empty());
    let out = run(&mut b.agent(&["-c", "echo despite-the-stalls"]));
    assert_ok(&out, "with stalled connections");
    assert_eq!(text(&out.stdout), "despite-the-stalls\n");
    drop(stalled);
    // Still alive, still deciding, and nothing bogus was recorded.
    let out = run(&mut b.agent(&["-c", "echo alive"]));
    assert_ok(&out, "after the fuzz");
    assert_eq!(text(&out.stdout), "alive\n");
    assert!(b
        .pid()
        .is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists()));
    let logs = b.logs();
    assert!(
        logs.contains("closing the connection"),
        "malformed input is logged"
    );
    assert!(!logs.contains("panicked"), "{logs}");
    let (code, v) = b.verify();
    assert_eq!(code, 0, "{v}");
}

/// Every secret planted in the fake home, to look for afterwards.
const PLANTED: &[&str] = &[
    "AKIAIMPORTTESTKEY001",
    "import-default-secret-Zq81",
    "AKIAIMPORTSTAGING002",
    "import-staging-secret-Pw32",
    "kube-bearer-token-Kx77",
    "sk_live_importstripe0000000001",
    "netrc-password-Nn11",
    "pgpass-password-Pg22",
    "ZG9ja2VyOmRvY2tlci1wYXNzLURkMzM=",
    "gho_importghtoken0000000000000000000001",
    "gitcred-password-Gc44",
];

#[test]
fn creds_import_moves_everything_out_of_the_agents_reach() {
    let users = require_users!();
    let hook = Approver::answering("allow");
    let secret = "approval:\n  tty: false\n";
    let mut b = Broker::new(users, secret);
    let s = b.private_file("webhook.secret", &format!("{SECRET}\n"), 0o600);
    b.write_config(&format!(
        "approval:\n  tty: false\n  webhook:\n    url: http://127.0.0.1:{}/approve\n    secret_file: {}\n    timeout: 5s\n",
        hook.port,
        s.display()
    ));
    // A fake aws: STS mints from a key in the environment; anything else
    // records what it was given.
    std::fs::create_dir_all(b.bin_dir()).unwrap();
    broker::chmod(&b.bin_dir(), 0o755);
    let marker = b.work().join("aws-ran");
    let aws = b.bin_dir().join("aws");
    std::fs::write(
        &aws,
        format!(
            "#!/bin/sh\n\
             if [ \"$1\" = sts ] && [ \"$2\" = get-session-token ]; then\n\
             \x20 [ \"$AWS_ACCESS_KEY_ID\" = AKIAIMPORTTESTKEY001 ] || exit 3\n\
             \x20 echo '{{\"Credentials\":{{\"AccessKeyId\":\"ASIASTSMINTED0000001\",\"SecretAccessKey\":\"sts-minted-secret\",\"SessionToken\":\"sts-minted-token\"}}}}'\n\
             \x20 exit 0\n\
             fi\n\
             {{ env | grep -E '^AWS_' | sort; [ -n \"$AWS_SHARED_CREDENTIALS_FILE\" ] && cat \"$AWS_SHARED_CREDENTIALS_FILE\"; }} >> '{}'\n",
            marker.display()
        ),
    )
    .unwrap();
    broker::chmod(&aws, 0o755);
    b.start();
    // The agent's home, as an agent's would be after some work.
    let home = b.work().join("home");
    let put = |rel: &str, text: &str| {
        let p = home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        let mut d = p.clone();
        while d != b.work() {
            broker::chown(&d, &users.agent);
            d = d.parent().unwrap().to_path_buf();
        }
        broker::chmod(&p, 0o600);
    };
    put(
        ".aws/credentials",
        "[default]\naws_access_key_id = AKIAIMPORTTESTKEY001\naws_secret_access_key = import-default-secret-Zq81\n\
         [staging]\naws_access_key_id = AKIAIMPORTSTAGING002\naws_secret_access_key = import-staging-secret-Pw32\n",
    );
    put(
        ".aws/config",
        "[default]\nregion = eu-west-1\n[profile staging]\nregion = eu-west-2\n",
    );
    put(
        ".kube/config",
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: dev\n  cluster: {server: 'https://k8s.dev.example:6443'}\n\
         users:\n- name: dev\n  user: {token: kube-bearer-token-Kx77}\ncontexts:\n- name: dev\n  context: {cluster: dev, user: dev}\n",
    );
    put(
        "project/.env",
        "APP_NAME=shop\nSTRIPE_SECRET_KEY=sk_live_importstripe0000000001\n",
    );
    put(
        ".netrc",
        "machine api.example.com login bot password netrc-password-Nn11\n",
    );
    put(
        ".pgpass",
        "db.example.com:5432:app:app:pgpass-password-Pg22\n",
    );
    put(
        ".docker/config.json",
        "{\"auths\":{\"registry.example.com\":{\"auth\":\"ZG9ja2VyOmRvY2tlci1wYXNzLURkMzM=\"}}}\n",
    );
    put(
        ".config/gh/hosts.yml",
        "github.com:\n    user: bot\n    oauth_token: gho_importghtoken0000000000000000000001\n    git_protocol: https\n",
    );
    put(
        ".git-credentials",
        "https://bot:gitcred-password-Gc44@git.example.com\n",
    );
    let import = |dry: bool| {
        let mut c = Command::new(&users.bin);
        c.args(["creds", "import", "--user", broker::AGENT, "--home"])
            .arg(&home)
            .arg("--state-dir")
            .arg(b.state())
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", b.bin_dir().display()),
            )
            .env("GUARD_CONFIG", b.client_config());
        if dry {
            c.arg("--dry-run");
        }
        run(&mut c)
    };
    let before = files_under(&home)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect::<Vec<_>>();
    let dry = import(true);
    assert_ok(&dry, "dry run");
    assert!(
        text(&dry.stdout).contains("would import"),
        "{}",
        text(&dry.stdout)
    );
    for (p, bytes) in &before {
        assert_eq!(
            &std::fs::read(p).unwrap(),
            bytes,
            "dry run changed {}",
            p.display()
        );
    }
    let out = import(false);
    assert_ok(&out, "import");
    let said = text(&out.stdout);
    for what in [
        "aws profile default",
        "aws profile staging",
        "minted by STS",
        "kubeconfig",
        "STRIPE_SECRET_KEY",
        "netrc",
        "pgpass",
        "docker",
        "git-credentials",
        "gh token",
    ] {
        assert!(said.contains(what), "no {what:?} in:\n{said}");
    }
    for secret in PLANTED {
        assert!(!said.contains(secret), "import printed a value: {said}");
        // Nothing the agent can read holds it any more.
        let grep = as_agent(
            &b,
            &format!(
                "grep -rlF '{secret}' '{}' '{}' /tmp/guard-{} 2>/dev/null",
                home.display(),
                b.state().display(),
                users.agent.uid
            ),
        );
        assert_eq!(
            text(&grep.stdout),
            "",
            "{secret} is still readable by the agent"
        );
    }
    assert_eq!(
        std::fs::read_to_string(home.join("project/.env"))
            .unwrap()
            .lines()
            .next(),
        Some("APP_NAME=shop"),
        "the benign variable stays"
    );
    // The broker picks the new definitions up by itself.
    let loaded = broker::eventually(Duration::from_secs(15), || {
        b.logs().contains("reloaded the rules")
    });
    assert!(loaded.is_some(), "{}", b.logs());
    // And aws through guard works with what the broker mints.
    let mut c = b.agent(&["-c", "aws s3 ls"]);
    c.env("HOME", &home);
    let ran = run(&mut c);
    assert_ok(&ran, "aws through guard");
    let seen = std::fs::read_to_string(&marker).expect("aws ran");
    assert!(
        seen.contains("AWS_ACCESS_KEY_ID=ASIASTSMINTED0000001"),
        "{seen}"
    );
    assert!(
        seen.contains("AWS_SESSION_TOKEN=sts-minted-token"),
        "{seen}"
    );
    assert!(
        seen.contains("[default]") && seen.contains("aws_secret_access_key = sts-minted-secret"),
        "{seen}"
    );
    assert!(
        !seen.contains("AKIAIMPORTTESTKEY001"),
        "the long-lived key reached aws: {seen}"
    );
    let rec = b
        .decisions()
        .into_iter()
        .find(|r| r["line"] == "aws s3 ls")
        .unwrap();
    assert_eq!(
        rec["credentials"],
        serde_json::json!(["guardagent.aws-default"])
    );
}

#[test]
fn the_broker_takes_its_socket_from_systemd() {
    let users = require_users!();
    let Ok(activate) = which("systemd-socket-activate") else {
        eprintln!("skipped: systemd-socket-activate is not installed");
        return;
    };
    let b = Broker::new(users, "approval:\n  tty: false\n");
    // As systemd would: the socket exists before the broker runs, and
    // the first connection starts it.
    let script = format!(
        "exec '{activate}' -l '{sock}' '{bin}' broker --socket /nonexistent/not-this.sock \
         --config '{config}' --state-dir '{state}' --audit-dir '{audit}'",
        activate = activate.display(),
        sock = b.socket().display(),
        bin = users.bin.display(),
        config = b.config().display(),
        state = b.state().display(),
        audit = b.audit_dir().display(),
    );
    let log = b.path().join("activated.log");
    let mut child = Command::new("setpriv")
        .arg(format!("--reuid={}", users.broker.uid))
        .arg(format!("--regid={}", users.broker.gid))
        // As the unit gives it: one capability, to trace what lines start.
        .args([
            "--init-groups",
            "--inh-caps=+sys_ptrace,+dac_read_search",
            "--ambient-caps=+sys_ptrace,+dac_read_search",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    broker::eventually(Duration::from_secs(10), || b.socket().exists());
    // What the unit's SocketMode=0666 does.
    broker::chmod(&b.socket(), 0o666);
    let out = run(&mut b.agent(&["-c", "echo activated"]));
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert_ok(&out, &logged);
    assert_eq!(text(&out.stdout), "activated\n");
    assert!(logged.contains("LISTEN_FDS"), "{logged}");
    assert!(!Path::new("/nonexistent/not-this.sock").exists());
    assert_eq!(b.decisions().len(), 1);
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(tool))
                .find(|c| c.is_file())
        })
        .ok_or(())
}

#[test]
fn a_sourced_file_the_broker_cannot_read_is_still_analysed() {
    let users = require_users!();
    let mut b = Broker::new(users, "approval:\n  tty: false\n");
    b.start();
    let marker = b.fake_cli("aws");
    // In a directory only the agent can enter, as a 0700 home is.
    let hidden = b.work().join("hidden");
    std::fs::create_dir_all(&hidden).unwrap();
    broker::chown(&hidden, &users.agent);
    broker::chmod(&hidden, 0o700);
    let script = hidden.join("x.sh");
    std::fs::write(&script, "aws s3 ls\n").unwrap();
    broker::chown(&script, &users.agent);
    let snapshot = hidden.join("snapshot.sh");
    std::fs::write(&snapshot, "deploy() { aws s3 cp build s3://prod; }\n").unwrap();
    broker::chown(&snapshot, &users.agent);
    let p = script.display();
    let s = snapshot.display();
    for line in [
        format!(". {p}"),
        format!("source {p}"),
        // The Claude Code shape.
        format!("source {s} 2>/dev/null || true && eval 'deploy' < /dev/null"),
    ] {
        let out = run(&mut b.agent(&["-c", &line]));
        assert_refused(&out, &line);
        assert!(
            text(&out.stderr).contains("cloud.aws"),
            "{line}: {}",
            text(&out.stderr)
        );
    }
    assert!(!marker.exists(), "aws ran");
    // A file that is not there is nothing to analyse, as for bash.
    let out = run(&mut b.agent(&[
        "-c",
        &format!(". {}/none.sh 2>/dev/null; echo on", hidden.display()),
    ]));
    assert_ok(&out, "missing file");
}

/// A client hijacked with `LD_PRELOAD` (here: every exec it makes runs
/// `aws s3 rm` instead of what was decided) can lie only about itself:
/// the broker put the exec filter in it, so the swapped exec stops for
/// the broker's tracer and is decided on what it really is. And the
/// filter's refusals hold in the tree although the client never
/// installed anything.
#[test]
fn a_hijacked_client_can_only_lie_about_itself() {
    let users = require_users!();
    let Ok(cc) = which("cc") else {
        eprintln!("skipped: no C compiler");
        return;
    };
    let hook = Approver::answering("deny");
    let b = started(users, hook.port);
    let marker = b.fake_cli("aws");
    let aws = b.bin_dir().join("aws");
    let src = b.work().join("hijack.c");
    std::fs::write(
        &src,
        format!(
            r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern char **environ;
/* Only guard is hijacked (not setpriv, which starts it), and only once. */
static int swap(const char *p, char *const a[], char *const e[]) {{
    int (*real)(const char *, char *const[], char *const[]) = dlsym(RTLD_NEXT, "execve");
    if (strncmp(program_invocation_short_name, "guard", 5) != 0)
        return real(p, a, e);
    unsetenv("LD_PRELOAD");
    char *const argv[] = {{"aws", "s3", "rm", "s3://prod", "--recursive", 0}};
    (void)e;
    return real("{aws}", argv, environ);
}}
int execve(const char *p, char *const a[], char *const e[]) {{ return swap(p, a, e); }}
int execv(const char *p, char *const a[]) {{ return swap(p, a, environ); }}
int execvp(const char *p, char *const a[]) {{
    if (strncmp(program_invocation_short_name, "guard", 5) == 0)
        return swap(p, a, environ);
    int (*real)(const char *, char *const[]) = dlsym(RTLD_NEXT, "execvp");
    return real(p, a);
}}
"#,
            aws = aws.display()
        ),
    )
    .unwrap();
    let so = b.work().join("hijack.so");
    let built = Command::new(cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .arg("-ldl")
        .output()
        .expect("cc");
    assert!(built.status.success(), "cc: {}", text(&built.stderr));
    broker::chmod(&so, 0o755);
    // The full binary: the shell front links nothing, so LD_PRELOAD has
    // nothing to hook in it.
    let out = run(b.agent_full(&["-c", "ls /"]).env("LD_PRELOAD", &so));
    assert!(
        !marker.exists(),
        "the swapped exec ran: {}",
        text(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("guard: denied"),
        "the agent is told: {}",
        text(&out.stderr)
    );
    let swapped = b
        .decisions()
        .into_iter()
        .find(|r| r["mode"] == "exec" && r["line"].as_str().is_some_and(|l| l.contains("s3 rm")));
    let swapped = swapped.expect("the swapped exec was decided, and recorded");
    assert_eq!(swapped["decision"], "deny", "{swapped}");
    // The shell front links no C library: the same preload reaches
    // nothing in it, and the line runs as decided.
    let out = run(b.agent(&["-c", "ls /"]).env("LD_PRELOAD", &so));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("usr"), "{}", text(&out.stdout));
    assert!(!marker.exists(), "the front was hijacked");
    // The filter is in the tree though the client installed nothing.
    let probe = b.work().join("ptrace.py");
    std::fs::write(
        &probe,
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         r = libc.ptrace(16, os.getppid(), 0, 0)\n\
         print('ptrace', r, ctypes.get_errno())\n",
    )
    .unwrap();
    broker::chmod(&probe, 0o644);
    let out = run(&mut b.agent(&["-c", &format!("python3 {}", probe.display())]));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("ptrace -1 {}", nix::libc::EPERM),
        "{}",
        text(&out.stderr)
    );
}

/// Secrets the harness passed under names no scrub pattern knows are
/// found by value: by the broker for the values the client sends it, and
/// by the client itself for values past what one decide carries. Only
/// the secrets go; the rest of the environment reaches the command.
#[test]
fn secrets_in_the_environment_are_scrubbed_by_value() {
    let users = require_users!();
    let hook = Approver::answering("deny");
    let b = started(users, hook.port);
    let github = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    // A gitleaks-only kind: its detector is the compiled rule set.
    let gitlab = "glpat-Zx9vK2mQ7rT4wB8nL1pY";
    let pad = "p".repeat(100_000);
    // In environment order (sorted, as `Command` passes it), the two pads
    // use up the client's budget: the `A_` values go to the broker, the
    // `ZZ_` ones are scanned in the client.
    let rows: &[(&str, &str, bool)] = &[
        ("A_HARNESS_BLOB", github, false),
        ("A_NOTES", gitlab, false),
        ("A_KEEP_ME", "hello-world", true),
        ("ZZ_LATE_BLOB", github, false),
        ("ZZ_LATE_NOTES", gitlab, false),
        ("ZZ_LATE_KEEP", "still-here", true),
    ];
    let mut cmd = b.agent(&["-c", "env"]);
    cmd.env("PAD1", &pad).env("PAD2", &pad);
    for (name, value, _) in rows {
        cmd.env(name, value);
    }
    let out = run(&mut cmd);
    assert_ok(&out, "env");
    let seen = text(&out.stdout);
    for (name, value, kept) in rows {
        let line = format!("{name}={value}");
        assert_eq!(
            seen.lines().any(|l| l == line),
            *kept,
            "{name}: {}",
            if *kept {
                "must reach the command"
            } else {
                "must be scrubbed"
            }
        );
    }
    assert!(seen.contains("PAD2=ppp"), "padding is not a secret");
    for secret in [github, gitlab] {
        assert!(!seen.contains(secret), "{secret} reached the command");
        assert!(
            !std::fs::read_to_string(b.audit_log())
                .unwrap()
                .contains(secret),
            "{secret} reached the audit log"
        );
    }
}
