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

/// The approval block: no terminal, the webhook `approver` on `port`.
fn approval(b: &Broker, port: u16) -> String {
    let secret = b.private_file("webhook.secret", &format!("{HOOK_SECRET}\n"), 0o600);
    format!(
        "approval:
  tty: false
  webhook:
    url: http://127.0.0.1:{port}/approve
    secret_file: {secret}
    timeout: 5s
",
        secret = secret.display()
    )
}

fn config(b: &Broker, port: u16) -> String {
    let mint = b.private_file(
        "mint.sh",
        &format!("#!/bin/sh\necho AWS_ACCESS_KEY_ID=ASIASEALED0001\necho AWS_SECRET_ACCESS_KEY={SECRET}\n"),
        0o700,
    );
    format!(
        "{approval}credentials:
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
        approval = approval(b, port),
        mint = mint.display(),
    )
}

/// A broker whose rules grant `aws` the sealed credential, approved by
/// the real webhook `approver`, started.
fn aws_broker(users: &'static common::broker::Users) -> Broker {
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = config(&b, approver());
    b.write_config(&yaml);
    b.start();
    b
}

/// `script` as the root-owned `aws` first on the agent's PATH.
fn fake_aws(b: &Broker, script: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(b.bin_dir()).unwrap();
    chmod(&b.bin_dir(), 0o755);
    let aws = b.bin_dir().join("aws");
    std::fs::write(&aws, script).unwrap();
    chmod(&aws, 0o755);
    aws
}

/// A session of the agent's granted `aws-sealed`: its id.
fn granted_session(b: &Broker, purpose: &str) -> String {
    let started = run(&mut b.agent(&[
        "session",
        "start",
        "--purpose",
        purpose,
        "--grant",
        "aws-sealed",
    ]));
    let out = text(&started.stdout);
    out.split("GUARD_SESSION=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap_or_else(|| panic!("session start: {out} {}", text(&started.stderr)))
        .to_string()
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
    let session = granted_session(&b, "sealed credentials");

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

/// This run's kubeconfig token: a file an earlier run left must not
/// count.
fn file_secret() -> String {
    static ONE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ONE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "sealed-kubeconfig-{}-{}",
            std::process::id(),
            now.as_nanos()
        )
    })
    .clone()
}

