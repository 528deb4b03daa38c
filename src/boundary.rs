//! Which boundaries (`staging`, `prod`) a command targets, from the
//! signals the config names: AWS profiles and account ids, kube contexts
//! and namespaces, ssh, database and URL hosts, and variable values.
//!
//! Only what a command *uses* counts: `kubectl --context prod-eu`, `psql
//! -h db-prod1`, `curl https://api.prod.example.com`. Reading a file that
//! mentions a prod endpoint does not; using the endpoint does.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::command::Command;
use crate::glob::Glob;
use crate::rules::spec::BoundarySpec;

/// The boundary of a target only known at run time.
pub const UNKNOWN: &str = "?";

/// A signal and the boundary it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub boundary: String,
    /// What gave it away, as a person would say it: `kube context prod-eu`.
    pub signal: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AwsProfile,
    AwsAccount,
    KubeContext,
    KubeNamespace,
    Host,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::AwsProfile => "aws profile",
            Kind::AwsAccount => "aws account",
            Kind::KubeContext => "kube context",
            Kind::KubeNamespace => "kube namespace",
            Kind::Host => "host",
        }
    }
}

/// Programs that connect somewhere: their hosts count even when no rule
/// matched them.
const NETWORK: &[&str] = &[
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "mosh",
    "curl",
    "wget",
    "http",
    "https",
    "xh",
    "nc",
    "ncat",
    "telnet",
    "psql",
    "pg_dump",
    "pg_dumpall",
    "pg_restore",
    "mysql",
    "mariadb",
    "mysqldump",
    "redis-cli",
    "mongo",
    "mongosh",
    "mongodump",
    "clickhouse-client",
    "git",
    "kubectl",
    "helm",
    "aws",
    "grpcurl",
    "websocat",
];
const KUBE: &[&str] = &[
    "kubectl",
    "helm",
    "k9s",
    "kubectx",
    "kubens",
    "oc",
    "kustomize",
];
const DB_HOST_FLAG: &[&str] = &[
    "psql",
    "pg_dump",
    "pg_dumpall",
    "pg_restore",
    "mysql",
    "mariadb",
    "mysqldump",
    "redis-cli",
    "clickhouse-client",
    "mongo",
    "mongosh",
    "mongodump",
];
/// ssh options that take a value, so the destination is found.
const SSH_VALUE_OPTS: &str = "BbcDEeFIiJLlmOopQRSWw";

fn url_host() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b[a-z][a-z0-9+.-]*://(?:[^/@\s]*@)?(\[[^\]\s]+\]|[^:/\s?#@]+)").ok()
    })
    .as_ref()
}

fn arn_account() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\barn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):").ok())
        .as_ref()
}

/// The value of `--name VALUE` or `--name=VALUE` among `args`.
fn flag_values(args: &[String], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        for n in names {
            if a == n {
                if let Some(v) = args.get(i + 1) {
                    out.push(v.clone());
                }
            } else if let Some(v) = a.strip_prefix(&format!("{n}=")) {
                out.push(v.to_string());
            } else if n.len() == 2 && !n.starts_with("--") && a.starts_with(n) && a.len() > 2 {
                // `-nprod`, `-hdb1`: a short option with its value attached.
                out.push(a[2..].to_string());
            }
        }
        i += 1;
    }
    out
}

/// What a word spells, with the part only known at run time (`$C`,
/// `$(…)`) as `RUNTIME`: `--context=$C` → `--context=\u{1}`.
fn known_text(w: &crate::command::Word) -> String {
    if !w.dynamic {
        return w.text.clone();
    }
    match w.text.split_once('=') {
        Some((flag, _)) if flag.starts_with("--") && !flag.contains('$') => {
            format!("{flag}={RUNTIME}")
        }
        _ => RUNTIME.to_string(),
    }
}

/// Stands for a value only known when the command runs.
const RUNTIME: char = '\u{1}';

