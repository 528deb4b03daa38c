//! `guard creds scan`: a fake HOME planted with one credential of every
//! kind, scanned by the real binary with a clean environment.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const GITHUB_TOKEN: &str = "ghp_Zq8vN3kLm0pRt7sWx2yB4cD6fG9hJ1aE5iKo";
const AWS_SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYzq9Tz3vQ8sLk";
const AWS_KEY_ID: &str = "AKIAQWERTYUIOPASDFGH";
const STRIPE: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

/// Every secret value planted anywhere: none may be printed.
const SECRETS: &[&str] = &[
    GITHUB_TOKEN,
    AWS_SECRET,
    AWS_KEY_ID,
    STRIPE,
    "dbs3cretpw",
    "netrcs3cret",
    "pgs3cretpw",
    "dXNlcjpkb2NrZXJzM2NyZXQ=",
    "dockers3cret",
    "gits3cretpw",
    "gho_Gh8vN3kLm0pRt7sWx2yB4cD6fG9hJ1aE5iKo",
    "kubes3cret-token",
    "gclouds3cret",
    "deeps3cret",
    "linkeds3cret",
];

/// Every kind, in report order.
const KINDS: &[&str] = &[
    "env",
    "dotenv",
    "aws-profile",
    "kube-context",
    "ssh-key",
    "netrc",
    "pgpass",
    "docker",
    "git-credentials",
    "gh",
    "gcloud",
];

/// One run of `guard creds scan` with only PATH, HOME and the given
/// variables, in `cwd`.
#[derive(Clone)]
struct Scan {
    home: PathBuf,
    cwd: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    config: Option<PathBuf>,
}

impl Scan {
    fn new(home: &Path, cwd: &Path) -> Scan {
        Scan {
            home: home.to_path_buf(),
            cwd: cwd.to_path_buf(),
            args: vec!["creds".into(), "scan".into()],
            envs: Vec::new(),
            config: None,
        }
    }

    fn arg(mut self, a: &str) -> Scan {
        self.args.push(a.to_string());
        self
    }

    fn env(mut self, k: &str, v: &str) -> Scan {
        self.envs.push((k.to_string(), v.to_string()));
        self
    }

    fn config(mut self, path: &Path) -> Scan {
        self.config = Some(path.to_path_buf());
        self
    }

