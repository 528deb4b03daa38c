//! Rules: loading, layering, compiled matchers, and self-test examples.

pub mod cache;
pub mod compiled;
pub mod examples;
pub mod layer;
pub mod load;
pub mod matcher;
pub mod origins;
pub mod spec;

use std::sync::Arc;

use layer::Layer;
use matcher::{BadRegex, Matcher};
use spec::{Action, RuleSpec};

use crate::facts::Facts;

/// Where a rule or setting came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

#[derive(Debug)]
pub struct Rule {
    pub spec: RuleSpec,
    pub origin: Origin,
    matcher: Matcher,
    unless: Option<Matcher>,
}

/// A rule that matched a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: String,
    pub action: Action,
    pub risk: spec::Risk,
    pub message: String,
}

impl Rule {
    pub fn new(spec: RuleSpec, origin: Origin, home: &str) -> Rule {
        let matcher = Matcher::new(&spec.matches, home);
        let unless = spec.unless.as_ref().map(|u| Matcher::new(u, home));
        Rule {
            spec,
            origin,
            matcher,
            unless,
        }
    }

    /// Every regex this rule may compile, so `lint` can check them all.
    pub fn regexes(&self) -> impl Iterator<Item = &matcher::LazyRegex> {
        self.matcher
            .regexes()
            .chain(self.unless.iter().flat_map(|u| u.regexes()))
    }

    pub fn check(&self, f: &Facts) -> Result<Option<Hit>, BadRegex> {
        if !self.matcher.matches(f)? {
            return Ok(None);
        }
        if let Some(unless) = &self.unless {
            if unless.matches(f)? {
                return Ok(None);
            }
        }
        Ok(Some(Hit {
            rule: self.spec.id.clone(),
            action: self.spec.action,
            risk: self.spec.risk,
            message: self.render_message(f),
        }))
    }

    /// Fill `{program}`, `{subcommand}`, `{flag:NAME}`, `{path}`, `{env}`;
    /// a `[…]` segment whose placeholders are all empty is dropped.
    fn render_message(&self, f: &Facts) -> String {
        let template = if self.spec.message.is_empty() {
            self.spec.description.as_str()
        } else {
            self.spec.message.as_str()
        };
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('[') {
            out.push_str(&self.fill(&rest[..open], f).0);
            let Some(close) = rest[open..].find(']') else {
                out.push_str(&self.fill(&rest[open..], f).0);
                rest = "";
                break;
            };
            let (text, all_filled) = self.fill(&rest[open + 1..open + close], f);
            if all_filled {
                out.push_str(&text);
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(&self.fill(rest, f).0);
        crate::detect::redact(&out)
    }

    fn fill(&self, text: &str, f: &Facts) -> (String, bool) {
        let mut out = String::new();
        let mut all_filled = true;
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                out.push_str(&rest[open..]);
                return (out, all_filled);
            };
            let key = &rest[open + 1..open + close];
            let value = self.placeholder(key, f).unwrap_or_default();
            all_filled &= !value.is_empty();
            out.push_str(&value);
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        (out, all_filled)
    }

    fn placeholder(&self, key: &str, f: &Facts) -> Option<String> {
        match key {
            "program" => Some(f.program.clone()),
            "subcommand" => Some(
                f.positionals
                    .iter()
                    .take_while(|(w, _)| !w.contains('/'))
                    .take(2)
                    .map(|(w, _)| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "path" => self
                .matcher
                .first_path(f)
                .map(|p| p.replace(crate::parse::ANYTHING, "*"))
                .or_else(|| f.transfer.as_ref().and_then(|t| t.paths.first().cloned())),
            "env" => self.matcher.first_env(f).map(str::to_string),
            _ => {
                let flag = key.strip_prefix("flag:")?;
                flag_value(flag, &f.args)
            }
        }
    }
}

fn flag_value(flag: &str, args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == flag {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(flag) {
            if let Some(v) = v.strip_prefix('=') {
                return Some(v.to_string());
            }
            if flag.len() == 2 && !v.is_empty() {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// All rules, across layers. Each layer indexes its rules by the literal
/// program names they require and decodes a rule only when asked.
#[derive(Debug)]
pub struct RuleSet {
    layers: Arc<Vec<Layer>>,
}

impl RuleSet {
    pub fn new(layers: Arc<Vec<Layer>>) -> RuleSet {
        RuleSet { layers }
    }

    /// Does some rule flag this program whatever its arguments? Inline
    /// code that names one is what `code: true` rules look for.
    pub fn flags_whole_program(&self, program: &str) -> bool {
        self.layers.iter().any(|l| l.flags_whole_program(program))
    }

    /// Every program some rule flags whatever its arguments (`aws`,
    /// `kubectl`, …): a renamed copy of one is still that program.
    pub fn whole_programs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .layers
            .iter()
            .flat_map(|l| l.compiled.code_programs.iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every rule that matches, in layer and file order. An error means a
    /// rule could not be evaluated, and the caller must refuse.
    pub fn hits(&self, f: &Facts) -> Result<Vec<Hit>, String> {
        let mut out = Vec::new();
        for layer in self.layers.iter() {
            for n in layer.candidates(&f.program) {
                let Some(rule) = layer.rule(n)? else { continue };
                match rule.check(f) {
                    Ok(Some(hit)) => out.push(hit),
                    Ok(None) => {}
                    Err(e) => return Err(format!("{}: invalid regex: {}", rule.origin, e.0)),
                }
            }
        }
        Ok(out)
    }

    /// Every rule, decoded.
    pub fn all(&self) -> Result<Vec<&Rule>, String> {
        let mut out = Vec::new();
        for layer in self.layers.iter() {
            for n in 0..layer.rule_count() {
                let n = u32::try_from(n).map_err(|e| e.to_string())?;
                out.extend(layer.rule(n)?);
            }
        }
        Ok(out)
    }

    pub fn get(&self, id: &str) -> Result<Option<&Rule>, String> {
        Ok(self.all()?.into_iter().find(|r| r.spec.id == id))
    }
}
