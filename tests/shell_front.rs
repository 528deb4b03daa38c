//! The shell front (`src/front/`, README "The shell front") against the
//! full client, line by line, on one real broker running as its own user,
//! with the agent as a real second user: for every row the front must do
//! exactly what the full binary does, byte for byte on stdout and stderr,
//! with the same exit status and the same decision in the audit log.
//! Rows the front hands to the full binary (other shapes of command line)
//! are in the table too: handing over must change nothing either.

mod common;

use std::sync::{Arc, Mutex};

use common::broker::{self, run_for, text, Broker};

const SECRET: &str = "front-e2e-webhook-secret";
const MINTED: &str = "minted-front-value-5a4b3c";

/// A real approver on 127.0.0.1 that allows every well-signed request.
fn approver() -> (u16, Arc<Mutex<usize>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let port = server.server_addr().to_ip().unwrap().port();
    let asked = Arc::new(Mutex::new(0));
    let count = Arc::clone(&asked);
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = String::new();
            let _ = req.as_reader().read_to_string(&mut body);
            if common::header(&req, "X-Guard-Signature")
                != common::signature(SECRET.as_bytes(), body.as_bytes())
            {
                let _ = req.respond(tiny_http::Response::from_string("bad").with_status_code(401));
                continue;
            }
            *count.lock().unwrap() += 1;
            let answer = common::answer_for(
                body.as_bytes(),
                r#"{"decision":"allow","approver":"front-e2e"}"#,
            );
            let _ = req.respond(common::signed_response(SECRET.as_bytes(), 200, &answer));
        }
    });
    (port, asked)
}

