//! The shell-mode and admin-mode contract, on the real binary with real
//! bash.

mod common;

use std::path::Path;

use common::Guard;

/// A fake `aws` that records its argv, to prove whether a command ran.
fn fake_aws(dir: &Path) -> (String, std::path::PathBuf) {
    common::recording_stub(dir, "aws")
}

#[test]
fn exit_status_passes_through() {
    let run = Guard::new().c("exit 7").run();
    assert_eq!(run.code(), 7, "{}", run.stderr());
    let run = Guard::new().c("false").run();
    assert_eq!(run.code(), 1);
}

#[test]
fn argv_mode_keeps_the_argv_exact() {
    let run = Guard::new()
        .args(["--", "printf", "%s\\n", "a b", " c*"])
        .run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.stdout(), "a b\n c*\n");
}

#[test]
fn name_and_args_follow_the_command_string() {
    let run = Guard::new()
        .args(["-c", "printf '%s|' \"$0\" \"$1\" \"$#\"", "name", "one two"])
        .run();
    assert_eq!(run.stdout(), "name|one two|1|");
}

#[test]
fn refusal_is_126_one_line_no_stdout_and_the_command_never_runs() {
    let g = Guard::new();
    let (path, marker) = fake_aws(g.path());
    let run = g.env("PATH", &path).c("echo before; aws s3 ls").run();
    run.assert_refused();
    assert!(
        run.stderr().starts_with("guard: denied: "),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("[rule cloud.aws]"),
        "{}",
        run.stderr()
    );
    assert!(!marker.exists(), "the fake aws must not have run");
    let audit = run.audit();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["decision"], "deny");
    assert_eq!(audit[0]["rule"], "cloud.aws");
    assert_eq!(audit[0]["line"], "echo before; aws s3 ls");
    assert_eq!(audit[0]["mode"], "-c");
    assert!(audit[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["rule"] == "cloud.aws"));
}

#[test]
fn an_allowed_command_runs_and_is_audited() {
    let g = Guard::new();
    let (path, _) = fake_aws(g.path());
    let run = g.env("PATH", &path).c("echo ok").run();
    assert_eq!(run.stdout(), "ok\n");
    let audit = run.audit();
    assert_eq!(audit.len(), 1);
    for key in [
        "time", "user", "host", "cwd", "line", "commands", "matches", "decision", "reason",
    ] {
        assert!(
            audit[0].get(key).is_some(),
            "audit record lacks {key}: {}",
            audit[0]
        );
    }
    assert_eq!(audit[0]["decision"], "allow");
}

#[test]
fn deny_rules_refuse_too() {
    let run = Guard::new().c("GUARD_CONFIG=/tmp/x ls").run();
    run.assert_refused();
    assert!(
        run.stderr().contains("[rule guard.tamper-env]"),
        "{}",
        run.stderr()
    );
}

#[test]
fn secrets_are_redacted_in_the_audit_log_and_on_stderr() {
    let run = Guard::new()
        .c("curl -H 'Authorization: Bearer ghp_0123456789abcdefghijklmnopqrstuvwxyzAB' https://api.github.com")
        .run();
    run.assert_refused();
    let log = std::fs::read_to_string(run.state.join("audit.jsonl")).unwrap();
    assert!(
        !log.contains("ghp_0123456789"),
        "secret leaked into audit: {log}"
    );
    assert!(log.contains("***"));
    assert!(!run.stderr().contains("ghp_0123456789"));
}

#[test]
fn an_unwritable_audit_log_refuses() {
    let g = Guard::new();
    let blocker = g.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let run = g
        .env("GUARD_STATE_DIR", blocker.to_str().unwrap())
        .c("echo should-not-run")
        .run();
    run.assert_refused();
    assert!(run.stderr().contains("audit"), "{}", run.stderr());
}

#[test]
fn unparseable_input_is_refused() {
    let run = Guard::new().c("echo 'unterminated").run();
    run.assert_refused();
    assert!(run.stderr().contains("cannot parse"), "{}", run.stderr());
}

