//! `guard creds scan`: an inventory of the credentials this user can reach
//! right now, each with a boundary guess and whether a configured
//! credential covers it.
//!
//! Each source has its own module that turns files or variables into
//! [`Finding`]s; `attribute` then guesses boundaries and coverage from the
//! config, and `output` renders. No secret value is ever stored in a
//! finding: scanners keep only names, hosts and tags, and whatever needs a
//! value (value detectors, `boundaries.*.env` globs) is decided while the
//! value is at hand.

mod attribute;
mod aws;
mod cloud;
mod dotenv;
mod env;
mod hosts;
mod kube;
pub mod output;
mod ssh;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::session::settings::Settings;

/// Files larger than this are not credential files; reading them would
/// only cost time.
const MAX_FILE: u64 = 1 << 20;

/// What was found. The order is the order of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Env,
    Dotenv,
    AwsProfile,
    KubeContext,
    SshKey,
    Netrc,
    Pgpass,
    Docker,
    GitCredentials,
    Gh,
    Gcloud,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Env => "env",
            Kind::Dotenv => "dotenv",
            Kind::AwsProfile => "aws-profile",
            Kind::KubeContext => "kube-context",
            Kind::SshKey => "ssh-key",
            Kind::Netrc => "netrc",
            Kind::Pgpass => "pgpass",
            Kind::Docker => "docker",
            Kind::GitCredentials => "git-credentials",
            Kind::Gh => "gh",
            Kind::Gcloud => "gcloud",
        }
    }
}

/// One reachable credential. Field order is the JSON key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    /// Profile, context, host, key file or variable name; empty when the
    /// file could not be read far enough to name anything.
    pub name: String,
    /// A path, or `env:NAME`.
    pub location: String,
    /// Short facts, sorted: `static-keys`, `encrypted`, `unencrypted`,
    /// detector ids, `malformed`, `unreadable`, …
    pub tags: Vec<String>,
    /// The configured boundary this credential seems to reach.
    pub boundary: Option<String>,
    /// Whether a configured credential provides it (so guard could
    /// issue it per session instead).
    pub covered: bool,
    /// The first covering credential, by name.
    pub credential: Option<String>,
    #[serde(skip)]
    pub signals: Signals,
}

/// What a finding tells about where it leads; matched against the
/// config's boundaries. Never holds a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub aws_profile: Option<String>,
    pub aws_accounts: Vec<String>,
    pub kube_context: Option<String>,
    pub kube_namespace: Option<String>,
    pub hosts: Vec<String>,
    /// The variable this is (`env`, `dotenv`).
    pub var: Option<String>,
    /// Boundaries whose `env` value globs matched the variable, decided
    /// while the value was at hand so it need not be kept.
    pub env_boundaries: Vec<String>,
}

impl Finding {
    fn new(kind: Kind, name: impl Into<String>, location: impl Into<String>) -> Finding {
        Finding {
            kind,
            name: name.into(),
            location: location.into(),
            tags: Vec::new(),
            boundary: None,
            covered: false,
            credential: None,
            signals: Signals::default(),
        }
    }

    fn tag(mut self, tag: impl Into<String>) -> Finding {
        self.tags.push(tag.into());
        self
    }

    /// A file of this kind that exists but could not be read or parsed:
    /// still worth reporting, as nothing says it holds no secret.
    fn broken(kind: Kind, path: &Path, why: &str) -> Finding {
        Finding::new(kind, "", path.display().to_string()).tag(why)
    }
}

/// Where to look.
pub struct Sources<'a> {
    pub home: PathBuf,
    pub cwd: PathBuf,
    /// The process environment (values are read for detection, never
    /// reported).
    pub env: BTreeMap<String, String>,
    /// How many directory levels below `cwd` to look for `.env` files.
    pub depth: usize,
    pub settings: &'a Settings,
}

impl<'a> Sources<'a> {
    /// HOME, the cwd and the variables of this process.
    pub fn from_process(env: &crate::parse::Env, depth: usize, settings: &'a Settings) -> Self {
        Sources {
            home: PathBuf::from(&env.home),
            cwd: PathBuf::from(&env.cwd),
            env: std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect(),
            depth,
            settings,
        }
    }

    fn home(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    /// A path from a variable when set and non-empty, else the default
    /// under HOME (`AWS_CONFIG_FILE`, `PGPASSFILE`, …).
    fn path_or(&self, var: &str, rel: &str) -> PathBuf {
        match self.env.get(var).filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => self.home(rel),
        }
    }
}

/// Everything reachable, attributed and sorted, without duplicates.
pub fn scan(src: &Sources<'_>) -> Vec<Finding> {
    let mut found = Vec::new();
    found.extend(env::scan(src));
    found.extend(dotenv::scan(src));
    found.extend(aws::scan(src));
    found.extend(kube::scan(src));
    found.extend(ssh::scan(src));
    found.extend(hosts::scan(src));
    found.extend(cloud::scan(src));
    for f in &mut found {
        f.tags.sort();
        f.tags.dedup();
        attribute::attribute(f, src.settings);
    }
    found.sort_by(|a, b| {
        (a.kind, &a.location, &a.name, &a.tags).cmp(&(b.kind, &b.location, &b.name, &b.tags))
    });
    found.dedup_by(|a, b| a == b);
    found
}

/// A file's text, or why there is none. The why is a fixed tag, never
/// an error's text, which for a parser may quote the file.
enum Read {
    Missing,
    Broken(&'static str),
    Text(String),
}

/// Read a small text file. Symlinks are followed here (a linked
/// `~/.aws/credentials` is still reachable); `dotenv` does its own walk.
fn read(path: &Path) -> Read {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Missing,
        Err(_) => return Read::Broken("unreadable"),
    };
    if !meta.is_file() {
        return Read::Missing;
    }
    if meta.len() > MAX_FILE {
        return Read::Broken("too-large");
    }
    match std::fs::read(path) {
        Ok(bytes) => Read::Text(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => Read::Broken("unreadable"),
    }
}

/// Read a file and hand its text to `parse`; a broken file becomes one
/// finding of `kind`.
fn read_with(kind: Kind, path: &Path, parse: impl FnOnce(&str) -> Vec<Finding>) -> Vec<Finding> {
    match read(path) {
        Read::Missing => Vec::new(),
        Read::Broken(why) => vec![Finding::broken(kind, path, why)],
        Read::Text(text) => parse(&text),
    }
}

/// The host of a URL (`postgres://u:p@db.prod:5432/x` → `db.prod`), or
/// None when the text is not a URL with a host.
fn url_host(text: &str) -> Option<String> {
    let rest = &text[text.find("://")? + 3..];
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    // After the last `@`, not the first `/`: an unescaped `/` in a
    // password must not turn the password's start into the "host".
    let rest = rest.rsplit('@').next().unwrap_or_default();
    let hostport = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c));
    ok.then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn hosts_of_urls() {
        let cases = [
            ("postgres://app:pw@db.prod:5432/app", Some("db.prod")),
            ("https://GitHub.com/org", Some("github.com")),
            ("https://user@[::1]:8080/", Some("::1")),
            ("redis://:pw@cache", Some("cache")),
            ("not a url", None),
            ("file:///etc/passwd", None),
            ("https://pa/ss@github.com/x", Some("github.com")),
        ];
        for (url, want) in cases {
            assert_eq!(url_host(url).as_deref(), want, "{url}");
        }
    }
}