/// `[user@]host[:path]` → host.
fn host_of(dest: &str) -> Option<String> {
    let after_user = dest.rsplit_once('@').map_or(dest, |(_, h)| h);
    let host = after_user.split(':').next().unwrap_or(after_user);
    let host = host.trim_matches(['[', ']']);
    (!host.is_empty() && !host.starts_with(['-', '/', '.', '~'])).then(|| host.to_ascii_lowercase())
}

fn signals(cmd: &Command, line_env: &BTreeMap<String, String>) -> Vec<(Kind, String)> {
    let program = crate::command::basename(cmd.program());
    let args: Vec<String> = cmd.args().iter().map(known_text).collect();
    let mut out = Vec::new();
    let env_of = |name: &str| {
        cmd.assignments
            .iter()
            .rev()
            .find(|a| a.name == name)
            .map(|a| known_text(&a.value))
            .or_else(|| line_env.get(name).cloned())
    };
    if program == "aws" || program.starts_with("aws-") || program == "sam" || program == "cdk" {
        let mut profiles = flag_values(&args, &["--profile"]);
        if profiles.is_empty() {
            profiles.extend(env_of("AWS_PROFILE").or_else(|| env_of("AWS_DEFAULT_PROFILE")));
        }
        if profiles.is_empty() {
            // What the CLI falls back to, so a boundary may claim it.
            profiles.push("default".to_string());
        }
        out.extend(profiles.into_iter().map(|p| (Kind::AwsProfile, p)));
    }
    if let Some(re) = arn_account() {
        for a in &args {
            out.extend(
                re.captures_iter(a)
                    .filter_map(|c| c.get(1))
                    .map(|m| (Kind::AwsAccount, m.as_str().to_string())),
            );
        }
    }
    if KUBE.contains(&program) {
        let contexts = flag_values(&args, &["--context", "--kube-context"]);
        let clusters = flag_values(&args, &["--cluster"]);
        let users = flag_values(&args, &["--user"]);
        let file = flag_values(&args, &["--kubeconfig"])
            .into_iter()
            .next()
            .or_else(|| env_of("KUBECONFIG"));
        let config = kubeconfig(file.as_deref(), line_env.get("HOME").map(String::as_str));
        if contexts.is_empty() && program != "kubectx" {
            // No --context: the kubeconfig's current context is the target,
            // unless --cluster/--user pick others.
            if clusters.is_empty() && users.is_empty() {
                out.extend(
                    config
                        .as_ref()
                        .and_then(|k| k.current_context.clone())
                        .filter(|c| !c.is_empty())
                        .map(|c| (Kind::KubeContext, c)),
                );
            }
        }
        out.extend(contexts.into_iter().map(|c| (Kind::KubeContext, c)));
        out.extend(
            contexts_using(config.as_ref(), &clusters, &users)
                .into_iter()
                .map(|c| (Kind::KubeContext, c)),
        );
        // `config use-context X`, `config set-context X`, and both names
        // of `config rename-context OLD NEW` are targets.
        for (verb, operands) in [
            ("use-context", 1),
            ("set-context", 1),
            ("rename-context", 2),
        ] {
            if let Some(i) = args.iter().position(|a| a == verb) {
                out.extend(
                    args.iter()
                        .skip(i + 1)
                        .filter(|a| !a.starts_with('-'))
                        .take(operands)
                        .map(|c| (Kind::KubeContext, c.clone())),
                );
            }
        }
        if program == "kubectx" {
            out.extend(
                args.iter()
                    .find(|a| !a.starts_with('-'))
                    .map(|c| (Kind::KubeContext, c.clone())),
            );
        }
        // A context is what its cluster and user are: a prod cluster
        // under a renamed context is still prod. Add the contexts that
        // share either.
        let named: Vec<String> = out
            .iter()
            .filter(|(k, _)| *k == Kind::KubeContext)
            .map(|(_, c)| c.clone())
            .collect();
        if let Some(k) = config.as_ref() {
            for n in &named {
                let Some(def) = k.contexts.iter().find(|c| &c.name == n) else {
                    continue;
                };
                let cluster: Vec<String> = def.context.cluster.iter().cloned().collect();
                let user: Vec<String> = def.context.user.iter().cloned().collect();
                for sibling in contexts_using(Some(k), &cluster, &user) {
                    if !named.contains(&sibling) {
                        out.push((Kind::KubeContext, sibling));
                    }
                }
            }
        }
        for n in flag_values(&args, &["-n", "--namespace"]) {
            out.push((Kind::KubeNamespace, n));
        }
        for s in flag_values(&args, &["--server", "-s"]) {
            out.extend(host_of(s.split("://").last().unwrap_or(&s)).map(|h| (Kind::Host, h)));
        }
    }
    let mut hosts: Vec<String> = Vec::new();
    if let Some(re) = url_host() {
        for a in &args {
            hosts.extend(
                re.captures_iter(a)
                    .filter_map(|c| c.get(1))
                    .map(|m| m.as_str().trim_matches(['[', ']']).to_ascii_lowercase()),
            );
        }
    }
    hosts.extend(
        flag_values(&args, &["--host", "--hostname"])
            .iter()
            .filter_map(|h| host_of(h)),
    );
    if DB_HOST_FLAG.contains(&program) {
        hosts.extend(
            flag_values(&args, &["-h"])
                .iter()
                .filter_map(|h| host_of(h)),
        );
        for a in &args {
            for part in a.split_whitespace() {
                if let Some(h) = part.strip_prefix("host=") {
                    hosts.extend(host_of(h));
                }
            }
        }
        hosts.extend(env_of("PGHOST").and_then(|h| host_of(&h)));
    }
    match program {
        "ssh" | "mosh" | "sftp" => hosts.extend(ssh_destination(&args)),
        "scp" | "rsync" => hosts.extend(
            args.iter()
                .filter(|a| !a.starts_with('-') && a.contains(':') && !a.contains("://"))
                .filter_map(|a| host_of(a)),
        ),
        _ => {}
    }
    out.extend(hosts.into_iter().map(|h| (Kind::Host, h)));
    out
}

