//! Secret detectors and redaction.
//!
//! Two sets run side by side. guard's own detectors (below) each are a
//! regex with one capture group that is the secret itself, and include
//! secrets only context reveals (`user:pass@`, `--password=`, headers).
//! gitleaks' maintained rule set ([`gitleaks`], ~200 providers) adds the
//! breadth. For both, the secret is what redaction replaces with `***`;
//! regexes are compiled on first use and only after a cheap literal
//! prefilter passes, so a command with no candidate text pays nothing.

use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;

pub mod gitleaks;
mod ids;
#[cfg(test)]
mod re2;

pub use ids::GUARD_IDS;

pub struct Detector {
    pub id: &'static str,
    /// The text must contain one of these (case-insensitive) before the
    /// regex runs.
    prefilter: &'static [&'static str],
    pattern: &'static str,
    /// A found secret matching this is a documented placeholder, not a
    /// credential.
    placeholder: Option<&'static str>,
    regex: OnceLock<Regex>,
    placeholder_regex: OnceLock<Option<Regex>>,
}

const PLACEHOLDER: &str = r"(?i)(example|placeholder|your[_-]|<[^>]*>|xxxx|\*\*\*|####|^\$|\.\.\.|changeme|dummy|redacted|(?:token|key|secret|string|password|value)_?here)";

/// A value of 8 or more characters this uniform (bits per character) is
/// a filler such as `aaaaaaaa` or `AKIAXXXXXXXXXXXXXXXX`, not a secret.
const FILLER_ENTROPY: f64 = 1.5;

fn is_filler(secret: &str) -> bool {
    secret.len() >= 8 && gitleaks::shannon_entropy(secret) < FILLER_ENTROPY
}

macro_rules! detector {
    ($id:literal, [$($pre:literal),*], $pattern:literal, $placeholder:expr) => {
        Detector {
            id: $id,
            prefilter: &[$($pre),*],
            pattern: $pattern,
            placeholder: $placeholder,
            regex: OnceLock::new(),
            placeholder_regex: OnceLock::new(),
        }
    };
}

pub static DETECTORS: [Detector; 10] = [
    detector!(
        "aws-access-key",
        ["akia", "asia", "abia", "acca"],
        r"\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})\b",
        Some(r"EXAMPLE$|XXXX")
    ),
    detector!(
        "aws-secret-key",
        ["aws_secret_access_key"],
        r"(?i)aws_secret_access_key\s*[=:]\s*([A-Za-z0-9/+=]{40})\b",
        Some(PLACEHOLDER)
    ),
    detector!(
        "github-token",
        ["gh", "github_pat_"],
        r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        Some(PLACEHOLDER)
    ),
    detector!(
        "slack-token",
        ["xox"],
        // A workspace or user number, then a part with a letter in it:
        // `xoxb-12345-abcd234` and `xoxp-1234…-####` are placeholders.
        r"\b(xox[abpr]-[0-9]{6,}-[0-9A-Za-z-]*[A-Za-z][0-9A-Za-z-]*)",
        Some(PLACEHOLDER)
    ),
    detector!(
        "stripe-key",
        ["k_live_"],
        r"\b([sr]k_live_[0-9A-Za-z]{16,})",
        Some(PLACEHOLDER)
    ),
    detector!(
        "jwt",
        ["eyj"],
        r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})",
        None
    ),
    detector!(
        "private-key",
        ["private key"],
        // Armour with key material in it (64 characters of base64, past
        // any `Proc-Type:` headers, newlines real or written `\n`): a
        // header alone, or `…\nMIIEpAIBAAKCAQEA...` in a test, is not a
        // key. Up to the END line, or the end of a truncated text.
        r"(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:\s|\\n)*(?:[A-Za-z-]+: [^\n\\]*(?:\s|\\n)+)*(?:[A-Za-z0-9+/=]|\s|\\n){64,}(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$))",
        None
    ),
    detector!(
        "auth-header",
        ["auth", "token", "key", "cookie"],
        r"(?im)^\s*(?:proxy-)?(?:authorization|x-api-key|api-key|apikey|x-auth-token|private-token|x-vault-token|cookie|x-[a-z-]*token)\s*:\s*(?:(?:bearer|basic|token|digest|bot)\s+)?(\S[^\r\n]*)",
        Some(PLACEHOLDER)
    ),
    detector!(
        "url-credentials",
        ["@"],
        r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@",
        Some(PLACEHOLDER)
    ),
    detector!(
        "password-flag",
        ["pass", "token", "secret", "key"],
        r"(?i)(?:^|\s)--?(?:password|passwd|pass|token|api-key|apikey|api_key|secret|client-secret|access-token|auth-token|secret-key)[=:]([^\s]+)",
        Some(PLACEHOLDER)
    ),
];

/// Programs whose `-pSECRET` is a password (and `-P` a port).
const MYSQL_LIKE: &[&str] = &[
    "mysql",
    "mysqldump",
    "mysqladmin",
    "mysqlimport",
    "mysqlshow",
    "mysqlcheck",
    "mariadb",
    "mariadb-dump",
    "mysqlsh",
];

