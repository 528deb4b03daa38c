//! The terminal approver, driven through a real pseudo-terminal
//! (expectrl) around the real binary and real bash. A fake `aws` earlier
//! on PATH records its argv, so each test knows whether it ran.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession as Session;
use expectrl::{Eof, Expect};

struct Setup {
    dir: tempfile::TempDir,
    marker: PathBuf,
    path: String,
}

fn setup(timeout: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (path, marker) = common::recording_stub(dir.path(), "aws");
    std::fs::write(
        dir.path().join("config.yaml"),
        format!("approval:\n  tty: true\n  timeout: {timeout}\n"),
    )
    .unwrap();
    Setup { dir, marker, path }
}

impl Setup {
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .env("GUARD_CONFIG", self.dir.path().join("config.yaml"))
            .env("GUARD_STATE_DIR", self.dir.path().join("state"))
            .env("PATH", &self.path)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env_remove("GUARD_SESSION")
            .current_dir(self.dir.path());
        c
    }

    fn session(&self) -> String {
        common::start_session(
            &self.dir.path().join("config.yaml"),
            &self.dir.path().join("state"),
            &["--purpose", "tty approval tests"],
        )
    }

    /// `guard -c LINE` on a new pseudo-terminal.
    fn guard(&self, line: &str) -> Session {
        self.spawn(self.command(common::bin().to_str().unwrap(), &["-c", line]))
    }

    /// A bash script on the pseudo-terminal, with `$GUARD` set.
    fn bash(&self, script: &str) -> Session {
        let mut c = self.command("bash", &["-c", script]);
        c.env("GUARD", common::bin());
        self.spawn(c)
    }

    fn spawn(&self, c: Command) -> Session {
        let mut s = expectrl::Session::spawn(c).expect("spawn on a pty");
        s.set_expect_timeout(Some(Duration::from_secs(20)));
        s
    }

    fn ran(&self) -> Option<String> {
        std::fs::read_to_string(&self.marker).ok()
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        common::audit_records(&self.dir.path().join("state"))
    }
}