#[derive(serde::Deserialize, Default)]
struct KubeConfig {
    #[serde(rename = "current-context")]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
}

#[derive(serde::Deserialize)]
struct NamedContext {
    name: String,
    #[serde(default)]
    context: ContextRefs,
}

#[derive(serde::Deserialize, Default)]
struct ContextRefs {
    cluster: Option<String>,
    user: Option<String>,
}

/// A kubeconfig (the first of a `KUBECONFIG` list), by default
/// `~/.kube/config` of the `home` the line runs with.
fn kubeconfig(file: Option<&str>, home: Option<&str>) -> Option<KubeConfig> {
    let path = match file.and_then(|f| f.split(':').find(|p| !p.is_empty())) {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::Path::new(home?).join(".kube").join("config"),
    };
    match crate::fileview::read(&path) {
        crate::fileview::Seen::Text(text) => yaml_serde::from_str(&text).ok(),
        _ => None,
    }
}

/// The contexts `--cluster`/`--user` stand for: those of the kubeconfig
/// that use them, else the name itself (so `prod-*` still matches it).
fn contexts_using(cfg: Option<&KubeConfig>, cluster: &[String], user: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (want, is_cluster) in cluster
        .iter()
        .map(|c| (c, true))
        .chain(user.iter().map(|u| (u, false)))
    {
        let found: Vec<String> = cfg
            .map(|k| {
                k.contexts
                    .iter()
                    .filter(|c| {
                        let r = if is_cluster {
                            &c.context.cluster
                        } else {
                            &c.context.user
                        };
                        r.as_deref() == Some(want.as_str())
                    })
                    .map(|c| c.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        if found.is_empty() {
            out.push(want.clone());
        }
        out.extend(found);
    }
    out
}

/// The first operand of ssh: `[user@]host`.
fn ssh_destination(args: &[String]) -> Option<String> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            return args.get(i + 1).and_then(|d| host_of(d));
        }
        if let Some(opts) = a.strip_prefix('-') {
            // `-p 22`: the option's value is the next word unless attached.
            if let Some(last) = opts.chars().last() {
                let takes = SSH_VALUE_OPTS.contains(last) && opts.len() == 1
                    || opts.chars().all(|c| c.is_ascii_alphabetic())
                        && SSH_VALUE_OPTS.contains(last);
                if takes {
                    i += 1;
                }
            }
            i += 1;
            continue;
        }
        return host_of(a.strip_prefix("ssh://").unwrap_or(a));
    }
    None
}

