//! Secret variables in the process environment, and the test that
//! decides whether a variable is a secret (shared with `dotenv`).

use super::{url_host, Finding, Kind, Sources};
use crate::glob::Glob;
use crate::session::settings::Settings;

pub(super) fn scan(src: &Sources<'_>) -> Vec<Finding> {
    src.env
        .iter()
        .filter_map(|(name, value)| {
            let tags = secret_tags(src.settings, name, value, false)?;
            Some(var_finding(
                Kind::Env,
                name,
                value,
                format!("env:{name}"),
                tags,
                src.settings,
            ))
        })
        .collect()
}

/// Why a variable is a secret: `name` when the scrub patterns remove it,
/// plus the id of every detector that fires on `NAME=value`; None when
/// it is not one. With `strict` (template files such as `.env.example`)
/// only a detector counts, as their names are secret-looking by design.
pub(super) fn secret_tags(
    settings: &Settings,
    name: &str,
    value: &str,
    strict: bool,
) -> Option<Vec<String>> {
    if value.trim().is_empty() {
        return None;
    }
    // The aws-secret-key detector needs the variable name in front.
    let mut tags: Vec<String> = crate::detect::scan(&format!("{name}={value}"))
        .into_iter()
        .map(String::from)
        .collect();
    if !strict && settings.scrubs_name(name) {
        tags.push("name".to_string());
    }
    (!tags.is_empty()).then_some(tags)
}

/// A finding for a secret variable, with the boundary signals its value
/// gives (a URL's host, `boundaries.*.env` globs) taken now so the value
/// is not kept.
pub(super) fn var_finding(
    kind: Kind,
    name: &str,
    value: &str,
    location: String,
    tags: Vec<String>,
    settings: &Settings,
) -> Finding {
    let mut f = Finding::new(kind, name, location);
    f.tags = tags;
    f.signals.var = Some(name.to_string());
    f.signals.hosts.extend(url_host(value));
    for (boundary, spec) in &settings.boundaries {
        let hit = spec.env.iter().any(|(var, globs)| {
            Glob::new(var).matches(name) && globs.iter().any(|g| Glob::new(g).matches(value))
        });
        if hit {
            f.signals.env_boundaries.push(boundary.clone());
        }
    }
    f
}
