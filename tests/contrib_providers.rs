//! The example `scope: command` providers in contrib/, against fake `aws`
//! and `psql` that record what they were asked and answer as the real
//! ones do.

mod common;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn fake(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "#!/bin/bash\nprintf '%s\\n' \"$@\" > {}/{name}.args\n{body}\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

fn run(script: &str, args: &[&str], env: (&str, &str), stdin: &str) -> Output {
    let mut c = Command::new("python3")
        .arg(common::root().join("contrib/providers").join(script))
        .args(args)
        .env(env.0, env.1)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const STS: &str = r#"echo '{"Credentials":{"AccessKeyId":"ASIASCOPED","SecretAccessKey":"sek","SessionToken":"tok","Expiration":"2026-12-02T00:15:00Z"}}'"#;

fn aws_context(needs: &str, sub: &str) -> String {
    format!(
        r#"{{"scope":"command","credential":"aws-cmd","program":"aws","subcommand":"{sub}","argv":["aws"],"targets":{{}},"aws":{needs},"commands":[],"boundaries":[],"session":{{"id":"20261202T000000Z-ab12","purpose":"p","boundary":null}}}}"#
    )
}

#[test]
fn aws_scoped_assumes_the_role_with_only_the_commands_actions() {
    let dir = tempfile::tempdir().unwrap();
    let aws = fake(dir.path(), "aws", STS);
    let role = "arn:aws:iam::123456789012:role/agent";
    let ctx = aws_context(
        r#"{"actions":["s3:ListBucket"],"resources":["arn:aws:s3:::b"]}"#,
        "s3 ls",
    );
    let out = run(
        "aws-scoped",
        &["--role-arn", role],
        ("AWS_SCOPED_AWS", &aws),
        &ctx,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "AWS_ACCESS_KEY_ID=ASIASCOPED\nAWS_SECRET_ACCESS_KEY=sek\nAWS_SESSION_TOKEN=tok\n"
    );
    let args: Vec<String> = std::fs::read_to_string(dir.path().join("aws.args"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(&args[..4], ["sts", "assume-role", "--role-arn", role]);
    let policy = &args[args.iter().position(|a| a == "--policy").unwrap() + 1];
    assert_eq!(
        policy,
        r#"{"Statement":[{"Action":["s3:ListBucket"],"Effect":"Allow","Resource":["arn:aws:s3:::b"]}],"Version":"2012-10-17"}"#
    );
    assert!(
        args.contains(&"guard-20261202T000000Z-ab12".to_string()),
        "{args:?}"
    );
}

#[test]
fn aws_scoped_refuses_what_the_table_does_not_know_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let aws = fake(dir.path(), "aws", STS);
    let ctx = aws_context("null", "configure list");
    let role = "arn:aws:iam::1:role/r";
    let refused = run(
        "aws-scoped",
        &["--role-arn", role],
        ("AWS_SCOPED_AWS", &aws),
        &ctx,
    );
    assert_eq!(refused.status.code(), Some(3));
    assert!(text(&refused.stderr).contains("not in guard's action table; refusing"));
    assert!(!dir.path().join("aws.args").exists(), "asked STS anyway");
    let fell_back = run(
        "aws-scoped",
        &["--role-arn", role, "--fallback"],
        ("AWS_SCOPED_AWS", &aws),
        &ctx,
    );
    assert!(fell_back.status.success());
    assert!(text(&fell_back.stderr).contains("falling back to the role's own permissions"));
    let args = std::fs::read_to_string(dir.path().join("aws.args")).unwrap();
    assert!(!args.contains("--policy"), "{args}");
    // STS saying no is a failed mint.
    let down = fake(
        dir.path(),
        "aws-down",
        "echo 'An error occurred (AccessDenied)' >&2; exit 254",
    );
    let ctx = aws_context(
        r#"{"actions":["s3:ListBucket"],"resources":["*"]}"#,
        "s3 ls",
    );
    let failed = run(
        "aws-scoped",
        &["--role-arn", role],
        ("AWS_SCOPED_AWS", &down),
        &ctx,
    );
    assert_eq!(failed.status.code(), Some(4));
    assert!(text(&failed.stderr).contains("AccessDenied"));
    assert_eq!(text(&failed.stdout), "");
}

fn pg_context(argv: &[&str]) -> String {
    serde_json::json!({"scope": "command", "credential": "pg", "program": "psql", "subcommand": "",
        "argv": argv, "targets": {}, "aws": null, "commands": [], "boundaries": [],
        "session": {"id": "s", "purpose": null, "boundary": null}})
    .to_string()
}

#[test]
fn pg_scoped_makes_a_read_only_role_for_a_select_and_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let psql = fake(dir.path(), "psql", "");
    let admin = "postgres://guard@db/postgres";
    // (the command's argv, minted?)
    let table: [(&[&str], bool); 7] = [
        (
            &["psql", "-h", "db", "-c", "select count(*) from orders"],
            true,
        ),
        (
            &["psql", "--command=WITH x AS (SELECT 1) SELECT * FROM x"],
            true,
        ),
        (&["psql", "-c", "select ';drop table t'"], true),
        (&["psql", "-c", "select 1; drop table orders"], false),
        (&["psql", "-c", "delete from orders"], false),
        (&["psql", "-h", "db"], false),
        (
            &["psql", "-c", "explain select 1", "-c", "update t set a = 1"],
            false,
        ),
    ];
    for (argv, minted) in table {
        let _ = std::fs::remove_file(dir.path().join("psql.args"));
        let out = run(
            "pg-scoped",
            &["--admin-url", admin],
            ("PG_SCOPED_PSQL", &psql),
            &pg_context(argv),
        );
        assert_eq!(
            out.status.success(),
            minted,
            "{argv:?}: {}",
            text(&out.stderr)
        );
        if !minted {
            assert_eq!(out.status.code(), Some(3), "{argv:?}");
            assert!(
                !dir.path().join("psql.args").exists(),
                "{argv:?}: a role was made"
            );
            continue;
        }
        let stdout = text(&out.stdout);
        let user = stdout
            .lines()
            .next()
            .unwrap()
            .strip_prefix("PGUSER=")
            .unwrap()
            .to_string();
        assert!(user.starts_with("guard_") && user.len() == 22, "{user}");
        let args = std::fs::read_to_string(dir.path().join("psql.args")).unwrap();
        let sql = args.lines().last().unwrap();
        assert!(
            sql.starts_with(&format!("CREATE ROLE \"{user}\" LOGIN PASSWORD '")),
            "{sql}"
        );
        assert!(
            sql.contains("VALID UNTIL '") && sql.ends_with("IN ROLE pg_read_all_data"),
            "{sql}"
        );
        assert_eq!(args.lines().next(), Some(admin));
        // The revoke drops exactly that role.
        let values =
            serde_json::json!({"credential": "pg", "values": {"PGUSER": user}}).to_string();
        let revoked = run(
            "pg-scoped",
            &["--revoke", "--admin-url", admin],
            ("PG_SCOPED_PSQL", &psql),
            &values,
        );
        assert!(revoked.status.success(), "{}", text(&revoked.stderr));
        let drop = std::fs::read_to_string(dir.path().join("psql.args")).unwrap();
        assert_eq!(
            drop.lines().last(),
            Some(format!("DROP ROLE IF EXISTS \"{user}\"").as_str())
        );
    }
    // A revoke for a role it did not make is refused.
    let bad = run(
        "pg-scoped",
        &["--revoke", "--admin-url", admin],
        ("PG_SCOPED_PSQL", &psql),
        r#"{"values":{"PGUSER":"postgres\"; DROP ROLE admin; --"}}"#,
    );
    assert_eq!(bad.status.code(), Some(2));
}

/// The AWS provider fed by guard itself: the context guard builds is the
/// one it understands, end to end.
#[test]
fn guard_and_aws_scoped_together() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fake_aws = fake(d, "sts-aws", STS);
    std::fs::create_dir(d.join("bin")).unwrap();
    let tool = d.join("bin/aws");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/bash\necho \"$AWS_ACCESS_KEY_ID $*\" > {}/ran\n",
            d.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = Vec::new();
            let _ = std::io::Read::read_to_end(req.as_reader(), &mut body);
            let answer = common::answer_for(&body, r#"{"decision":"allow","approver":"ann"}"#);
            let _ = req.respond(common::signed_response(b"s3cret", 200, &answer));
        }
    });
    std::fs::write(d.join("secret"), "s3cret\n").unwrap();
    std::fs::set_permissions(d.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let script = common::root().join("contrib/providers/aws-scoped");
    std::fs::write(
        d.join("config.yaml"),
        format!(
            "approval:\n  tty: false\n  webhook:\n    url: http://127.0.0.1:{port}/\n    secret_file: {}\n    timeout: 10s\n\
credentials:\n  - name: aws-cmd\n    scope: command\n    provider: {{command: [python3, \"{}\", --role-arn, \"arn:aws:iam::1:role/agent\"]}}\n    env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN]\n\
rules:\n  - id: t.aws\n    description: aws gets a per-command credential\n    match: {{program: [aws]}}\n    action: review\n    grants: [aws-cmd]\n    message: aws\n",
            d.join("secret").display(),
            script.display()
        ),
    )
    .unwrap();
    let session = common::start_session(
        &d.join("config.yaml"),
        &d.join("state"),
        &["--purpose", "reports"],
    );
    let run = |line: &str| {
        let mut c = Command::new(common::bin());
        c.args(["-c", line])
            .env("GUARD_CONFIG", d.join("config.yaml"))
            .env("GUARD_STATE_DIR", d.join("state"))
            .env("GUARD_SESSION", &session)
            .env("AWS_SCOPED_AWS", &fake_aws)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    d.join("bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .stdin(Stdio::null());
        common::detach(&mut c);
        c.output().unwrap()
    };
    let out = run("aws s3 ls s3://nightly");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(d.join("ran")).unwrap(),
        "ASIASCOPED s3 ls s3://nightly\n"
    );
    let args = std::fs::read_to_string(d.join("sts-aws.args")).unwrap();
    assert!(
        args.contains(r#""Action":["s3:ListBucket"]"#) && args.contains("arn:aws:s3:::nightly"),
        "{args}"
    );
    // A command the table does not know: refused, never a broader mint...
    let refused = run("aws configure list");
    assert_eq!(
        refused.status.code(),
        Some(126),
        "{}",
        text(&refused.stderr)
    );
    assert!(
        text(&refused.stderr).contains("not in guard's action table"),
        "{}",
        text(&refused.stderr)
    );
    // ...unless the provider is told to fall back, and then it says so.
    let config = std::fs::read_to_string(d.join("config.yaml")).unwrap();
    let fallback = config.replace("role/agent\"]", "role/agent\", --fallback]");
    assert_ne!(config, fallback);
    std::fs::write(d.join("config.yaml"), fallback).unwrap();
    let fell_back = run("aws configure list");
    assert!(fell_back.status.success(), "{}", text(&fell_back.stderr));
    let err = text(&fell_back.stderr);
    assert!(
        err.contains("guard: warning: credential `aws-cmd`: aws-scoped: `aws configure list` is not in guard's action table; falling back"),
        "{err}"
    );
}
