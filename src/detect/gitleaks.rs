//! gitleaks' rule set (rules/secrets/gitleaks.toml, MIT), run the way
//! gitleaks' `detect.go` runs it on one fragment of text:
//!
//! 1. one Aho-Corasick pass over the lowercased text finds the rules'
//!    (lowercase) keywords; only rules with a keyword present are
//!    candidates;
//! 2. a candidate's regex is compiled on first use, once per process;
//! 3. each match, trimmed of newlines, is matched again on its own to
//!    take the secret: `secretGroup`, else the first non-empty group,
//!    else the whole match;
//! 4. the secret must have Shannon entropy above the rule's threshold,
//!    and no allowlist (global, then the rule's) may allow it;
//! 5. a `generic-*` finding whose secret another finding on the same line
//!    already holds is dropped.
//!
//! Differences, on purpose: rules scoped to file paths are not run
//! (guard scans command text, which has no path); the `gitleaks:allow`
//! comment is not honoured (the agent writes the command line); there is
//! no decoding pass (base64, hex); after a rejected match the search
//! resumes at its secret rather than past it (more found, never less);
//! and guard's placeholder filter also applies, so documented
//! placeholders never count.

use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};

/// One gitleaks rule, as build.rs wrote it.
pub(super) struct Rule {
    pub id: &'static str,
    regex: &'static str,
    secret_group: usize,
    /// 0 when the rule sets none.
    entropy: f64,
    /// A `generic-*` rule, which yields to a specific one (step 5).
    generic: bool,
    /// Indices into ALLOWLISTS.
    allowlists: &'static [usize],
    compiled: OnceLock<Option<Regex>>,
}

/// What an allowlist's regexes are matched against.
#[derive(Clone, Copy)]
enum Target {
    Secret,
    Match,
    Line,
}

pub(super) struct Allow {
    target: Target,
    /// `condition = "AND"`: the regexes and the stopwords must both allow.
    all: bool,
    regex: Option<&'static str>,
    /// Lowercase; the secret, lowercased, must contain one.
    stopwords: &'static [&'static str],
    compiled: OnceLock<Option<Regex>>,
    stops: OnceLock<Option<AhoCorasick>>,
}

include!(concat!(env!("OUT_DIR"), "/gitleaks_rules.rs"));

/// A secret one rule found.
pub struct Finding {
    pub id: &'static str,
    /// The secret's bytes in the text (what redaction replaces).
    pub range: Range<usize>,
    generic: bool,
}

/// Same limits for every pattern; a pattern over them is a rule that
/// never matches (the test lists it), not a crash.
fn compile(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(8 << 20)
        .dfa_size_limit(2 << 20)
        .build()
        .ok()
}

impl Rule {
    fn regex(&self) -> Option<&Regex> {
        self.compiled.get_or_init(|| compile(self.regex)).as_ref()
    }
}

impl Allow {
    fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| self.regex.and_then(compile))
            .as_ref()
    }

    fn has_stopword(&self, secret: &str) -> bool {
        let stops = self.stops.get_or_init(|| {
            if self.stopwords.is_empty() {
                return None;
            }
            AhoCorasick::new(self.stopwords).ok()
        });
        stops
            .as_ref()
            .is_some_and(|ac| ac.is_match(&secret.to_lowercase()))
    }

    /// gitleaks' `checkFindingAllowed` for one allowlist.
    fn allows(&self, secret: &str, matched: &str, line: &str) -> bool {
        let target = match self.target {
            Target::Secret => secret,
            Target::Match => matched,
            Target::Line => line,
        };
        let by_regex = || !target.is_empty() && self.regex().is_some_and(|r| r.is_match(target));
        let by_stopword = || !secret.is_empty() && self.has_stopword(secret);
        if self.all {
            (self.regex.is_none() || by_regex()) && (self.stopwords.is_empty() || by_stopword())
        } else {
            by_regex() || by_stopword()
        }
    }
}

/// Keywords → the rules they make candidates, one automaton per process.
/// Built on the first word scanned, so its cost is start-up cost: a
/// case-sensitive contiguous NFA over text the caller already lowercased
/// builds in a fifth of the time of a DFA or a case-folding automaton
/// (about 0.15 ms against 1 ms) and searches a word in about 60 ns.
fn keywords() -> Option<&'static AhoCorasick> {
    static AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(KEYWORDS.iter().map(|(k, _)| k))
            .ok()
    })
    .as_ref()
}

