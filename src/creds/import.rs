//! `guard creds import`: move what `guard creds scan` finds in a user's
//! home into the broker's store, as credential definitions the broker
//! issues per session, and leave nothing of it readable by that user.
//!
//! Run by an admin (root). For each kind:
//! - an AWS profile with keys becomes a credential whose provider mints
//!   short-lived STS credentials from the stored key (when `aws` is here
//!   and the key allows it), otherwise hands out the stored key; the keys
//!   are cut from `~/.aws/credentials` and `~/.aws/config`;
//! - a kubeconfig becomes a `KUBECONFIG` file credential, and is removed;
//! - `.env` secrets become variables, and their lines are blanked;
//! - netrc, pgpass, docker's `config.json` and git's credential store
//!   become file credentials, and are removed;
//! - gh's token becomes `GH_TOKEN`, and is cut from `hosts.yml`.
//!
//! Each gets a rule that grants it (review) to the programs that use it,
//! scoped to the user. Values go to `STATE/imported/USER/NAME.json`
//! (0600, the broker's user) and definitions to `STATE/imported/USER.yaml`,
//! which the broker loads.

use std::collections::BTreeMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::inventory::{self, Finding, Kind};
use crate::rules::spec::{
    Action, CredentialSpec, FileSpec, MatchSpec, MaterialSpec, ProviderSpec, Risk, RuleSpec,
};

pub struct Options {
    pub user: String,
    pub uid: u32,
    pub home: PathBuf,
    pub state_dir: PathBuf,
    /// Who owns the store (the broker's user).
    pub owner: (u32, u32),
    pub dry_run: bool,
    /// The guard binary the STS provider runs.
    pub guard_bin: PathBuf,
    /// Directory levels below home searched for `.env` files.
    pub depth: usize,
}

/// One credential to create, and what happens to its source.
struct Item {
    cred: CredentialSpec,
    rule: RuleSpec,
    store: BTreeMap<String, String>,
    /// What the user's files look like afterwards.
    edits: Vec<Edit>,
    /// One line for the report.
    what: String,
}

enum Edit {
    Remove(PathBuf),
    Rewrite(PathBuf, String),
}

impl Edit {
    fn describe(&self) -> String {
        match self {
            Edit::Remove(p) => format!("removed {}", p.display()),
            Edit::Rewrite(p, _) => format!("cut the secret from {}", p.display()),
        }
    }
}

/// A name part safe for credential names and rule ids.
fn slug(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "x".to_string()
    } else {
        out
    }
}

fn rule(
    opts: &Options,
    cred: &str,
    programs: &[&str],
    more: MatchSpec,
    unless: Option<MatchSpec>,
) -> RuleSpec {
    RuleSpec {
        id: format!(
            "import.{}.{}",
            slug(&opts.user),
            cred.rsplit('.').next().unwrap_or(cred)
        ),
        description: format!("uses {}'s imported credential {cred}", opts.user),
        matches: MatchSpec {
            program: programs.iter().map(|p| p.to_string()).collect(),
            ..more
        },
        unless,
        action: Action::Review,
        risk: Risk::High,
        tags: vec!["credential".to_string(), "imported".to_string()],
        grants: vec![cred.to_string()],
        message: format!("{{program}}: uses the imported credential {cred}"),
        ..RuleSpec::default()
    }
}

fn cred(opts: &Options, name: &str, boundary: Option<String>) -> CredentialSpec {
    CredentialSpec {
        name: name.to_string(),
        users: vec![opts.user.clone()],
        boundary,
        ttl: Some("15m".to_string()),
        ..CredentialSpec::default()
    }
}

fn store_path(opts: &Options, name: &str) -> PathBuf {
    opts.state_dir
        .join("imported")
        .join(slug(&opts.user))
        .join(format!("{name}.json"))
}

fn file(env: &str, from: &str, name: &str, dir: bool) -> MaterialSpec {
    MaterialSpec {
        env: env.to_string(),
        from: from.to_string(),
        name: Some(name.to_string()),
        dir,
    }
}

/// The single boundary a group of findings points at, if they agree.
fn boundary_of<'a>(found: impl Iterator<Item = &'a Finding>) -> Option<String> {
    let mut b: Vec<Option<String>> = found.map(|f| f.boundary.clone()).collect();
    b.sort();
    b.dedup();
    match b.as_slice() {
        [Some(one)] => Some(one.clone()),
        _ => None,
    }
}

