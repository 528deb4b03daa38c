//! Credentials granted to a traced line are out of reach of the agent's
//! other processes while the line runs. In broker mode the tracer hands
//! them to each program only after its exec, once the program is
//! undumpable, so another process of the same uid can read neither
//! `/proc/PID/environ` nor `/proc/PID/mem` of a holder, and the client
//! never has them in its memory at all.
//!
//! Real broker as `guard`, real agent account, real processes; needs root
//! (see `common::broker`).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::broker::{chmod, run, text, Broker};

const SECRET: &str = "sealed-secret-value-5a4b3c2d1e";

const HOOK_SECRET: &str = "sealed-e2e-webhook-secret";

/// A real approver on 127.0.0.1 that checks guard's HMAC and allows.
fn approver() -> u16 {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let port = server.server_addr().to_ip().expect("ip").port();
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = String::new();
            let _ = req.as_reader().read_to_string(&mut body);
            if common::header(&req, "X-Guard-Signature")
                != common::signature(HOOK_SECRET.as_bytes(), body.as_bytes())
            {
                let _ = req.respond(tiny_http::Response::from_string("bad").with_status_code(401));
                continue;
            }
            let answer = common::answer_for(
                body.as_bytes(),
                r#"{"decision":"allow","approver":"sealed-e2e"}"#,
            );
            let _ = req.respond(common::signed_response(
                HOOK_SECRET.as_bytes(),
                200,
                &answer,
            ));
        }
    });
    port
}

