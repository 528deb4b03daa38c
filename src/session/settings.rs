//! The session settings of a config: credentials, boundaries, scrubbing
//! and the cross-boundary action, merged over the layers at load.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::rules::spec::{Action, BoundarySpec, CredentialSpec};

/// Secret-looking variable names removed from every child's environment
/// when no admin config says otherwise.
pub const DEFAULT_SCRUB: &[&str] = &[
    "AWS_*KEY*",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "*_TOKEN",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*_API_KEY",
    "*_APIKEY",
    "*PRIVATE_KEY*",
    "*CREDENTIALS*",
    "DATABASE_URL",
    "*_DATABASE_URL",
    "PGPASSWORD",
    "MYSQL_PWD",
    "REDISCLI_AUTH",
    "SSHPASS",
    "KUBECONFIG",
    "VAULT_TOKEN",
];

/// How long an implicit session lives at most.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Only from admin layers: an agent-written provider is the agent's
    /// own code.
    pub credentials: Vec<CredentialSpec>,
    pub boundaries: BTreeMap<String, BoundarySpec>,
    pub scrub: Vec<String>,
    pub cross_boundary: Action,
    pub session_ttl: Duration,
    /// `scrub` compiled, once per loaded config (the broker asks for it
    /// on every line).
    pub compiled_scrub: CompiledScrub,
}

/// A cache that does not count for equality or survive a clone.
#[derive(Default)]
pub struct CompiledScrub(std::sync::OnceLock<Scrubber>);

impl Clone for CompiledScrub {
    fn clone(&self) -> Self {
        CompiledScrub::default()
    }
}

impl PartialEq for CompiledScrub {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CompiledScrub {}

impl std::fmt::Debug for CompiledScrub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledScrub")
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            credentials: Vec::new(),
            boundaries: BTreeMap::new(),
            scrub: DEFAULT_SCRUB.iter().map(|s| s.to_string()).collect(),
            cross_boundary: Action::Deny,
            session_ttl: DEFAULT_SESSION_TTL,
            compiled_scrub: CompiledScrub::default(),
        }
    }
}

/// The session settings of a config that loaded, else the defaults: a
/// broken config still scrubs with the default list.
pub fn of(cfg: &Result<crate::rules::load::Config, crate::rules::load::ConfigError>) -> &Settings {
    static DEFAULT: std::sync::LazyLock<Settings> = std::sync::LazyLock::new(Settings::default);
    cfg.as_ref().map_or(&DEFAULT, |c| &c.sessions)
}

impl Settings {
    pub fn credential(&self, name: &str) -> Option<&CredentialSpec> {
        self.credentials.iter().find(|c| c.name == name)
    }

    /// Whether a variable name is one the scrub patterns remove.
    pub fn scrubs_name(&self, name: &str) -> bool {
        self.scrubber().matches(name)
    }

    /// The scrub patterns compiled once, for checking a whole environment.
    pub fn scrubber(&self) -> &Scrubber {
        self.compiled_scrub.0.get_or_init(|| {
            Scrubber(
                self.scrub
                    .iter()
                    .map(|p| crate::glob::Glob::new(&p.to_ascii_uppercase()))
                    .collect(),
            )
        })
    }
}

/// Compiled `scrub_env` patterns (case-insensitive).
#[derive(Clone)]
pub struct Scrubber(Vec<crate::glob::Glob>);

impl Scrubber {
    pub fn matches(&self, name: &str) -> bool {
        let upper = name.to_ascii_uppercase();
        self.0.iter().any(|g| g.matches(&upper))
    }
}

/// Checks serde cannot make, with the key that is wrong.
pub fn validate_credential(c: &CredentialSpec) -> Result<(), (&'static str, String)> {
    let bad = |key, m: String| Err((key, format!("credential `{}`: {m}", c.name)));
    if c.name.is_empty()
        || !c
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
        || c.name.starts_with('.')
    {
        return bad("name", "name must be [A-Za-z0-9._-]+".to_string());
    }
    if let Some(scope) = c.scope.as_deref() {
        if !matches!(scope, "session" | "command") {
            return bad(
                "scope",
                format!("scope must be session or command, not `{scope}`"),
            );
        }
        if scope == "command" && c.provider.command.is_none() {
            return bad(
                "scope",
                "scope: command needs a command provider (it mints from the command's context)"
                    .to_string(),
            );
        }
    }
    let p = &c.provider;
    let kinds = [
        p.command.is_some(),
        p.env_file.is_some(),
        p.static_values.is_some(),
        p.store.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return bad(
            "provider",
            "provider needs exactly one of command, env_file, store, static".to_string(),
        );
    }
    if p.command.as_ref().is_some_and(|a| a.is_empty()) {
        return bad("command", "provider command is empty".to_string());
    }
    if let Some(t) = &c.ttl {
        crate::approve::settings::duration(t).map_err(|e| ("ttl", e))?;
    }
    if c.revoke.as_ref().is_some_and(|r| r.command.is_empty()) {
        return bad("revoke", "revoke command is empty".to_string());
    }
    for e in c
        .env
        .iter()
        .map(|e| e.split('=').next().unwrap_or_default())
    {
        if !valid_var(e) {
            return bad("env", format!("`{e}` is not a variable name"));
        }
    }
    for f in &c.files {
        if !valid_var(&f.env) {
            return bad("files", format!("`{}` is not a variable name", f.env));
        }
        if let Some(n) = &f.name {
            if n.is_empty() || n.contains('/') || n.starts_with('.') {
                return bad("files", format!("`{n}` is not a plain file name"));
            }
        }
    }
    if c.env.is_empty() && c.files.is_empty() {
        return bad("env", "provides no env and no files".to_string());
    }
    Ok(())
}

fn valid_var(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