fn config(b: &Broker, port: u16) -> String {
    let secret = b.private_file("webhook.secret", &format!("{SECRET}\n"), 0o600);
    let mint = b.private_file(
        "mint.sh",
        &format!("#!/bin/sh\necho AWS_ACCESS_KEY_ID=ASIAFRONT0001\necho AWS_SECRET_ACCESS_KEY={MINTED}\n"),
        0o700,
    );
    let kube = b.private_file(
        "kube.sh",
        "#!/bin/sh\nprintf '%s\\n' '{\"data\":{\"kubeconfig\":\"apiVersion: v1\\nkind: Config\\n\"}}'\n",
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
  - name: kube-test
    provider: {{command: [\"{kube}\"]}}
    files: [{{env: KUBECONFIG, from: data.kubeconfig}}]
rules:
  - id: test.aws
    match: {{program: [aws]}}
    action: review
    grants: [aws-test]
    message: \"aws: uses the test credential\"
  - id: test.kubectl
    match: {{program: [kubectl]}}
    action: review
    grants: [kube-test]
    message: \"kubectl: uses the test kubeconfig\"
  - id: test.curl
    match: {{program: [curl]}}
    action: deny
    message: \"curl is not allowed here\"
",
        secret = secret.display(),
        mint = mint.display(),
        kube = kube.display(),
    )
}

/// One row: the shell's arguments, extra variables, stdin.
struct Row {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    stdin: &'static str,
    /// What the front's run must show, besides agreeing with the full one.
    expect: fn(i32, &str, &str) -> bool,
}

const fn row(args: &'static [&'static str], expect: fn(i32, &str, &str) -> bool) -> Row {
    Row {
        args,
        env: &[],
        stdin: "",
        expect,
    }
}

const ROWS: &[Row] = &[
    // Run by the front itself: `-c LINE`.
    row(&["-c", "echo hi"], |c, o, _| c == 0 && o == "hi\n"),
    row(&["-c", "ls -d /usr"], |c, o, _| c == 0 && o == "/usr\n"),
    row(&["-c", "cd /tmp && ls -d /usr | head -1"], |c, o, _| {
        c == 0 && o == "/usr\n"
    }),
    row(&["-c", "exit 3"], |c, _, _| c == 3),
    row(&["-c", "no-such-program-xyz --flag"], |c, _, e| {
        c == 127 && e.contains("command not found")
    }),
    row(
        &["-c", "echo \"$0|$1|$#\"", "name", "a", "b c"],
        |c, o, _| c == 0 && o == "name|a|2\n",
    ),
    row(&["-c", "echo 'é 🦀 \"q\" \\ end'"], |c, o, _| {
        c == 0 && o == "é 🦀 \"q\" \\ end\n"
    }),
    row(&["-lc", "echo login"], |c, o, _| c == 0 && o == "login\n"),
    row(&["-c", "curl -s http://127.0.0.1:9/"], |c, o, e| {
        c == 126 && o.is_empty() && e.starts_with("guard: denied: curl is not allowed here")
    }),
    row(&["-c", "aws s3 ls"], |c, o, _| {
        c == 0 && o.contains("ASIAFRONT0001") && o.contains(MINTED)
    }),
    row(&["-c", "kubectl get pods"], |c, o, _| {
        c == 0 && o.contains("kind: Config")
    }),
    // What the line starts is decided by the broker's tracer.
    row(&["-c", "bash ./inner.sh"], |c, o, e| {
        ((c == 0 && o == "after\n") || c == 126)
            && e.contains("guard: denied: curl is not allowed here")
    }),
    // Delegated to the full binary.
    row(&["--", "printf", "%s\\n", "a b"], |c, o, _| {
        c == 0 && o == "a b\n"
    }),
    row(&["-e", "-c", "false; echo not-here"], |c, o, _| {
        c == 1 && o.is_empty()
    }),
    Row {
        args: &["-s"],
        env: &[],
        stdin: "echo from-stdin\n",
        expect: |c, o, _| c == 0 && o == "from-stdin\n",
    },
    Row {
        args: &[
            "-c",
            "printenv SHLVL PWD; printenv OLDPWD || echo no-oldpwd",
        ],
        env: &[("SHLVL", "4"), ("OLDPWD", "/no/such/dir")],
        stdin: "",
        expect: |c, o, _| c == 0 && o.starts_with("5\n"),
    },
    Row {
        args: &["-c", "printenv SHLVL OLDPWD _"],
        env: &[("SHLVL", "4"), ("OLDPWD", "/no/such/dir")],
        stdin: "",
        expect: |c, o, _| c == 1 && o == "4\n/usr/bin/printenv\n",
    },
    Row {
        args: &["-c", "printenv GITHUB_TOKEN BASH_ENV KEEP"],
        env: &[
            ("GITHUB_TOKEN", "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"),
            ("BASH_ENV", "/tmp/x"),
            ("KEEP", "kept"),
        ],
        stdin: "",
        expect: |c, o, _| c == 1 && o == "kept\n",
    },
    // The harness's forced command is the full binary's to read.
    Row {
        args: &["-c", "echo shell-line"],
        env: &[("SSH_ORIGINAL_COMMAND", "echo forced")],
        stdin: "",
        expect: |c, o, _| c == 0 && (o == "shell-line\n" || o == "forced\n"),
    },
];

struct Run {
    /// How many times the approver was asked.
    asked: usize,
    code: i32,
    stdout: String,
    stderr: String,
    decision: Option<(String, String)>,
}

fn one(b: &Broker, asked: &Mutex<usize>, full: bool, r: &Row) -> Run {
    let before = b.decisions().len();
    let asked_before = *asked.lock().unwrap();
    let mut cmd = if full {
        b.agent_full(r.args)
    } else {
        b.agent(r.args)
    };
    for (k, v) in r.env {
        cmd.env(k, v);
    }
    let out = run_for(
        &mut cmd,
        Some(r.stdin.as_bytes()),
        std::time::Duration::from_secs(30),
    );
    // The broker writes its log on an interval.
    common::broker::eventually(std::time::Duration::from_secs(5), || {
        b.decisions().len() > before
    });
    let decisions = b.decisions();
    let decision = decisions.get(before).map(|d| {
        (
            d["decision"].as_str().unwrap_or("").to_string(),
            d["rule"].as_str().unwrap_or("").to_string(),
        )
    });
    Run {
        asked: *asked.lock().unwrap() - asked_before,
        code: out.status.code().unwrap_or(-1),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
        decision,
    }
}

#[test]
fn the_front_does_what_the_full_client_does() {
    let users = require_users!();
    let (port, asked) = approver();
    let mut b = Broker::new(users, "# placeholder\n");
    let yaml = config(&b, port);
    b.write_config(&yaml);
    b.start();
    for cli in ["aws", "kubectl", "curl"] {
        b.fake_cli(cli);
    }
    // The fakes print what they were given, for the rows to compare.
    let show = |name: &str, body: &str| {
        let p = b.bin_dir().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        broker::chmod(&p, 0o755);
    };
    show("aws", "env | grep '^AWS_' | sort");
    show("kubectl", "cat \"$KUBECONFIG\"");
    let inner = b.work().join("inner.sh");
    std::fs::write(&inner, "curl -s http://127.0.0.1:9/\necho after\n").unwrap();
    broker::chmod(&inner, 0o644);
    let mut failures = Vec::new();
    for r in ROWS {
        let front = one(&b, &asked, false, r);
        let full = one(&b, &asked, true, r);
        let same = (
            front.asked,
            front.code,
            &front.stdout,
            &front.stderr,
            &front.decision,
        ) == (
            full.asked,
            full.code,
            &full.stdout,
            &full.stderr,
            &full.decision,
        );
        let shown = (r.expect)(front.code, &front.stdout, &front.stderr);
        if !same || !shown {
            failures.push(format!(
                "{:?} {:?}: same={same} expected={shown}\n  front: {} {} {:?} {:?} {:?}\n  full:  {} {} {:?} {:?} {:?}",
                r.args,
                r.env,
                front.asked,
                front.code,
                front.stdout,
                front.stderr,
                front.decision,
                full.asked,
                full.code,
                full.stdout,
                full.stderr,
                full.decision
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The reviewed rows went to the approver (the same number of times
    // for each client, above).
    assert!(*asked.lock().unwrap() >= 4, "{}", asked.lock().unwrap());
    let (code, out) = b.verify();
    assert_eq!(code, 0, "{out}");
}

/// The front refuses as the full client does when the broker cannot be
/// asked: down, or not the broker's user at the socket.
#[test]
fn with_no_broker_to_ask_the_front_refuses() {
    let users = require_users!();
    let b = Broker::new(users, "rules: []\n");
    // Never started: nothing listens on the socket.
    for full in [false, true] {
        let mut cmd = if full {
            b.agent_full(&["-c", "echo hi"])
        } else {
            b.agent(&["-c", "echo hi"])
        };
        let out = run_for(&mut cmd, None, std::time::Duration::from_secs(30));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(126), "{err}");
        assert!(text(&out.stdout).is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("guard: broker ") && err.contains("is not answering"),
            "{err}"
        );
    }
    // A socket served by the agent itself: refused before a word is sent.
    let fake = b.work().join("fake.sock");
    let cfg = b.path().join("fake-client.yaml");
    std::fs::write(
        &cfg,
        format!("broker: {}\nbroker_user: guard\n", fake.display()),
    )
    .unwrap();
    broker::chmod(&cfg, 0o644);
    let listener = b
        .as_user(
            &b.users.agent,
            std::path::Path::new("/usr/bin/python3"),
            &[
                "-c",
                &format!(
                    "import socket,time\ns=socket.socket(socket.AF_UNIX)\ns.bind('{}')\ns.listen(8)\nprint('up',flush=True)\ntime.sleep(20)",
                    fake.display()
                ),
            ],
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut listener = listener;
    let mut up = std::io::BufReader::new(listener.stdout.take().unwrap());
    assert!(common::broker::wait_line(&mut up, "up", std::time::Duration::from_secs(10)).is_some());
    let out = run_for(
        b.agent(&["-c", "echo hi"]).env("GUARD_CONFIG", &cfg),
        None,
        std::time::Duration::from_secs(30),
    );
    let _ = listener.kill();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(126), "{err}");
    assert!(
        err.starts_with("guard: broker socket ") && err.contains("is served by uid"),
        "{err}"
    );
}

/// Installed as install.sh installs it (executable, not readable), the
/// front starts undumpable: while it waits on the broker, no process of
/// the agent's user can open its memory, so nobody can rewrite what the
/// broker writes into it (the exec filter) before the kernel reads it. A
/// readable copy of the same binary, the control, can be opened.
#[test]
fn the_front_is_undumpable_while_it_waits() {
    let users = require_users!();
    let b = Broker::new(users, "rules: []\n");
    // A "broker" that is the broker's user and never answers.
    let mut listener = b
        .as_user(
            &users.broker,
            std::path::Path::new("/usr/bin/python3"),
            &[
                "-c",
                &format!(
                    "import os,socket\ns=socket.socket(socket.AF_UNIX)\ns.bind('{0}')\n\
                     os.chmod('{0}',0o666)\ns.listen(8)\nprint('up',flush=True)\nkeep=[]\n\
                     while True:\n    c,_=s.accept()\n    keep.append(c)\n",
                    b.socket().display()
                ),
            ],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3");
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut up = std::io::BufReader::new(listener.stdout.take().unwrap());
    let _listener = Reap(listener);
    assert!(broker::wait_line(&mut up, "up", std::time::Duration::from_secs(10)).is_some());
    let readable = b.path().join("readable-front");
    std::fs::copy(common::front(), &readable).unwrap();
    broker::chmod(&readable, 0o755);
    for (front, undumpable) in [(users.bin.clone(), true), (readable, false)] {
        // Through env: setpriv keeps root's capabilities up to its own
        // exec, and a process that may read the binary is dumpable; env
        // runs as the agent alone, as sshd, su and a harness do.
        let mut client = b
            .as_user(
                &users.agent,
                std::path::Path::new("/usr/bin/env"),
                &[front.to_str().unwrap(), "-c", "true"],
            )
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("front");
        let pid = client.id();
        // Waiting on the hello that never comes.
        let waiting = broker::eventually(std::time::Duration::from_secs(5), || {
            std::fs::read_link(format!("/proc/{pid}/fd/3"))
                .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        });
        assert!(waiting.is_some(), "the front never connected");
        let probe = run_for(
            &mut b.as_user(
                &users.agent,
                std::path::Path::new("/usr/bin/python3"),
                &[
                    "-c",
                    &format!(
                        "try:\n    open('/proc/{pid}/mem','rb')\n    print('opened')\n\
                         except PermissionError:\n    print('refused')\n"
                    ),
                ],
            ),
            None,
            std::time::Duration::from_secs(10),
        );
        let _ = client.kill();
        let _ = client.wait();
        let want = if undumpable { "refused" } else { "opened" };
        assert_eq!(
            text(&probe.stdout).trim(),
            want,
            "{}: {}",
            front.display(),
            text(&probe.stderr)
        );
    }
}

/// What the front hands over goes only to a full binary it can vouch
/// for: the installed one beside it, or the one it was built beside. A
/// front copied elsewhere refuses rather than run whatever a build tree,
/// perhaps the agent's to write, holds at the path it remembers.
#[test]
fn a_front_copied_away_from_its_full_binary_refuses_to_hand_over() {
    let built = common::front();
    let out = std::process::Command::new(&built)
        .arg("--version")
        .output()
        .expect("front");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("guard "),
        "{}",
        text(&out.stdout)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    for at in ["elsewhere/guard", "usr/bin/guard"] {
        let copy = dir.path().join(at);
        std::fs::create_dir_all(copy.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&built, &copy).expect("copy");
        let out = std::process::Command::new(&copy)
            .arg("--version")
            .output()
            .expect("copied front");
        assert_eq!(out.status.code(), Some(126), "{at}");
        assert_eq!(text(&out.stdout), "", "{at}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{at}: {err}");
        assert!(
            err.starts_with("guard: denied: no full guard binary beside this one"),
            "{at}: {err}"
        );
    }
}
