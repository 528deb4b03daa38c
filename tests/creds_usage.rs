//! `guard creds usage`: a generated audit log plus a config give exactly
//! the expected report; a credential nobody used is flagged; a copy
//! `creds scan` finds is named.

mod common;

use common::Guard;

const CONFIG: &str = r#"
credentials:
  - name: aws-staging
    provider: {static: {AWS_ACCESS_KEY_ID: x}}
    env: [AWS_ACCESS_KEY_ID]
    boundary: staging
  - name: kube-prod
    provider: {static: {K: x}}
    env: [K]
    boundary: prod
    users: [agent7]
  - name: pg-old
    provider: {static: {PGPASSWORD: x}}
    env: [PGPASSWORD]
"#;

fn record(
    time: &str,
    user: &str,
    session: &str,
    boundary: &str,
    creds: &[&str],
    argvs: &[&[&str]],
    decision: &str,
) -> String {
    serde_json::json!({
        "seq": 1, "prev": "0", "kind": "decision", "time": time, "user": user,
        "session": session, "boundary": boundary, "mode": "-c", "decision": decision,
        "credentials": creds,
        "commands": argvs.iter().map(|a| serde_json::json!({"argv": a, "dynamic": false, "via": []})).collect::<Vec<_>>(),
    })
    .to_string()
}

fn log() -> String {
    [
        record(
            "2026-11-20T10:00:00Z",
            "agent7",
            "s1",
            "staging",
            &["aws-staging"],
            &[&["aws", "--profile", "staging", "s3", "ls", "s3://builds"]],
            "allow",
        ),
        record(
            "2026-11-21T10:00:00Z",
            "agent7",
            "s1",
            "staging",
            &["aws-staging"],
            &[&["aws", "s3", "cp", "s3://builds/app.tgz", "."]],
            "allow",
        ),
        record(
            "2026-11-22T10:00:00Z",
            "agent7",
            "s2",
            "staging",
            &["aws-staging"],
            &[&["aws", "configure", "list"]],
            "allow",
        ),
        // A denied line used nothing.
        record(
            "2026-11-23T10:00:00Z",
            "agent7",
            "s2",
            "prod",
            &["kube-prod"],
            &[&["kubectl", "delete", "ns", "web"]],
            "deny",
        ),
        record(
            "2026-11-24T10:00:00Z",
            "agent8",
            "s3",
            "prod",
            &["kube-prod"],
            &[&["kubectl", "-n", "web", "get", "pods"]],
            "allow",
        ),
        // Long ago: outside a --since window.
        record(
            "2025-01-01T10:00:00Z",
            "agent7",
            "s0",
            "",
            &["pg-old"],
            &[&["psql", "-h", "db", "-c", "select 1"]],
            "allow",
        ),
    ]
    .join("\n")
        + "\n"
}

fn usage(args: &[&str]) -> serde_json::Value {
    let g = Guard::new().config(CONFIG);
    let dir = g.path().join("log");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("audit.jsonl"), log()).unwrap();
    let d = dir.to_str().unwrap().to_string();
    let mut all = vec!["creds", "usage", "--json", "--dir", &d];
    all.extend_from_slice(args);
    let run = g.args(all).run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    serde_json::from_str(&run.stdout()).unwrap()
}

#[test]
fn the_report_joins_definitions_and_the_log() {
    let got = usage(&["--since", "2026-11-01T00:00:00Z"]);
    let want = serde_json::json!([
        {
            "name": "aws-staging", "defined": true, "holders": ["*"], "reachable": [],
            "used_by": ["agent7"], "uses": 3, "sessions": 2,
            "programs": ["aws configure list", "aws s3 cp", "aws s3 ls"],
            "boundaries": ["staging"], "last_used": "2026-11-22T10:00:00Z", "unused": false,
            "aws_actions": ["s3:GetObject", "s3:ListBucket"],
            "aws_unknown": ["aws configure list"],
            "suggested_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::builds", "arn:aws:s3:::builds/app.tgz"]}]}
        },
        {
            "name": "kube-prod", "defined": true, "holders": ["agent7"], "reachable": [],
            "used_by": ["agent8"], "uses": 1, "sessions": 1, "programs": ["kubectl get"],
            "boundaries": ["prod"], "last_used": "2026-11-24T10:00:00Z", "unused": false,
            "aws_actions": [], "aws_unknown": [], "suggested_policy": null
        },
        {
            "name": "pg-old", "defined": true, "holders": ["*"], "reachable": [],
            "used_by": [], "uses": 0, "sessions": 0, "programs": [],
            "boundaries": [], "last_used": null, "unused": true,
            "aws_actions": [], "aws_unknown": [], "suggested_policy": null
        }
    ]);
    assert_eq!(got, want, "{}", serde_json::to_string_pretty(&got).unwrap());
}

#[test]
fn filters_and_the_table() {
    // Without a window, pg-old was used (long ago); by user, only theirs.
    let all = usage(&[]);
    assert_eq!(all[2]["uses"], 1);
    assert_eq!(all[2]["programs"], serde_json::json!(["psql"]));
    let agent8 = usage(&["--user", "agent8"]);
    assert_eq!(agent8[0]["unused"], true);
    assert_eq!(agent8[1]["uses"], 1);
    // The table says which to remove.
    let g = Guard::new().config(CONFIG);
    let dir = g.path().join("log");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("audit.jsonl"), log()).unwrap();
    let d = dir.to_str().unwrap().to_string();
    let run = g
        .args([
            "creds",
            "usage",
            "--dir",
            &d,
            "--since",
            "2026-11-01T00:00:00Z",
        ])
        .run();
    let text = run.stdout();
    let pg = text.lines().find(|l| l.starts_with("pg-old")).unwrap();
    assert!(pg.contains("UNUSED: candidate to remove"), "{text}");
    assert!(text
        .lines()
        .find(|l| l.starts_with("aws-staging"))
        .unwrap()
        .contains("aws needs s3:GetObject,s3:ListBucket"));
    // A bad window is refused with one line.
    let bad = Guard::new()
        .config(CONFIG)
        .args(["creds", "usage", "--since", "last tuesday"])
        .run();
    assert_eq!(bad.code(), 2);
    assert!(
        bad.stderr().starts_with("guard: --since"),
        "{}",
        bad.stderr()
    );
}

/// A copy in the home that no definition provides is listed, held and
/// never used through guard.
#[test]
fn a_copy_outside_guard_is_listed() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    )
    .unwrap();
    let g = Guard::new()
        .config(CONFIG)
        .env("HOME", home.path().to_str().unwrap());
    let dir = g.path().join("log");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap().to_string();
    let run = g.args(["creds", "usage", "--json", "--dir", &d]).run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let rows: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let copy = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "aws-profile:default")
        .unwrap_or_else(|| panic!("no row for the copy: {rows}"));
    assert_eq!(copy["defined"], false);
    assert_eq!(copy["unused"], true);
    let at = format!("{}/.aws/credentials", home.path().display());
    assert_eq!(copy["reachable"], serde_json::json!([at]));
}