    fn run(&self) -> Output {
        let mut cmd = Command::new(common::bin());
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GUARD_STATE_DIR", self.home.join(".guard-state"));
        if let Some(c) = &self.config {
            cmd.env("GUARD_CONFIG", c);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.output().expect("run guard")
    }

    fn json(&self) -> (Output, Value) {
        let out = self.arg_json().run();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is JSON ({e}): {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out, v)
    }

    fn arg_json(&self) -> Scan {
        self.clone().arg("--json")
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// An `openssh-key-v1` private key with this cipher, built by hand so the
/// test does not depend on ssh-keygen.
fn openssh_key(cipher: &str) -> String {
    use base64::Engine;
    let mut body = b"openssh-key-v1\0".to_vec();
    for field in [cipher, "none", ""] {
        body.extend((field.len() as u32).to_be_bytes());
        body.extend(field.as_bytes());
    }
    body.extend(1u32.to_be_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{b64}\n-----END OPENSSH PRIVATE KEY-----\n")
}

/// A HOME with one credential of every kind, and a project under it.
fn planted() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = dir.path();
    write(
        &h.join(".aws/credentials"),
        &format!(
            "[default]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\n\
             [prod-admin]\naws_access_key_id={AWS_KEY_ID}\naws_secret_access_key={AWS_SECRET}\n"
        ),
    );
    write(
        &h.join(".aws/config"),
        "[default]\nregion = eu-west-1\n[profile prod-admin]\nregion = eu-west-1\n\
         [profile dev]\nsso_start_url = https://example.awsapps.com/start\n[sso-session s]\nx=y\n",
    );
    write(
        &h.join(".kube/config"),
        "apiVersion: v1\ncurrent-context: prod-cluster\nclusters:\n- name: c\n  cluster:\n    server: https://k8s.prod.example:6443\n\
         contexts:\n- name: prod-cluster\n  context:\n    cluster: c\n    user: admin\n\
         users:\n- name: admin\n  user:\n    token: kubes3cret-token\n",
    );
    write(
        &h.join("kube-extra.yaml"),
        "contexts:\n- name: staging\n  context: {cluster: s, user: s}\nusers:\n- name: s\n  user:\n    exec: {command: x}\n",
    );
    write(&h.join(".ssh/id_plain"), &openssh_key("none"));
    write(&h.join(".ssh/id_plain.pub"), "ssh-ed25519 AAAA x\n");
    write(&h.join(".ssh/id_locked"), &openssh_key("aes256-ctr"));
    write(
        &h.join(".ssh/id_rsa_pem"),
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    );
    write(
        &h.join(".ssh/config"),
        "Host *\n  IdentityFile ~/.ssh/id_plain\n",
    );
    write(&h.join(".ssh/known_hosts"), "host ssh-ed25519 AAAA\n");
    write(
        &h.join(".netrc"),
        "machine api.example.com login bob password netrcs3cret\n",
    );
    write(
        &h.join(".pgpass"),
        "db.prod.example:5432:app:app:pgs3cretpw\n",
    );
    write(
        &h.join(".docker/config.json"),
        r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpkb2NrZXJzM2NyZXQ="}},"credsStore":"desktop"}"#,
    );
    write(
        &h.join(".git-credentials"),
        "https://bob:gits3cretpw@github.com\n",
    );
    write(
        &h.join(".config/gh/hosts.yml"),
        "github.com:\n    oauth_token: gho_Gh8vN3kLm0pRt7sWx2yB4cD6fG9hJ1aE5iKo\n    user: bob\n",
    );
    write(
        &h.join(".config/gcloud/credentials.db"),
        "SQLite format 3\0",
    );
    write(
        &h.join(".config/gcloud/application_default_credentials.json"),
        r#"{"type":"authorized_user","client_secret":"gclouds3cret","refresh_token":"gclouds3cret"}"#,
    );
    write(
        &h.join(".config/gcloud/legacy_credentials/bob@example.com/adc.json"),
        "{}",
    );
    let project = h.join("project");
    write(
        &project.join(".env"),
        &format!(
            "PORT=3000\nexport DATABASE_URL=\"postgres://app:dbs3cretpw@db.prod.example:5432/app\"\nPAYMENTS={STRIPE}\n"
        ),
    );
    write(&project.join("a/b/c/.env.local"), "API_TOKEN=deeps3cret\n");
    write(&project.join("a/b/c/d/.env"), "TOO_DEEP_TOKEN=deeps3cret\n");
    write(
        &project.join("node_modules/x/.env"),
        "VENDORED_TOKEN=deeps3cret\n",
    );
    write(&project.join(".git/.env"), "GIT_DIR_TOKEN=deeps3cret\n");
    write(&h.join("outside/.env"), "LINKED_TOKEN=linkeds3cret\n");
    std::os::unix::fs::symlink(h.join("outside"), project.join("linked")).expect("symlink");
    (dir, project)
}

fn planted_scan(home: &Path, project: &Path) -> Scan {
    Scan::new(home, project)
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env(
            "KUBECONFIG",
            &home.join("kube-extra.yaml").display().to_string(),
        )
}

fn findings(v: &Value) -> Vec<Value> {
    v["findings"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(all: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    all.iter().find(|f| f["kind"] == kind && f["name"] == name)
}

fn tags(f: &Value) -> Vec<&str> {
    f["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn finds_every_planted_kind() {
    let (home, project) = planted();
    let (out, v) = planted_scan(home.path(), &project).json();
    assert_eq!(out.status.code(), Some(1), "findings exit 1");
    let all = findings(&v);
    // (kind, name, a tag it must carry)
    let cases = [
        ("env", "GITHUB_TOKEN", "github-token"),
        ("env", "AWS_SECRET_ACCESS_KEY", "name"),
        ("env", "KUBECONFIG", "name"),
        ("dotenv", "DATABASE_URL", "url-credentials"),
        ("dotenv", "PAYMENTS", "stripe-key"),
        ("dotenv", "API_TOKEN", "name"),
        ("aws-profile", "default", "static-keys"),
        ("aws-profile", "prod-admin", "static-keys"),
        ("aws-profile", "dev", "sso"),
        ("kube-context", "prod-cluster", "token"),
        ("kube-context", "staging", "exec"),
        ("ssh-key", "id_plain", "unencrypted"),
        ("ssh-key", "id_locked", "encrypted"),
        ("ssh-key", "id_rsa_pem", "encrypted"),
        ("netrc", "api.example.com", "password"),
        ("pgpass", "app@db.prod.example:5432/app", ""),
        ("docker", "registry.example.com", "inline-auth"),
        ("docker", "credsStore", "creds-store:desktop"),
        ("git-credentials", "github.com", "password"),
        ("gh", "github.com", "oauth-token"),
        ("gcloud", "credentials.db", ""),
        ("gcloud", "application-default", "authorized_user"),
        ("gcloud", "bob@example.com", "legacy"),
    ];
    let kinds: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.0).collect();
    assert_eq!(kinds.len(), KINDS.len(), "every kind is planted");
    for (kind, name, tag) in cases {
        let f = find(&all, kind, name)
            .unwrap_or_else(|| panic!("no {kind} `{name}` in {}", v["findings"]));
        assert!(
            tag.is_empty() || tags(f).contains(&tag),
            "{kind} `{name}` lacks tag {tag}: {f}"
        );
    }
    let absent = [
        ("dotenv", "PORT"),
        ("dotenv", "TOO_DEEP_TOKEN"),
        ("dotenv", "VENDORED_TOKEN"),
        ("dotenv", "GIT_DIR_TOKEN"),
        ("dotenv", "LINKED_TOKEN"),
        ("ssh-key", "id_plain.pub"),
        ("ssh-key", "config"),
        ("ssh-key", "known_hosts"),
        ("aws-profile", "s"),
    ];
    for (kind, name) in absent {
        assert!(
            find(&all, kind, name).is_none(),
            "unexpected {kind} `{name}`"
        );
    }
    assert_eq!(v["count"], all.len());
    assert!(find(&all, "env", "PATH").is_none() && find(&all, "env", "HOME").is_none());
}

#[test]
fn depth_is_bounded_and_adjustable() {
    let (home, project) = planted();
    let (_, v) = planted_scan(home.path(), &project)
        .arg("--depth")
        .arg("0")
        .json();
    assert!(find(&findings(&v), "dotenv", "API_TOKEN").is_none());
    assert!(find(&findings(&v), "dotenv", "PAYMENTS").is_some());
    let (_, v) = planted_scan(home.path(), &project)
        .arg("--depth")
        .arg("4")
        .json();
    assert!(find(&findings(&v), "dotenv", "TOO_DEEP_TOKEN").is_some());
}

#[test]
fn never_prints_a_secret() {
    let (home, project) = planted();
    let scan = planted_scan(home.path(), &project);
    for out in [scan.run(), scan.arg_json().run()] {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{text}");
        for secret in SECRETS {
            assert!(!text.contains(secret), "printed {secret}:\n{text}");
        }
    }
}

#[test]
fn json_is_stable() {
    let (home, project) = planted();
    let scan = planted_scan(home.path(), &project).arg("--json");
    let (a, b) = (scan.run(), scan.run());
    assert_eq!(a.stdout, b.stdout, "two runs differ");
    let v: Value = serde_json::from_slice(&a.stdout).expect("JSON");
    assert_eq!(
        common::sorted_keys(&v),
        ["count", "findings", "uncovered", "version"]
    );
    let all = findings(&v);
    assert!(!all.is_empty());
    for f in &all {
        assert_eq!(
            common::sorted_keys(f),
            [
                "boundary",
                "covered",
                "credential",
                "kind",
                "location",
                "name",
                "tags"
            ]
        );
    }
    // Sorted by kind in report order, then location, then name.
    let keys: Vec<(usize, String, String)> = all
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            let kind = KINDS.iter().position(|k| *k == s("kind"));
            (kind.expect("a known kind"), s("location"), s("name"))
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let text = String::from_utf8_lossy(&a.stdout);
    let order = [
        "\"kind\"",
        "\"name\"",
        "\"location\"",
        "\"tags\"",
        "\"boundary\"",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|k| text.find(k).expect("key present"))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "fixed key order");
}

#[test]
fn empty_home_and_clean_env_exit_0() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = Scan::new(home.path(), home.path()).run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (out, v) = Scan::new(home.path(), home.path()).json();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(v["count"], 0);
    assert_eq!(v["findings"], serde_json::json!([]));
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().expect("tempdir");
    for extra in [&["--depth", "x"][..], &["--bogus"][..]] {
        let mut s = Scan::new(home.path(), home.path());
        for a in extra {
            s = s.arg(a);
        }
        assert_eq!(s.run().status.code(), Some(2), "{extra:?}");
    }
}

#[test]
fn ssh_keygen_keys() {
    let home = tempfile::tempdir().expect("tempdir");
    let ssh = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).expect("mkdir");
    for (file, pass) in [("id_open", ""), ("id_shut", "correct horse")] {
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", pass, "-C", "", "-f"])
            .arg(ssh.join(file))
            .status();
        match made {
            Ok(s) if s.success() => {}
            other => {
                eprintln!("skipped: ssh-keygen unavailable ({other:?}); fixed keys are tested in finds_every_planted_kind");
                return;
            }
        }
    }
    let (_, v) = Scan::new(home.path(), home.path()).json();
    let all = findings(&v);
    let state = |name| find(&all, "ssh-key", name).map(tags);
    assert_eq!(state("id_open"), Some(vec!["unencrypted"]));
    assert_eq!(state("id_shut"), Some(vec!["encrypted"]));
    assert!(find(&all, "ssh-key", "id_open.pub").is_none());
}

#[test]
fn boundary_guess_and_coverage_from_config() {
    let (home, project) = planted();
    let config = home.path().join("guard.yaml");
    write(
        &config,
        "boundaries:\n  prod:\n    aws_profiles: [\"prod*\"]\n    hosts: [\"*.prod.example\"]\n\
         credentials:\n  - name: aws-prod\n    provider: {static: {AWS_ACCESS_KEY_ID: x, AWS_SECRET_ACCESS_KEY: y}}\n\
         \x20   env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n    boundary: prod\n",
    );
    let (out, v) = planted_scan(home.path(), &project).config(&config).json();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = findings(&v);
    let get = |kind, name| {
        let f = find(&all, kind, name).unwrap_or_else(|| panic!("no {kind} {name}"));
        (
            f["boundary"].clone(),
            f["covered"].clone(),
            f["credential"].clone(),
        )
    };
    let (prod, yes, no, null) = (
        Value::from("prod"),
        Value::from(true),
        Value::from(false),
        Value::Null,
    );
    let cases = [
        (
            ("aws-profile", "prod-admin"),
            (prod.clone(), yes.clone(), Value::from("aws-prod")),
        ),
        (
            ("aws-profile", "dev"),
            (null.clone(), no.clone(), null.clone()),
        ),
        (
            ("env", "AWS_SECRET_ACCESS_KEY"),
            (null.clone(), yes.clone(), Value::from("aws-prod")),
        ),
        (
            ("env", "GITHUB_TOKEN"),
            (null.clone(), no.clone(), null.clone()),
        ),
        (
            ("pgpass", "app@db.prod.example:5432/app"),
            (prod.clone(), no.clone(), null.clone()),
        ),
        (
            ("dotenv", "DATABASE_URL"),
            (prod.clone(), no.clone(), null.clone()),
        ),
        (
            ("kube-context", "prod-cluster"),
            (prod.clone(), no.clone(), null.clone()),
        ),
    ];
    for ((kind, name), want) in cases {
        assert_eq!(get(kind, name), want, "{kind} {name}");
    }
    assert!(v["uncovered"].as_u64() < v["count"].as_u64());
}

#[test]
fn malformed_files_are_findings_not_crashes() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    write(
        &h.join(".kube/config"),
        "contexts: [ {name: \"kubes3cret-token",
    );
    write(
        &h.join(".docker/config.json"),
        "{\"auths\": {\"dockers3cret\"",
    );
    write(&h.join(".config/gh/hosts.yml"), "- just\n- a list\n");
    write(&h.join(".pgpass"), "pgs3cretpw\n");
    write(&h.join(".git-credentials"), "gits3cretpw\n");
    write(&h.join(".aws/credentials"), "\u{0}\u{1}garbage [[[\n=\n");
    write(
        &h.join(".ssh/id_bad"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\n%%%%\n",
    );
    std::fs::create_dir_all(h.join(".netrc")).expect("a directory where a file belongs");
    let scan = Scan::new(h, h);
    let (out, v) = scan.json();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    for secret in SECRETS {
        assert!(!text.contains(secret), "printed {secret}:\n{text}");
    }
    let all = findings(&v);
    for kind in ["kube-context", "docker", "gh", "pgpass", "git-credentials"] {
        let f = all
            .iter()
            .find(|f| f["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}: {text}"));
        assert_eq!(tags(f), ["malformed"], "{kind}");
        assert_eq!(f["name"], "", "{kind}");
    }
    let key = find(&all, "ssh-key", "id_bad").expect("bad key reported");
    assert_eq!(tags(key), ["encryption-unknown"]);
    assert_eq!(scan.run().status.code(), Some(1), "table run too");
}
