//! The webhook approver against a real HTTP server on 127.0.0.1, which
//! checks guard's HMAC signature itself. guard runs detached from any
//! terminal (setsid), so the webhook is the only approver.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "s3cret-for-tests";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: String,
    signature_ok: bool,
}

/// What the server does with the n-th request (0-based).
enum Reply {
    /// This status and body, signed, as they are.
    Status(u16, String),
    /// 200 with this decision, carrying the id of the request being
    /// answered: a POST's own, or for a GET poll the last POST's.
    Decide(String),
    /// 200 with this decision, freshly signed, but carrying the id of the
    /// k-th request POSTed (0-based): an answer for another request.
    DecideFor(usize, String),
    /// The k-th answer this server sent (0-based), byte for byte with its
    /// signature: what anyone who saw it on the wire could send again.
    Replay(usize),
    /// Hold the request and never answer.
    Hang,
}

/// One answer as the server sent it.
#[derive(Debug, Clone)]
struct Sent {
    code: u16,
    body: String,
    signature: String,
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

fn serve(reply: impl Fn(usize, &Seen) -> Reply + Send + 'static) -> Server {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = server.server_addr().to_ip().expect("ip listener").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let sent = Arc::new(Mutex::new(Vec::<Sent>::new()));
    let answers = Arc::clone(&sent);
    std::thread::spawn(move || {
        // The bodies of the requests POSTed so far: a poll answers the last.
        let mut posts: Vec<String> = Vec::new();
        for (n, mut req) in server.incoming_requests().enumerate() {
            let mut body = String::new();
            let _ = req.as_reader().read_to_string(&mut body);
            let signature = common::header(&req, "X-Guard-Signature");
            let signed = if req.method() == &tiny_http::Method::Post {
                body.clone()
            } else {
                format!("http://127.0.0.1:{port}{}", req.url())
            };
            let want = common::signature(SECRET.as_bytes(), signed.as_bytes());
            let s = Seen {
                method: req.method().to_string(),
                path: req.url().to_string(),
                body,
                signature_ok: signature == want,
            };
            log.lock().unwrap().push(s.clone());
            if !s.signature_ok {
                let _ = req.respond(
                    tiny_http::Response::from_string("bad signature").with_status_code(401),
                );
                continue;
            }
            if s.method == "POST" {
                posts.push(s.body.clone());
            }
            let signed = |code: u16, body: String| Sent {
                code,
                signature: common::signature(SECRET.as_bytes(), body.as_bytes()),
                body,
            };
            let answer = match reply(n, &s) {
                Reply::Status(code, text) => signed(code, text),
                Reply::Decide(decision) => {
                    let answering = posts.last().expect("a poll after a POST");
                    signed(200, common::answer_for(answering.as_bytes(), &decision))
                }
                Reply::DecideFor(k, decision) => {
                    signed(200, common::answer_for(posts[k].as_bytes(), &decision))
                }
                Reply::Replay(k) => answers.lock().unwrap()[k].clone(),
                Reply::Hang => {
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_secs(30));
                        drop(req);
                    });
                    continue;
                }
            };
            answers.lock().unwrap().push(answer.clone());
            let sig = tiny_http::Header::from_bytes("X-Guard-Signature", answer.signature)
                .expect("header");
            let _ = req.respond(
                tiny_http::Response::from_string(answer.body)
                    .with_status_code(answer.code)
                    .with_header(sig),
            );
        }
    });
    Server { port, seen, sent }
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// The id of each request POSTed so far, in order.
    fn ids(&self) -> Vec<String> {
        self.seen()
            .iter()
            .filter(|s| s.method == "POST")
            .map(|s| common::request_id(s.body.as_bytes()).expect("the request has an id"))
            .collect()
    }
}

struct Setup {
    dir: tempfile::TempDir,
    marker: PathBuf,
    path: String,
}

fn setup(port: u16, secret_mode: u32, timeout: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (path, marker) = common::recording_stub(dir.path(), "aws");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(secret_mode)).unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "approval:\n  tty: false\n  webhook:\n    url: http://127.0.0.1:{port}/approve\n    secret_file: {}\n    timeout: {timeout}\n",
            secret.display()
        ),
    )
    .unwrap();
    Setup { dir, marker, path }
}