/// Assignments whose value is a password for the command.
pub const PASSWORD_ENV: &[&str] = &["PGPASSWORD", "MYSQL_PWD", "REDISCLI_AUTH", "SSHPASS"];

impl Detector {
    fn regex(&self) -> &Regex {
        self.regex
            .get_or_init(|| Regex::new(self.pattern).unwrap_or_else(|_| unreachable_regex()))
    }

    /// Detectors with a placeholder pattern also drop fillers; the two
    /// without (jwt, private-key) match structure, not a free value.
    fn is_placeholder(&self, secret: &str) -> bool {
        let re = self
            .placeholder_regex
            .get_or_init(|| self.placeholder.and_then(|p| Regex::new(p).ok()));
        re.as_ref()
            .is_some_and(|r| r.is_match(secret) || is_filler(secret))
    }

    fn candidate(&self, lower: &str) -> bool {
        self.prefilter.iter().any(|p| lower.contains(p))
    }

    /// Byte ranges of real (non-placeholder) secrets in `text`.
    pub fn find(&self, text: &str) -> Vec<Range<usize>> {
        self.find_lower(text, &text.to_ascii_lowercase())
    }

    /// `find`, given `text` already lowercased (once for all detectors).
    fn find_lower(&self, text: &str, lower: &str) -> Vec<Range<usize>> {
        if !self.candidate(lower) {
            return Vec::new();
        }
        self.regex()
            .captures_iter(text)
            .filter_map(|c| c.get(1))
            .filter(|m| !m.as_str().is_empty() && !self.is_placeholder(m.as_str()))
            .map(|m| m.range())
            .collect()
    }
}

/// The detectors' patterns are constants checked by the tests; a regex
/// that never matches keeps a broken one from crashing a shell.
fn unreachable_regex() -> Regex {
    static NEVER: OnceLock<Regex> = OnceLock::new();
    NEVER
        .get_or_init(|| Regex::new(r"[^\s\S]").expect("constant regex"))
        .clone()
}

/// guard's placeholder filter, which gitleaks' findings pass too: a
/// documented placeholder is never a secret.
pub(crate) fn is_placeholder(secret: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    is_filler(secret)
        || RE
            .get_or_init(|| Regex::new(PLACEHOLDER).ok())
            .as_ref()
            .is_some_and(|r| r.is_match(secret))
}

/// Which detectors fire on a word: guard's ids, then gitleaks' rule ids
/// (a gitleaks rule named like one of guard's reports guard's id).
pub fn scan(text: &str) -> Vec<&'static str> {
    let lower = text.to_ascii_lowercase();
    let mut ids: Vec<&'static str> = DETECTORS
        .iter()
        .filter(|d| !d.find_lower(text, &lower).is_empty())
        .map(|d| d.id)
        .collect();
    for f in gitleaks::find_lower(text, &lower) {
        if !ids.contains(&f.id) {
            ids.push(f.id);
        }
    }
    ids
}

/// Does any detector fire on `text`? Remembered by value: a broker is
/// sent the same environment by every line of a harness, and scanning
/// each value with every detector was most of its own work per line.
/// Bounded, and long values are scanned each time rather than kept.
pub fn holds_secret(text: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::Mutex;
    const MAX_ENTRIES: usize = 4096;
    const MAX_LEN: usize = 4096;
    static SEEN: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    if text.len() > MAX_LEN {
        return !scan(text).is_empty();
    }
    let seen = SEEN.get_or_init(Default::default);
    if let Some(known) = seen.lock().ok().and_then(|m| m.get(text).copied()) {
        return known;
    }
    let found = !scan(text).is_empty();
    if let Ok(mut m) = seen.lock() {
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        m.insert(text.to_string(), found);
    }
    found
}

/// `mysql -psecret`: attached password of a mysql-like program.
pub fn mysql_password<'a>(program: &str, word: &'a str) -> Option<&'a str> {
    if !MYSQL_LIKE.contains(&program) {
        return None;
    }
    let secret = word
        .strip_prefix("--password=")
        .or_else(|| word.strip_prefix("-p").filter(|_| !word.starts_with("--")))?;
    (!secret.is_empty() && !secret.starts_with('$')).then_some(secret)
}

/// Replace every secret in free text with `***`.
pub fn redact(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut ranges: Vec<Range<usize>> = DETECTORS
        .iter()
        .flat_map(|d| d.find_lower(text, &lower))
        .collect();
    ranges.extend(
        gitleaks::find_lower(text, &lower)
            .into_iter()
            .map(|f| f.range),
    );
    ranges.extend(contextual_ranges(text));
    if ranges.is_empty() {
        return text.to_string();
    }
    ranges.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for r in ranges {
        if r.start < pos {
            pos = pos.max(r.end);
            continue;
        }
        out.push_str(&text[pos..r.start]);
        out.push_str("***");
        pos = r.end;
    }
    out.push_str(&text[pos..]);
    out
}