#[test]
fn dangerous_environment_is_dropped_before_exec() {
    let g = Guard::new();
    let hook = g.path().join("hook.sh");
    let marker = g.path().join("hook-ran");
    let ps4_marker = g.path().join("ps4-ran");
    std::fs::write(&hook, format!("touch '{}'\n", marker.display())).unwrap();
    let run = g
        .env("BASH_ENV", hook.to_str().unwrap())
        .env("ENV", hook.to_str().unwrap())
        .env("BASH_FUNC_echo%%", "() { builtin echo pwned; }")
        .env("PS4", &format!("$(touch '{}')+ ", ps4_marker.display()))
        .args(["-x", "-c", "echo clean"])
        .run();
    assert_eq!(run.stdout(), "clean\n", "{}", run.stderr());
    assert!(!marker.exists(), "BASH_ENV was sourced");
    assert!(
        !ps4_marker.exists(),
        "PS4 from the environment was expanded"
    );
}

/// guard follows the line's own `cd`; an inherited CDPATH would send a
/// relative one elsewhere, so the line's bash never gets it.
#[test]
fn an_inherited_cdpath_does_not_move_a_relative_cd() {
    let g = Guard::new();
    let elsewhere = g.path().join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("sub")).unwrap();
    std::fs::create_dir_all(g.path().join("sub")).unwrap();
    let cwd = g.path().to_path_buf();
    let line = format!("cd '{}' && cd sub >/dev/null && pwd -P", cwd.display());
    let run = g.env("CDPATH", elsewhere.to_str().unwrap()).c(&line).run();
    let want = std::fs::canonicalize(cwd.join("sub")).unwrap();
    assert_eq!(
        run.stdout().trim(),
        want.display().to_string(),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_script_on_stdin_is_decided_as_a_whole() {
    let run = Guard::new().stdin(b"echo one\necho two\n").run();
    assert_eq!(run.stdout(), "one\ntwo\n", "{}", run.stderr());
    let run = Guard::new().stdin(b"echo one\naws s3 ls\n").run();
    run.assert_refused();
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn broken_config_fails_closed_with_file_line_col() {
    let cases = [
        // YAML syntax
        ("rules:\n  - id: x\n    match: [unclosed\n", 3),
        // an unknown key
        ("rules:\n  - id: x.y\n    match:\n      programme: [aws]\n    action: review\n", 4),
        // a regex that does not parse
        ("rules:\n  - id: x.y\n    match:\n      program: [ls]\n      args_regex: \"(\"\n    action: review\n", 5),
        // a bad action
        ("rules:\n  - id: x.y\n    match:\n      program: [ls]\n    action: maybe\n", 5),
    ];
    for (yaml, line) in cases {
        let run = Guard::new().config(yaml).c("echo hi").run();
        run.assert_refused();
        let err = run.stderr();
        let want = format!("config.yaml:{line}:");
        assert!(err.starts_with("guard: denied: config error: "), "{err}");
        assert!(err.contains(&want), "expected {want} in {err}");

        let check = Guard::new()
            .config(yaml)
            .args(["check", "-c", "echo hi"])
            .run();
        assert_eq!(check.code(), 2, "{}", check.stderr());
        assert!(check.stderr().contains(&want), "{}", check.stderr());

        let lint = Guard::new().config(yaml).args(["rules", "lint"]).run();
        assert_eq!(lint.code(), 2);
        assert!(lint.stdout().contains(&want), "{}", lint.stdout());
    }
}

#[test]
fn a_missing_config_file_fails_closed() {
    let run = Guard::new()
        .env("GUARD_CONFIG", "/nonexistent/guard.yaml")
        .c("echo hi")
        .run();
    run.assert_refused();
    assert!(
        run.stderr().contains("/nonexistent/guard.yaml"),
        "{}",
        run.stderr()
    );
}

#[test]
fn check_json_has_the_contracted_shape_and_exit_codes() {
    let run = Guard::new()
        .args(["check", "--json", "-c", "sudo aws s3 ls | grep x"])
        .run();
    assert_eq!(run.code(), 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["advisory", "commands", "decision", "matches", "mode", "reason"]
    );
    assert_eq!(v["mode"], "embedded");
    assert!(v["advisory"].as_str().unwrap().contains("advisory"));
    assert_eq!(v["decision"], "review");
    for c in v["commands"].as_array().unwrap() {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["argv", "dynamic", "via"]);
    }
    let aws = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["argv"][0] == "aws")
        .expect("aws found inside sudo");
    assert_eq!(aws["via"], serde_json::json!(["sudo"]));
    for m in v["matches"].as_array().unwrap() {
        let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["action", "message", "rule"]);
    }

    let run = Guard::new().args(["check", "--json", "-c", "ls -la"]).run();
    assert_eq!(run.code(), 0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["decision"], "allow");

    let run = Guard::new()
        .args(["check", "--json", "--", "printf", "%s", "a b"])
        .run();
    assert_eq!(run.code(), 0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(
        v["commands"][0]["argv"],
        serde_json::json!(["printf", "%s", "a b"])
    );

    let run = Guard::new()
        .args(["check", "--json", "-c", "GUARD_CONFIG=x ls"])
        .run();
    assert_eq!(run.code(), 1);
    let run = Guard::new().args(["check"]).run();
    assert_eq!(run.code(), 2);
}

