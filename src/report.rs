//! How a verdict is shown: the `check --json` contract, the human form,
//! and the one-line refusal. Every string passes through redaction.

use serde::Serialize;

use crate::detect::{redact, redact_argv};
use crate::policy::Verdict;

#[derive(Serialize)]
pub struct CheckJson {
    pub decision: &'static str,
    pub reason: String,
    pub commands: Vec<CommandJson>,
    pub matches: Vec<MatchJson>,
    /// `check` always decides in-process (`embedded`), broker or not.
    pub mode: &'static str,
    /// What that means: the account's own configuration decided, and an
    /// account cannot be protected from itself.
    pub advisory: &'static str,
}

#[derive(Serialize)]
pub struct CommandJson {
    pub argv: Vec<String>,
    pub dynamic: bool,
    pub via: Vec<String>,
}

#[derive(Serialize)]
pub struct MatchJson {
    pub rule: String,
    pub action: &'static str,
    pub message: String,
}

pub fn check_json(v: &Verdict) -> CheckJson {
    CheckJson {
        decision: v.action.as_str(),
        reason: redact(&v.reason),
        commands: commands_json(v),
        matches: matches_json(v),
        mode: "embedded",
        advisory: crate::cli::ADVISORY,
    }
}

pub fn commands_json(v: &Verdict) -> Vec<CommandJson> {
    v.commands
        .iter()
        .map(|c| CommandJson {
            argv: redact_argv(&c.argv_text()),
            dynamic: c.dynamic.is_some(),
            via: c.via.iter().map(|s| redact(s)).collect(),
        })
        .collect()
}

pub fn matches_json(v: &Verdict) -> Vec<MatchJson> {
    v.matches
        .iter()
        .map(|(_, h)| MatchJson {
            rule: h.rule.clone(),
            action: h.action.as_str(),
            message: redact(&h.message),
        })
        .collect()
}

/// `guard: denied: <reason> [rule <id>]`
pub fn refusal(v: &Verdict, why: Option<&str>) -> String {
    let mut line = format!("guard: denied: {}", redact(&v.reason));
    if let Some(why) = why {
        line.push_str(&format!(" ({why})"));
    }
    if let Some(rule) = &v.rule {
        line.push_str(&format!(" [rule {rule}]"));
    }
    // One line, whatever the reason held.
    line.replace(['\n', '\r'], " ")
}

/// `guard: denied by <approver>: <reason>`: the agent learns who said no
/// and why, so it can adapt.
pub fn denied_by(v: &Verdict, approver: &str, reason: Option<&str>) -> String {
    let line = match reason {
        Some(r) => format!("guard: denied by {approver}: {}", redact(r)),
        None => {
            let rule = v
                .rule
                .as_deref()
                .map(|r| format!(" [rule {r}]"))
                .unwrap_or_default();
            format!("guard: denied by {approver}: {}{rule}", redact(&v.reason))
        }
    };
    line.replace(['\n', '\r'], " ")
}

/// A rule as YAML, without the empty keys serde writes for defaults.
pub fn rule_yaml(spec: &crate::rules::spec::RuleSpec) -> Result<String, yaml_serde::Error> {
    fn prune(v: &mut yaml_serde::Value) -> bool {
        match v {
            yaml_serde::Value::Null => true,
            yaml_serde::Value::Sequence(s) => s.is_empty(),
            yaml_serde::Value::String(s) => s.is_empty(),
            yaml_serde::Value::Mapping(m) => {
                let empty: Vec<yaml_serde::Value> = m
                    .iter_mut()
                    .filter_map(|(k, v)| prune(v).then(|| k.clone()))
                    .collect();
                for k in empty {
                    m.remove(&k);
                }
                m.is_empty()
            }
            _ => false,
        }
    }
    let mut v = yaml_serde::to_value(spec)?;
    prune(&mut v);
    yaml_serde::to_string(&v)
}

/// The human form of `check`.
pub fn human(v: &Verdict) -> String {
    let mut out = format!("{}: {}", v.action.as_str(), redact(&v.reason));
    if let Some(rule) = &v.rule {
        out.push_str(&format!(" [rule {rule}]"));
    }
    out.push('\n');
    for (i, c) in v.commands.iter().enumerate() {
        let argv = redact_argv(&c.argv_text());
        out.push_str(&format!("  command: {}", shell_words::join(&argv)));
        if !c.via.is_empty() {
            out.push_str(&format!("  (via {})", c.via.join(" → ")));
        }
        out.push('\n');
        for (_, h) in v.matches.iter().filter(|(j, _)| *j == i) {
            out.push_str(&format!(
                "    {} {}: {}\n",
                h.action.as_str(),
                h.rule,
                redact(&h.message)
            ));
        }
    }
    out
}
