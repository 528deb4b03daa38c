//! The audit log with the real binary: the hash chain under concurrent
//! writers, every tamper kind `guard audit verify` must name, exit-status
//! records of real processes, fail-closed writes, forwarding to a real
//! syslog socket, and a grep of a real log for every secret fixture.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{audit_all, audit_records, exit_records, Guard};
use sha2::{Digest, Sha256};

/// A config with one outright deny rule, so refusals need no approver.
const DENY_FORBIDDEN: &str = "audit: { supervise: true }
rules:
  - id: test.forbidden
    match: { program: [forbidden] }
    action: deny
    message: forbidden in tests
    examples: { match: [forbidden x], no_match: [echo forbidden] }
";

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// These tests are about the log itself; they run with `exec_tree: off`
/// so that each line writes the records they count. What tracing adds to
/// the log (exit records, exec records, summaries) is `tests/exec_tree.rs`.
fn write_config(path: &Path, yaml: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("exec_tree: off\n{yaml}"))
}

trait Untraced {
    fn config_untraced(self, yaml: &str) -> Self;
}

impl Untraced for Guard {
    fn config_untraced(self, yaml: &str) -> Guard {
        self.config(&format!("exec_tree: off\n{yaml}"))
    }
}

/// guard with this state dir and config, no terminal, no approver.
fn guard_in(state: &Path, config: &Path) -> Command {
    let mut c = Command::new(common::bin());
    c.env("GUARD_STATE_DIR", state)
        .env("GUARD_CONFIG", config)
        .env("HOME", common::HOME)
        .env_remove("GUARD_SESSION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::detach(&mut c);
    c
}

/// `guard audit verify [FILES…]` in `state`: (exit code, stdout).
fn verify(state: &Path, files: &[&Path]) -> (i32, String) {
    let out = Command::new(common::bin())
        .arg("audit")
        .arg("verify")
        .args(files)
        .env("GUARD_STATE_DIR", state)
        .output()
        .expect("run guard audit verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

// ------------------------------------------------------------ concurrency

#[test]
fn fifty_concurrent_writers_keep_one_unbroken_chain() {
    const WRITERS: usize = 50;
    const EACH: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let (state, config) = (dir.path().join("state"), dir.path().join("config.yaml"));
    write_config(&config, DENY_FORBIDDEN).unwrap();
    // 50 processes at once, each a loop of 20 `guard -c` invocations
    // (so 1,000 decisions), alternating allow and deny.
    let mut workers = Vec::new();
    for w in 0..WRITERS {
        let script = format!(
            "for i in $(seq 1 {EACH}); do
               if [ $(( (i + {w}) % 2 )) = 0 ]; then \"$G\" -c \"echo w{w}-$i\" >/dev/null;
               else \"$G\" -c \"forbidden w{w}-$i\" 2>/dev/null; fi
             done; exit 0"
        );
        let mut c = Command::new("bash");
        c.args(["-c", &script])
            .env("G", common::bin())
            .env("GUARD_STATE_DIR", &state)
            .env("GUARD_CONFIG", &config)
            .env("HOME", common::HOME)
            .env_remove("GUARD_SESSION")
            .stdin(Stdio::null());
        let child = common::detach(&mut c).spawn().expect("spawn writer");
        workers.push(child);
    }
    for mut w in workers {
        assert!(w.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    let mut decisions = std::collections::BTreeSet::new();
    let mut allow_seqs = std::collections::BTreeSet::new();
    let mut exits_of = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // A record interleaved with another would not parse, or would not
        // start where a record starts.
        assert!(line.starts_with("{\"seq\":"), "line {}: {line}", i + 1);
        let r: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", i + 1));
        assert_eq!(r["seq"], i as u64 + 1, "seq counts lines");
        match r["kind"].as_str() {
            Some("decision") => {
                assert!(decisions.insert(r["line"].as_str().unwrap().to_string()));
                if r["decision"] == "allow" {
                    allow_seqs.insert(r["seq"].as_u64().unwrap());
                } else {
                    assert_eq!(r["rule"], "test.forbidden");
                }
            }
            Some("exit") => {
                assert_eq!(r["status"], 0);
                exits_of.push(r["of"].as_u64().unwrap());
            }
            other => panic!("unexpected kind {other:?}"),
        }
    }
    let mut want = std::collections::BTreeSet::new();
    for w in 0..WRITERS {
        for i in 1..=EACH {
            want.insert(if (i + w) % 2 == 0 {
                format!("echo w{w}-{i}")
            } else {
                format!("forbidden w{w}-{i}")
            });
        }
    }
    assert_eq!(decisions.len(), WRITERS * EACH);
    assert_eq!(decisions, want, "every decision is recorded exactly once");
    exits_of.sort_unstable();
    assert_eq!(
        exits_of,
        allow_seqs.into_iter().collect::<Vec<_>>(),
        "one exit record per allowed command, tied to its decision"
    );
    let (code, out) = verify(&state, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok: 1500 records"), "{out}");
}

// ------------------------------------------------------------- tampering

/// A real log of 16 records from the binary (decisions, exits, a denial),
/// shared by the tamper tests; each works on its own copy.
fn real_log() -> &'static Vec<String> {
    static LOG: OnceLock<Vec<String>> = OnceLock::new();
    LOG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (state, config) = (dir.path().join("state"), dir.path().join("config.yaml"));
        write_config(&config, DENY_FORBIDDEN).unwrap();
        for line in [
            "echo one",
            "forbidden two",
            "echo three",
            "exit 3",
            "forbidden five",
            "true",
            "echo seven | cat",
            "false",
            "forbidden nine",
            "echo ten",
            "true",
        ] {
            guard_in(&state, &config)
                .args(["-c", line])
                .output()
                .unwrap();
        }
        let text = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
        text.lines().map(str::to_string).collect()
    })
}

/// Write `lines` (each with its newline, unless `cut`) to a fresh file and
/// verify it alone.
fn verify_lines(lines: &[String], cut: bool) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy.jsonl");
    let mut text = lines.join("\n");
    if !cut {
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    verify(dir.path(), &[&file])
}

/// Recompute every `prev` from line `from` on, as an attacker with the
/// code would after changing the log.
fn rechain(lines: &mut [String], from: usize) {
    for i in from.max(1)..lines.len() {
        let prev = hex_sha256(lines[i - 1].as_bytes());
        let mut r: serde_json::Value = serde_json::from_str(&lines[i]).unwrap();
        r["prev"] = serde_json::Value::String(prev);
        lines[i] = reserialize(&r);
    }
}

/// JSON with `seq` and `prev` first, as guard writes it.
fn reserialize(r: &serde_json::Value) -> String {
    let obj = r.as_object().unwrap();
    let mut out = format!(
        "{{\"seq\":{},\"prev\":{}",
        obj["seq"],
        serde_json::to_string(&obj["prev"]).unwrap()
    );
    for (k, v) in obj {
        if k != "seq" && k != "prev" {
            out.push_str(&format!(",{}:{}", serde_json::to_string(k).unwrap(), v));
        }
    }
    out.push('}');
    out
}

fn assert_broken(result: (i32, String), line: usize, kind: &str) {
    let (code, out) = result;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(":{line}: {kind}:")),
        "expected line {line}: {kind}, got: {out}"
    );
}

