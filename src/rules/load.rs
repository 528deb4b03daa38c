//! Finding, parsing, validating and layering config and rules files.
//!
//! Layers, weakest first: the packs embedded in the binary, then
//! `/etc/guard/` (`config.yaml`, `rules.d/*.yaml`), then the user's config
//! dir. `GUARD_CONFIG` names one file that replaces the last two. The
//! user's own files are writable by the agent guard is guarding, so they
//! may only tighten: their `default`/`dynamic` can only raise the
//! setting, their `shell` is ignored and their `allow` rules are dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::compiled::{self, Parsed};
use super::layer::{Layer, Trust};
use super::origins;
use super::spec::{Action, FileSpec, RuleSpec};
use super::{cache, Origin, RuleSet};
use crate::approve::settings::Settings as ApprovalSettings;
use crate::unwrap::Wrappers;

/// The shipped packs, parsed and compiled at build time (see build.rs).
static EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/embedded_rules.bin"));

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    pub origin: Origin,
    pub message: String,
}

/// Everything loaded, ready to decide.
#[derive(Debug)]
pub struct Config {
    pub shell: String,
    pub default: Action,
    pub dynamic: Action,
    pub rules: RuleSet,
    pub wrappers: Wrappers,
    pub approval: ApprovalSettings,
    pub transfers: crate::transfer::Settings,
    /// Let the real shell read its startup files.
    pub startup_files: bool,
    pub sessions: crate::session::settings::Settings,
    pub audit: super::spec::AuditSpec,
    /// The broker every line must be decided by, if an admin layer names
    /// one.
    pub broker: Option<BrokerSpec>,
    /// Decide every exec below a line (`exec_tree: on`, the default).
    pub exec_tree: bool,
    /// The layers that were read, in order.
    pub files: Vec<String>,
    /// Notes for `rules lint`: settings ignored because of where they were.
    pub notes: Vec<String>,
}

/// Where the broker listens and who must be at the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSpec {
    pub socket: PathBuf,
    pub user: String,
    pub timeout: std::time::Duration,
}

/// The user the broker runs as when no config says.
pub const DEFAULT_BROKER_USER: &str = "guard";
/// How long a client waits for the broker's hello.
pub const DEFAULT_BROKER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `on`/`off` (and YAML's spellings of a boolean).
pub fn exec_tree_value(text: &str) -> Result<bool, String> {
    match text.trim() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!("exec_tree must be on or off, not `{other}`")),
    }
}

fn origin(file: &str, line: usize, col: usize) -> Origin {
    Origin {
        file: file.to_string(),
        line,
        col,
    }
}

fn error(file: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        origin: origin(file, 0, 0),
        message: message.into(),
    }
}

/// The admin directory.
pub const ETC: &str = "/etc/guard";

/// Load the configuration the way shell mode and `check` see it.
///
/// `GUARD_CONFIG` replaces `/etc/guard` and the user's files, but only a
/// file that passes the admin ownership check (`trust`) is taken with
/// admin trust. One that fails, such as a file the agent wrote, is read
/// as the user's own layer on top of `/etc/guard`, and may only tighten.
pub fn load(home: &str) -> Result<Config, ConfigError> {
    let mut paths: Vec<(PathBuf, Trust)> = Vec::new();
    let mut notes = Vec::new();
    match std::env::var_os("GUARD_CONFIG").filter(|p| !p.is_empty()) {
        Some(path) => match crate::trust::admin_file(Path::new(&path)) {
            Ok(t) => paths.push((t.path, Trust::Admin)),
            Err(e) => {
                notes.push(format!("GUARD_CONFIG {e}: read with user trust only"));
                admin_layers(&mut paths, &mut notes, Path::new(ETC))?;
                paths.push((PathBuf::from(path), Trust::User));
            }
        },
        None => {
            admin_layers(&mut paths, &mut notes, Path::new(ETC))?;
            if let Some(dir) = dirs::config_dir().map(|d| d.join("guard")) {
                push_if_exists(&mut paths, dir.join("config.yaml"), Trust::User);
                push_if_exists(&mut paths, dir.join("credentials.yaml"), Trust::User);
                push_dir(&mut paths, &dir.join("rules.d"), Trust::User)?;
            }
        }
    }
    let mut cfg = build(paths, home, true)?;
    notes.append(&mut cfg.notes);
    cfg.notes = notes;
    Ok(cfg)
}

