//! The two renderings of a scan: a table for people and JSON for
//! machines. Names and locations pass through the secret redactor once
//! more, so that even a secret-shaped name is not printed.

use serde::Serialize;

use super::Finding;

/// The `--json` document. Field order is the key order.
#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    count: usize,
    uncovered: usize,
    findings: &'a [Finding],
}

fn safe(findings: &[Finding]) -> Vec<Finding> {
    findings
        .iter()
        .map(|f| Finding {
            name: crate::detect::redact(&f.name),
            location: crate::detect::redact(&f.location),
            ..f.clone()
        })
        .collect()
}

pub fn json(findings: &[Finding]) -> Result<String, String> {
    let findings = safe(findings);
    let report = Report {
        version: 1,
        count: findings.len(),
        uncovered: findings.iter().filter(|f| !f.covered).count(),
        findings: &findings,
    };
    serde_json::to_string_pretty(&report)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

pub fn table(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "no reachable credentials found\n".to_string();
    }
    let header = ["KIND", "NAME", "LOCATION", "BOUNDARY", "COVERED", "TAGS"].map(String::from);
    let rows: Vec<[String; 6]> = safe(findings)
        .into_iter()
        .map(|f| {
            [
                f.kind.as_str().to_string(),
                or_dash(&f.name),
                f.location,
                f.boundary.unwrap_or_else(|| "-".to_string()),
                f.credential
                    .map_or_else(|| "no".to_string(), |c| format!("yes ({c})")),
                or_dash(&f.tags.join(",")),
            ]
            .map(|c| printable(&c))
        })
        .collect();
    let mut width = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    let uncovered = findings.iter().filter(|f| !f.covered).count();
    out.push_str(&format!(
        "\n{} found, {uncovered} not covered by a configured credential\n",
        findings.len()
    ));
    out
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

/// File names and profile names are the user's bytes: keep terminal
/// control sequences out of the table.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
