//! `.env` files under the working directory: a bounded walk that skips
//! vendored and build trees and never follows a symlink (a link out of
//! the project is not the project's).

use std::path::Path;

use super::env::{secret_tags, var_finding};
use super::{read, Finding, Kind, Read, Sources};

const SKIP_DIRS: &[&str] = &[".git", "node_modules", "target"];
/// Suffixes of committed templates: only a detector hit counts there.
const TEMPLATES: &[&str] = &["example", "sample", "template", "dist"];

pub(super) fn scan(src: &Sources<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    walk(src, &src.cwd, 0, &mut out);
    out
}

fn walk(src: &Sources<'_>, dir: &Path, level: usize, out: &mut Vec<Finding>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        // DirEntry::file_type does not follow symlinks.
        let Ok(ft) = e.file_type() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            if level < src.depth && !SKIP_DIRS.contains(&name.as_str()) {
                walk(src, &e.path(), level + 1, out);
            }
        } else if ft.is_file() && is_dotenv(&name) {
            out.extend(file(src, &e.path(), &name));
        }
    }
}

fn is_dotenv(name: &str) -> bool {
    name == ".env" || name.starts_with(".env.") || name.ends_with(".env")
}

fn file(src: &Sources<'_>, path: &Path, name: &str) -> Vec<Finding> {
    let location = path.display().to_string();
    let text = match read(path) {
        Read::Missing => return Vec::new(),
        Read::Broken(why) => return vec![Finding::broken(Kind::Dotenv, path, why)],
        Read::Text(t) => t,
    };
    let strict = TEMPLATES.iter().any(|t| name.ends_with(&format!(".{t}")));
    text.lines()
        .filter_map(|line| {
            let (var, value) = assignment(line)?;
            let tags = secret_tags(src.settings, var, value, strict)?;
            Some(var_finding(
                Kind::Dotenv,
                var,
                value,
                location.clone(),
                tags,
                src.settings,
            ))
        })
        .collect()
}

/// `[export] NAME=value`, with one level of quotes removed.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    if line.starts_with('#') {
        return None;
    }
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid {
        return None;
    }
    let value = value.trim();
    let value = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
        .unwrap_or(value);
    Some((name, value))
}

#[cfg(test)]
mod tests {
    use super::{assignment, is_dotenv};

    #[test]
    fn assignments() {
        assert_eq!(assignment("export A=\"b c\""), Some(("A", "b c")));
        assert_eq!(assignment("A = 'x'"), Some(("A", "x")));
        assert_eq!(assignment("# A=b"), None);
        assert_eq!(assignment("not an assignment"), None);
        assert_eq!(assignment("1A=b"), None);
    }

    #[test]
    fn names() {
        for (n, want) in [
            (".env", true),
            (".env.local", true),
            ("prod.env", true),
            ("env", false),
        ] {
            assert_eq!(is_dotenv(n), want, "{n}");
        }
    }
}