/// The broker's configuration: `--config FILE`, or the admin layers under
/// `etc`, plus what `guard creds import` wrote into the state dir. Every
/// file must be owned by root or the broker's own user and writable by no
/// one else: the broker refuses to start on anything weaker.
pub fn load_broker(
    file: Option<&Path>,
    etc: &Path,
    imported: Option<&Path>,
    home: &str,
) -> Result<Config, ConfigError> {
    let owners = [0, nix::unistd::getuid().as_raw()];
    let check = |p: &Path| {
        crate::trust::open_admin(p, &owners)
            .map(|t| t.path)
            .map_err(|e| error(&p.display().to_string(), e.why))
    };
    let mut paths: Vec<(PathBuf, Trust)> = Vec::new();
    match file {
        Some(f) => paths.push((check(f)?, Trust::Admin)),
        None => {
            let mut found = Vec::new();
            push_if_exists(&mut found, etc.join("config.yaml"), Trust::Admin);
            push_if_exists(&mut found, etc.join("credentials.yaml"), Trust::Admin);
            push_dir(&mut found, &etc.join("rules.d"), Trust::Admin)?;
            for (p, t) in found {
                paths.push((check(&p)?, t));
            }
        }
    }
    if let Some(dir) = imported {
        let mut found = Vec::new();
        push_dir(&mut found, dir, Trust::Admin)?;
        for (p, t) in found {
            paths.push((check(&p)?, t));
        }
    }
    build(paths, home, true)
}

/// `/etc/guard`'s files, each with admin trust only if it passes the
/// ownership check.
fn admin_layers(
    paths: &mut Vec<(PathBuf, Trust)>,
    notes: &mut Vec<String>,
    etc: &Path,
) -> Result<(), ConfigError> {
    let mut found = Vec::new();
    push_if_exists(&mut found, etc.join("config.yaml"), Trust::Admin);
    push_if_exists(&mut found, etc.join("credentials.yaml"), Trust::Admin);
    push_dir(&mut found, &etc.join("rules.d"), Trust::Admin)?;
    for (p, _) in found {
        match crate::trust::admin_file(&p) {
            Ok(t) => paths.push((t.path, Trust::Admin)),
            Err(e) => {
                notes.push(format!("{e}: read with user trust only"));
                paths.push((p, Trust::User));
            }
        }
    }
    Ok(())
}

/// The embedded packs plus the given files (`rules test`, `rules lint`).
pub fn load_with(
    files: &[PathBuf],
    home: &str,
    include_embedded: bool,
) -> Result<Config, ConfigError> {
    let paths = files.iter().map(|f| (f.clone(), Trust::Admin)).collect();
    build(paths, home, include_embedded)
}

fn push_if_exists(out: &mut Vec<(PathBuf, Trust)>, path: PathBuf, trust: Trust) {
    if path.exists() {
        out.push((path, trust));
    }
}

fn push_dir(out: &mut Vec<(PathBuf, Trust)>, dir: &Path, trust: Trust) -> Result<(), ConfigError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(error(
                &dir.display().to_string(),
                format!("cannot read directory: {e}"),
            ))
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    out.extend(files.into_iter().map(|f| (f, trust)));
    Ok(())
}

/// The compiled blob for one file: from the cache when its content is
/// unchanged, else parsed, validated, compiled and cached. Blobs live for
/// the rest of the process.
fn compiled_file(path: &Path) -> Result<&'static [u8], ConfigError> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| error(&name, format!("cannot read: {e}"));
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let key = cache::key(name.as_bytes(), &bytes);
    if let Some(blob) = cache::load(&meta, &key) {
        return Ok(Box::leak(blob.into_boxed_slice()));
    }
    let text = String::from_utf8(bytes).map_err(|_| error(&name, "not valid UTF-8"))?;
    let parsed = parse_file(&name, &text)?;
    let blob = compiled::compile(vec![parsed]).map_err(|e| error(&name, e))?;
    cache::store(&meta, &key, &blob);
    Ok(Box::leak(blob.into_boxed_slice()))
}