/// Options whose next word is `user:password`.
const USER_PASS_OPTIONS: &[&str] = &["-u", "--user", "-a", "--auth", "--proxy-user", "-U"];
/// Options whose next word is a password.
const PASSWORD_OPTIONS: &[&str] = &["--password", "--http-password", "--proxy-password"];

/// Redact an argv word by word, using each word's neighbour for the
/// secrets only context reveals (`curl -u user:pass`, `sshpass -p pw`).
pub fn redact_argv(argv: &[String]) -> Vec<String> {
    let program = argv.first().map_or("", |a| crate::command::basename(a));
    argv.iter()
        .enumerate()
        .map(|(i, w)| {
            let prev = if i > 0 { argv[i - 1].as_str() } else { "" };
            if USER_PASS_OPTIONS.contains(&prev) {
                if let Some((user, _)) = w.split_once(':') {
                    return format!("{user}:***");
                }
            }
            if PASSWORD_OPTIONS.contains(&prev) || (program == "sshpass" && prev == "-p") {
                return "***".to_string();
            }
            if let Some(secret) = mysql_password(program, w) {
                return w.replacen(secret, "***", 1);
            }
            if let Some((name, value)) = w.split_once('=') {
                if PASSWORD_ENV.contains(&name) && !value.is_empty() {
                    return format!("{name}=***");
                }
            }
            redact(w)
        })
        .collect()
}

/// Secrets that are only secrets in context: `PGPASSWORD=x`, `mysql -px`.
fn contextual_ranges(text: &str) -> Vec<Range<usize>> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let lower = text.to_ascii_lowercase();
    let hints = ["pass", "pwd", "auth", "mysql", "maria", "-u", "user"];
    if !hints.iter().any(|h| lower.contains(h)) {
        return Vec::new();
    }
    let re = RE.get_or_init(|| {
        Regex::new(
            r#"(?:\b(?:PGPASSWORD|MYSQL_PWD|REDISCLI_AUTH|SSHPASS)=['"]?([^\s'"]+))|(?:\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb|mariadb-dump|mysqlsh)\b[^|;&\n]*?\s-p([^\s'"]+))|(?:\bsshpass\s+-p\s*['"]?([^\s'"]+))|(?:(?:^|\s)(?:-u\s*|--user[= ]|-a\s*|--auth[= ]|--http-user[= ]|--proxy-user[= ])['"]?[^\s:'"]+:([^\s'"]+))|(?:(?:^|\s)--(?:http-|proxy-)?password[= ]['"]?([^\s'"]+))"#,
        )
        .ok()
    });
    let Some(re) = re.as_ref() else {
        return Vec::new();
    };
    re.captures_iter(text)
        .filter_map(|c| c.iter().skip(1).flatten().next())
        .filter(|m| !m.as_str().starts_with('$'))
        .map(|m| m.range())
        .collect()
}

/// Every id a rule's `secrets:` may name: guard's own, then gitleaks'.
pub const KNOWN_IDS: &[&str] = &concat_ids::<{ GUARD_IDS.len() + gitleaks::GITLEAKS_IDS.len() }>(
    &GUARD_IDS,
    &gitleaks::GITLEAKS_IDS,
);

const fn concat_ids<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids_are_unique_and_complete() {
        let mut ids = KNOWN_IDS.to_vec();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), KNOWN_IDS.len());
        for id in gitleaks::rule_ids() {
            assert!(KNOWN_IDS.contains(&id), "{id}");
        }
        for d in &DETECTORS {
            assert!(GUARD_IDS.contains(&d.id), "{}", d.id);
        }
    }

    #[test]
    fn gitleaks_findings_are_scanned_and_redacted() {
        let key = "glpat-".to_string() + "Zx9Kq2Lm7Np4Rs6Tv8Wy";
        let line = format!("curl --header PRIVATE_TOKEN={key} https://gitlab.example.com");
        assert!(scan(&line).contains(&"gitlab-pat"), "{:?}", scan(&line));
        assert!(!redact(&line).contains(&key), "{}", redact(&line));
    }

    #[test]
    fn remembered_scan_answers_as_scan_does() {
        let key = "glpat-".to_string() + "Ab3Cd5Ef7Gh9Jk2Lm4Np";
        let long = format!("{}{key}", "x ".repeat(3000));
        let cases: &[(&str, bool)] = &[
            (&key, true),
            ("/usr/local/bin:/usr/bin:/bin", false),
            ("en_US.UTF-8", false),
            (&long, true),
            ("", false),
        ];
        // Twice: the second answer comes from memory.
        for _ in 0..2 {
            for (text, want) in cases {
                assert_eq!(holds_secret(text), *want, "{text:.40}");
                assert_eq!(holds_secret(text), !scan(text).is_empty(), "{text:.40}");
            }
        }
    }
}
