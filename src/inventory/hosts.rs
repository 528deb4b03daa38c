//! Per-host secrets: `~/.netrc`, `~/.pgpass`, `~/.git-credentials` and
//! the registries of `~/.docker/config.json`.

use std::path::Path;

use serde_json::Value;

use super::{read_with, url_host, Finding, Kind, Sources};

pub(super) fn scan(src: &Sources<'_>) -> Vec<Finding> {
    let netrc = src.path_or("NETRC", ".netrc");
    let pgpass = src.path_or("PGPASSFILE", ".pgpass");
    let git = src.home(".git-credentials");
    let docker = src
        .env
        .get("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map_or_else(|| src.home(".docker"), std::path::PathBuf::from)
        .join("config.json");
    let mut out = read_with(Kind::Netrc, &netrc, |t| netrc_hosts(&netrc, t));
    out.extend(read_with(Kind::Pgpass, &pgpass, |t| {
        pgpass_hosts(&pgpass, t)
    }));
    out.extend(read_with(Kind::GitCredentials, &git, |t| {
        git_hosts(&git, t)
    }));
    out.extend(read_with(Kind::Docker, &docker, |t| {
        docker_registries(&docker, t)
    }));
    out
}

fn host_finding(kind: Kind, name: &str, path: &Path, host: Option<String>) -> Finding {
    let mut f = Finding::new(kind, name, path.display().to_string());
    f.signals.hosts.extend(host);
    f
}

/// `machine HOST login L password P` entries (and `default`). Tokens
/// after `password`/`account` are skipped unread; a `macdef` runs to a
/// blank line.
fn netrc_hosts(path: &Path, text: &str) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut in_macro = false;
    for line in text.lines() {
        if in_macro {
            in_macro = !line.trim().is_empty();
            continue;
        }
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            match w {
                "machine" => {
                    let host = words.next().unwrap_or_default();
                    out.push(host_finding(
                        Kind::Netrc,
                        host,
                        path,
                        Some(host.to_ascii_lowercase()),
                    ));
                }
                "default" => out.push(host_finding(Kind::Netrc, "default", path, None)),
                "password" | "account" => {
                    words.next();
                    if let Some(f) = out.last_mut() {
                        f.tags.push(w.to_string());
                    }
                }
                "login" => {
                    words.next();
                }
                "macdef" => {
                    in_macro = true;
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

/// `host:port:database:user:password` lines; `\:` and `\\` escape.
fn pgpass_hosts(path: &Path, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields = split_escaped(line);
        if fields.len() < 5 {
            // A short line may hold the password anywhere: name nothing.
            out.push(Finding::broken(Kind::Pgpass, path, "malformed"));
            continue;
        }
        let (host, port, db, user) = (&fields[0], &fields[1], &fields[2], &fields[3]);
        let name = format!("{user}@{host}:{port}/{db}");
        let signal = (host != "*").then(|| host.to_ascii_lowercase());
        out.push(host_finding(Kind::Pgpass, &name, path, signal));
    }
    out
}

fn split_escaped(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

/// `https://user:token@host/path` lines: named by host, never by user
/// info.
fn git_hosts(path: &Path, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some(host) = url_host(line) else {
            out.push(Finding::broken(Kind::GitCredentials, path, "malformed"));
            continue;
        };
        let mut f = host_finding(Kind::GitCredentials, &host, path, Some(host.clone()));
        let userinfo = line
            .split_once("://")
            .map(|(_, r)| r.split(['?', '#']).next().unwrap_or_default())
            .and_then(|r| r.rsplit_once('@'))
            .map_or("", |(u, _)| u);
        if userinfo.contains(':') {
            f.tags.push("password".to_string());
        }
        out.push(f);
    }
    out
}

/// Registries with an inline `auth` or identity token, those handled by
/// a credential helper, and a default `credsStore`.
fn docker_registries(path: &Path, text: &str) -> Vec<Finding> {
    let Ok(doc) = serde_json::from_str::<Value>(text) else {
        return vec![Finding::broken(Kind::Docker, path, "malformed")];
    };
    let mut out = Vec::new();
    let registry = |name: &str| {
        let host = url_host(name).or_else(|| {
            let h = name.split('/').next().unwrap_or_default();
            (!h.is_empty()).then(|| h.to_ascii_lowercase())
        });
        host_finding(Kind::Docker, name, path, host)
    };
    if let Some(auths) = doc.get("auths").and_then(Value::as_object) {
        for (name, entry) in auths {
            let inline = ["auth", "identitytoken", "password", "registrytoken"]
                .iter()
                .find(|k| {
                    entry
                        .get(**k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| !v.is_empty())
                });
            if let Some(k) = inline {
                out.push(registry(name).tag(format!("inline-{k}")));
            }
        }
    }
    if let Some(helpers) = doc.get("credHelpers").and_then(Value::as_object) {
        for (name, helper) in helpers {
            let helper = helper.as_str().unwrap_or_default();
            out.push(registry(name).tag(format!("cred-helper:{helper}")));
        }
    }
    if let Some(store) = doc.get("credsStore").and_then(Value::as_str) {
        out.push(
            Finding::new(Kind::Docker, "credsStore", path.display().to_string())
                .tag(format!("creds-store:{store}")),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn netrc() {
        let found = netrc_hosts(
            Path::new("n"),
            "machine a.example login u password p\nmacdef init\nmachine fake\n\ndefault login x password y",
        );
        let got: Vec<(&str, &[String])> = found
            .iter()
            .map(|f| (f.name.as_str(), &f.tags[..]))
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "a.example");
        assert_eq!(got[1].0, "default");
    }

    #[test]
    fn pgpass() {
        let found = pgpass_hosts(Path::new("p"), "db\\:x:5432:app:me:pw\nshort:pw\n");
        assert_eq!(found[0].name, "me@db:x:5432/app");
        assert_eq!(found[1].tags, ["malformed"]);
        assert_eq!(found[1].name, "");
    }

    #[test]
    fn git_credentials() {
        let found = git_hosts(Path::new("g"), "https://u:tok@GitHub.com\nnonsense\n");
        assert_eq!(found[0].name, "github.com");
        assert_eq!(found[0].tags, ["password"]);
        assert_eq!(found[1].tags, ["malformed"]);
    }

    #[test]
    fn docker() {
        let text = r#"{"auths":{"https://index.docker.io/v1/":{"auth":"eA=="},"ghcr.io":{}},
                       "credHelpers":{"123.dkr.ecr.aws":"ecr-login"},"credsStore":"desktop"}"#;
        let found = docker_registries(Path::new("d"), text);
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "https://index.docker.io/v1/",
                "123.dkr.ecr.aws",
                "credsStore"
            ]
        );
        assert_eq!(found[0].signals.hosts, ["index.docker.io"]);
        assert_eq!(
            docker_registries(Path::new("d"), "{")[0].tags,
            ["malformed"]
        );
    }
}