#[test]
fn rules_test_passes_on_the_shipped_packs_and_fails_on_a_wrong_example() {
    let run = Guard::new().args(["rules", "test"]).run();
    assert_eq!(run.code(), 0, "{}", run.stdout());
    assert!(run.stdout().contains(" 0 failed"), "{}", run.stdout());

    let g = Guard::new();
    let pack = write(
        g.path(),
        "wrong.yaml",
        "rules:\n  - id: local.wrong\n    match:\n      program: [make]\n    action: review\n    examples:\n      match: [\"make build\", \"cmake .\"]\n      no_match: [\"echo make\"]\n",
    );
    let run = g.args(["rules", "test", pack.as_str()]).run();
    assert_eq!(run.code(), 1, "{}", run.stdout());
    assert!(run.stdout().contains("FAIL"), "{}", run.stdout());
    assert!(
        run.stdout().contains("`cmake .` should match but did not"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("wrong.yaml:2:"), "{}", run.stdout());
}

#[test]
fn rules_list_and_show() {
    let run = Guard::new().args(["rules", "list"]).run();
    assert_eq!(run.code(), 0);
    assert!(
        run.stdout().lines().any(|l| l.starts_with("cloud.aws ")),
        "{}",
        run.stdout()
    );
    let run = Guard::new().args(["rules", "show", "cloud.aws"]).run();
    assert_eq!(run.code(), 0);
    assert!(
        run.stdout().contains("rules/cloud.yaml:"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("program:"), "{}", run.stdout());
    let run = Guard::new().args(["rules", "show", "no.such.rule"]).run();
    assert_eq!(run.code(), 1);
}

#[test]
fn committed_completions_are_current() {
    for (shell, file) in [
        ("bash", "guard.bash"),
        ("zsh", "_guard"),
        ("fish", "guard.fish"),
    ] {
        let run = Guard::new().args(["completions", shell]).run();
        assert_eq!(run.code(), 0);
        let committed = std::fs::read_to_string(common::root().join("completions").join(file))
            .unwrap_or_else(|e| panic!("completions/{file}: {e}"));
        assert_eq!(
            run.stdout(),
            committed,
            "completions/{file} is stale: run `guard completions {shell} > completions/{file}`"
        );
    }
}

#[test]
fn man_page_renders() {
    let run = Guard::new().args(["man"]).run();
    assert_eq!(run.code(), 0);
    assert!(
        run.stdout().starts_with(".ie"),
        "{}",
        &run.stdout()[..run.stdout().len().min(80)]
    );
    assert!(run.stdout().contains("check"));
}

#[test]
fn ssh_original_command_is_what_a_forced_guard_decides() {
    // sshd's ForceCommand: guard runs itself, the client's request is in
    // SSH_ORIGINAL_COMMAND.
    let run = Guard::new()
        .env("SSH_ORIGINAL_COMMAND", "echo forced")
        .c("/usr/local/bin/guard")
        .run();
    assert_eq!(run.stdout(), "forced\n", "{}", run.stderr());
    let run = Guard::new().env("SSH_ORIGINAL_COMMAND", "aws s3 ls").run();
    run.assert_refused();
    assert!(
        run.stderr().contains("[rule cloud.aws]"),
        "{}",
        run.stderr()
    );
    // Any other command is decided as itself.
    let run = Guard::new()
        .env("SSH_ORIGINAL_COMMAND", "aws s3 ls")
        .c("echo mine")
        .run();
    assert_eq!(run.stdout(), "mine\n");
}

#[test]
fn a_variable_that_is_not_utf8_does_not_stop_a_line() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "# empty\n").unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["-c", "echo fine"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GUARD_CONFIG", &config)
        .env("GUARD_STATE_DIR", dir.path().join("state"))
        .env("X", std::ffi::OsStr::from_bytes(b"\xff\xfe"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "fine\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A script that looks like an option (`guard -c -- -x CMD`) is decided
/// as that text, so it must run as that text: bash would take `-x` for
/// its own option and run CMD, which nobody decided. Builtins and a
/// redirection write the marker, so no exec decision could stop them.
/// Where bash itself reads the payload as the script (`-c + CMD`: a lone
/// `+` is no option), guard decides the payload, and it runs.
#[test]
fn a_script_that_looks_like_an_option_runs_as_it_was_decided() {
    // (arguments before the payload, the text decided; None: the payload)
    let cases: &[(&[&str], Option<&str>)] = &[
        (&["-c", "--", "-x"], Some("-x")),
        (&["-c", "-", "-x"], Some("-x")),
        (&["-c", "--", "+o"], Some("+o")),
        (&["-lc", "--", "-e"], Some("-e")),
        (&["-c", "+"], None),
        (&["+", "-c"], None),
    ];
    for (args, text) in cases {
        let g = Guard::new();
        let marker = g.path().join("MARKER");
        let payload = format!("echo ran > '{}'", marker.display());
        let mut argv: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        argv.push(payload.clone());
        let run = g.args(argv.clone()).run();
        let decided: Vec<String> = run
            .audit()
            .iter()
            .filter_map(|r| r["line"].as_str().map(str::to_string))
            .collect();
        let want = text.map_or(payload.clone(), str::to_string);
        assert_eq!(decided, vec![want], "{argv:?}");
        assert_eq!(
            marker.exists(),
            text.is_none(),
            "{argv:?}: the payload ran only if it was what was decided (status {}, {})",
            run.code(),
            run.stderr()
        );
    }
    // The plain shape still runs the script and passes `$0` on.
    let g = Guard::new();
    let marker = g.path().join("MARKER");
    let script = format!("echo \"$0\" > '{}'", marker.display());
    let run = g.args(["-c", script.as_str(), "name"]).run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(std::fs::read_to_string(&marker).expect("marker"), "name\n");
}

/// Runs argv[1..] with its environment plus `AWS_PROFILE` given twice,
/// `prod` first and `dev` last, as only a program (not `env`, not a
/// shell) can pass it.
const DUPEXEC_C: &str = r#"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
    int n = 0, j = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 3, sizeof *env);
    env[j++] = "AWS_PROFILE=prod";
    for (int i = 0; i < n; i++)
        if (strncmp(environ[i], "AWS_PROFILE=", 12)) env[j++] = environ[i];
    env[j++] = "AWS_PROFILE=dev";
    env[j] = 0;
    if (argc < 2) return 2;
    execve(argv[1], argv + 1, env);
    return 127;
}
"#;

/// A variable named twice is one value to guard, the first (as `getenv`
/// reads it), and only that value reaches the program: bash and Python
/// read the last, glibc and Go the first, so a decision on one and a
/// program reading the other would not agree. Through guard's own
/// environment (guard started with the repeat) and through a traced exec
/// (a program in the line passing the repeat on), each way of running.
#[test]
fn a_variable_given_twice_reaches_the_program_once_as_decided() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("dupexec.c");
    std::fs::write(&src, DUPEXEC_C).expect("write");
    let dupexec = dir.path().join("dupexec");
    let cc = std::process::Command::new("cc")
        .arg("-o")
        .arg(&dupexec)
        .arg(&src)
        .output()
        .expect("cc");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let profiles = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("AWS_PROFILE="))
            .map(str::to_string)
            .collect()
    };
    let want = vec!["AWS_PROFILE=prod".to_string()];
    let d = dupexec.display();
    // A traced exec that passes the repeat on: direct, and under bash.
    for line in [
        format!("{d} /usr/bin/env"),
        format!("{d} /usr/bin/env | cat"),
    ] {
        let run = Guard::new().c(&line).run();
        assert_eq!(run.code(), 0, "{line}: {}", run.stderr());
        assert_eq!(profiles(&run.stdout()), want, "{line}");
    }
    // guard itself started with the repeat: the direct path, and bash,
    // with no tracer to mend what guard passes on.
    for line in [
        "/usr/bin/env",
        "/usr/bin/env | cat",
        "echo \"AWS_PROFILE=$AWS_PROFILE\"",
    ] {
        let g = Guard::new();
        let state = g.path().join("state");
        let config = g.path().join("config.yaml");
        std::fs::write(&config, "exec_tree: off\n").expect("config");
        let out = std::process::Command::new(&dupexec)
            .arg(common::bin())
            .args(["-c", line])
            .env("GUARD_CONFIG", &config)
            .env("GUARD_STATE_DIR", &state)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("guard");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(profiles(&stdout), want, "{line}");
    }
}