/// Parse and validate one file's text.
pub fn parse_file(name: &str, text: &str) -> Result<Parsed, ConfigError> {
    let spec = parse(name, text)?;
    let found = origins::rule_origins(text);
    let mut at = Vec::with_capacity(spec.rules.len());
    for rule in &spec.rules {
        let (line, col) = found
            .iter()
            .find(|(id, _, _)| *id == rule.id)
            .map_or((0, 0), |(_, l, c)| (*l, *c));
        validate(rule, &|key: &str| {
            let (l, c) = origins::key_in_block(text, line, key).unwrap_or((line, col));
            origin(name, l, c)
        })?;
        at.push((line, col));
    }
    if let Some(shell) = &spec.shell {
        if !shell.starts_with('/') {
            let (line, col) = origins::key_in_block(text, 1, "shell").unwrap_or((0, 0));
            return Err(ConfigError {
                origin: origin(name, line, col),
                message: format!("shell must be an absolute path, not `{shell}`"),
            });
        }
    }
    if let Some(a) = &spec.approval {
        if let Err((key, message)) = ApprovalSettings::from_spec(a) {
            let (line, col) = origins::key_in_block(text, 1, key).unwrap_or((0, 0));
            return Err(ConfigError {
                origin: origin(name, line, col),
                message,
            });
        }
    }
    for (n, c) in spec.credentials.iter().enumerate() {
        if let Err((key, message)) = crate::session::settings::validate_credential(c) {
            let (line, col) = locate_nth(text, "name", n)
                .and_then(|(l, _)| origins::key_in_block(text, l, key))
                .unwrap_or((0, 0));
            return Err(ConfigError {
                origin: origin(name, line, col),
                message,
            });
        }
    }
    let key_at = |key: &str| {
        let (line, col) = origins::key_in_block(text, 1, key).unwrap_or((0, 0));
        origin(name, line, col)
    };
    if let Some(b) = &spec.broker {
        if !b.starts_with('/') {
            return Err(ConfigError {
                origin: key_at("broker"),
                message: format!("broker must be an absolute socket path, not `{b}`"),
            });
        }
    }
    if let Some(u) = &spec.broker_user {
        if u.is_empty() || u.contains([':', '/', ' ']) {
            return Err(ConfigError {
                origin: key_at("broker_user"),
                message: format!("broker_user `{u}` is not a user name"),
            });
        }
    }
    if let Some(t) = &spec.broker_timeout {
        if let Err(message) = crate::approve::settings::duration(t) {
            return Err(ConfigError {
                origin: key_at("broker_timeout"),
                message,
            });
        }
    }
    if let Some(t) = &spec.exec_tree {
        if let Err(message) = exec_tree_value(t) {
            return Err(ConfigError {
                origin: key_at("exec_tree"),
                message,
            });
        }
    }
    if let Some(t) = &spec.session_ttl {
        if let Err(message) = crate::approve::settings::duration(t) {
            let (line, col) = origins::key_in_block(text, 1, "session_ttl").unwrap_or((0, 0));
            return Err(ConfigError {
                origin: origin(name, line, col),
                message,
            });
        }
    }
    for (n, w) in spec.wrappers.iter().enumerate() {
        if w.programs.is_empty() {
            let (line, col) = locate_nth(text, "programs", n).unwrap_or((0, 0));
            return Err(ConfigError {
                origin: origin(name, line, col),
                message: "wrapper has no programs".to_string(),
            });
        }
    }
    Ok(Parsed {
        name: name.to_string(),
        spec,
        origins: at,
    })
}

