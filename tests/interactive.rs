//! Interactive mode through a real pseudo-terminal (expectrl), without
//! sshd: state between lines, definitions analysed when called, Ctrl-C.

mod common;

use std::time::Duration;

use expectrl::session::OsSession;
use expectrl::{Eof, Expect};

struct Shell {
    s: OsSession,
    _dir: tempfile::TempDir,
    marker: std::path::PathBuf,
}

const PROMPT: &str = " $ ";

fn shell() -> Shell {
    let dir = tempfile::tempdir().unwrap();
    let (path, marker) = common::recording_stub(dir.path(), "kubectl");
    std::fs::write(
        dir.path().join("config.yaml"),
        "approval:\n  tty: true\n  timeout: 30s\n",
    )
    .unwrap();
    let mut c = std::process::Command::new(common::bin());
    c.env("GUARD_CONFIG", dir.path().join("config.yaml"))
        .env("GUARD_STATE_DIR", dir.path().join("state"))
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("GUARD_SESSION")
        .current_dir(dir.path());
    let mut s = expectrl::Session::spawn(c).expect("spawn guard on a pty");
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    s.expect(PROMPT).unwrap();
    Shell {
        s,
        _dir: dir,
        marker,
    }
}

impl Shell {
    fn ran(&self) -> bool {
        self.marker.exists()
    }

    fn exit(mut self) {
        self.s.send_line("exit").unwrap();
        self.s.expect(Eof).unwrap();
    }
}

#[test]
fn cd_carries_over_to_the_next_line() {
    let mut sh = shell();
    sh.s.send_line("cd /tmp").unwrap();
    sh.s.send_line("pwd | sed 's/^/cwd=/'").unwrap();
    sh.s.expect("cwd=/tmp").unwrap();
    sh.exit();
}

#[test]
fn exported_variables_carry_over() {
    let mut sh = shell();
    sh.s.send_line("export GUARD_TEST_X=41").unwrap();
    sh.s.send_line("echo \"x=$((GUARD_TEST_X+1))\"").unwrap();
    sh.s.expect("x=42").unwrap();
    sh.exit();
}

#[test]
fn an_alias_defined_earlier_is_reviewed_when_used() {
    let mut sh = shell();
    // The definition itself names kubectl: reviewed, approved once.
    sh.s.send_line("alias k=kubectl").unwrap();
    sh.s.expect("[y] allow once").unwrap();
    sh.s.send("y").unwrap();
    sh.s.expect("approved once").unwrap();
    // Using it is reviewed again.
    sh.s.send_line("k get pods").unwrap();
    let card = sh.s.expect("[y] allow once").unwrap();
    let shown = String::from_utf8_lossy(card.before()).into_owned();
    assert!(shown.contains("via alias k"), "{shown:?}");
    sh.s.send("n").unwrap();
    sh.s.expect("guard: denied by").unwrap();
    assert!(!sh.ran(), "kubectl ran although denied");
    sh.exit();
}

#[test]
fn a_function_defined_earlier_is_analysed_when_called() {
    let mut sh = shell();
    sh.s.send_line("pods() { kubectl get pods; }").unwrap();
    sh.s.expect("[y] allow once").unwrap();
    sh.s.send("y").unwrap();
    sh.s.expect("approved once").unwrap();
    sh.s.send_line("pods").unwrap();
    let card = sh.s.expect("[y] allow once").unwrap();
    assert!(String::from_utf8_lossy(card.before()).contains("kube.kubectl"));
    sh.s.send("y").unwrap();
    sh.s.expect("approved once").unwrap();
    sh.s.send_line("echo done-$((2+3))").unwrap();
    sh.s.expect("done-5").unwrap();
    assert!(sh.ran(), "the approved call runs the function");
    sh.exit();
}

#[test]
fn ctrl_c_kills_the_command_not_guard() {
    let mut sh = shell();
    sh.s.send_line("sleep 100").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    sh.s.send("\x03").unwrap();
    sh.s.expect("[130]").unwrap();
    sh.s.send_line("echo still-$((1+1))").unwrap();
    sh.s.expect("still-2").unwrap();
    sh.exit();
}

#[test]
fn ctrl_d_ends_the_session_and_the_end_is_audited() {
    let mut sh = shell();
    sh.s.send_line("true").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sh.s.send("\x04").unwrap();
    sh.s.expect(Eof).unwrap();
    let log = std::fs::read_to_string(sh._dir.path().join("state/audit.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Each line that ran has its exit record, tied to its decision.
    let exits: Vec<&serde_json::Value> = records.iter().filter(|r| r["kind"] == "exit").collect();
    assert!(exits.iter().any(|r| r["status"] == 0), "{log}");
    let modes: Vec<String> = records
        .iter()
        .filter(|r| r["kind"] != "exit")
        .map(|r| r["mode"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        modes.first().map(String::as_str),
        Some("session-start"),
        "{modes:?}"
    );
    assert_eq!(
        modes.last().map(String::as_str),
        Some("session-end"),
        "{modes:?}"
    );
    assert!(modes.iter().any(|m| m == "interactive"), "{modes:?}");
}

#[test]
fn a_hung_up_terminal_ends_the_session() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("tmux.sock");
    let state = dir.path().join("state");
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap()
    };
    let cmd = format!(
        "GUARD_STATE_DIR={} GUARD_CONFIG=/dev/null {}",
        state.display(),
        common::bin().display()
    );
    assert!(tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "24",
        &cmd
    ])
    .status
    .success());
    let log = state.join("audit.jsonl");
    let started = |text: &str| text.contains("session-start");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !started(&std::fs::read_to_string(&log).unwrap_or_default()) {
        assert!(std::time::Instant::now() < deadline, "guard never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Closing the terminal: guard must end, not spin on a dead tty.
    tmux(&["kill-server"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("terminal hung up") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no session end recorded: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_ends_the_login_session() {
    let mut sh = shell();
    let pid = nix::unistd::Pid::from_raw(sh.s.get_process().pid().as_raw());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    sh.s.expect(Eof).unwrap();
    let state = sh._dir.path().join("state");
    let log = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(
        log.contains("session ended: guard received SIGTERM"),
        "{log}"
    );
    // Its directory is gone and its end is on record.
    let ended: Vec<_> = std::fs::read_dir(state.join("ended")).unwrap().collect();
    assert_eq!(ended.len(), 1);
    let live = std::fs::read_dir(state.join("sessions")).unwrap().count();
    assert_eq!(live, 0, "the session outlived its shell");
}
