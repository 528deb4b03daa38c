//! CLI logins: the GitHub CLI's hosts and gcloud's credential stores.

use serde_json::Value as Json;
use yaml_serde::Value as Yaml;

use super::{read, read_with, Finding, Kind, Read, Sources};

pub(super) fn scan(src: &Sources<'_>) -> Vec<Finding> {
    let mut out = gh(src);
    out.extend(gcloud(src));
    out
}

/// One finding per host in `hosts.yml`; `oauth-token` when the token is
/// in the file rather than the system keyring.
fn gh(src: &Sources<'_>) -> Vec<Finding> {
    let path = src.home(".config/gh/hosts.yml");
    read_with(Kind::Gh, &path, |text| {
        if text.trim().is_empty() {
            return Vec::new();
        }
        let Ok(doc) = yaml_serde::from_str::<Yaml>(text) else {
            return vec![Finding::broken(Kind::Gh, &path, "malformed")];
        };
        if doc.is_null() {
            return Vec::new();
        }
        let Some(hosts) = doc.as_mapping() else {
            return vec![Finding::broken(Kind::Gh, &path, "malformed")];
        };
        hosts
            .iter()
            .filter_map(|(host, entry)| {
                let host = host.as_str()?;
                let mut f = Finding::new(Kind::Gh, host, path.display().to_string());
                f.signals.hosts.push(host.to_ascii_lowercase());
                let inline = entry.get("oauth_token").is_some()
                    || entry
                        .get("users")
                        .and_then(Yaml::as_mapping)
                        .is_some_and(|u| u.values().any(|v| v.get("oauth_token").is_some()));
                Some(f.tag(if inline { "oauth-token" } else { "keyring" }))
            })
            .collect()
    })
}

/// `credentials.db` and `access_tokens.db` (every `gcloud auth login`),
/// application default credentials, and one finding per account under
/// `legacy_credentials/`.
fn gcloud(src: &Sources<'_>) -> Vec<Finding> {
    let dir = src.path_or("CLOUDSDK_CONFIG", ".config/gcloud");
    let mut out = Vec::new();
    for db in ["credentials.db", "access_tokens.db"] {
        let path = dir.join(db);
        match read(&path) {
            Read::Missing => {}
            Read::Broken(why) => {
                out.push(Finding::new(Kind::Gcloud, db, path.display().to_string()).tag(why))
            }
            Read::Text(_) => out.push(Finding::new(Kind::Gcloud, db, path.display().to_string())),
        }
    }
    let adc = dir.join("application_default_credentials.json");
    out.extend(read_with(Kind::Gcloud, &adc, |text| {
        let f = Finding::new(
            Kind::Gcloud,
            "application-default",
            adc.display().to_string(),
        );
        // Only the credential's type is read, never a value.
        let kind = serde_json::from_str::<Json>(text)
            .ok()
            .and_then(|j| j.get("type").and_then(Json::as_str).map(String::from));
        vec![match kind {
            Some(t) if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => f.tag(t),
            _ => f.tag("malformed"),
        }]
    }));
    if let Ok(entries) = std::fs::read_dir(dir.join("legacy_credentials")) {
        for e in entries.filter_map(Result::ok) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let account = e.file_name().to_string_lossy().into_owned();
                out.push(
                    Finding::new(Kind::Gcloud, account, e.path().display().to_string())
                        .tag("legacy"),
                );
            }
        }
    }
    out
}