/// Rules whose keywords occur in `lower` (the text, ASCII-lowercased),
/// and those without keywords (ALWAYS), in table order.
fn candidates(lower: &str) -> Vec<usize> {
    let mut hit = [false; RULE_COUNT];
    let mut any = !ALWAYS.is_empty();
    for &r in ALWAYS {
        hit[r] = true;
    }
    if let Some(ac) = keywords() {
        for m in ac.find_overlapping_iter(lower) {
            for &r in KEYWORDS[m.pattern().as_usize()].1 {
                hit[r] = true;
                any = true;
            }
        }
    }
    if !any {
        return Vec::new();
    }
    (0..RULE_COUNT).filter(|&i| hit[i]).collect()
}

/// Every secret gitleaks' rules find in `text`.
pub fn find(text: &str) -> Vec<Finding> {
    find_lower(text, &text.to_ascii_lowercase())
}

/// `find`, given `text` already ASCII-lowercased.
pub(super) fn find_lower(text: &str, lower: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in candidates(lower) {
        find_rule(&RULES[i], text, &mut out);
    }
    drop_generic_duplicates(text, out)
}

fn find_rule(rule: &Rule, text: &str, out: &mut Vec<Finding>) {
    let Some(re) = rule.regex() else {
        return;
    };
    let mut at = 0;
    while let Some(m) = re.find_at(text, at) {
        let (start, end) = trim_newlines(text, m.range());
        let matched = &text[start..end];
        let secret = secret_range(rule, re, matched).map(|r| start + r.start..start + r.end);
        match secret {
            Some(secret) if accepted(rule, text, &secret, matched, start, end) => {
                out.push(Finding {
                    id: rule.id,
                    range: secret,
                    generic: rule.generic,
                });
                at = m.end();
            }
            // gitleaks moves past a rejected match. guard looks again from
            // the rejected secret, so that `X_TOKEN=api_key="…"` (first
            // "secret": `api_key=`) still finds the real one behind it.
            Some(secret) if secret.start > m.start() && secret.start < m.end() => at = secret.start,
            _ => at = m.end(),
        }
        if m.is_empty() {
            at = next_char(text, at);
        }
        if at >= text.len() {
            break;
        }
    }
}

/// Steps 4 and guard's placeholder filter for one candidate secret.
fn accepted(
    rule: &Rule,
    text: &str,
    secret: &Range<usize>,
    matched: &str,
    start: usize,
    end: usize,
) -> bool {
    let value = &text[secret.clone()];
    if value.is_empty() {
        return false;
    }
    if rule.entropy != 0.0 && shannon_entropy(value) <= rule.entropy {
        return false;
    }
    let line = line_of(text, start, end);
    let allowed = GLOBAL_ALLOWLISTS
        .iter()
        .chain(rule.allowlists)
        .any(|&a| ALLOWLISTS[a].allows(value, matched, line));
    !allowed && !super::is_placeholder(value)
}

/// The byte after the char at `i` (for stepping past an empty match).
fn next_char(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(i + 1, |c| i + c.len_utf8())
}

/// gitleaks trims newlines off a match before anything else.
fn trim_newlines(text: &str, r: Range<usize>) -> (usize, usize) {
    let s = &text[r.clone()];
    let lead = s.len() - s.trim_start_matches('\n').len();
    let trimmed = s.trim_matches('\n');
    (r.start + lead, r.start + lead + trimmed.len())
}

/// The secret within `matched`: gitleaks matches the rule again on the
/// match alone and takes `secretGroup`, else the first non-empty group.
/// None when `secretGroup` names a group the regex lacks.
fn secret_range(rule: &Rule, re: &Regex, matched: &str) -> Option<Range<usize>> {
    let whole = 0..matched.len();
    if re.captures_len() < 2 {
        return Some(whole);
    }
    let Some(caps) = re.captures(matched) else {
        return Some(whole);
    };
    if rule.secret_group > 0 {
        if rule.secret_group >= caps.len() {
            return None;
        }
        return Some(caps.get(rule.secret_group).map_or(0..0, |g| g.range()));
    }
    Some(
        caps.iter()
            .skip(1)
            .flatten()
            .find(|g| !g.is_empty())
            .map_or(whole, |g| g.range()),
    )
}