fn globs_for(b: &BoundarySpec, kind: Kind) -> &[String] {
    match kind {
        Kind::AwsProfile => &b.aws_profiles,
        Kind::AwsAccount => &b.aws_accounts,
        Kind::KubeContext => &b.kube_contexts,
        Kind::KubeNamespace => &b.kube_namespaces,
        Kind::Host => &b.hosts,
    }
}

fn any_glob(globs: &[String], text: &str) -> bool {
    globs.iter().any(|g| Glob::new(g).matches(text))
}

/// The boundaries a line's commands target, each once. `sensitive(i)`
/// says a rule matched command `i`.
/// `vars` is the environment the line starts in.
pub fn tag(
    commands: &[Command],
    sensitive: &dyn Fn(usize) -> bool,
    boundaries: &BTreeMap<String, BoundarySpec>,
    vars: &BTreeMap<String, String>,
) -> Vec<Touch> {
    if boundaries.is_empty() {
        return Vec::new();
    }
    let env = line_env(commands, vars);
    let mut out: Vec<Touch> = Vec::new();
    for (i, cmd) in commands.iter().enumerate() {
        for t in touches(cmd, sensitive(i), &env, boundaries) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// The environment the line starts in, with what it sets for the rest of
/// the line: `export X=1`, or `X=1` alone.
fn line_env(commands: &[Command], vars: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = vars.clone();
    for c in commands {
        if c.argv.is_empty() {
            out.extend(
                c.assignments
                    .iter()
                    .map(|a| (a.name.clone(), a.value.text.clone())),
            );
        } else if matches!(c.program(), "export" | "declare" | "typeset") {
            for w in c.args() {
                if let Some((k, v)) = w.text.split_once('=') {
                    out.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    out
}

/// What `cmd` touches, in the line's environment `env`. Only commands
/// that are `sensitive` (a rule matched them) or connect somewhere count,
/// so an inherited `AWS_PROFILE=prod` does not make `ls` a crossing.
fn touches(
    cmd: &Command,
    sensitive: bool,
    env: &BTreeMap<String, String>,
    boundaries: &BTreeMap<String, BoundarySpec>,
) -> Vec<Touch> {
    let program = crate::command::basename(cmd.program());
    let network = NETWORK.contains(&program) || KUBE.contains(&program);
    if !(sensitive || network) {
        return Vec::new();
    }
    let sigs = signals(cmd, env);
    let mut out: Vec<Touch> = Vec::new();
    let mut push = |boundary: &str, signal: String| {
        let t = Touch {
            boundary: boundary.to_string(),
            signal,
        };
        if !out.contains(&t) {
            out.push(t);
        }
    };
    // A target selector only known at run time could be any boundary.
    for (kind, value) in &sigs {
        let selector = matches!(
            kind,
            Kind::AwsProfile | Kind::KubeContext | Kind::KubeNamespace
        );
        if selector && value.contains(RUNTIME) {
            push(UNKNOWN, format!("{} only known at run time", kind.label()));
        }
    }
    for (name, b) in boundaries {
        for (kind, value) in sigs.iter().filter(|(_, v)| !v.contains(RUNTIME)) {
            if any_glob(globs_for(b, *kind), value) {
                push(name, format!("{} {value}", kind.label()));
            }
        }
        for (var, globs) in &b.env {
            let value = cmd
                .assignments
                .iter()
                .rev()
                .find(|a| &a.name == var)
                .map(|a| a.value.text.clone())
                .or_else(|| env.get(var).cloned());
            if let Some(v) = value.filter(|v| any_glob(globs, v)) {
                push(name, format!("{var}={v}"));
            }
        }
    }
    out
}