impl Setup {
    fn run(&self, line: &str, session: Option<&str>) -> Output {
        let mut c = Command::new(common::bin());
        c.args(["-c", line])
            .env("GUARD_CONFIG", self.dir.path().join("config.yaml"))
            .env("GUARD_STATE_DIR", self.dir.path().join("state"))
            .env("PATH", &self.path)
            .env_remove("GUARD_SESSION")
            .stdin(Stdio::null());
        if let Some(s) = session {
            c.env("GUARD_SESSION", s);
        }
        common::detach(&mut c);
        c.output().unwrap()
    }

    fn ran(&self) -> bool {
        self.marker.exists()
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        common::audit_records(&self.dir.path().join("state"))
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn allow_runs_the_command_and_records_the_approver() {
    let server = serve(|_, _| {
        Reply::Decide(
            r#"{"decision":"allow","approver":"alice","reason":"ticket 42","scope":"once"}"#.into(),
        )
    });
    let t = setup(server.port, 0o600, "10s");
    let out = t.run("aws s3 ls", None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(t.ran());
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].signature_ok, "the server could not verify the HMAC");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/approve");
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    for key in [
        "id",
        "requested_at",
        "expires_at",
        "session",
        "user",
        "host",
        "cwd",
        "command",
        "commands",
        "matches",
    ] {
        assert!(body.get(key).is_some(), "request body lacks {key}: {body}");
    }
    assert_eq!(body["command"], "aws s3 ls");
    // The body has exactly the keys the shipped JSON Schema lists.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schemas/webhook-request.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let required = |v: &serde_json::Value| {
        let mut keys: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        keys.sort_unstable();
        keys
    };
    assert_eq!(common::sorted_keys(&body), required(&schema["required"]));
    assert_eq!(
        common::sorted_keys(&body["matches"][0]),
        required(&schema["properties"]["matches"]["items"]["required"])
    );
    assert_eq!(body["matches"][0]["rule"], "cloud.aws");
    let audit = t.audit();
    assert_eq!(audit[0]["decision"], "allow");
    assert_eq!(audit[0]["approval"]["channel"], "webhook");
    assert_eq!(audit[0]["approval"]["approver"], "alice");
    assert_eq!(audit[0]["approval"]["reason"], "ticket 42");
    assert_eq!(audit[0]["approval"]["scope"], "once");
}

#[test]
fn deny_carries_approver_and_reason() {
    let server = serve(|_, _| {
        Reply::Decide(
            r#"{"decision":"deny","approver":"bob","reason":"use the staging profile"}"#.into(),
        )
    });
    let t = setup(server.port, 0o600, "10s");
    let out = t.run("aws s3 ls", None);
    assert_eq!(out.status.code(), Some(126));
    assert_eq!(
        stderr(&out),
        "guard: denied by bob: use the staging profile\n"
    );
    assert!(out.stdout.is_empty());
    assert!(!t.ran());
    assert_eq!(t.audit()[0]["approval"]["approver"], "bob");
}