/// Wait for the process and return its exit code, with everything it
/// printed.
fn finish(mut s: Session) -> (i32, String) {
    let out = match s.expect(Eof) {
        Ok(c) => {
            let mut all = c.before().to_vec();
            for m in c.matches() {
                all.extend_from_slice(m);
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Err(e) => panic!("no EOF: {e}"),
    };
    let status = s.get_process().wait().expect("wait");
    let code = match status {
        WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected status {other:?}"),
    };
    (code, out)
}

const CARD_KEYS: &str = "[y] allow once";

#[test]
fn y_allows_once() {
    let t = setup("30s");
    let mut s = t.guard("aws s3 ls");
    let card = s.expect(CARD_KEYS).unwrap();
    let shown = String::from_utf8_lossy(card.before()).into_owned();
    assert!(shown.contains("aws s3 ls"), "{shown}");
    assert!(shown.contains("cloud.aws"), "{shown}");
    s.send("y").unwrap();
    let (code, out) = finish(s);
    assert_eq!(code, 0, "{out}");
    assert_eq!(t.ran().as_deref(), Some("s3\nls\n"));
    let audit = t.audit();
    assert_eq!(audit[0]["decision"], "allow");
    assert_eq!(audit[0]["approval"]["channel"], "tty");
    assert!(audit[0]["approval"]["approver"]
        .as_str()
        .unwrap()
        .ends_with("@tty"));
}

#[test]
fn n_refuses_and_the_command_never_runs() {
    let t = setup("30s");
    let mut s = t.guard("aws s3 ls");
    s.expect(CARD_KEYS).unwrap();
    s.send("n").unwrap();
    let (code, out) = finish(s);
    assert_eq!(code, 126, "{out}");
    assert!(out.contains("guard: denied by "), "{out}");
    assert_eq!(t.ran(), None);
    assert_eq!(t.audit()[0]["decision"], "deny");
    assert_eq!(t.audit()[0]["approval"]["channel"], "tty");
}

#[test]
fn r_carries_the_reason_to_the_agent() {
    let t = setup("30s");
    // stderr goes to a file, as an agent harness would capture it.
    let mut s = t.bash("\"$GUARD\" -c 'aws s3 ls' 2> err; echo \"exit=$?\"; cat err");
    s.expect(CARD_KEYS).unwrap();
    s.send("r").unwrap();
    s.expect("reason:").unwrap();
    s.send("use the staging profile\r").unwrap();
    let (code, out) = finish(s);
    assert_eq!(code, 0);
    assert!(out.contains("exit=126"), "{out}");
    assert!(out.contains("@tty: use the staging profile"), "{out}");
    let err = std::fs::read_to_string(t.dir.path().join("err")).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("guard: denied by ") && err.contains(": use the staging profile"),
        "{err}"
    );
    assert_eq!(t.ran(), None);
    assert_eq!(
        t.audit()[0]["approval"]["reason"],
        "use the staging profile"
    );
}

#[test]
fn the_timeout_denies() {
    let t = setup("1s");
    let mut s = t.guard("aws s3 ls");
    s.expect(CARD_KEYS).unwrap();
    let (code, out) = finish(s);
    assert_eq!(code, 126, "{out}");
    assert!(out.contains("no answer within 1s"), "{out}");
    assert_eq!(t.ran(), None);
}

#[test]
fn ctrl_c_esc_and_ctrl_d_deny() {
    for key in ["\x03", "\x1b", "\x04"] {
        let t = setup("30s");
        let mut s = t.guard("aws s3 ls");
        s.expect(CARD_KEYS).unwrap();
        s.send(key).unwrap();
        let (code, out) = finish(s);
        assert_eq!(code, 126, "key {key:?}: {out}");
        assert_eq!(t.ran(), None, "key {key:?}");
    }
}

#[test]
fn typed_ahead_keys_do_not_approve() {
    let t = setup("30s");
    // The keys reach the terminal while guard is still starting; they sit
    // in the terminal's input queue until guard flushes them.
    let mut s = t.bash("sleep 1; exec \"$GUARD\" -c 'aws s3 ls'");
    s.send("y").unwrap();
    s.send("y\r").unwrap();
    s.expect(CARD_KEYS).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(t.ran(), None, "a buffered key approved the command");
    s.send("n").unwrap();
    let (code, _) = finish(s);
    assert_eq!(code, 126);
    assert_eq!(t.ran(), None);
}

#[test]
fn stdin_as_a_pipe_still_prompts_on_the_terminal() {
    let t = setup("30s");
    let mut s =
        t.bash("printf 'y\\ny\\n' | \"$GUARD\" -c 'aws s3 ls' > out 2> err; echo \"exit=$?\"");
    let card = s.expect(CARD_KEYS).unwrap();
    assert!(String::from_utf8_lossy(card.before()).contains("approval needed"));
    s.send("y").unwrap();
    let (_, out) = finish(s);
    assert!(out.contains("exit=0"), "{out}");
    assert_eq!(t.ran().as_deref(), Some("s3\nls\n"));
    // The card went to the terminal only: stdout and stderr stay clean.
    let stdout = std::fs::read_to_string(t.dir.path().join("out")).unwrap();
    let stderr = std::fs::read_to_string(t.dir.path().join("err")).unwrap();
    assert_eq!(stdout, "");
    assert_eq!(stderr, "");
}

#[test]
fn a_allows_the_same_command_again_but_not_a_different_one() {
    let t = setup("30s");
    let id = t.session();
    let run = |line: &str| {
        let mut c = t.command(common::bin().to_str().unwrap(), &["-c", line]);
        c.env("GUARD_SESSION", &id);
        t.spawn(c)
    };
    let mut s = run("aws s3 ls");
    s.expect(CARD_KEYS).unwrap();
    s.send("a").unwrap();
    assert_eq!(finish(s).0, 0);

    // Same command: no prompt this time.
    let s = run("aws  s3 'ls'");
    let (code, out) = finish(s);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(CARD_KEYS), "prompted again: {out}");

    // A different command still prompts.
    let mut s = run("aws s3 ls s3://prod-bucket");
    s.expect(CARD_KEYS).unwrap();
    s.send("n").unwrap();
    assert_eq!(finish(s).0, 126);

    let audit = t.audit();
    let channels: Vec<&str> = audit
        .iter()
        .map(|r| r["approval"]["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["tty", "memory", "tty"]);
    assert_eq!(audit[0]["approval"]["scope"], "session");
    assert_eq!(audit[1]["session"], id.as_str());
    assert_eq!(audit[1]["purpose"], "tty approval tests");
    assert_eq!(t.ran().as_deref(), Some("s3\nls\ns3\nls\n"));
}

#[test]
fn memory_never_bypasses_a_deny_rule() {
    let t = setup("30s");
    let id = t.session();
    let run = |line: &str| {
        let mut c = t.command(common::bin().to_str().unwrap(), &["-c", line]);
        c.env("GUARD_SESSION", &id);
        c.output().unwrap()
    };
    // Even a remembered approval for every possible fingerprint would not
    // reach a deny rule; here the line is denied before memory is asked.
    let out = run("GUARD_CONFIG=/tmp/x aws s3 ls");
    assert_eq!(out.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[rule guard.tamper-env]"));
}

fn no_controlling_terminal(t: &Setup, extra_config: &str) -> std::process::Output {
    if !extra_config.is_empty() {
        std::fs::write(t.dir.path().join("config.yaml"), extra_config).unwrap();
    }
    let mut c = t.command(common::bin().to_str().unwrap(), &["-c", "aws s3 ls"]);
    c.stdin(std::process::Stdio::null());
    common::detach(&mut c);
    c.output().unwrap()
}

#[test]
fn without_a_terminal_or_webhook_nobody_can_approve() {
    let t = setup("30s");
    let out = no_controlling_terminal(&t, "");
    assert_eq!(out.status.code(), Some(126));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no approver available"), "{err}");
    assert!(err.contains("no controlling terminal"), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(t.ran(), None);
    assert_eq!(t.audit()[0]["approval"]["channel"], "none");
}

#[test]
fn the_terminal_prompt_can_be_switched_off() {
    let t = setup("30s");
    std::fs::write(
        t.dir.path().join("config.yaml"),
        "approval:\n  tty: false\n",
    )
    .unwrap();
    let s = t.guard("aws s3 ls");
    let (code, out) = finish(s);
    assert_eq!(code, 126);
    assert!(!out.contains(CARD_KEYS));
    assert!(out.contains("terminal prompt disabled"), "{out}");
}

#[test]
fn a_signal_during_the_prompt_denies_and_restores_the_terminal() {
    let t = setup("30s");
    let mut s = t.bash(
        "stty -g > before; \"$GUARD\" -c 'aws s3 ls'; echo \"exit=$?\"; stty -g > after; echo saved-$((6*7))",
    );
    s.expect(CARD_KEYS).unwrap();
    // guard is bash's child: find it and end it the way a hangup would.
    let bash = s.get_process().pid();
    let children = std::fs::read_to_string(format!("/proc/{bash}/task/{bash}/children")).unwrap();
    let guard: i32 = children
        .split_whitespace()
        .next()
        .expect("guard is running")
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(guard),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let c = s.expect("saved-42").unwrap();
    assert!(String::from_utf8_lossy(c.before()).contains("exit=126"));
    finish(s);
    let before = std::fs::read_to_string(t.dir.path().join("before")).unwrap();
    let after = std::fs::read_to_string(t.dir.path().join("after")).unwrap();
    assert_eq!(before, after, "terminal settings were not restored");
    assert_eq!(t.ran(), None);
}

#[test]
fn the_card_is_plain_on_a_narrow_terminal_and_colourless_with_no_color() {
    let t = setup("30s");
    let mut c = t.command(common::bin().to_str().unwrap(), &["-c", "aws s3 ls"]);
    c.env_remove("NO_COLOR");
    let mut s = t.spawn(c);
    s.get_process_mut().set_window_size(40, 20).unwrap();
    let card = s.expect("y/a/n/r/?").unwrap();
    let shown = String::from_utf8_lossy(card.before()).into_owned();
    assert!(shown.contains("command: aws s3 ls"), "{shown:?}");
    assert!(!shown.contains('─'), "narrow cards have no box: {shown:?}");
    s.send("n").unwrap();
    finish(s);

    // Wide, with NO_COLOR: no colour escapes anywhere in the card.
    let mut s = t.guard("aws s3 ls");
    s.get_process_mut().set_window_size(120, 30).unwrap();
    let card = s.expect(CARD_KEYS).unwrap();
    let shown = String::from_utf8_lossy(card.before()).into_owned();
    assert!(shown.contains('─'), "{shown:?}");
    assert!(
        !shown.contains("\x1b[1m") && !shown.contains("\x1b[3"),
        "{shown:?}"
    );
    s.send("n").unwrap();
    finish(s);
}

#[test]
fn question_mark_shows_every_command_and_the_rule_text() {
    let t = setup("30s");
    let mut s = t.guard("sudo -u ci aws s3 ls | grep x");
    s.expect(CARD_KEYS).unwrap();
    s.send("?").unwrap();
    s.expect("── commands").unwrap();
    s.expect("grep x").unwrap();
    s.expect("── rules").unwrap();
    s.expect("id: cloud.aws").unwrap();
    s.expect("examples:").unwrap();
    s.send("n").unwrap();
    let (code, _) = finish(s);
    assert_eq!(code, 126);
    assert_eq!(t.ran(), None);
}