fn file_config(b: &Broker, port: u16) -> String {
    let token = file_secret();
    let kube = b.private_file(
        "kube.sh",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' '{{\"data\":{{\"kubeconfig\":\"kind: Config\\ntoken: {token}\\n\"}}}}'\n"
        ),
        0o700,
    );
    format!(
        "{approval}credentials:
  - name: kube-sealed
    provider: {{command: [\"{kube}\"]}}
    files: [{{env: KUBECONFIG, from: data.kubeconfig}}]
rules:
  - id: test.kubectl
    match: {{program: [kubectl]}}
    action: allow
    grants: [kube-sealed]
    message: \"kubectl: uses the sealed kubeconfig\"
",
        approval = approval(b, port),
        kube = kube.display(),
    )
}

/// What a process of the agent can read of `pids`' descriptors: the
/// directory listed, each descriptor opened, or the errno.
const FD_PROBE: &str = r#"
import os, sys
for pid in sys.argv[1:]:
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError as e:
        print(pid, "fd", "refused", e.errno)
        continue
    got = b""
    for n in names:
        try:
            with open(f"/proc/{pid}/fd/{n}", "rb") as f:
                got += f.read(1 << 16)
        except OSError:
            pass
    print(pid, "fd", "open", "secret" if b"token:" in got else "clean")
"#;

/// A credential that is a file (a kubeconfig) is made inside its sealed
/// holder, as a descriptor of that process alone: the agent finds it on
/// no path, cannot open it through `/proc`, and a client of its own that
/// asks the broker for the line is not sent it.
#[test]
fn a_credential_file_exists_only_inside_its_sealed_holder() {
    let users = require_users!();
    for tool in ["/usr/bin/python3", "/usr/bin/perl"] {
        if !Path::new(tool).exists() {
            eprintln!("skipped: {tool} is not installed");
            return;
        }
    }
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = file_config(&b, approver());
    b.write_config(&yaml);
    b.start();
    std::fs::create_dir_all(b.bin_dir()).unwrap();
    chmod(&b.bin_dir(), 0o755);
    let kubectl = b.bin_dir().join("kubectl");
    std::fs::write(
        &kubectl,
        "#!/bin/sh\n\
         sleep 30 &\n\
         echo \"$$ $! $KUBECONFIG $(grep -c token: \"$KUBECONFIG\") $(stat -L -c %a \"$KUBECONFIG\")\" > kube-pids.tmp && mv kube-pids.tmp kube-pids\n\
         i=0; while [ ! -e go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n\
         kill $! 2>/dev/null\n",
    )
    .unwrap();
    chmod(&kubectl, 0o755);
    let probe = b.work().join("fd_probe.py");
    std::fs::write(&probe, FD_PROBE).unwrap();
    chmod(&probe, 0o644);
    let client_dir = format!("/tmp/guard-{}", users.agent.uid);
    // The line's own analysis does not see this kubectl: the tracer
    // grants the file at its exec.
    let script = b.work().join("run.py");
    std::fs::write(
        &script,
        "import subprocess\nsubprocess.run([\"kubectl\", \"get\", \"pods\"], check=True)\n",
    )
    .unwrap();
    chmod(&script, 0o644);

    for line in [
        "kubectl get pods",
        "kubectl get pods | cat",
        "python3 run.py",
    ] {
        let _ = std::fs::remove_file(b.work().join("kube-pids"));
        let _ = std::fs::remove_file(b.work().join("go"));
        let mut guarded = b
            .agent(&["-c", line])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("guard -c");
        let pids = common::broker::eventually(Duration::from_secs(20), || {
            b.work().join("kube-pids").exists()
        })
        .and_then(|_| std::fs::read_to_string(b.work().join("kube-pids")).ok());
        let Some(pids) = pids else {
            let _ = guarded.kill();
            let out = guarded.wait_with_output().unwrap();
            panic!(
                "{line}: kubectl never started: {} {}\n{}",
                text(&out.stdout),
                text(&out.stderr),
                b.logs()
            );
        };
        let words: Vec<&str> = pids.split_whitespace().collect();
        assert_eq!(words.len(), 5, "{line}: {pids}");
        let (holder, child, path, read) = (words[0], words[1], words[2], words[3]);
        // libpq and ssh ignore a secret file others could read.
        assert_eq!(words[4], "600", "{line}: the file's mode");
        assert!(
            path.starts_with("/proc/self/fd/"),
            "{line}: KUBECONFIG names a file on disk: {path}"
        );
        assert_eq!(read, "1", "{line}: kubectl read its kubeconfig");
        // By path: nothing the agent can read holds the content.
        let grep = run(&mut b.as_user(
            &users.agent,
            Path::new("/bin/sh"),
            &[
                "-c",
                &format!(
                    "grep -rlF '{}' '{client_dir}' '{}' 2>/dev/null; true",
                    file_secret(),
                    b.work().display()
                ),
            ],
        ));
        // Through /proc, from outside and from inside a traced line.
        let outside = run(&mut b.as_user(
            &users.agent,
            Path::new("/usr/bin/python3"),
            &[probe.to_str().unwrap(), holder, child],
        ));
        let inside = run(&mut b.agent(&[
            "-c",
            &format!("python3 {} {holder} {child}", probe.display()),
        ]));
        std::fs::write(b.work().join("go"), "").unwrap();
        let done = guarded.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "{line}: {:?} {}",
            done.status,
            text(&done.stderr)
        );
        assert_eq!(text(&grep.stdout), "", "{line}: the kubeconfig is on disk");
        for (from, probe) in [("outside", &outside), ("inside", &inside)] {
            let said = text(&probe.stdout);
            let rows: Vec<&str> = said.lines().collect();
            assert_eq!(
                rows.len(),
                2,
                "{line} ({from}): {said} {}",
                text(&probe.stderr)
            );
            for row in rows {
                assert!(
                    row.ends_with("refused 13"),
                    "{line} ({from}): a process of the agent reached the kubeconfig: {row}"
                );
            }
        }
    }

    // An interactive line's file is made the same way.
    {
        use expectrl::Expect;
        let _ = std::fs::remove_file(b.work().join("kube-pids"));
        let _ = std::fs::remove_file(b.work().join("go"));
        let mut c = b.agent(&["-i"]);
        c.env("TERM", "xterm").env("NO_COLOR", "1");
        let mut s = expectrl::Session::spawn(c).expect("spawn guard -i on a pty");
        s.set_expect_timeout(Some(Duration::from_secs(30)));
        s.expect(" $ ").expect("prompt");
        s.send_line("kubectl get pods").unwrap();
        let pids = common::broker::eventually(Duration::from_secs(20), || {
            b.work().join("kube-pids").exists()
        })
        .and_then(|_| std::fs::read_to_string(b.work().join("kube-pids")).ok())
        .unwrap_or_else(|| panic!("interactive kubectl never started\n{}", b.logs()));
        std::fs::write(b.work().join("go"), "").unwrap();
        s.expect(" $ ").expect("prompt after kubectl");
        let words: Vec<&str> = pids.split_whitespace().collect();
        assert_eq!(words.len(), 5, "{pids}");
        assert!(
            words[2].starts_with("/proc/self/fd/"),
            "interactive: {pids}"
        );
        assert_eq!(
            words[3], "1",
            "interactive kubectl read its kubeconfig: {pids}"
        );
        s.send_line("exit").unwrap();
    }

    let inner = b.decisions().into_iter().find(|r| {
        r["mode"] == "exec"
            && r["line"]
                .as_str()
                .is_some_and(|l| l.contains("kubectl get pods"))
    });
    let inner = inner.expect("python's kubectl was decided at its exec");
    assert_eq!(inner["decision"], "allow", "{inner}");

    // A client of the agent's own asks for the line: the verdict carries
    // no file, and the broker writes none for it.
    let script = format!(
        r#"
use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Peer => '{sock}') or die "connect: $!";
sub put {{ my $j = shift; print $s pack('N', length $j) . $j; }}
sub get {{ my $h; read($s, $h, 4) == 4 or return 'EOF'; my $n = unpack('N', $h); my $b; read($s, $b, $n); return $b; }}
put('{{"type":"hello","id":1,"version":{version},"client":"rogue"}}'); get();
put('{{"type":"decide","id":2,"mode":"-c","line":"kubectl get pods"}}');
print get(), "\n";
"#,
        sock = b.socket().display(),
        version = guard::wire::VERSION
    );
    let rogue = run(&mut b.as_user(&users.agent, Path::new("/usr/bin/perl"), &["-e", &script]));
    let said = text(&rogue.stdout);
    assert!(
        said.contains(r#""allow":true"#),
        "{said} {}",
        text(&rogue.stderr)
    );
    assert!(
        !said.contains(&file_secret()),
        "the broker sent the kubeconfig to a client: {said}"
    );
    let log = std::fs::read_to_string(b.audit_log()).unwrap_or_default();
    assert!(
        !log.contains(&file_secret()),
        "the kubeconfig is in the audit log"
    );
}

fn dir_config(b: &Broker, port: u16) -> String {
    let token = file_secret();
    let dock = b.private_file(
        "dock.sh",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' '{{\"data\":{{\"config\":\"{{\\\"auths\\\":{{}}}}\\ntoken: {token}\\n\"}}}}'\n"
        ),
        0o700,
    );
    format!(
        "{approval}credentials:
  - name: docker-sealed
    provider: {{command: [\"{dock}\"]}}
    files: [{{env: DOCKER_CONFIG, from: data.config, name: config.json, dir: true}}]
rules:
  - id: test.docker
    match: {{program: [docker]}}
    action: allow
    grants: [docker-sealed]
    message: \"docker: uses the sealed config\"
",
        approval = approval(b, port),
        dock = dock.display(),
    )
}

/// A credential that is a directory (docker's `DOCKER_CONFIG`) is made
/// inside its sealed holder too: the variable names a directory of the
/// tracer's holding only a link to the holder's own descriptor, so the
/// agent reads nothing through it, cannot change it, cannot open the
/// descriptor through `/proc`, and a client of its own is not sent it.
#[test]
fn a_credential_directory_exists_only_inside_its_sealed_holder() {
    let users = require_users!();
    for tool in ["/usr/bin/python3", "/usr/bin/perl"] {
        if !Path::new(tool).exists() {
            eprintln!("skipped: {tool} is not installed");
            return;
        }
    }
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = dir_config(&b, approver());
    b.write_config(&yaml);
    b.start();
    std::fs::create_dir_all(b.bin_dir()).unwrap();
    chmod(&b.bin_dir(), 0o755);
    let docker = b.bin_dir().join("docker");
    std::fs::write(
        &docker,
        "#!/bin/sh\n\
         sleep 30 &\n\
         echo \"$$ $! $DOCKER_CONFIG $(grep -c token: \"$DOCKER_CONFIG/config.json\") $(stat -L -c %a \"$DOCKER_CONFIG/config.json\")\" > dock-pids.tmp && mv dock-pids.tmp dock-pids\n\
         i=0; while [ ! -e go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n\
         kill $! 2>/dev/null\n",
    )
    .unwrap();
    chmod(&docker, 0o755);
    let probe = b.work().join("fd_probe.py");
    std::fs::write(&probe, FD_PROBE).unwrap();
    chmod(&probe, 0o644);
    // Started by python, the docker is granted the directory at its exec.
    let script = b.work().join("push.py");
    std::fs::write(
        &script,
        "import subprocess\nsubprocess.run([\"docker\", \"push\", \"r.example/app\"], check=True)\n",
    )
    .unwrap();
    chmod(&script, 0o644);
    let client_dir = format!("/tmp/guard-{}", users.agent.uid);

    for line in [
        "docker push r.example/app",
        "docker push r.example/app | cat",
        "python3 push.py",
    ] {
        let _ = std::fs::remove_file(b.work().join("dock-pids"));
        let _ = std::fs::remove_file(b.work().join("go"));
        let mut guarded = b
            .agent(&["-c", line])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("guard -c");
        let pids = common::broker::eventually(Duration::from_secs(20), || {
            b.work().join("dock-pids").exists()
        })
        .and_then(|_| std::fs::read_to_string(b.work().join("dock-pids")).ok());
        let Some(pids) = pids else {
            let _ = guarded.kill();
            let out = guarded.wait_with_output().unwrap();
            panic!(
                "{line}: docker never started: {} {}\n{}",
                text(&out.stdout),
                text(&out.stderr),
                b.logs()
            );
        };
        let words: Vec<&str> = pids.split_whitespace().collect();
        assert_eq!(words.len(), 5, "{line}: {pids}");
        let (holder, child, dir, read) = (words[0], words[1], words[2], words[3]);
        assert_eq!(read, "1", "{line}: docker read its config.json");
        assert_eq!(words[4], "600", "{line}: the file's mode");
        // What the agent can do with the directory's path: read the
        // config through it, list it, write into it, swap it.
        let by_path = run(&mut b.as_user(
            &users.agent,
            Path::new("/bin/sh"),
            &[
                "-c",
                &format!(
                    "d='{dir}'; \
                     if grep -q token: \"$d/config.json\" 2>/dev/null; then echo read; fi; \
                     if grep -rqF '{secret}' \"$d/\" '{client_dir}' '{work}' 2>/dev/null; then echo found; fi; \
                     if touch \"$d/x\" 2>/dev/null; then echo wrote; fi; \
                     if mv \"$d\" \"$d.old\" 2>/dev/null; then echo moved; fi; \
                     if mkdir \"$(dirname \"$d\")/x\" 2>/dev/null; then echo made; fi; \
                     echo done",
                    secret = file_secret(),
                    work = b.work().display()
                ),
            ],
        ));
        let outside = run(&mut b.as_user(
            &users.agent,
            Path::new("/usr/bin/python3"),
            &[probe.to_str().unwrap(), holder, child],
        ));
        std::fs::write(b.work().join("go"), "").unwrap();
        let done = guarded.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "{line}: {:?} {}",
            done.status,
            text(&done.stderr)
        );
        assert!(
            !dir.starts_with(&client_dir) && !dir.starts_with(&*b.work().to_string_lossy()),
            "{line}: DOCKER_CONFIG names a directory of the agent's: {dir}"
        );
        assert_eq!(
            text(&by_path.stdout),
            "done\n",
            "{line}: the agent got at the directory {dir}: {}",
            text(&by_path.stderr)
        );
        let said = text(&outside.stdout);
        let rows: Vec<&str> = said.lines().collect();
        assert_eq!(rows.len(), 2, "{line}: {said} {}", text(&outside.stderr));
        for row in rows {
            assert!(
                row.ends_with("refused 13"),
                "{line}: a process of the agent reached the config: {row}"
            );
        }
    }
    let inner = b.decisions().into_iter().find(|r| {
        r["mode"] == "exec"
            && r["line"]
                .as_str()
                .is_some_and(|l| l.contains("docker push"))
    });
    let inner = inner.expect("python's docker was decided at its exec");
    assert_eq!(inner["decision"], "allow", "{inner}");

    // A client of the agent's own is sent no directory of it.
    let script = format!(
        r#"
use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Peer => '{sock}') or die "connect: $!";
sub put {{ my $j = shift; print $s pack('N', length $j) . $j; }}
sub get {{ my $h; read($s, $h, 4) == 4 or return 'EOF'; my $n = unpack('N', $h); my $b; read($s, $b, $n); return $b; }}
put('{{"type":"hello","id":1,"version":{version},"client":"rogue"}}'); get();
put('{{"type":"decide","id":2,"mode":"-c","line":"docker push r.example/app"}}');
print get(), "\n";
"#,
        sock = b.socket().display(),
        version = guard::wire::VERSION
    );
    let rogue = run(&mut b.as_user(&users.agent, Path::new("/usr/bin/perl"), &["-e", &script]));
    let said = text(&rogue.stdout);
    assert!(
        said.contains(r#""allow":true"#),
        "{said} {}",
        text(&rogue.stderr)
    );
    assert!(
        !said.contains(&file_secret()) && said.contains(r#""files":[]"#),
        "the broker sent the docker config to a client: {said}"
    );
}

/// A credential goes only to a program the agent cannot have written:
/// a rule grants `aws` by name and an approver approves `aws s3 ls`, so a
/// file of the agent's under that name (or one it could swap in) must not
/// be what receives it. Each row says whether the program that ran saw
/// the credential.
#[test]
fn only_a_program_the_agent_cannot_write_holds_a_credential() {
    use common::broker::chown;
    let users = require_users!();
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = config(&b, approver());
    b.write_config(&yaml);
    b.start();
    let tell = "#!/bin/sh\necho \"got:${AWS_SECRET_ACCESS_KEY:-none}\"\n";
    let put = |dir: &Path, name: &str, body: &str, mode: u32| {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        chmod(&p, mode);
        p
    };
    // The control: root's file in root's directory.
    std::fs::create_dir_all(b.bin_dir()).unwrap();
    chmod(&b.bin_dir(), 0o755);
    put(&b.bin_dir(), "aws", tell, 0o755);
    // The agent's own file, in a directory of its own.
    let mine = b.work().join("mybin");
    let fake = put(&mine, "aws", tell, 0o755);
    chown(&mine, &users.agent);
    chown(&fake, &users.agent);
    // Root's file, in a directory the agent can rename things in.
    let swap = b.work().join("swap");
    put(&swap, "aws", tell, 0o755);
    chown(&swap, &users.agent);
    // Root's file, writable by anyone.
    let open = b.path().join("open");
    put(&open, "aws", tell, 0o777);
    chmod(&open, 0o755);
    // Root's file, writable by a group the agent is in.
    let grouped = b.path().join("grouped");
    let g = put(&grouped, "aws", tell, 0o775);
    chmod(&grouped, 0o755);
    nix::unistd::chown(&g, None, Some(nix::unistd::Gid::from_raw(users.agent.gid))).unwrap();
    // Root's script, run by an interpreter the agent could have written
    // (its own copy of sh).
    let interp = mine.join("interp");
    std::fs::copy("/bin/sh", &interp).unwrap();
    chmod(&interp, 0o755);
    chown(&interp, &users.agent);
    let borrowed = b.path().join("borrowed");
    put(
        &borrowed,
        "aws",
        &format!(
            "#!{}\necho \"got:${{AWS_SECRET_ACCESS_KEY:-none}}\"\n",
            interp.display()
        ),
        0o755,
    );
    chmod(&borrowed, 0o755);
    let rows: &[(String, bool)] = &[
        ("aws s3 ls".into(), true),
        ("aws s3 ls | cat".into(), true),
        ("./mybin/aws s3 ls".into(), false),
        ("PATH=$PWD/mybin:$PATH aws s3 ls".into(), false),
        ("mybin/aws s3 ls | cat".into(), false),
        ("bash -c 'PATH=$PWD/mybin:$PATH; aws s3 ls'".into(), false),
        ("./swap/aws s3 ls".into(), false),
        (format!("{}/aws s3 ls", open.display()), false),
        (format!("{}/aws s3 ls", grouped.display()), false),
        (format!("{}/aws s3 ls", borrowed.display()), false),
    ];
    let mut failures = Vec::new();
    for (line, holds) in rows {
        let out = run(&mut b.agent(&["-c", line]));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let want = if *holds {
            format!("got:{SECRET}")
        } else {
            "got:none".to_string()
        };
        let told = stderr.contains("runs without the line's credentials");
        if !stdout.contains(&want) || told == *holds || !out.status.success() {
            failures.push(format!("{line}: {:?} {stdout:?} {stderr:?}", out.status));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A holder runs no code the agent placed through its environment: its
/// interpreter's module path and preload options are not passed, and
/// Python leaves out the agent's own site-packages, where a `.pth` file
/// runs at every start-up with the credential in `os.environ`.
#[test]
fn a_holder_loads_no_code_the_agent_placed() {
    let users = require_users!();
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let b = aws_broker(users);
    fake_aws(
        &b,
        "#!/usr/bin/python3\nimport os\n\
         print('got:' + os.environ.get('AWS_SECRET_ACCESS_KEY', 'none'))\n\
         names = ('PYTHONPATH', 'NODE_OPTIONS', 'PERL5OPT', 'BASH_FUNC_ls%%', 'PYTHONNOUSERSITE')\n\
         print('vars:' + ','.join(k for k in names if k in os.environ))\n",
    );
    // What the agent plants: a .pth in its user site, a sitecustomize on
    // a PYTHONPATH of its own. Each writes down what it found.
    let leak = |name: &str| b.work().join(name);
    let site = run(&mut b.as_user(
        &users.agent,
        Path::new("/usr/bin/python3"),
        &["-c", "import site; print(site.getusersitepackages())"],
    ));
    let site = text(&site.stdout).trim().to_string();
    let pp = b.work().join("pp");
    let plant = format!(
        "mkdir -p '{site}' '{pp}' && \
         printf '%s\\n' \"import os; open('{pth}', 'w').write(os.environ.get('AWS_SECRET_ACCESS_KEY', 'none'))\" > '{site}/leak.pth' && \
         printf '%s\\n' \"import os; open('{sc}', 'w').write(os.environ.get('AWS_SECRET_ACCESS_KEY', 'none'))\" > '{pp}/sitecustomize.py'",
        pp = pp.display(),
        pth = leak("pth-ran").display(),
        sc = leak("sitecustomize-ran").display(),
    );
    let planted = run(&mut b.as_user(&users.agent, Path::new("/bin/sh"), &["-c", &plant]));
    assert!(planted.status.success(), "{}", text(&planted.stderr));
    // The control: a program that holds nothing runs the agent's code.
    let control = run(b.agent(&["-c", "python3 -c pass"]).env("PYTHONPATH", &pp));
    assert!(control.status.success(), "{}", text(&control.stderr));
    for name in ["pth-ran", "sitecustomize-ran"] {
        assert_eq!(
            std::fs::read_to_string(leak(name)).ok().as_deref(),
            Some("none"),
            "{name}: the planted code runs in a python that holds nothing"
        );
        std::fs::remove_file(leak(name)).unwrap();
    }
    for line in ["aws s3 ls", "aws s3 ls | cat", "bash -c 'aws s3 ls'"] {
        let out = run(b
            .agent(&["-c", line])
            .env("PYTHONPATH", &pp)
            .env("NODE_OPTIONS", "--require=/nonexistent.js")
            .env("PERL5OPT", "-M/nonexistent")
            .env("BASH_FUNC_ls%%", "() { echo hijacked; }"));
        let said = text(&out.stdout);
        assert!(out.status.success(), "{line}: {}", text(&out.stderr));
        assert!(said.contains(&format!("got:{SECRET}")), "{line}: {said}");
        assert!(said.contains("vars:PYTHONNOUSERSITE\n"), "{line}: {said}");
        for name in ["pth-ran", "sitecustomize-ran"] {
            assert!(
                !leak(name).exists(),
                "{line}: the agent's {name} ran in the holder"
            );
        }
    }
}

/// A line's credential goes to the programs its rule granted it for, not
/// to the line's shell: a file the line sources, or the line's own
/// `echo`, runs without it, and every exec of the program has it. Each
/// `bash-got` below printed the secret when the shell held it.
#[test]
fn a_lines_credential_goes_to_its_program_not_its_shell() {
    let users = require_users!();
    let b = aws_broker(users);
    fake_aws(
        &b,
        "#!/bin/sh\necho \"aws-got:${AWS_SECRET_ACCESS_KEY:-none}\"\n",
    );
    let script = b.work().join("x.sh");
    std::fs::write(
        &script,
        "echo \"bash-got:${AWS_SECRET_ACCESS_KEY:-none}\"\naws s3 ls\n",
    )
    .unwrap();
    common::broker::chown(&script, &users.agent);
    let got = format!("aws-got:{SECRET}");
    let rows: &[(&str, String)] = &[
        ("aws s3 ls", format!("{got}\n")),
        ("aws s3 ls | cat", format!("{got}\n")),
        ("env AWS_PROFILE=x aws s3 ls | cat", format!("{got}\n")),
        (
            "for i in 1 2; do aws s3 ls s3://b$i; done",
            format!("{got}\n{got}\n"),
        ),
        ("bash x.sh", format!("bash-got:none\n{got}\n")),
        (". ./x.sh", format!("bash-got:none\n{got}\n")),
        (
            "aws s3 ls; echo \"bash-got:${AWS_SECRET_ACCESS_KEY:-none}\"",
            format!("{got}\nbash-got:none\n"),
        ),
        (
            "bash -c 'echo \"bash-got:${AWS_SECRET_ACCESS_KEY:-none}\"; aws s3 ls'",
            format!("bash-got:none\n{got}\n"),
        ),
    ];
    let mut failures = Vec::new();
    for (line, want) in rows {
        let out = run(&mut b.agent(&["-c", line]));
        let said = text(&out.stdout);
        if &said != want || !out.status.success() {
            failures.push(format!(
                "{line}: {:?} {said:?} (want {want:?}) {:?}",
                out.status,
                text(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The moment between a holder's exec and its seal. A process of the
/// agent, outside the tree, that opens the holder's `/proc/PID/mem`
/// right after its exec keeps that descriptor, since the kernel checks
/// only at open. Whatever it opened then must never come to hold the
/// credential (the credential goes only into memory that was born
/// undumpable), and whatever it wrote through it must never run with
/// the credential.
#[test]
fn memory_opened_before_the_seal_never_holds_the_credential() {
    let users = require_users!();
    let Some(cc) = ["/usr/bin/cc", "/usr/bin/gcc"]
        .into_iter()
        .find(|c| Path::new(c).exists())
    else {
        eprintln!("skipped: no C compiler");
        return;
    };
    let b = aws_broker(users);
    fake_aws(
        &b,
        "#!/bin/sh\n\
         echo \"$$ ${AWS_SECRET_ACCESS_KEY:-none}\" > aws-ready.tmp && mv aws-ready.tmp aws-ready\n\
         sleep 1\n",
    );
    let racer = b.work().join("seal-racer");
    let built = std::process::Command::new(cc)
        .args(["-O2", "-o"])
        .arg(&racer)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/seal_racer.c"
        ))
        .output()
        .expect("cc");
    assert!(built.status.success(), "cc: {}", text(&built.stderr));
    chmod(&racer, 0o755);
    let session = granted_session(&b, "seal race");
    let ready = b.work().join("aws-ready");
    // One run of the racer in `mode`: what it said, its stderr (guard's
    // too), and what the holder said it held.
    let race = |mode: &str| {
        let _ = std::fs::remove_file(&ready);
        let out = run(b
            .as_user(
                &users.agent,
                &racer,
                &[
                    users.bin.to_str().unwrap(),
                    "aws s3 ls",
                    SECRET,
                    ready.to_str().unwrap(),
                    mode,
                ],
            )
            .env("GUARD_SESSION", &session));
        let held = std::fs::read_to_string(&ready).unwrap_or_default();
        (text(&out.stdout), text(&out.stderr), held)
    };
    let (mut won, mut lost) = (0, 0);
    for attempt in 0..20 {
        let (said, _, held) = race("read");
        assert!(
            held.ends_with(&format!(" {SECRET}\n")),
            "attempt {attempt}: aws did not get its credential: {held:?} {said}\n{}",
            b.logs()
        );
        match said.trim() {
            "won clean" => won += 1,
            "lost" => lost += 1,
            other => panic!(
                "attempt {attempt}: memory opened before the seal held the credential: {other}"
            ),
        }
        if won >= 5 {
            break;
        }
    }
    eprintln!("seal race (read): {won} opened in the window, {lost} refused");
    assert!(
        won > 0,
        "the racer never opened a holder's memory in the window ({lost} tries): \
         this test shows nothing on this machine"
    );

    // Written in the window: one byte of the loader's ELF header padding,
    // harmless to run, but not what the exec made.
    let (mut wrote, mut lost) = (0, 0);
    for attempt in 0..20 {
        let (said, stderr, held) = race("write");
        match said.trim().split_once(' ') {
            Some(("wrote", status)) => {
                wrote += 1;
                assert!(
                    !held.contains(SECRET),
                    "attempt {attempt}: memory written before the seal ran with the credential"
                );
                assert_ne!(status, "0", "attempt {attempt}: the line succeeded");
                assert!(
                    stderr.contains("written before it was sealed"),
                    "attempt {attempt}: {stderr}"
                );
            }
            _ if said.trim() == "lost" => {
                lost += 1;
                assert!(held.contains(SECRET), "attempt {attempt}: {held:?}");
            }
            _ => panic!("attempt {attempt}: {said} {stderr}"),
        }
        if wrote >= 5 {
            break;
        }
    }
    eprintln!("seal race (write): {wrote} written in the window, {lost} refused");
    assert!(
        wrote > 0,
        "the racer never wrote in the window ({lost} tries)"
    );

    // Rewritten as the broker works: int3 kept over the loader's entry,
    // where the program starts and the broker injects its calls. A
    // program that ran any of it would die of SIGTRAP before it said a
    // thing, so a holder that says it has its credential ran clean; and
    // whatever happens, the line ends and the broker goes on.
    let (mut coded, mut clean) = (0, 0);
    for attempt in 0..10 {
        let (said, stderr, held) = race("code");
        match said.trim().split_once(' ') {
            Some(("wrote", _)) => {
                coded += 1;
                if held.contains(SECRET) {
                    clean += 1;
                }
            }
            _ if said.trim() == "lost" => {}
            _ => panic!("attempt {attempt}: {said} {stderr}"),
        }
    }
    eprintln!("seal race (code): {coded} rewritten in the window, {clean} of them ran clean");
    assert!(coded > 0, "the racer never rewrote the entry in the window");
    let _ = std::fs::remove_file(&ready);
    let after = run(b
        .agent(&["-c", "aws s3 ls"])
        .env("GUARD_SESSION", &session)
        .stdin(Stdio::null()));
    assert!(
        after.status.success(),
        "the broker after the races: {}",
        text(&after.stderr)
    );
    let held = std::fs::read_to_string(&ready).unwrap_or_default();
    assert!(held.ends_with(&format!(" {SECRET}\n")), "{held:?}");
    // Each refusal is on the record.
    let log = std::fs::read_to_string(b.audit_log()).unwrap_or_default();
    assert!(
        log.contains("written before it was sealed"),
        "no audit record of the refused holder"
    );
}

/// A holder's program runs in a child of the process that exec'd it
/// (`trace::relay`), which stands in for it: whoever waits for the
/// holder sees its program's own exit status and signal, a signal sent
/// to the holder reaches the program, and its input and output are the
/// program's.
#[test]
fn a_sealed_program_keeps_its_status_signals_and_input() {
    let users = require_users!();
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = config(&b, approver());
    b.write_config(&yaml);
    b.start();
    std::fs::create_dir_all(b.bin_dir()).unwrap();
    chmod(&b.bin_dir(), 0o755);
    let aws = b.bin_dir().join("aws");
    // `aws exit N`, `aws signal SIG`, `aws wait` (until SIGTERM, then
    // exit 7), `aws read` (a line of input, written back).
    std::fs::write(
        &aws,
        "#!/bin/sh\n\
         case \"$1\" in\n\
         exit) exit \"$2\" ;;\n\
         signal) kill -\"$2\" $$; sleep 5; exit 1 ;;\n\
         wait) trap 'kill $p; echo \"term ${AWS_SECRET_ACCESS_KEY:-none}\" > aws-term; exit 7' TERM\n\
               sleep 20 >/dev/null 2>&1 & p=$!; echo $$ > aws-up; wait $p ;;\n\
         read) read -r line; echo \"read:$line:${AWS_SECRET_ACCESS_KEY:-none}\" ;;\n\
         esac\n",
    )
    .unwrap();
    chmod(&aws, 0o755);
    let session = granted_session(&b, "relay");
    let guarded = |line: &str| {
        run(b
            .agent(&["-c", line])
            .env("GUARD_SESSION", &session)
            .stdin(Stdio::null()))
    };
    // line → its exit status (as the harness sees it) and its output.
    let rows: &[(&str, Option<i32>, &str)] = &[
        ("aws exit 3", Some(3), ""),
        ("aws exit 0", Some(0), ""),
        ("aws exit 3; echo \"st=$?\"", Some(0), "st=3\n"),
        ("aws signal TERM; echo \"st=$?\"", Some(0), "st=143\n"),
        ("aws signal USR1; echo \"st=$?\"", Some(0), "st=138\n"),
        ("aws signal TERM", None, ""),
        (
            "aws wait & until [ -e aws-up ]; do sleep 0.05; done; kill $!; wait $!; echo \"st=$?\"",
            Some(0),
            "st=7\n",
        ),
        (
            "aws wait & until [ -e aws-up ]; do sleep 0.05; done; kill -s RTMIN $!; wait $!; echo \"st=$?\"",
            Some(0),
            "st=162\n",
        ),
        (
            "aws wait >/dev/null 2>aws-err & until [ -e aws-up ]; do sleep 0.05; done; kill -9 $!; wait $!; echo \"st=$?\"",
            Some(0),
            "st=137\n",
        ),
        (
            "printf 'hello\\n' | aws read",
            Some(0),
            "read:hello:sealed-secret-value-5a4b3c2d1e\n",
        ),
        (
            "set -o pipefail; aws exit 5 | cat; echo \"st=$?\"",
            Some(0),
            "st=5\n",
        ),
    ];
    for (line, status, stdout) in rows {
        let _ = std::fs::remove_file(b.work().join("aws-up"));
        let _ = std::fs::remove_file(b.work().join("aws-term"));
        let out = guarded(line);
        assert_eq!(
            out.status.code(),
            *status,
            "{line}: {:?} {} {}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        if status.is_none() {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(out.status.signal(), Some(15), "{line}: {:?}", out.status);
        }
        assert_eq!(text(&out.stdout), *stdout, "{line}: {}", text(&out.stderr));
        if line.contains("kill -9") {
            // The program went with the process that stood in for it.
            let said = std::fs::read_to_string(b.work().join("aws-err")).unwrap_or_default();
            assert!(said.contains("stood in for it is gone"), "{line}: {said}");
            let held = std::fs::read_to_string(b.work().join("aws-up")).unwrap_or_default();
            let gone = common::broker::eventually(Duration::from_secs(5), || {
                !Path::new(&format!("/proc/{}", held.trim())).exists()
            });
            assert!(
                !held.trim().is_empty() && gone.is_some(),
                "{line}: the program ({held:?}) outlived its stand-in"
            );
        }
        if line.contains("kill $!") {
            let term = std::fs::read_to_string(b.work().join("aws-term")).unwrap_or_default();
            assert_eq!(
                term,
                format!("term {SECRET}\n"),
                "{line}: the program got the signal"
            );
        }
    }

    // Compiled holders, as a real CLI is: a static one (as Go builds) and
    // a dynamic PIE. Their memory is checked page by page against their
    // files, so this is where a false alarm would show.
    let Some(cc) = ["/usr/bin/cc", "/usr/bin/gcc"]
        .into_iter()
        .find(|c| Path::new(c).exists())
    else {
        eprintln!("skipped the compiled holders: no C compiler");
        return;
    };
    let src = b.work().join("holder.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <stdlib.h>\n\
         static char data[] = \"data\"; static char bss[4096];\n\
         int main(int c, char **v) { const char *s = getenv(\"AWS_SECRET_ACCESS_KEY\");\n\
         bss[0] = data[0]; printf(\"%s:%s:%s\\n\", bss, c > 1 ? v[1] : \"\", s ? s : \"none\"); return 4; }\n",
    )
    .unwrap();
    for flags in [&["-static"][..], &["-pie", "-fPIE"][..]] {
        let built = std::process::Command::new(cc)
            .args(flags)
            .arg("-O2")
            .arg("-o")
            .arg(&aws)
            .arg(&src)
            .output()
            .expect("cc");
        if !built.status.success() {
            eprintln!("skipped {flags:?}: {}", text(&built.stderr));
            continue;
        }
        chmod(&aws, 0o755);
        let out = guarded("aws x; echo \"st=$?\"");
        assert_eq!(
            text(&out.stdout),
            format!("d:x:{SECRET}\nst=4\n"),
            "{flags:?}: {}",
            text(&out.stderr)
        );
    }
}

/// A seccomp filter of the agent's, installed in the line before the
/// holder's exec, would be the holder's too: one that answers for the
/// kernel (`SECCOMP_RET_USER_NOTIF`) could hand it files of the agent's
/// choosing, or fake the calls that make its credential files. So a
/// holder under any filter but guard's own is refused its credentials;
/// without the filter the same line gets them.
#[test]
fn a_holder_under_a_filter_of_the_agents_is_refused() {
    let users = require_users!();
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let b = aws_broker(users);
    fake_aws(
        &b,
        "#!/bin/sh\necho \"aws-got:${AWS_SECRET_ACCESS_KEY:-none}\"\n",
    );
    let script = b.work().join("filtered.py");
    std::fs::write(
        &script,
        r#"import ctypes, os, struct, sys
if sys.argv[1] == "filter":
    libc = ctypes.CDLL(None, use_errno=True)
    # One instruction: return SECCOMP_RET_ALLOW.
    prog = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0x7FFF0000))
    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fp = Fprog(1, ctypes.cast(prog, ctypes.c_void_p))
    libc.prctl(38, 1, 0, 0, 0)
    if libc.prctl(22, 2, ctypes.byref(fp), 0, 0) != 0:
        print("no filter", ctypes.get_errno(), flush=True)
        sys.exit(3)
os.execvp("aws", ["aws", "s3", "ls"])
"#,
    )
    .unwrap();
    chmod(&script, 0o644);
    let session = granted_session(&b, "filters");
    let line = |arg: &str| {
        run(b
            .agent(&["-c", &format!("python3 {} {arg}", script.display())])
            .env("GUARD_SESSION", &session)
            .stdin(Stdio::null()))
    };
    let plain = line("plain");
    assert_eq!(
        text(&plain.stdout),
        format!("aws-got:{SECRET}\n"),
        "control: {}",
        text(&plain.stderr)
    );
    let filtered = line("filter");
    assert!(
        !text(&filtered.stdout).contains(SECRET),
        "a holder under the agent's filter got the credential"
    );
    assert!(!filtered.status.success(), "{:?}", filtered.status);
    assert!(
        text(&filtered.stderr).contains("seccomp filter guard did not install"),
        "{}",
        text(&filtered.stderr)
    );
}