#[test]
fn accepted_then_polled_until_decided() {
    let server = serve(|n, seen| match (n, seen.method.as_str()) {
        (0, "POST") => Reply::Status(
            202,
            r#"{"poll_url":"/poll/abc","retry_after_ms":50}"#.into(),
        ),
        (1, "GET") => Reply::Status(
            202,
            r#"{"poll_url":"/poll/abc","retry_after_ms":50}"#.into(),
        ),
        (_, "GET") => Reply::Decide(r#"{"decision":"allow","approver":"carol"}"#.into()),
        _ => Reply::Status(500, String::new()),
    });
    let t = setup(server.port, 0o600, "10s");
    let out = t.run("aws s3 ls", None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = server.seen();
    let methods: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        methods,
        [
            ("POST", "/approve"),
            ("GET", "/poll/abc"),
            ("GET", "/poll/abc")
        ]
    );
    assert!(seen.iter().all(|s| s.signature_ok));
    assert_eq!(t.audit()[0]["approval"]["approver"], "carol");
}

#[test]
fn server_errors_are_retried() {
    let server = serve(|n, _| {
        if n < 2 {
            Reply::Status(500, "oops".into())
        } else {
            Reply::Decide(r#"{"decision":"allow","approver":"dave"}"#.into())
        }
    });
    let t = setup(server.port, 0o600, "10s");
    let out = t.run("aws s3 ls", None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.seen().len(), 3);
    assert!(t.ran());
}

#[test]
fn an_approver_that_never_answers_is_a_deny_at_the_timeout() {
    let server = serve(|_, _| Reply::Hang);
    let t = setup(server.port, 0o600, "2s");
    let out = t.run("aws s3 ls", None);
    assert_eq!(out.status.code(), Some(126));
    let err = stderr(&out);
    assert!(err.contains("did not decide within 2s"), "{err}");
    assert!(!t.ran());
}

#[test]
fn an_approver_that_is_down_is_a_deny() {
    // Bind and close a port so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = setup(port, 0o600, "1s");
    let out = t.run("aws s3 ls", None);
    assert_eq!(out.status.code(), Some(126));
    assert!(stderr(&out).contains("did not decide"), "{}", stderr(&out));
    assert!(!t.ran());
}

#[test]
fn malformed_answers_deny() {
    for text in [
        "not json",
        r#"{"decision":"maybe"}"#,
        r#"{"decision":"allow","scope":"forever"}"#,
        "{}",
    ] {
        let reply = text.to_string();
        // Each carries the right id, so only its shape is wrong.
        let server = serve(move |_, _| {
            if reply.starts_with('{') {
                Reply::Decide(reply.clone())
            } else {
                Reply::Status(200, reply.clone())
            }
        });
        let t = setup(server.port, 0o600, "10s");
        let out = t.run("aws s3 ls", None);
        assert_eq!(out.status.code(), Some(126), "{text}");
        assert!(
            stderr(&out).contains("malformed answer"),
            "{text}: {}",
            stderr(&out)
        );
        assert!(!t.ran(), "{text}");
    }
}

#[test]
fn a_wrong_secret_is_rejected_by_the_server_and_denied() {
    let server = serve(|_, _| Reply::Decide(r#"{"decision":"allow"}"#.into()));
    let t = setup(server.port, 0o600, "1s");
    std::fs::write(t.dir.path().join("secret"), "not-the-secret\n").unwrap();
    let out = t.run("aws s3 ls", None);
    assert_eq!(out.status.code(), Some(126));
    let seen = server.seen();
    assert!(!seen.is_empty() && seen.iter().all(|s| !s.signature_ok));
    assert!(!t.ran());
}

#[test]
fn a_world_readable_secret_is_refused() {
    let server = serve(|_, _| Reply::Decide(r#"{"decision":"allow"}"#.into()));
    let t = setup(server.port, 0o644, "5s");
    let out = t.run("aws s3 ls", None);
    assert_eq!(out.status.code(), Some(126));
    let err = stderr(&out);
    assert!(err.contains("accessible to others"), "{err}");
    assert!(server.seen().is_empty(), "guard must not send anything");
    assert!(!t.ran());
}

#[test]
fn session_scope_is_remembered() {
    let server = serve(|_, _| {
        Reply::Decide(r#"{"decision":"allow","approver":"erin","scope":"session"}"#.into())
    });
    let t = setup(server.port, 0o600, "10s");
    let start = || {
        common::start_session(
            &t.dir.path().join("config.yaml"),
            &t.dir.path().join("state"),
            &["--purpose", "webhook memory"],
        )
    };
    let (hook, other) = (start(), start());
    assert_eq!(t.run("aws s3 ls", Some(&hook)).status.code(), Some(0));
    assert_eq!(t.run("aws s3 ls", Some(&hook)).status.code(), Some(0));
    assert_eq!(
        server.seen().len(),
        1,
        "the second run must come from memory"
    );
    // A different session asks again.
    assert_eq!(t.run("aws s3 ls", Some(&other)).status.code(), Some(0));
    assert_eq!(server.seen().len(), 2);
    let channels: Vec<String> = t
        .audit()
        .iter()
        .map(|r| r["approval"]["channel"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(channels, ["webhook", "memory", "webhook"]);
}

/// How the approver's port answers request B, after request A was
/// really approved.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// A correctly signed allow carrying A's id.
    OtherRequestsId,
    /// A correctly signed allow with no id at all.
    NoId,
    /// A's real signed answer, byte for byte with its signature.
    ReplayOfA,
    /// B's POST is told to poll; the poll is answered with A's real
    /// signed answer, byte for byte.
    ReplayOfAToAPoll,
    /// A correctly signed allow carrying B's own id.
    OwnId,
}

/// A signed `allow` is bound to the request it answers: one that names
/// another request, or none, or is a replay of an earlier answer, is a
/// deny and the command does not run. The last row is the control: the
/// same answer naming the right request is allowed.
#[test]
fn an_answer_must_name_the_request_it_answers() {
    const FOR_ANOTHER: &str =
        "guard: denied by webhook: the approver's answer is for another request; refusing it\n";
    const FOR_NONE: &str =
        "guard: denied by webhook: the approver's answer names no request; refusing it\n";
    let allow = r#"{"decision":"allow","approver":"mallory","scope":"once"}"#;
    let table: [(Answer, Option<&str>); 5] = [
        (Answer::OtherRequestsId, Some(FOR_ANOTHER)),
        (Answer::NoId, Some(FOR_NONE)),
        (Answer::ReplayOfA, Some(FOR_ANOTHER)),
        (Answer::ReplayOfAToAPoll, Some(FOR_ANOTHER)),
        (Answer::OwnId, None),
    ];
    for (how, refusal) in table {
        let server = serve(move |n, seen| match (n, seen.method.as_str(), how) {
            // Request A: the approver really allows it.
            (0, "POST", _) => {
                Reply::Decide(r#"{"decision":"allow","approver":"alice","scope":"once"}"#.into())
            }
            (_, "POST", Answer::OtherRequestsId) => Reply::DecideFor(0, allow.into()),
            (_, "POST", Answer::NoId) => Reply::Status(200, allow.into()),
            (_, "POST", Answer::ReplayOfA) => Reply::Replay(0),
            (_, "POST", Answer::ReplayOfAToAPoll) => {
                Reply::Status(202, r#"{"poll_url":"/poll/b","retry_after_ms":50}"#.into())
            }
            (_, "GET", Answer::ReplayOfAToAPoll) => Reply::Replay(0),
            (_, "POST", Answer::OwnId) => Reply::Decide(allow.into()),
            _ => Reply::Status(500, String::new()),
        });
        let (a, b) = (
            setup(server.port, 0o600, "10s"),
            setup(server.port, 0o600, "10s"),
        );
        let out = a.run("aws s3 ls", None);
        assert_eq!(out.status.code(), Some(0), "{how:?}, A: {}", stderr(&out));
        assert!(a.ran(), "{how:?}: A did not run");
        let captured = server.sent()[0].clone();
        assert!(
            captured.code == 200 && captured.body.contains(&server.ids()[0]),
            "{how:?}: A's answer names A: {captured:?}"
        );

        let out = b.run("aws s3 ls", None);
        let ids = server.ids();
        assert_eq!(ids.len(), 2, "{how:?}: A and B were both asked");
        assert_ne!(ids[0], ids[1], "{how:?}: two requests, two ids");
        let audit = b.audit();
        assert_eq!(audit.len(), 1, "{how:?}: {audit:?}");
        match refusal {
            Some(why) => {
                assert_eq!(out.status.code(), Some(126), "{how:?}: {}", stderr(&out));
                assert_eq!(stderr(&out), why, "{how:?}");
                assert!(out.stdout.is_empty(), "{how:?}");
                assert!(!b.ran(), "{how:?}: B ran on an answer for another request");
                assert_eq!(audit[0]["decision"], "deny", "{how:?}");
                assert_eq!(audit[0]["approval"]["approver"], "webhook", "{how:?}");
            }
            None => {
                assert_eq!(out.status.code(), Some(0), "{how:?}: {}", stderr(&out));
                assert!(b.ran(), "{how:?}: B did not run");
                assert_eq!(audit[0]["decision"], "allow", "{how:?}");
                assert_eq!(audit[0]["approval"]["approver"], "mallory", "{how:?}");
            }
        }
        if matches!(how, Answer::ReplayOfA | Answer::ReplayOfAToAPoll) {
            let replayed = server.sent().last().unwrap().clone();
            assert_eq!(
                (replayed.body, replayed.signature),
                (captured.body, captured.signature),
                "{how:?}: B got A's exact bytes and signature"
            );
        }
    }
}