/// What `guard creds import` would do, then does it unless dry-run.
pub fn run(
    opts: &Options,
    settings: &crate::session::settings::Settings,
) -> Result<Vec<String>, String> {
    let src = inventory::Sources {
        home: opts.home.clone(),
        cwd: opts.home.clone(),
        env: BTreeMap::new(),
        depth: opts.depth,
        settings,
    };
    let found = inventory::scan(&src);
    let mut items = Vec::new();
    let mut report = Vec::new();
    items.extend(aws(opts, &found, &mut report));
    items.extend(kube(opts, &found));
    items.extend(dotenv(opts, &found));
    items.extend(whole_files(opts, &found));
    items.extend(gh(opts, &found));
    for f in &found {
        let handled = matches!(
            f.kind,
            Kind::AwsProfile
                | Kind::KubeContext
                | Kind::Dotenv
                | Kind::Netrc
                | Kind::Pgpass
                | Kind::Docker
                | Kind::GitCredentials
                | Kind::Gh
        );
        if !handled {
            report.push(format!(
                "left {} {} at {}: not a kind `creds import` moves",
                f.kind.as_str(),
                f.name,
                f.location
            ));
        }
    }
    for it in &items {
        let edits: Vec<String> = it.edits.iter().map(Edit::describe).collect();
        report.push(format!(
            "{}{}: credential {} ({}){}",
            if opts.dry_run {
                "would import "
            } else {
                "imported "
            },
            it.what,
            it.cred.name,
            provider_kind(&it.cred.provider),
            if edits.is_empty() {
                String::new()
            } else {
                format!("; {}", edits.join(", "))
            }
        ));
    }
    if items.is_empty() {
        report.push(format!("nothing to import in {}", opts.home.display()));
    }
    if !opts.dry_run && !items.is_empty() {
        apply(opts, &items)?;
    }
    Ok(report)
}

fn provider_kind(p: &ProviderSpec) -> &'static str {
    if p.command.is_some() {
        "minted by STS per session"
    } else {
        "stored value, injected as granted"
    }
}

// ------------------------------------------------------------------ aws

/// `[section]` → key → value, for the AWS ini files.
fn ini(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(s) = t.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((s.trim().to_string(), Vec::new()));
        } else if let (Some(last), Some((k, v))) = (out.last_mut(), t.split_once('=')) {
            last.1
                .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

const AWS_SECRET_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
];

