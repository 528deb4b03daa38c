//! Self-test: every rule's `examples.match` must be matched by it, and
//! its `examples.no_match` must not, when analysed by the full pipeline.

use super::load::Config;
use crate::parse::Env;
use crate::policy::{self, Input};

pub struct ExampleReport {
    pub rules: usize,
    pub examples: usize,
    pub failures: Vec<String>,
}

/// Run the examples of every rule, or of the rules defined in `only`.
pub fn run(cfg: &Config, env: &Env, only: Option<&[String]>) -> Result<ExampleReport, String> {
    let mut report = ExampleReport {
        rules: 0,
        examples: 0,
        failures: Vec::new(),
    };
    for rule in cfg.rules.all()? {
        if let Some(files) = only {
            if !files.contains(&rule.origin.file) {
                continue;
            }
        }
        report.rules += 1;
        let id = &rule.spec.id;
        let cases = rule
            .spec
            .examples
            .matches
            .iter()
            .map(|e| (e, true))
            .chain(rule.spec.examples.no_match.iter().map(|e| (e, false)));
        for (example, want) in cases {
            report.examples += 1;
            let v = policy::decide(Input::Script(example), cfg, env);
            let got = v.matches.iter().any(|(_, h)| h.rule == *id);
            if got != want {
                let expectation = if want {
                    "should match but did not"
                } else {
                    "should not match but did"
                };
                let mut line = format!(
                    "{} rule {id}: example `{example}` {expectation}",
                    rule.origin
                );
                if v.rule.as_deref() == Some(policy::PARSE_RULE) {
                    line.push_str(&format!(" ({})", v.reason));
                }
                report.failures.push(line);
            }
        }
    }
    Ok(report)
}