/// The lines the match spans, without their newlines.
fn line_of(text: &str, start: usize, end: usize) -> &str {
    let from = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let to = text[end..].find('\n').map_or(text.len(), |i| end + i);
    &text[from..to]
}

/// gitleaks' `shannonEntropy`: bits per byte over the string's characters
/// (each char counted once per occurrence, divided by the byte length).
pub fn shannon_entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut ascii = [0u32; 128];
    let mut other: Vec<(char, u32)> = Vec::new();
    for c in s.chars() {
        if c.is_ascii() {
            ascii[c as usize] += 1;
        } else if let Some(e) = other.iter_mut().find(|(o, _)| *o == c) {
            e.1 += 1;
        } else {
            other.push((c, 1));
        }
    }
    let inv = 1.0 / s.len() as f64;
    ascii
        .iter()
        .copied()
        .chain(other.iter().map(|(_, n)| *n))
        .filter(|&n| n > 0)
        .map(|n| {
            let f = f64::from(n) * inv;
            -f * f.log2()
        })
        .sum()
}

/// gitleaks' `filter`: a generic finding yields to a specific one on the
/// same line whose secret contains it.
fn drop_generic_duplicates(text: &str, found: Vec<Finding>) -> Vec<Finding> {
    if !found.iter().any(|f| f.generic) {
        return found;
    }
    let line = |f: &Finding| text[..f.range.start].matches('\n').count();
    let keep: Vec<bool> = found
        .iter()
        .map(|f| {
            !f.generic
                || !found.iter().any(|o| {
                    !o.generic
                        && o.id != f.id
                        && line(o) == line(f)
                        && text[o.range.clone()].contains(&text[f.range.clone()])
                })
        })
        .collect();
    found
        .into_iter()
        .zip(keep)
        .filter_map(|(f, k)| k.then_some(f))
        .collect()
}

/// Ids of the rules compiled in, in table order.
pub fn rule_ids() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|r| r.id)
}

/// Rules whose regex (or an allowlist regex) the `regex` crate rejects at
/// run time, with the error. Empty when every rule works; for the tests.
pub fn compile_errors() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let limits = |p: &str| {
        RegexBuilder::new(p)
            .size_limit(8 << 20)
            .dfa_size_limit(2 << 20)
            .build()
            .err()
    };
    for r in &RULES {
        if let Some(e) = limits(r.regex) {
            out.push((r.id, e.to_string()));
        }
        for &a in r.allowlists {
            if let Some(e) = ALLOWLISTS[a].regex.and_then(limits) {
                out.push((r.id, format!("allowlist: {e}")));
            }
        }
    }
    for &a in GLOBAL_ALLOWLISTS {
        if let Some(e) = ALLOWLISTS[a].regex.and_then(limits) {
            out.push(("[allowlist]", e.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_matches_gitleaks() {
        assert_eq!(shannon_entropy(""), 0.0);
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("ab") - 1.0).abs() < 1e-12);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-12);
    }

    #[test]
    fn every_rule_compiles() {
        assert_eq!(compile_errors(), Vec::<(&str, String)>::new());
    }

    #[test]
    fn keywords_select_candidates() {
        assert!(candidates("ls -la /tmp").is_empty());
        let c = candidates("export openai_key=sk-proj-abct3blbkfj");
        assert!(c.iter().any(|&i| RULES[i].id == "openai-api-key"));
    }

    #[test]
    fn secret_group_and_placeholder() {
        let key = "sk-ant-api03-".to_string() + &"aB3dE5fG7h".repeat(9) + "xyzAA";
        let text = format!("ANTHROPIC_API_KEY={key}");
        let found = find(&text);
        assert!(found.iter().any(|f| f.id == "anthropic-api-key"), "{text}");
        let f = found.iter().find(|f| f.id == "anthropic-api-key").unwrap();
        assert_eq!(&text[f.range.clone()], key);
        assert!(find("OPENAI_API_KEY=sk-proj-your_key_here").is_empty());
    }
}