/// The file without the key lines of `profile`'s section.
fn cut_keys(text: &str, profile: &str, config: bool) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(s) = t.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let s = s.trim();
            let name = if config && s != "default" {
                s.strip_prefix("profile ").map(str::trim)
            } else {
                Some(s)
            };
            inside = name == Some(profile);
        } else if inside {
            let key = t
                .split('=')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if AWS_SECRET_KEYS.contains(&key.as_str()) {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Can the key mint session credentials here? Asked once, at import.
fn sts_works(keys: &BTreeMap<String, String>) -> bool {
    if keys.contains_key("AWS_SESSION_TOKEN") {
        return false;
    }
    let mut c = std::process::Command::new("aws");
    c.args([
        "sts",
        "get-session-token",
        "--duration-seconds",
        "900",
        "--output",
        "json",
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("HOME", "/nonexistent")
    .env("AWS_CONFIG_FILE", "/dev/null")
    .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    for (k, v) in keys {
        c.env(k, v);
    }
    c.status().is_ok_and(|s| s.success())
}

fn credentials_file(profile: &str, keys: &BTreeMap<String, String>) -> String {
    let mut out = format!("[{profile}]\n");
    for (env, key) in [
        ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
        ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
        ("AWS_SESSION_TOKEN", "aws_session_token"),
    ] {
        if let Some(v) = keys.get(env) {
            out.push_str(&format!("{key} = {v}\n"));
        }
    }
    out
}

fn aws(opts: &Options, found: &[Finding], report: &mut Vec<String>) -> Vec<Item> {
    let files = [
        (opts.home.join(".aws/credentials"), false),
        (opts.home.join(".aws/config"), true),
    ];
    let texts: Vec<(PathBuf, bool, String)> = files
        .iter()
        .filter_map(|(p, c)| Some((p.clone(), *c, std::fs::read_to_string(p).ok()?)))
        .collect();
    let mut out = Vec::new();
    let mut imported: Vec<String> = Vec::new();
    let profiles: Vec<&Finding> = found
        .iter()
        .filter(|f| f.kind == Kind::AwsProfile && !f.name.is_empty())
        .collect();
    for f in profiles {
        let mut keys = BTreeMap::new();
        for (_, config, text) in &texts {
            for (section, pairs) in ini(text) {
                let name = if *config && section != "default" {
                    section
                        .strip_prefix("profile ")
                        .map(|s| s.trim().to_string())
                } else {
                    Some(section.clone())
                };
                if name.as_deref() != Some(f.name.as_str()) {
                    continue;
                }
                for (k, v) in pairs {
                    let env = match k.as_str() {
                        "aws_access_key_id" => "AWS_ACCESS_KEY_ID",
                        "aws_secret_access_key" => "AWS_SECRET_ACCESS_KEY",
                        "aws_session_token" | "aws_security_token" => "AWS_SESSION_TOKEN",
                        _ => continue,
                    };
                    keys.entry(env.to_string()).or_insert(v);
                }
            }
        }
        if !(keys.contains_key("AWS_ACCESS_KEY_ID") && keys.contains_key("AWS_SECRET_ACCESS_KEY")) {
            report.push(format!(
                "left aws profile {}: it holds no keys (SSO, a role or a process provides them)",
                f.name
            ));
            continue;
        }
        let name = format!("{}.aws-{}", slug(&opts.user), slug(&f.name));
        let path = store_path(opts, &name);
        let mut store = keys.clone();
        store.insert(
            "credentials_file".to_string(),
            credentials_file(&f.name, &keys),
        );
        let mut c = cred(opts, &name, f.boundary.clone());
        let sts = sts_works(&keys);
        c.provider = if sts {
            ProviderSpec {
                command: Some(vec![
                    opts.guard_bin.display().to_string(),
                    "creds".to_string(),
                    "mint-aws".to_string(),
                    "--store".to_string(),
                    path.display().to_string(),
                    "--profile".to_string(),
                    f.name.clone(),
                ]),
                ..ProviderSpec::default()
            }
        } else {
            ProviderSpec {
                store: Some(path.display().to_string()),
                ..ProviderSpec::default()
            }
        };
        c.env = vec!["AWS_ACCESS_KEY_ID".into(), "AWS_SECRET_ACCESS_KEY".into()];
        if sts || keys.contains_key("AWS_SESSION_TOKEN") {
            c.env.push("AWS_SESSION_TOKEN".into());
        }
        c.files = vec![file(
            "AWS_SHARED_CREDENTIALS_FILE",
            "credentials_file",
            "credentials",
            false,
        )];
        let profile_re = format!("(^| )--profile(=| ){}( |$)", regex::escape(&f.name));
        let r = if f.name == "default" {
            rule(
                opts,
                &name,
                &["aws"],
                MatchSpec::default(),
                Some(MatchSpec {
                    flags: vec!["--profile".to_string()],
                    ..MatchSpec::default()
                }),
            )
        } else {
            rule(
                opts,
                &name,
                &["aws"],
                MatchSpec {
                    args_regex: Some(profile_re),
                    ..MatchSpec::default()
                },
                None,
            )
        };
        out.push(Item {
            cred: c,
            rule: r,
            store,
            edits: Vec::new(),
            what: format!("aws profile {}", f.name),
        });
        imported.push(f.name.clone());
    }
    // Each file is cut once, of every imported profile's keys; the first
    // item carries the edit.
    if let Some(first) = out.first_mut() {
        for (p, config, text) in &texts {
            let cut = imported
                .iter()
                .fold(text.clone(), |t, profile| cut_keys(&t, profile, *config));
            if cut != *text {
                first.edits.push(Edit::Rewrite(p.clone(), cut));
            }
        }
    }
    out
}

// ------------------------------------------------------------------ kube

const KUBE_PROGRAMS: &[&str] = &[
    "kubectl",
    "helm",
    "k9s",
    "kubectx",
    "kubens",
    "stern",
    "flux",
    "argocd",
    "kustomize",
];

fn kube(opts: &Options, found: &[Finding]) -> Vec<Item> {
    let mut files: Vec<String> = found
        .iter()
        .filter(|f| f.kind == Kind::KubeContext && !f.name.is_empty())
        .map(|f| f.location.clone())
        .collect();
    files.sort();
    files.dedup();
    let mut out = Vec::new();
    for loc in files {
        let path = PathBuf::from(&loc);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let stem = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = format!("{}.kube-{}", slug(&opts.user), slug(&stem));
        let contexts: Vec<&Finding> = found
            .iter()
            .filter(|f| f.kind == Kind::KubeContext && f.location == loc)
            .collect();
        let mut c = cred(opts, &name, boundary_of(contexts.iter().copied()));
        c.provider.store = Some(store_path(opts, &name).display().to_string());
        c.files = vec![file("KUBECONFIG", "kubeconfig", "config", false)];
        let mut store = BTreeMap::new();
        store.insert("kubeconfig".to_string(), text);
        out.push(Item {
            rule: rule(opts, &name, KUBE_PROGRAMS, MatchSpec::default(), None),
            cred: c,
            store,
            edits: vec![Edit::Remove(path)],
            what: format!(
                "kubeconfig {loc} ({} context{})",
                contexts.len(),
                if contexts.len() == 1 { "" } else { "s" }
            ),
        });
    }
    out
}

// ---------------------------------------------------------------- dotenv

fn dotenv_pair(line: &str) -> Option<(String, String)> {
    let t = line.trim();
    if t.starts_with('#') {
        return None;
    }
    let t = t.strip_prefix("export ").unwrap_or(t);
    let (k, v) = t.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let v = v.trim();
    let v = if v.starts_with(['"', '\'']) {
        shell_words::split(v)
            .ok()?
            .into_iter()
            .next()
            .unwrap_or_default()
    } else {
        v.to_string()
    };
    Some((k.to_string(), v))
}

fn dotenv(opts: &Options, found: &[Finding]) -> Vec<Item> {
    let mut files: Vec<String> = found
        .iter()
        .filter(|f| f.kind == Kind::Dotenv && !f.name.is_empty())
        .map(|f| f.location.clone())
        .collect();
    files.sort();
    files.dedup();
    let mut out = Vec::new();
    for loc in files {
        let path = PathBuf::from(&loc);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let vars: Vec<String> = found
            .iter()
            .filter(|f| f.kind == Kind::Dotenv && f.location == loc)
            .map(|f| f.name.clone())
            .collect();
        let rel = path.strip_prefix(&opts.home).unwrap_or(&path);
        let name = format!(
            "{}.env-{}",
            slug(&opts.user),
            slug(&rel.display().to_string())
        );
        let mut store = BTreeMap::new();
        let mut kept = String::new();
        for line in text.lines() {
            match dotenv_pair(line) {
                Some((k, v)) if vars.contains(&k) => {
                    store.insert(k.clone(), v);
                    kept.push_str(&format!("# {k}: moved to guard (credential {name})\n"));
                }
                _ => {
                    kept.push_str(line);
                    kept.push('\n');
                }
            }
        }
        if store.is_empty() {
            continue;
        }
        let mut c = cred(
            opts,
            &name,
            boundary_of(found.iter().filter(|f| f.location == loc)),
        );
        c.provider.store = Some(store_path(opts, &name).display().to_string());
        c.env = store.keys().cloned().collect();
        let r = rule(
            opts,
            &name,
            &[],
            MatchSpec {
                env_refs: store.keys().cloned().collect(),
                ..MatchSpec::default()
            },
            None,
        );
        out.push(Item {
            what: format!(
                "{} from {loc}",
                store.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            cred: c,
            rule: r,
            store,
            edits: vec![Edit::Rewrite(path, kept)],
        });
    }
    out
}

// ---------------------------------------------------- netrc, pgpass, …

/// A credential that is one whole file: its kind, the variable that
/// names it, its file name, whether the variable names its directory,
/// the programs that use it and (if only some do) their subcommands.
type WholeFile = (
    Kind,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    &'static [&'static str],
);

fn whole_files(opts: &Options, found: &[Finding]) -> Vec<Item> {
    let kinds: &[WholeFile] = &[
        (
            Kind::Netrc,
            "NETRC",
            "netrc",
            false,
            &["curl", "wget", "http", "ftp", "lftp"],
            &[],
        ),
        (
            Kind::Pgpass,
            "PGPASSFILE",
            "pgpass",
            false,
            &[
                "psql",
                "pg_dump",
                "pg_dumpall",
                "pg_restore",
                "pgcli",
                "createdb",
                "dropdb",
            ],
            &[],
        ),
        (
            Kind::Docker,
            "DOCKER_CONFIG",
            "config.json",
            true,
            &["docker", "podman", "skopeo", "crane", "buildah"],
            &[],
        ),
        (
            Kind::GitCredentials,
            "GUARD_GIT_CREDENTIALS",
            "git-credentials",
            false,
            &["git"],
            &["push", "pull", "fetch", "clone", "ls-remote", "remote"],
        ),
    ];
    let mut out = Vec::new();
    for (kind, var, fname, dir, programs, subs) in kinds {
        let mut locs: Vec<String> = found
            .iter()
            .filter(|f| f.kind == *kind && !f.name.is_empty())
            .map(|f| f.location.clone())
            .collect();
        locs.sort();
        locs.dedup();
        for loc in locs {
            let path = PathBuf::from(&loc);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = format!("{}.{}", slug(&opts.user), kind.as_str());
            let mut c = cred(
                opts,
                &name,
                boundary_of(found.iter().filter(|f| f.location == loc)),
            );
            c.provider.store = Some(store_path(opts, &name).display().to_string());
            c.files = vec![file(var, "content", fname, *dir)];
            let mut store = BTreeMap::new();
            store.insert("content".to_string(), text);
            if *kind == Kind::GitCredentials {
                // git asks a helper; this one reads the file guard wrote.
                for (k, v) in [
                    ("GIT_CONFIG_COUNT", "1"),
                    ("GIT_CONFIG_KEY_0", "credential.helper"),
                    (
                        "GIT_CONFIG_VALUE_0",
                        // `get` only: the file is the holder's own copy
                        // (in broker mode a memfd, where `store` cannot
                        // take its lock file), and what git would store
                        // is what it already holds.
                        "!f() { test \"$1\" = get || exit 0; git credential-store --file=\"$GUARD_GIT_CREDENTIALS\" get; }; f",
                    ),
                ] {
                    store.insert(k.to_string(), v.to_string());
                    c.env.push(k.to_string());
                }
            }
            let more = MatchSpec {
                subcommand: subs.iter().map(|s| s.to_string()).collect(),
                ..MatchSpec::default()
            };
            out.push(Item {
                rule: rule(opts, &name, programs, more, None),
                cred: c,
                store,
                edits: vec![Edit::Remove(path)],
                what: format!("{} {loc}", kind.as_str()),
            });
        }
    }
    out
}

fn gh(opts: &Options, found: &[Finding]) -> Vec<Item> {
    let Some(f) = found
        .iter()
        .find(|f| f.kind == Kind::Gh && !f.name.is_empty())
    else {
        return Vec::new();
    };
    let path = PathBuf::from(&f.location);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let Ok(doc) = yaml_serde::from_str::<yaml_serde::Value>(&text) else {
        return Vec::new();
    };
    let token = doc
        .get("github.com")
        .or_else(|| doc.as_mapping().and_then(|m| m.values().next()))
        .and_then(|h| h.get("oauth_token"))
        .and_then(yaml_serde::Value::as_str);
    let Some(token) = token else {
        return Vec::new();
    };
    let name = format!("{}.gh", slug(&opts.user));
    let mut c = cred(opts, &name, f.boundary.clone());
    c.provider.store = Some(store_path(opts, &name).display().to_string());
    c.env = vec!["GH_TOKEN".to_string()];
    let mut store = BTreeMap::new();
    store.insert("GH_TOKEN".to_string(), token.to_string());
    let kept: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("oauth_token:"))
        .map(|l| format!("{l}\n"))
        .collect();
    vec![Item {
        rule: rule(opts, &name, &["gh"], MatchSpec::default(), None),
        cred: c,
        store,
        edits: vec![Edit::Rewrite(path, kept)],
        what: format!("gh token in {}", f.location),
    }]
}

// ------------------------------------------------------------------ apply

/// Write `bytes` to `path` as the store's owner, 0600, atomically.
fn write_owned(path: &Path, bytes: &[u8], owner: (u32, u32)) -> Result<(), String> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    std::os::unix::fs::chown(&tmp, Some(owner.0), Some(owner.1)).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

fn owned_dir(dir: &Path, owner: (u32, u32)) -> Result<(), String> {
    crate::session::store::private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::os::unix::fs::chown(dir, Some(owner.0), Some(owner.1))
        .map_err(|e| format!("{}: {e}", dir.display()))
}

fn apply(opts: &Options, items: &[Item]) -> Result<(), String> {
    let root = opts.state_dir.join("imported");
    owned_dir(&root, opts.owner)?;
    owned_dir(&root.join(slug(&opts.user)), opts.owner)?;
    // Values first: a definition must never name a store not yet there.
    for it in items {
        let json = serde_json::to_vec_pretty(&it.store).map_err(|e| e.to_string())?;
        write_owned(&store_path(opts, &it.cred.name), &json, opts.owner)?;
    }
    let defs = root.join(format!("{}.yaml", slug(&opts.user)));
    let mut spec: FileSpec = std::fs::read_to_string(&defs)
        .ok()
        .and_then(|t| yaml_serde::from_str(&t).ok())
        .unwrap_or_default();
    for it in items {
        spec.credentials.retain(|c| c.name != it.cred.name);
        spec.credentials.push(it.cred.clone());
        spec.rules.retain(|r| r.id != it.rule.id);
        spec.rules.push(it.rule.clone());
    }
    let yaml = format!(
        "# written by `guard creds import --user {}`; the broker loads it\n{}",
        opts.user,
        yaml_serde::to_string(&spec).map_err(|e| e.to_string())?
    );
    // The file must load before the broker sees it.
    crate::rules::load::parse_file(&defs.display().to_string(), &yaml)
        .map_err(|e| e.to_string())?;
    write_owned(&defs, yaml.as_bytes(), opts.owner)?;
    // Only now leave the user's files without the secrets.
    for it in items {
        for e in &it.edits {
            match e {
                Edit::Remove(p) => {
                    if let Err(err) = std::fs::remove_file(p) {
                        if err.kind() != std::io::ErrorKind::NotFound {
                            return Err(format!("{}: {err}", p.display()));
                        }
                    }
                }
                Edit::Rewrite(p, text) => {
                    let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
                    use std::os::unix::fs::MetadataExt;
                    write_owned(p, text.as_bytes(), (meta.uid(), meta.gid()))?;
                }
            }
        }
    }
    let _ = opts.uid;
    Ok(())
}

/// `guard creds mint-aws`: the provider an imported AWS profile runs in
/// the broker. It asks STS for session credentials with the stored key
/// and prints them as one JSON object, with a credentials file for
/// `--profile` use.
pub fn mint_aws(store: &Path, profile: &str) -> Result<String, String> {
    let spec = ProviderSpec {
        store: Some(store.display().to_string()),
        ..ProviderSpec::default()
    };
    let (keys, _) = super::provider::fetch("aws", &spec).map_err(|e| e.to_string())?;
    let mut c = std::process::Command::new("aws");
    c.args([
        "sts",
        "get-session-token",
        "--duration-seconds",
        "900",
        "--output",
        "json",
    ])
    .env_clear()
    .env(
        "PATH",
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
    )
    .env("HOME", "/nonexistent")
    .env("AWS_CONFIG_FILE", "/dev/null")
    .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        if let Some(v) = keys.get(k) {
            c.env(k, v);
        }
    }
    let out = c.output().map_err(|e| format!("cannot run aws: {e}"))?;
    if !out.status.success() {
        let first = String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        return Err(format!(
            "aws sts get-session-token failed: {}",
            super::provider::mask(&first)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("STS answer: {e}"))?;
    let c = &v["Credentials"];
    let get = |k: &str| {
        c[k].as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("STS answer has no {k}"))
    };
    let mut minted = BTreeMap::new();
    minted.insert("AWS_ACCESS_KEY_ID".to_string(), get("AccessKeyId")?);
    minted.insert("AWS_SECRET_ACCESS_KEY".to_string(), get("SecretAccessKey")?);
    minted.insert("AWS_SESSION_TOKEN".to_string(), get("SessionToken")?);
    let file = credentials_file(profile, &minted);
    minted.insert("credentials_file".to_string(), file);
    serde_json::to_string(&minted).map_err(|e| e.to_string())
}