fn config(b: &Broker, port: u16) -> String {
    let secret = b.private_file("webhook.secret", &format!("{HOOK_SECRET}\n"), 0o600);
    let mint = b.private_file(
        "mint.sh",
        &format!("#!/bin/sh\necho AWS_ACCESS_KEY_ID=ASIASEALED0001\necho AWS_SECRET_ACCESS_KEY={SECRET}\n"),
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
  - name: aws-sealed
    provider: {{command: [\"{mint}\"]}}
    env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
rules:
  - id: test.aws
    match: {{program: [aws]}}
    action: allow
    grants: [aws-sealed]
    message: \"aws: uses the sealed credential\"
",
        secret = secret.display(),
        mint = mint.display(),
    )
}

/// A fake `aws` that says which pid holds what, then waits (with a child
/// of its own, which holds the credential too) until `go` appears.
fn holder(b: &Broker) {
    std::fs::create_dir_all(b.bin_dir()).unwrap();
    chmod(&b.bin_dir(), 0o755);
    let p = b.bin_dir().join("aws");
    std::fs::write(
        &p,
        "#!/bin/sh\n\
         sleep 30 &\n\
         echo \"$$ $! ${AWS_SECRET_ACCESS_KEY:-none} ${LD_PRELOAD:-none}\" > aws-pids.tmp && mv aws-pids.tmp aws-pids\n\
         i=0; while [ ! -e go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n\
         kill $! 2>/dev/null\n",
    )
    .unwrap();
    chmod(&p, 0o755);
}

/// What a process of the agent can read of `pids`: for each, `environ`
/// and `mem` opened, or the errno.
const PROBE: &str = r#"
import os, sys
for pid in sys.argv[1:]:
    for what, flags in (("environ", os.O_RDONLY), ("mem", os.O_RDWR)):
        try:
            fd = os.open(f"/proc/{pid}/{what}", flags)
            data = os.read(fd, 1 << 16) if what == "environ" else b""
            os.close(fd)
            print(pid, what, "open", "secret" if b"SECRET_ACCESS_KEY" in data else "clean")
        except OSError as e:
            print(pid, what, "refused", e.errno)
"#;

#[test]
fn a_granted_credential_is_sealed_from_the_agents_other_processes() {
    let users = require_users!();
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = config(&b, approver());
    b.write_config(&yaml);
    b.start();
    holder(&b);
    let probe = b.work().join("probe.py");
    std::fs::write(&probe, PROBE).unwrap();
    chmod(&probe, 0o644);
    let started = run(&mut b.agent(&[
        "session",
        "start",
        "--purpose",
        "sealed credentials",
        "--grant",
        "aws-sealed",
    ]));
    let out = text(&started.stdout);
    let session = out
        .split("GUARD_SESSION=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap_or_else(|| panic!("session start: {out} {}", text(&started.stderr)))
        .to_string();

    // A control the probe can open: an agent process holding nothing.
    let mut bystander = b
        .as_user(&users.agent, Path::new("/bin/sleep"), &["30"])
        .stdin(Stdio::null())
        .spawn()
        .expect("bystander");
    let control = run(&mut b.as_user(
        &users.agent,
        Path::new("/usr/bin/python3"),
        &[probe.to_str().unwrap(), &bystander.id().to_string()],
    ));
    let _ = bystander.kill();
    let _ = bystander.wait();
    let control = text(&control.stdout);
    assert!(
        control.contains("environ open") && control.contains("mem open"),
        "the probe must be able to read a process that holds nothing: {control}"
    );

    // Direct exec, a pipeline under bash, and a nested shell.
    for line in ["aws s3 ls", "aws s3 ls | cat", "bash -c 'aws s3 ls; true'"] {
        let _ = std::fs::remove_file(b.work().join("aws-pids"));
        let _ = std::fs::remove_file(b.work().join("go"));
        // The harness's loader variables do not reach a credential holder.
        let mut guarded = b
            .agent(&["-c", line])
            .env("GUARD_SESSION", &session)
            .env("LD_PRELOAD", "libhijack-absent.so")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("guard -c");
        let pids = common::broker::eventually(Duration::from_secs(20), || {
            b.work().join("aws-pids").exists()
        })
        .and_then(|_| std::fs::read_to_string(b.work().join("aws-pids")).ok());
        let Some(pids) = pids else {
            let _ = guarded.kill();
            let out = guarded.wait_with_output().unwrap();
            panic!(
                "{line}: aws never started: {} {}\n{}",
                text(&out.stdout),
                text(&out.stderr),
                b.logs()
            );
        };
        let words: Vec<&str> = pids.split_whitespace().collect();
        assert_eq!(words.len(), 4, "{line}: {pids}");
        let (holder, child, seen) = (words[0], words[1], words[2]);
        assert_eq!(words[3], "none", "{line}: LD_PRELOAD reached aws");
        // From outside any traced tree: the agent itself.
        let outside = run(&mut b.as_user(
            &users.agent,
            Path::new("/usr/bin/python3"),
            &[probe.to_str().unwrap(), holder, child],
        ));
        // From inside a traced line of the same session.
        let inside = run(b
            .agent(&[
                "-c",
                &format!("python3 {} {holder} {child}", probe.display()),
            ])
            .env("GUARD_SESSION", &session));
        std::fs::write(b.work().join("go"), "").unwrap();
        let done = guarded.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "{line}: {:?} {}",
            done.status,
            text(&done.stderr)
        );
        assert_eq!(seen, SECRET, "{line}: aws got its credential");
        for (from, probe) in [("outside", &outside), ("inside", &inside)] {
            let said = text(&probe.stdout);
            let rows: Vec<&str> = said.lines().collect();
            assert_eq!(
                rows.len(),
                4,
                "{line} ({from}): {said} {}",
                text(&probe.stderr)
            );
            for row in rows {
                assert!(
                    row.ends_with("refused 13"),
                    "{line} ({from}): a process of the agent read a credential holder: {row}"
                );
            }
        }
    }
    // The client never saw the values: nothing of them in the log either.
    let log = std::fs::read_to_string(b.audit_log()).unwrap_or_default();
    assert!(!log.contains(SECRET), "the secret is in the audit log");
}

/// The same in an interactive session: the line's credential reaches its
/// `aws` sealed, and the next line's shell does not inherit it.
#[test]
fn an_interactive_lines_credential_is_sealed_and_not_kept() {
    use expectrl::Expect;
    let users = require_users!();
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = config(&b, approver());
    b.write_config(&yaml);
    b.start();
    holder(&b);
    let probe = b.work().join("probe.py");
    std::fs::write(&probe, PROBE).unwrap();
    chmod(&probe, 0o644);
    let mut c = b.agent(&["-i"]);
    c.env("TERM", "xterm").env("NO_COLOR", "1");
    let mut s = expectrl::Session::spawn(c).expect("spawn guard -i on a pty");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s.expect(" $ ").expect("prompt");
    s.send_line("aws s3 ls").unwrap();
    let pids = common::broker::eventually(Duration::from_secs(20), || {
        b.work().join("aws-pids").exists()
    })
    .and_then(|_| std::fs::read_to_string(b.work().join("aws-pids")).ok())
    .unwrap_or_else(|| panic!("aws never started\n{}", b.logs()));
    let words: Vec<&str> = pids.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{pids}");
    let outside = run(&mut b.as_user(
        &users.agent,
        Path::new("/usr/bin/python3"),
        &[probe.to_str().unwrap(), words[0], words[1]],
    ));
    std::fs::write(b.work().join("go"), "").unwrap();
    s.expect(" $ ").expect("prompt after aws");
    assert_eq!(words[2], SECRET, "aws got its credential");
    let said = text(&outside.stdout);
    assert_eq!(said.lines().count(), 4, "{said} {}", text(&outside.stderr));
    for row in said.lines() {
        assert!(
            row.ends_with("refused 13"),
            "read a credential holder: {row}"
        );
    }
    s.send_line("echo \"next:${AWS_SECRET_ACCESS_KEY:-none}\"")
        .unwrap();
    s.expect("next:none")
        .expect("the next line does not hold the credential");
    s.send_line("exit").unwrap();
}