#[test]
fn the_untouched_log_verifies() {
    let log = real_log();
    assert!(log.len() >= 16, "{log:?}");
    let (code, out) = verify_lines(log, false);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_edited_record_is_found() {
    let mut log = real_log().clone();
    assert!(log[7].contains("forbidden five"), "{}", log[7]);
    log[7] = log[7].replace("\"deny\"", "\"allow\"");
    assert_broken(verify_lines(&log, false), 8, "edited record");
}

#[test]
fn a_deleted_record_is_found() {
    let mut log = real_log().clone();
    log.remove(6);
    assert_broken(verify_lines(&log, false), 7, "deleted record");
}

#[test]
fn reordered_records_are_found() {
    let mut log = real_log().clone();
    log.swap(5, 6);
    assert_broken(verify_lines(&log, false), 6, "reordered records");
}

#[test]
fn an_inserted_record_is_found() {
    // A copy of an earlier record dropped in.
    let mut log = real_log().clone();
    let copy = log[1].clone();
    log.insert(7, copy);
    assert_broken(verify_lines(&log, false), 8, "inserted record");

    // A forgery that takes the next seq and links to its predecessor: the
    // genuine record after it still links past it.
    let mut log = real_log().clone();
    let mut forged: serde_json::Value = serde_json::from_str(&log[1]).unwrap();
    forged["seq"] = serde_json::json!(8);
    forged["prev"] = serde_json::json!(hex_sha256(log[6].as_bytes()));
    forged["line"] = serde_json::json!("echo nothing to see");
    log.insert(7, reserialize(&forged));
    assert_broken(verify_lines(&log, false), 8, "inserted record");
}

#[test]
fn a_truncated_tail_is_found() {
    let mut log = real_log().clone();
    let last = log.len() - 1;
    let half = log[last].len() / 2;
    log[last].truncate(half);
    assert_broken(verify_lines(&log, true), last + 1, "truncated tail");
}

#[test]
fn a_sequence_gap_is_found_even_when_rechained() {
    // Deleted, and every later `prev` recomputed: the links hold, the
    // count does not.
    let mut log = real_log().clone();
    log.remove(9);
    rechain(&mut log, 9);
    assert_broken(verify_lines(&log, false), 10, "sequence gap");
}

#[test]
fn a_rotated_chain_verifies_across_files() {
    let run_dir = tempfile::tempdir().unwrap();
    let (state, config) = (
        run_dir.path().join("state"),
        run_dir.path().join("config.yaml"),
    );
    write_config(&config, "audit: { rotate_bytes: 2500 }\n").unwrap();
    for i in 0..12 {
        let out = guard_in(&state, &config)
            .args(["-c", &format!("echo rotate-{i}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("audit.jsonl."))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "rotated into several files: {files:?}");
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() <= 2500, "{f:?}");
    }
    // The live file's first record names the last hash of the file before.
    let last_rotated = std::fs::read_to_string(files.last().unwrap()).unwrap();
    let live = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(live.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["prev"],
        hex_sha256(last_rotated.lines().last().unwrap().as_bytes())
    );
    let (code, out) = verify(&state, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("in {} files", files.len() + 1)),
        "{out}"
    );
    // Without its predecessors, the live file's start is missing.
    let (code, out) = verify(&state, &[&state.join("audit.jsonl")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(":1: deleted record:"), "{out}");
}

#[test]
fn an_anchor_exposes_a_log_rewritten_from_scratch() {
    let g = Guard::new().c("echo anchored");
    let run = g.run();
    let anchor = Command::new(common::bin())
        .args(["audit", "anchor"])
        .env("GUARD_STATE_DIR", &run.state)
        .output()
        .unwrap();
    let head = String::from_utf8(anchor.stdout).unwrap().trim().to_string();
    let text = std::fs::read_to_string(run.state.join("audit.jsonl")).unwrap();
    assert_eq!(head, hex_sha256(text.lines().last().unwrap().as_bytes()));
    let log_file = run.state.join("audit.jsonl");
    let with_anchor = |state: &Path| {
        let out = Command::new(common::bin())
            .args(["audit", "verify", "--anchor", &head])
            .env("GUARD_STATE_DIR", state)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(with_anchor(&run.state).0, 0);
    // Rewritten with every link recomputed: the chain alone checks out,
    // the anchor does not.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[0] = lines[0].replace("echo anchored", "echo innocent");
    rechain(&mut lines, 1);
    std::fs::write(&log_file, lines.join("\n") + "\n").unwrap();
    assert_eq!(verify(&run.state, &[]).0, 0);
    let (code, out) = with_anchor(&run.state);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("anchor not found"), "{out}");
}

// ----------------------------------------------------------- exit status

#[test]
fn exit_7_is_recorded_and_mirrored() {
    let run = Guard::new()
        .config_untraced("audit: { supervise: true }\n")
        .c("exit 7")
        .run();
    assert_eq!(run.code(), 7, "{}", run.stderr());
    let decisions = audit_records(&run.state);
    let exits = exit_records(&run.state);
    assert_eq!(exits.len(), 1, "{exits:?}");
    assert_eq!(exits[0]["status"], 7);
    assert_eq!(exits[0]["signal"], serde_json::Value::Null);
    assert_eq!(exits[0]["of"], decisions[0]["seq"]);
    assert!(exits[0]["duration_ms"].is_u64());
}

/// The pid of `parent`'s only child, once it exists.
fn child_of(parent: u32) -> i32 {
    let path = format!("/proc/{parent}/task/{parent}/children");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "guard never started its child");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start `guard -c 'sleep 30'`, and once sleep runs, send SIGTERM to
/// whichever of the two `target` picks.
fn sleep_killed(
    target: impl Fn(u32, i32) -> i32,
) -> (std::process::ExitStatus, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (state, config) = (dir.path().join("state"), dir.path().join("config.yaml"));
    write_config(&config, "audit: { supervise: true }\n").unwrap();
    let mut guard = guard_in(&state, &config)
        .args(["-c", "sleep 30"])
        .spawn()
        .unwrap();
    let sleep = child_of(guard.id());
    // bash runs a lone command by exec, so the child becomes sleep.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(format!("/proc/{sleep}/comm")).unwrap_or_default() != "sleep\n" {
        assert!(Instant::now() < deadline, "sleep never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = target(guard.id(), sleep);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = guard.wait().unwrap();
    (status, state, dir)
}

#[test]
fn a_sleep_killed_by_sigterm_records_the_signal() {
    let (status, state, _dir) = sleep_killed(|_, sleep| sleep);
    // guard dies the way its command did.
    assert_eq!(status.signal(), Some(15), "{status:?}");
    let exits = exit_records(&state);
    assert_eq!(exits.len(), 1, "{exits:?}");
    assert_eq!(exits[0]["signal"], "SIGTERM");
    assert_eq!(exits[0]["status"], serde_json::Value::Null);
}

#[test]
fn sigterm_to_guard_is_forwarded_to_the_command() {
    let (status, state, _dir) = sleep_killed(|guard, _| guard as i32);
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert_eq!(exit_records(&state)[0]["signal"], "SIGTERM");
}

#[test]
fn supervision_is_off_unless_configured() {
    // Off by default (the start-up target does not hold with it on this
    // machine): guard execs in place and there is no exit record.
    for config in ["# empty\n", "audit: { supervise: false }\n"] {
        let run = Guard::new().config_untraced(config).c("exit 5").run();
        assert_eq!(run.code(), 5);
        assert_eq!(audit_records(&run.state).len(), 1);
        assert!(exit_records(&run.state).is_empty(), "{config}");
    }
}

// ------------------------------------------------------------ fail closed

#[test]
fn a_full_disk_refuses_with_one_line() {
    let run = refused_with_log(|log| std::os::unix::fs::symlink("/dev/full", log).unwrap());
    assert!(
        run.stderr().starts_with("guard: audit log unwritable: "),
        "{}",
        run.stderr()
    );
}

/// `touch MARKER` with the audit log at the path `break_log` is given
/// made unusable: refused with one line, and the command never ran.
fn refused_with_log(break_log: impl FnOnce(&Path)) -> common::Run {
    let g = Guard::new();
    let state = g.path().join("broken-state");
    std::fs::create_dir_all(&state).unwrap();
    break_log(&state.join("audit.jsonl"));
    let marker = g.path().join("ran");
    let run = g
        .env("GUARD_STATE_DIR", state.to_str().unwrap())
        .c(&format!("touch {}", marker.display()))
        .run();
    run.assert_refused();
    assert!(!marker.exists(), "the command ran without its record");
    run
}

#[test]
fn a_log_that_cannot_be_opened_refuses() {
    // A directory where the log should be: open fails, even for root.
    let run = refused_with_log(|log| std::fs::create_dir_all(log).unwrap());
    assert!(
        run.stderr().contains("audit log unwritable"),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_escape_hatch_runs_and_says_so() {
    let g = Guard::new().config_untraced("audit: { on_unwritable: allow }\n");
    let state = g.path().join("full-state");
    std::fs::create_dir_all(&state).unwrap();
    std::os::unix::fs::symlink("/dev/full", state.join("audit.jsonl")).unwrap();
    let run = g
        .env("GUARD_STATE_DIR", state.to_str().unwrap())
        .c("echo ran")
        .run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.stdout(), "ran\n");
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("guard: audit log unwritable: "), "{err}");
    assert!(err.contains("on_unwritable: allow"), "{err}");
}

#[test]
fn a_cut_short_log_is_not_chained_onto() {
    let g = Guard::new();
    let state = g.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("audit.jsonl"), "{\"seq\":1,\"prev\":\"0").unwrap();
    let run = g.c("echo x").run();
    run.assert_refused();
    assert!(run.stderr().contains("incomplete"), "{}", run.stderr());
}

// ------------------------------------------------------------- forwarding

#[test]
fn records_are_forwarded_to_a_syslog_socket() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("log.sock");
    let receiver = UnixDatagram::bind(&socket).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let run = Guard::new()
        .config_untraced(&format!(
            "audit: {{ forward: syslog, syslog_socket: {}, supervise: true }}\n",
            socket.display()
        ))
        .c("echo forwarded")
        .run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let lines: Vec<String> = std::fs::read_to_string(run.state.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 2, "a decision and an exit record");
    let mut buf = vec![0u8; 65536];
    for line in &lines {
        let n = receiver.recv(&mut buf).expect("a syslog datagram");
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        // RFC 3164: <PRI>TIMESTAMP TAG[PID]: MSG, facility authpriv (10),
        // severity info (6): 10 * 8 + 6 = 86.
        assert!(msg.starts_with("<86>"), "{msg}");
        let (_, body) = msg.split_once("guard[").expect("tag guard[pid]");
        let (_, record) = body.split_once("]: ").expect("tag ends");
        assert_eq!(record, line, "the exact chained line is forwarded");
    }
}

#[test]
fn an_unreachable_syslog_refuses() {
    let g = Guard::new()
        .config_untraced("audit: { forward: syslog, syslog_socket: /nonexistent/log.sock }\n");
    let marker = g.path().join("ran");
    let run = g.c(&format!("touch {}", marker.display())).run();
    run.assert_refused();
    assert!(run.stderr().contains("syslog"), "{}", run.stderr());
    assert!(!marker.exists());
}

// ------------------------------------------------------------- no secrets

/// Whatever the redactor takes out of a fixture must not reach the log.
fn secret_words(text: &str) -> Vec<String> {
    let kept = guard::detect::redact(text);
    text.split(|c: char| c.is_whitespace() || "'\"=:;@,".contains(c))
        .filter(|w| w.len() >= 4 && !kept.contains(*w))
        // PEM labels (`-----BEGIN`, `PRIVATE`) frame a secret; they are not one.
        .filter(|w| !w.starts_with('-') && !w.ends_with('-'))
        .filter(|w| w.len() > 8 || !w.chars().all(|c| c.is_ascii_uppercase()))
        .map(str::to_string)
        .collect()
}

#[test]
fn no_secret_fixture_value_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (state, config) = (dir.path().join("state"), dir.path().join("config.yaml"));
    write_config(&config, "# empty\n").unwrap();
    let mut secrets = Vec::new();
    for (_, positives, _) in common::secrets::FIXTURES {
        for text in *positives {
            // A bare PEM header has no value of its own to leak.
            secrets.extend(secret_words(text));
            let quoted = shell_words::quote(text).into_owned();
            // As a script, as an exact argv, and as an assignment.
            for args in [
                vec!["-c".to_string(), format!("echo {quoted} >/dev/null")],
                vec!["--".to_string(), "true".to_string(), text.to_string()],
                vec!["-c".to_string(), format!("X={quoted} true")],
            ] {
                guard_in(&state, &config).args(&args).output().unwrap();
            }
        }
    }
    assert!(secrets.len() >= 25, "{secrets:?}");
    let log = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(log.lines().count() >= 40, "{log}");
    // A cookie named `session` shares its name with a record key; the
    // key is no leak, the cookie's value would be.
    let keys = common::sorted_keys(&audit_all(&state)[0]);
    for s in secrets.iter().filter(|s| !keys.contains(s)) {
        assert!(
            !log.contains(s.as_str()),
            "secret {s:?} is in the audit log"
        );
    }
    assert_eq!(verify(&state, &[]).0, 0);
}

// ---------------------------------------------------------- foreign lines

#[test]
fn a_log_from_before_the_chain_is_set_aside() {
    let g = Guard::new();
    let state = g.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let old = "{\"time\":\"2026-11-01T00:00:00Z\",\"decision\":\"allow\",\"line\":\"echo old\"}\n";
    std::fs::write(state.join("audit.jsonl"), old).unwrap();
    let run = g.c("echo new").run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let kept: Vec<PathBuf> = std::fs::read_dir(&run.state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("audit.jsonl-unchained-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read_to_string(&kept[0]).unwrap(), old);
    assert_eq!(audit_all(&run.state)[0]["seq"], 1);
    assert_eq!(verify(&run.state, &[]).0, 0);
}

#[test]
fn a_foreign_line_is_chained_over_and_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (state, config) = (dir.path().join("state"), dir.path().join("config.yaml"));
    // Supervised: a decision and an exit record before the foreign line.
    write_config(&config, "audit: { supervise: true }\n").unwrap();
    guard_in(&state, &config)
        .args(["-c", "true"])
        .output()
        .unwrap();
    // An older guard (or anything else) appends a line without `seq`.
    let foreign = "{\"decision\":\"allow\",\"line\":\"echo from an older guard\"}";
    let log = state.join("audit.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(foreign);
    text.push('\n');
    std::fs::write(&log, &text).unwrap();
    let out = guard_in(&state, &config)
        .args(["-c", "echo still-runs"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let all = audit_all(&state);
    assert_eq!(all[3]["seq"], 3, "the seq carries on past the foreign line");
    assert_eq!(all[3]["prev"], hex_sha256(foreign.as_bytes()));
    assert_broken(verify(&state, &[]), 3, "malformed record");
}

// ------------------------------------------------------------- reading

#[test]
fn show_filters_and_tail_prints_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let (state, config) = (dir.path().join("state"), dir.path().join("config.yaml"));
    write_config(&config, DENY_FORBIDDEN).unwrap();
    for line in ["echo a", "forbidden b", "echo c"] {
        guard_in(&state, &config)
            .args(["-c", line])
            .output()
            .unwrap();
    }
    let admin = |args: &[&str]| {
        let out = Command::new(common::bin())
            .args(args)
            .env("GUARD_STATE_DIR", &state)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let denies = admin(&["audit", "show", "--decision", "deny", "--json"]);
    let denies: Vec<serde_json::Value> = denies
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(denies.len(), 1);
    assert_eq!(denies[0]["line"], "forbidden b");
    let exits = admin(&["audit", "show", "--decision", "exit", "--since", "1h"]);
    assert_eq!(
        exits.lines().count(),
        3,
        "a header and two exit rows: {exits}"
    );
    let tail = admin(&["audit", "tail", "-n", "2"]);
    let rows: Vec<&str> = tail.lines().collect();
    assert!(rows[0].starts_with("SEQ"), "{tail}");
    assert_eq!(rows.len(), 3, "{tail}");
    assert!(rows[1].contains("echo c"), "{tail}");
    assert!(rows[2].contains("exit 0"), "{tail}");
}
