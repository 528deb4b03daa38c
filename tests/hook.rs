//! guard as a harness's pre-tool hook: Claude Code's PreToolUse and
//! Gemini CLI's BeforeTool payloads (shapes from their hook docs) in,
//! the documented decision JSON out, byte for byte; every call audited
//! as `hook:<harness>`; install and uninstall leave other settings alone.

mod common;

use common::{Guard, HOME};

/// A PreToolUse payload as Claude Code sends it.
fn claude(tool: &str, input: &str) -> String {
    format!(
        r#"{{"session_id":"abc123","transcript_path":"/home/agent/.claude/projects/p/abc123.jsonl","cwd":"/home/agent/project","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"{tool}","tool_input":{input},"tool_use_id":"toolu_01"}}"#
    )
}

fn decision(kind: &str, reason: &str) -> String {
    format!(
        r#"{{"hookSpecificOutput":{{"hookEventName":"PreToolUse","permissionDecision":"{kind}","permissionDecisionReason":"{reason}"}}}}"#
    ) + "\n"
}

#[test]
fn claude_code_payloads_get_the_documented_answer() {
    let table: Vec<(&str, String, String)> = vec![
        (
            "Bash: a cloud CLI",
            claude("Bash", r#"{"command":"aws s3 ls","description":"List buckets"}"#),
            decision("ask", "guard: review: aws: uses your AWS credentials [rule cloud.aws]"),
        ),
        (
            "Bash: hidden in a pipeline and sudo",
            claude("Bash", r#"{"command":"echo hi | sudo kubectl get pods"}"#),
            decision("ask", "guard: review: sudo: runs with another user's privileges [rule priv.sudo]"),
        ),
        (
            "Bash: rewrites the hook's own settings",
            claude("Bash", r#"{"command":"echo {} > .claude/settings.json"}"#),
            decision("ask", "guard: review: touches a harness's settings: /home/agent/project/.claude/settings.json: its hooks decide what the agent may run [rule guard.tamper-harness]"),
        ),
        (
            "Bash: harmless",
            claude("Bash", r#"{"command":"cargo test","description":"Run tests"}"#),
            decision("allow", "guard: allowed: no rule matched"),
        ),
        (
            "Bash: unparseable",
            claude("Bash", r#"{"command":"echo $("}"#),
            decision("deny", "guard: denied: cannot parse command line: 1:8: unterminated expansion [rule guard.parse]"),
        ),
        (
            "Read: a credential file",
            claude("Read", &format!(r#"{{"file_path":"{HOME}/.aws/credentials"}}"#)),
            decision("ask", &format!("guard: review: reads or copies a credential file: {HOME}/.aws/credentials [rule creds.file-read]")),
        ),
        (
            "Read: a source file",
            claude("Read", r#"{"file_path":"/home/agent/project/src/main.rs","offset":1,"limit":200}"#),
            decision("allow", "guard: allowed: no rule matched"),
        ),
        (
            "Write: an SSH key",
            claude("Write", &format!(r#"{{"file_path":"{HOME}/.ssh/id_ed25519","content":"x"}}"#)),
            decision("ask", &format!("guard: review: reads or copies a credential file: {HOME}/.ssh/id_ed25519 [rule creds.file-read]")),
        ),
        (
            "Edit: a .env file, relative to cwd",
            claude("Edit", r#"{"file_path":".env","old_string":"A=1","new_string":"A=2"}"#),
            decision("ask", "guard: review: reads or copies a credential file: /home/agent/project/.env [rule creds.file-read]"),
        ),
        (
            "Grep: a filter that reaches .env files",
            claude("Grep", r#"{"pattern":"API_KEY","glob":"*.env","output_mode":"content"}"#),
            decision("ask", "guard: review: reads or copies a credential file: /home/agent/project/**/*.env [rule creds.file-read]"),
        ),
        (
            "Grep: the source tree",
            claude("Grep", r#"{"pattern":"fn main","path":"/home/agent/project/src"}"#),
            decision("allow", "guard: allowed: no rule matched"),
        ),
        (
            "Glob: names only",
            claude("Glob", r#"{"pattern":"**/*.pem"}"#),
            decision("allow", "guard: no rule applies to this tool"),
        ),
    ];
    for (what, input, want) in &table {
        let run = Guard::new()
            .args(["hook", "claude-code"])
            .stdin(input.as_bytes())
            .run();
        assert_eq!(run.code(), 0, "{what}: {}", run.stderr());
        assert_eq!(run.stdout(), *want, "{what}");
        let records = run.audit();
        assert_eq!(records.len(), 1, "{what}: one audit record");
        assert_eq!(records[0]["mode"], "hook:claude-code", "{what}");
    }
}

/// What guard cannot read blocks the call (exit 2, one line on stderr),
/// never allows it.
#[test]
fn unreadable_hook_input_blocks() {
    for (what, input) in [
        ("not JSON", "{\"tool_name\":"),
        ("no tool", r#"{"tool_input":{"command":"ls"}}"#),
        (
            "Bash without a command",
            r#"{"tool_name":"Bash","tool_input":{}}"#,
        ),
        (
            "Read without a path",
            r#"{"tool_name":"Read","tool_input":{"path":"/x"}}"#,
        ),
        ("empty", ""),
    ] {
        let run = Guard::new()
            .args(["hook", "claude-code"])
            .stdin(input.as_bytes())
            .run();
        assert_eq!(run.code(), 2, "{what}");
        assert_eq!(run.stdout(), "", "{what}");
        let err = run.stderr();
        assert!(
            err.starts_with("guard: ") && err.lines().count() == 1,
            "{what}: {err}"
        );
    }
    // A broken rules file blocks too.
    let run = Guard::new()
        .config("rules: [")
        .args(["hook", "claude-code"])
        .stdin(claude("Bash", r#"{"command":"ls"}"#).as_bytes())
        .run();
    assert_eq!(run.code(), 2, "{}", run.stdout());
    assert!(
        run.stderr().starts_with("guard: config error"),
        "{}",
        run.stderr()
    );
}

#[test]
fn defer_allow_leaves_the_harness_prompt_alone() {
    let run = Guard::new()
        .args(["hook", "claude-code", "--defer-allow"])
        .stdin(claude("Bash", r#"{"command":"ls"}"#).as_bytes())
        .run();
    assert_eq!(
        run.stdout(),
        "{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\"}}\n"
    );
    let run = Guard::new()
        .args(["hook", "claude-code", "--defer-allow"])
        .stdin(claude("Bash", r#"{"command":"aws s3 ls"}"#).as_bytes())
        .run();
    assert!(run.stdout().contains(r#""permissionDecision":"ask""#));
}

#[test]
fn gemini_and_generic_hooks() {
    let gemini = |tool: &str, input: &str| {
        format!(
            r#"{{"session_id":"g1","transcript_path":"/t.json","cwd":"/home/agent/project","hook_event_name":"BeforeTool","timestamp":"2026-12-02T00:00:00Z","tool_name":"{tool}","tool_input":{input}}}"#
        )
    };
    let table: Vec<(&str, &str, String, &str)> = vec![
        ("gemini", "shell", gemini("run_shell_command", r#"{"command":"kubectl get pods"}"#),
         "{\"decision\":\"deny\",\"reason\":\"guard: review: kubectl: uses your kubeconfig credentials [rule kube.kubectl] (needs approval; no approver is configured for hooks)\"}\n"),
        ("gemini", "read", gemini("read_file", &format!(r#"{{"file_path":"{HOME}/.kube/config"}}"#)),
         "{\"decision\":\"deny\",\"reason\":\"guard: review: reads or copies a credential file: /home/agent/.kube/config [rule creds.file-read] (needs approval; no approver is configured for hooks)\"}\n"),
        ("gemini", "harmless", gemini("run_shell_command", r#"{"command":"git status"}"#),
         "{\"decision\":\"allow\",\"reason\":\"guard: allowed: no rule matched\"}\n"),
        ("json", "shell", r#"{"tool":"shell","command":"psql -h db.prod -c 'select 1'","cwd":"/home/agent/project"}"#.to_string(),
         "{\"decision\":\"ask\",\"reason\":\"guard: review: psql: connects with PostgreSQL credentials (~/.pgpass, PGPASSWORD) on host db.prod [rule db.postgres]\"}\n"),
        ("json", "read", format!(r#"{{"tool":"read","paths":["README.md","{HOME}/.netrc"]}}"#),
         "{\"decision\":\"ask\",\"reason\":\"guard: review: reads or copies a credential file: /home/agent/.netrc [rule creds.file-read]\"}\n"),
    ];
    for (harness, what, input, want) in &table {
        let run = Guard::new()
            .args(["hook", harness])
            .stdin(input.as_bytes())
            .run();
        assert_eq!(run.code(), 0, "{harness} {what}: {}", run.stderr());
        assert_eq!(run.stdout(), *want, "{harness} {what}");
        assert_eq!(run.audit()[0]["mode"], format!("hook:{harness}"));
    }
}

/// With a webhook configured, a review goes to the approver instead of
/// becoming `ask`, and its answer is the hook's.
#[test]
fn a_review_goes_to_the_configured_approver() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret");
    std::fs::write(&secret, "hook-secret\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let answer = std::thread::spawn(move || {
        let mut req = server
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap()
            .expect("guard asked the approver");
        let mut body = Vec::new();
        req.as_reader().read_to_end(&mut body).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let reply = common::answer_for(
            &body,
            r#"{"decision":"deny","approver":"ann","reason":"not in prod"}"#,
        );
        req.respond(common::signed_response(b"hook-secret", 200, &reply))
            .unwrap();
        v
    });
    let run = Guard::new()
        .config(&format!(
            "approval:\n  tty: false\n  webhook:\n    url: http://127.0.0.1:{port}/\n    secret_file: {}\n    timeout: 10s\n",
            secret.display()
        ))
        .args(["hook", "claude-code"])
        .stdin(claude("Bash", r#"{"command":"aws s3 rb s3://prod"}"#).as_bytes())
        .run();
    let asked = answer.join().unwrap();
    assert_eq!(asked["command"], "aws s3 rb s3://prod");
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.stdout(),
        decision("deny", "guard: denied by ann: not in prod")
    );
    let rec = &run.audit()[0];
    assert_eq!(rec["mode"], "hook:claude-code");
    assert_eq!(rec["approval"]["approver"], "ann");
}

#[test]
fn install_merges_and_uninstall_restores() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let before = r#"{
  "model": "opus",
  "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(./secrets/**)"]},
  "hooks": {
    "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "dcg"}]}],
    "PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "prettier"}]}]
  }
}"#;
    std::fs::write(&settings, before).unwrap();
    let install = |extra: &[&str]| {
        let mut args = vec!["hook", "install", "claude-code", "--settings"];
        let p = settings.to_str().unwrap().to_string();
        let p: &'static str = Box::leak(p.into_boxed_str());
        args.push(p);
        args.extend_from_slice(extra);
        Guard::new().args(args).run()
    };
    let run = install(&[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stdout().starts_with("guard hook installed in"));
    let once: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    let pre = once["hooks"]["PreToolUse"].as_array().unwrap();
    assert_eq!(pre.len(), 2);
    assert_eq!(pre[0]["hooks"][0]["command"], "dcg");
    let ours = pre[1]["hooks"][0]["command"].as_str().unwrap();
    // Installed hooks leave allowed calls to Claude Code's own prompts.
    assert!(ours.ends_with(" hook claude-code --defer-allow"), "{ours}");
    assert!(pre[1]["matcher"].as_str().unwrap().contains("Read"));
    let again = install(&[]);
    assert!(again.stdout().starts_with("guard hook already in"));
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        serde_json::to_string_pretty(&once).unwrap() + "\n"
    );
    let out = install(&["--uninstall"]);
    assert!(
        out.stdout().starts_with("guard hook removed from"),
        "{}",
        out.stderr()
    );
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(
        after,
        serde_json::from_str::<serde_json::Value>(before).unwrap()
    );
    // A settings file that is not JSON is refused with where, untouched.
    std::fs::write(&settings, "{ nope").unwrap();
    let bad = install(&[]);
    assert_eq!(bad.code(), 2);
    assert!(
        bad.stderr().contains("settings.json:1:"),
        "{}",
        bad.stderr()
    );
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "{ nope");
}

/// What the file tools reach on disk: a symlink is judged as what it
/// opens, a search as every file it reads, and a write to the harness's
/// own settings (where its hooks live) is asked about.
#[test]
fn file_tools_are_judged_by_what_they_reach() {
    let tree = tempfile::tempdir().unwrap();
    let t = tree.path();
    std::fs::create_dir_all(t.join("proj/certs")).unwrap();
    std::fs::create_dir_all(t.join("proj/src")).unwrap();
    std::fs::write(
        t.join("proj/certs/server.key"),
        "-----BEGIN PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(t.join("proj/src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::create_dir_all(t.join("home/.aws")).unwrap();
    std::fs::write(t.join("home/.aws/credentials"), "[default]\n").unwrap();
    std::os::unix::fs::symlink(t.join("home/.aws/credentials"), t.join("proj/notes.txt")).unwrap();
    let p = |rel: &str| t.join(rel).display().to_string();
    let table: Vec<(&str, String, &str)> = vec![
        (
            "Read through a symlink",
            claude(
                "Read",
                &format!(r#"{{"file_path":"{}"}}"#, p("proj/notes.txt")),
            ),
            "ask",
        ),
        (
            "Grep a tree holding a key",
            claude(
                "Grep",
                &format!(r#"{{"pattern":"PRIVATE KEY","path":"{}"}}"#, p("proj")),
            ),
            "ask",
        ),
        (
            "Grep a filter that reaches the key",
            claude(
                "Grep",
                &format!(r#"{{"pattern":"x","path":"{}","glob":"*.k?y"}}"#, p("proj")),
            ),
            "ask",
        ),
        (
            "Grep the source only",
            claude(
                "Grep",
                &format!(r#"{{"pattern":"fn","path":"{}"}}"#, p("proj/src")),
            ),
            "allow",
        ),
        (
            "Write Claude Code's settings",
            claude(
                "Write",
                &format!(
                    r#"{{"file_path":"{}","content":"{{}}"}}"#,
                    p("proj/.claude/settings.json")
                ),
            ),
            "ask",
        ),
        (
            "Edit local settings",
            claude(
                "Edit",
                &format!(
                    r#"{{"file_path":"{}","old_string":"a","new_string":"b"}}"#,
                    p("proj/.claude/settings.local.json")
                ),
            ),
            "ask",
        ),
        (
            "Write a git hook",
            claude(
                "Write",
                &format!(
                    r#"{{"file_path":"{}","content":"x"}}"#,
                    p("proj/.git/hooks/pre-commit")
                ),
            ),
            "ask",
        ),
        (
            "Write the home's bashrc",
            claude(
                "Write",
                &format!(r#"{{"file_path":"{}","content":"x"}}"#, p("home/.bashrc")),
            ),
            "ask",
        ),
        (
            "Write source",
            claude(
                "Write",
                &format!(
                    r#"{{"file_path":"{}","content":"x"}}"#,
                    p("proj/src/lib.rs")
                ),
            ),
            "allow",
        ),
    ];
    for (what, input, want) in &table {
        let run = Guard::new()
            .env("HOME", &p("home"))
            .args(["hook", "claude-code"])
            .stdin(input.as_bytes())
            .run();
        assert_eq!(run.code(), 0, "{what}: {}", run.stderr());
        let out: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        assert_eq!(
            out["hookSpecificOutput"]["permissionDecision"], *want,
            "{what}: {out}"
        );
        assert_eq!(run.audit().len(), 1, "{what}");
    }
}

/// A settings file that is a symlink is edited where it points and stays
/// a link.
#[test]
fn install_follows_a_symlinked_settings_file() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles-settings.json");
    std::fs::write(&real, "{\"model\": \"opus\"}\n").unwrap();
    let link = dir.path().join("settings.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let run = Guard::new()
        .args([
            "hook",
            "install",
            "claude-code",
            "--settings",
            link.to_str().unwrap(),
        ])
        .run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    assert_eq!(v["model"], "opus");
    assert!(v["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .contains("hook claude-code"));
}
