//! Build-time half of the gitleaks detectors (used by build.rs only):
//! reads the vendored rules/secrets/gitleaks.toml, rewrites each RE2
//! pattern into the `regex` crate's dialect, checks that it parses, and
//! writes the Rust table that `detect::gitleaks` includes. Parsing TOML
//! here keeps it off the hot path; checking syntax here means a pattern
//! Rust cannot read is a listed skip, never a run-time failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::re2::translate;

#[derive(Deserialize)]
struct Config {
    allowlist: Option<AllowlistToml>,
    #[serde(default)]
    rules: Vec<RuleToml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleToml {
    id: String,
    regex: Option<String>,
    #[serde(default)]
    secret_group: usize,
    #[serde(default)]
    entropy: f64,
    #[serde(default)]
    keywords: Vec<String>,
    path: Option<String>,
    #[serde(default)]
    allowlists: Vec<AllowlistToml>,
    // Features this table does not implement; a rule using one is skipped
    // rather than run with different meaning.
    #[serde(default)]
    required: Vec<toml::Value>,
    #[serde(default)]
    skip_report: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AllowlistToml {
    condition: Option<String>,
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    commits: Vec<String>,
}

/// One allowlist as guard can apply it: guard scans command text, which
/// has no file path or commit.
struct Allow {
    target: &'static str,
    all: bool,
    regex: Option<String>,
    stopwords: Vec<String>,
}

/// Whether `pattern` parses as a Rust `regex` (with its defaults).
fn check(pattern: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map(|_| ())
        .map_err(|e| {
            e.to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string()
        })
}

/// gitleaks joins an allowlist's regexes as `(?:a|b|c)`, so a leading
/// flag such as `(?i)` in one reaches the ones after it. Kept as is: the
/// aim is gitleaks' behaviour, not a tidier one.
fn join_or(patterns: &[String]) -> Result<Option<String>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let parts: Vec<String> = patterns.iter().map(|p| translate(p)).collect();
    let joined = format!("(?:{})", parts.join("|"));
    check(&joined).map_err(|e| format!("allowlist regex: {e}"))?;
    Ok(Some(joined))
}

/// The allowlist as it applies to text with no path or commit, or None
/// when it can never allow anything there.
fn allow(a: &AllowlistToml) -> Result<Option<Allow>, String> {
    let all = match a
        .condition
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("OR") | Some("") => false,
        Some("AND") => true,
        Some(other) => return Err(format!("allowlist condition {other:?}")),
    };
    // With AND, a path or commit check is always false here.
    if all && (!a.paths.is_empty() || !a.commits.is_empty()) {
        return Ok(None);
    }
    let regex = join_or(&a.regexes)?;
    let stopwords: Vec<String> = a.stopwords.iter().map(|s| s.to_lowercase()).collect();
    if regex.is_none() && stopwords.is_empty() {
        return Ok(None);
    }
    let target = match a.regex_target.as_deref() {
        None | Some("") | Some("secret") => "Secret",
        Some("match") => "Match",
        Some("line") => "Line",
        Some(other) => return Err(format!("allowlist regexTarget {other:?}")),
    };
    Ok(Some(Allow {
        target,
        all,
        regex,
        stopwords,
    }))
}

/// The rule's regex and allowlists, or why guard cannot run it.
fn rule_parts(r: &RuleToml) -> Result<(String, Vec<Allow>), String> {
    let Some(regex) = r.regex.as_deref() else {
        return Err("path-only rule (guard scans command text, not files)".into());
    };
    if r.path.is_some() {
        return Err("rule scoped to file paths (guard scans command text, not files)".into());
    }
    if !r.required.is_empty() {
        return Err("multi-part rule (required rules)".into());
    }
    if r.skip_report {
        return Err("skipReport rule".into());
    }
    let translated = translate(regex);
    check(&translated).map_err(|e| format!("regex: {e}"))?;
    let mut allows = Vec::new();
    for a in &r.allowlists {
        allows.extend(allow(a)?);
    }
    Ok((translated, allows))
}

/// The generated Rust source for `text` (the TOML), with `guard_ids` the
/// ids guard's own detectors already use.
pub fn generate(text: &str, guard_ids: &[&str]) -> Result<String, String> {
    let cfg: Config = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut allows: Vec<Allow> = Vec::new();
    let mut global = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    if let Some(g) = &cfg.allowlist {
        match allow(g) {
            Ok(Some(a)) => {
                global.push(allows.len());
                allows.push(a);
            }
            Ok(None) => {}
            Err(e) => skipped.push(("[allowlist]".into(), e)),
        }
    }
    let mut rules = String::new();
    let mut keywords: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut ids: Vec<String> = Vec::new();
    let mut always: Vec<usize> = Vec::new();
    let mut n = 0;
    for r in &cfg.rules {
        let (regex, rule_allows) = match rule_parts(r) {
            Ok(p) => p,
            Err(why) => {
                skipped.push((r.id.clone(), why));
                continue;
            }
        };
        let mut lists = Vec::new();
        for a in rule_allows {
            lists.push(allows.len());
            allows.push(a);
        }
        let mut kws: Vec<String> = r.keywords.iter().map(|k| k.to_lowercase()).collect();
        kws.sort();
        kws.dedup();
        for k in &kws {
            keywords.entry(k.clone()).or_default().push(n);
        }
        if kws.is_empty() {
            always.push(n);
        }
        if !guard_ids.contains(&r.id.as_str()) && !ids.contains(&r.id) {
            ids.push(r.id.clone());
        }
        let _ = writeln!(
            rules,
            "    Rule {{ id: {:?}, regex: {:?}, secret_group: {}, entropy: {:?}, generic: {}, allowlists: &{:?}, compiled: OnceLock::new() }},",
            r.id,
            regex,
            r.secret_group,
            r.entropy,
            r.id.to_lowercase().contains("generic"),
            lists,
        );
        n += 1;
    }
    let mut out = String::new();
    out.push_str("// @generated by build.rs from rules/secrets/gitleaks.toml; do not edit.\n\n");
    let _ = writeln!(out, "pub(super) const RULE_COUNT: usize = {n};\n");
    let _ = writeln!(
        out,
        "pub(super) static RULES: [Rule; RULE_COUNT] = [\n{rules}];\n"
    );
    let _ = writeln!(
        out,
        "pub(super) static ALLOWLISTS: [Allow; {}] = [",
        allows.len()
    );
    for a in &allows {
        let _ = writeln!(
            out,
            "    Allow {{ target: Target::{}, all: {}, regex: {:?}, stopwords: &{:?}, compiled: OnceLock::new(), stops: OnceLock::new() }},",
            a.target, a.all, a.regex, a.stopwords
        );
    }
    out.push_str("];\n\n");
    let _ = writeln!(
        out,
        "pub(super) const GLOBAL_ALLOWLISTS: &[usize] = &{global:?};\n"
    );
    let _ = writeln!(out, "pub(super) const ALWAYS: &[usize] = &{always:?};\n");
    out.push_str("pub(super) const KEYWORDS: &[(&str, &[usize])] = &[\n");
    for (k, rs) in &keywords {
        let _ = writeln!(out, "    ({k:?}, &{rs:?}),");
    }
    out.push_str("];\n\n");
    out.push_str("pub const SKIPPED: &[(&str, &str)] = &[\n");
    for (id, why) in &skipped {
        let _ = writeln!(out, "    ({id:?}, {why:?}),");
    }
    out.push_str("];\n\n");
    let _ = writeln!(
        out,
        "pub const GITLEAKS_IDS: [&str; {}] = {:?};",
        ids.len(),
        ids
    );
    Ok(out)
}