fn parse(name: &str, text: &str) -> Result<FileSpec, ConfigError> {
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---");
    if !meaningful {
        return Ok(FileSpec::default());
    }
    yaml_serde::from_str::<FileSpec>(text).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        ConfigError {
            origin: origin(name, line, col),
            message: strip_location(&e.to_string()),
        }
    })
}

/// yaml's messages end in " at line L column C"; the location is already
/// in front.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn build(
    mut paths: Vec<(PathBuf, Trust)>,
    home: &str,
    include_embedded: bool,
) -> Result<Config, ConfigError> {
    let mut layers = Vec::new();
    if include_embedded {
        layers.push(
            Layer::new("<embedded>".to_string(), Trust::Admin, EMBEDDED, home)
                .map_err(|e| error("<embedded>", e))?,
        );
    }
    let mut i = 0;
    while i < paths.len() {
        let (path, trust) = paths[i].clone();
        let name = path.display().to_string();
        let blob = compiled_file(&path)?;
        let layer = Layer::new(name.clone(), trust, blob, home).map_err(|e| error(&name, e))?;
        let mut extra = Vec::new();
        for d in &layer.compiled.rule_dirs {
            let dir = match path.parent() {
                Some(b) if !Path::new(d).is_absolute() => b.join(d),
                _ => PathBuf::from(d),
            };
            push_dir(&mut extra, &dir, trust)?;
        }
        for (k, p) in extra.into_iter().enumerate() {
            paths.insert(i + 1 + k, p);
        }
        layers.push(layer);
        i += 1;
    }

    let mut shell = "/bin/bash".to_string();
    let (mut default, mut dynamic) = (Action::Allow, Action::Review);
    let mut notes = Vec::new();
    let mut approval = ApprovalSettings::default();
    let mut transfers = None;
    let mut startup_files = false;
    let mut sessions = crate::session::settings::Settings::default();
    let mut audit = super::spec::AuditSpec::default();
    let mut broker: Option<BrokerSpec> = None;
    let mut broker_user = None;
    let mut broker_timeout = DEFAULT_BROKER_TIMEOUT;
    let mut exec_tree = true;
    for layer in &layers {
        let c = &layer.compiled;
        let user = layer.trust == Trust::User;
        if let Some(s) = c.shell {
            if user {
                notes.push(format!(
                    "{}: `shell` ignored in a user-writable file",
                    layer.name
                ));
            } else {
                shell = s.to_string();
            }
        }
        if let Some(d) = c.default {
            default = if user { default.max(d) } else { d };
        }
        if let Some(d) = c.dynamic {
            dynamic = if user { dynamic.max(d) } else { d };
        }
        for (key, present) in [
            ("transfers", c.transfers.is_some()),
            ("startup_files", c.startup_files.is_some()),
            ("credentials", !c.credentials.is_empty()),
            ("boundaries", !c.boundaries.is_empty()),
            ("session_ttl", c.session_ttl.is_some()),
            ("audit", c.audit.is_some()),
            ("broker", c.broker.is_some()),
            ("broker_user", c.broker_user.is_some()),
            ("broker_timeout", c.broker_timeout.is_some()),
            ("exec_tree", c.exec_tree.is_some()),
        ] {
            if user && present {
                notes.push(format!(
                    "{}: `{key}` ignored in a user-writable file",
                    layer.name
                ));
            }
        }
        if !user {
            transfers = c.transfers.clone().or(transfers);
            startup_files = c.startup_files.unwrap_or(startup_files);
            merge_sessions(&mut sessions, c, &layer.name)?;
            audit = c.audit.clone().unwrap_or(audit);
            if let Some(b) = &c.broker {
                broker = Some(BrokerSpec {
                    socket: PathBuf::from(b),
                    user: String::new(),
                    timeout: DEFAULT_BROKER_TIMEOUT,
                });
            }
            broker_user = c.broker_user.clone().or(broker_user);
            if let Some(t) = &c.broker_timeout {
                broker_timeout = crate::approve::settings::duration(t)
                    .map_err(|m| error(&layer.name, format!("broker_timeout: {m}")))?;
            }
            if let Some(t) = &c.exec_tree {
                exec_tree = exec_tree_value(t).map_err(|m| error(&layer.name, m))?;
            }
        }
        // The agent's own files may scrub more and cross less, never the
        // other way.
        if user {
            if let Some(more) = &c.scrub_env {
                sessions.scrub.extend(more.iter().cloned());
            }
            if let Some(a) = c.cross_boundary {
                sessions.cross_boundary = sessions.cross_boundary.max(a);
            }
        }
        if let Some(a) = &c.approval {
            // An agent-written approver could approve anything it asks.
            if user {
                notes.push(format!(
                    "{}: `approval` ignored in a user-writable file",
                    layer.name
                ));
            } else {
                approval =
                    ApprovalSettings::from_spec(a).map_err(|(_, m)| error(&layer.name, m))?;
            }
        }
    }
    if let Some(b) = &mut broker {
        b.user = broker_user.unwrap_or_else(|| DEFAULT_BROKER_USER.to_string());
        b.timeout = broker_timeout;
    }
    let files = layers.iter().map(|l| l.name.clone()).collect();
    let layers = Arc::new(layers);
    Ok(Config {
        shell,
        default,
        dynamic,
        rules: RuleSet::new(Arc::clone(&layers)),
        wrappers: Wrappers::from_layers(layers),
        approval,
        transfers: crate::transfer::Settings::new(transfers.as_ref(), home),
        startup_files,
        sessions,
        audit,
        broker,
        exec_tree,
        files,
        notes,
    })
}

fn merge_sessions(
    s: &mut crate::session::settings::Settings,
    c: &compiled::Compiled<'_>,
    layer: &str,
) -> Result<(), ConfigError> {
    for cred in &c.credentials {
        s.credentials.retain(|x| x.name != cred.name);
        s.credentials.push(cred.clone());
    }
    s.boundaries
        .extend(c.boundaries.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Some(list) = &c.scrub_env {
        s.scrub = list.clone();
    }
    if let Some(a) = c.cross_boundary {
        s.cross_boundary = a;
    }
    if let Some(t) = &c.session_ttl {
        s.session_ttl = crate::approve::settings::duration(t).map_err(|m| error(layer, m))?;
    }
    Ok(())
}

/// Checks serde cannot make. Regexes are parsed (cheap) but not compiled
/// (dear); compilation happens on first use and `rules lint` forces it.
pub fn validate(rule: &RuleSpec, at: &dyn Fn(&str) -> Origin) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| {
        Err(ConfigError {
            origin: at(key),
            message,
        })
    };
    if rule.id.is_empty()
        || !rule
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    {
        return fail("id", format!("rule id `{}` must be [a-z0-9._-]+", rule.id));
    }
    if rule.matches.is_empty() {
        return fail("match", format!("rule `{}` has an empty match", rule.id));
    }
    for (key, spec) in [
        ("match", Some(&rule.matches)),
        ("unless", rule.unless.as_ref()),
    ] {
        let Some(spec) = spec else { continue };
        for (field, re) in [
            ("args_regex", &spec.args_regex),
            ("arg_regex", &spec.arg_regex),
        ] {
            let Some(re) = re else { continue };
            if let Err(e) = regex_syntax::Parser::new().parse(re) {
                let first = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .to_string();
                return fail(field, format!("rule `{}`: {key}.{field}: {first}", rule.id));
            }
        }
        if !spec.paths.is_empty() && spec.paths.iter().all(|p| p.starts_with('!')) {
            return fail(
                "paths",
                format!(
                    "rule `{}`: {key}.paths has only `!` entries, which leave files out of nothing",
                    rule.id
                ),
            );
        }
        for s in &spec.secrets {
            if s != "any" && !crate::detect::KNOWN_IDS.contains(&s.as_str()) {
                return fail(
                    "secrets",
                    format!("rule `{}`: unknown secret detector `{s}`", rule.id),
                );
            }
        }
    }
    Ok(())
}

fn locate_nth(text: &str, key: &str, n: usize) -> Option<(usize, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| l.find(&format!("{key}:")).map(|c| (i + 1, c + 1)))
        .nth(n)
}
