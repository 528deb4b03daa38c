//! gitleaks' rule set against gitleaks' own fixtures
//! (tests/data/gitleaks-fixtures.tsv, made by tools/gitleaks_fixtures.py):
//! every true positive is found and redacted inside command lines, false
//! positives are not found, and secrets in the usual command-line shapes
//! (`export NAME=…`, `NAME=… cmd`, `--flag=…`) make the real binary
//! review the line and print none of the secret.
//!
//! `cargo test --test gitleaks -- --nocapture` prints the share per rule
//! family.

mod common;

use std::collections::BTreeMap;

use common::Guard;
use guard::detect::{gitleaks, redact, scan};

/// The share of true positives that must be found and redacted.
const TP_SHARE: f64 = 0.95;

/// Rules guard does not run, and why (compared exactly).
const SKIPPED: &[&str] = &[
    "freemius-secret-key",
    "hashicorp-tf-password",
    "kubernetes-secret-yaml",
    "nuget-config-password",
    "pkcs12-file",
];

/// gitleaks rules whose id is one of guard's own report guard's id.
const ALIASES: &[&str] = &["jwt", "private-key"];

const GENERIC: &str = "a high-entropy value assigned to a key or token name: gitleaks' \
     full rule set flags it with generic-api-key too; it is a false positive only of the \
     provider's own shape";

/// False positives of one rule that another detector flags, each with
/// why that is right: (fixture's rule, start of the text, flagged by, why).
const FP_EXCEPTIONS: &[(&str, &str, &str, &str)] = &[
    (
        "anthropic-api-key",
        "sk-ant-admin01-",
        "anthropic-admin-api-key",
        "the shape of an Anthropic admin key, which its own rule is right to find",
    ),
    (
        "cisco-meraki-api-key",
        "meraki-api-key: ",
        "generic-api-key",
        GENERIC,
    ),
    (
        "cisco-meraki-api-key",
        "meraki_token = ",
        "generic-api-key",
        GENERIC,
    ),
    (
        "clickhouse-cloud-api-secret-key",
        "key = ",
        "generic-api-key",
        GENERIC,
    ),
    (
        "databricks-api-token",
        "DATABRICKS_TOKEN=",
        "generic-api-key",
        GENERIC,
    ),
    (
        "settlemint-application-access-token",
        "nonMatchingToken := \"doo",
        "generic-api-key",
        GENERIC,
    ),
    (
        "settlemint-application-access-token",
        "nonMatchingToken := \"sm_aat",
        "generic-api-key",
        GENERIC,
    ),
    (
        "settlemint-personal-access-token",
        "nonMatchingToken := ",
        "generic-api-key",
        GENERIC,
    ),
    (
        "settlemint-service-access-token",
        "nonMatchingToken := ",
        "generic-api-key",
        GENERIC,
    ),
    ("slack-user-token", "\"token1\"", "generic-api-key", GENERIC),
    ("slack-user-token", "\"token3\"", "generic-api-key", GENERIC),
    (
        "curl-auth-header",
        "curl -X POST -H \"Content-Type: application/json\" -H \"Authorization: Basic eyJ",
        "jwt",
        "the header carries a well-formed JWT, which the jwt detectors are right to find",
    ),
];

struct Fixture {
    rule: String,
    tp: bool,
    /// The generated secret, when the generator knows it.
    secret: String,
    text: String,
}

fn fixtures() -> Vec<Fixture> {
    let path = common::root().join("tests/data/gitleaks-fixtures.tsv");
    let text = std::fs::read_to_string(&path).expect("read gitleaks fixtures");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            assert_eq!(f.len(), 4, "bad fixture line {l:?}");
            Fixture {
                rule: f[0].to_string(),
                tp: f[1] == "tp",
                secret: common::unescape(f[2]),
                text: common::unescape(f[3]),
            }
        })
        .collect()
}

/// `github-pat` → `github`.
fn family(rule: &str) -> &str {
    rule.split('-').next().unwrap_or(rule)
}

/// The text as guard meets it: alone, as an option's value, exported.
fn forms(text: &str) -> [String; 3] {
    [
        text.to_string(),
        format!("mytool --token {text}"),
        format!("export X_TOKEN={text}"),
    ]
}

fn compiled() -> Vec<&'static str> {
    gitleaks::rule_ids().collect()
}

/// Why `form` fails: not found, or not redacted.
fn tp_problem(f: &Fixture, form: &str) -> Option<String> {
    if scan(form).is_empty() {
        return Some(format!("not found: {form:?}"));
    }
    let out = redact(form);
    let leaked = if f.secret.is_empty() {
        // Without the generator's secret: nothing may fire on what is left.
        out == form || !scan(&out).is_empty()
    } else {
        out.contains(&f.secret)
    };
    leaked.then(|| format!("not redacted: {form:?} → {out:?} (scan {:?})", scan(&out)))
}

#[test]
fn rules_compile_and_skips_are_the_listed_ones() {
    let skipped: Vec<&str> = gitleaks::SKIPPED.iter().map(|(id, _)| *id).collect();
    assert_eq!(skipped, SKIPPED, "{:?}", gitleaks::SKIPPED);
    assert_eq!(gitleaks::compile_errors(), Vec::<(&str, String)>::new());
    println!(
        "gitleaks rules: {} compiled, {} skipped",
        compiled().len(),
        skipped.len()
    );
    for (id, why) in gitleaks::SKIPPED {
        println!("  skipped {id}: {why}");
    }
}

#[test]
fn true_positives_are_found_and_redacted() {
    let rules = compiled();
    // family → (fixtures, passing, found by their own rule)
    let mut table: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut problems = Vec::new();
    let (mut total, mut passed, mut skipped) = (0, 0, 0);
    for f in fixtures().iter().filter(|f| f.tp) {
        if !rules.contains(&f.rule.as_str()) {
            skipped += 1;
            continue;
        }
        total += 1;
        let row = table.entry(family(&f.rule).to_string()).or_default();
        row.0 += 1;
        if scan(&f.text).contains(&f.rule.as_str()) {
            row.2 += 1;
        }
        let failed: Vec<String> = forms(&f.text)
            .iter()
            .filter_map(|form| tp_problem(f, form))
            .collect();
        if failed.is_empty() {
            passed += 1;
            row.1 += 1;
        } else {
            problems.push(format!("{}: {}", f.rule, failed.join("; ")));
        }
    }
    println!(
        "{:<28} {:>6} {:>6} {:>7} {:>9}",
        "family", "tps", "found", "share", "own rule"
    );
    for (fam, (n, ok, own)) in &table {
        println!(
            "{fam:<28} {n:>6} {ok:>6} {:>6.1}% {:>8.1}%",
            100.0 * *ok as f64 / *n as f64,
            100.0 * *own as f64 / *n as f64
        );
    }
    let share = passed as f64 / total as f64;
    println!(
        "overall: {passed}/{total} true positives found and redacted ({:.2}%); \
         {skipped} fixtures of skipped rules not counted",
        100.0 * share
    );
    for p in &problems {
        println!("  miss {p}");
    }
    assert!(
        share >= TP_SHARE,
        "{:.2}% < {:.0}%:\n{}",
        100.0 * share,
        100.0 * TP_SHARE,
        problems.join("\n")
    );
}

#[test]
fn false_positives_are_not_found() {
    let rules = compiled();
    let all = fixtures();
    let mut own = Vec::new();
    let mut others: Vec<(String, String, String)> = Vec::new();
    let mut checked = 0;
    for f in all
        .iter()
        .filter(|f| !f.tp && rules.contains(&f.rule.as_str()))
    {
        checked += 1;
        let own_id = f.rule.as_str();
        if gitleaks::find(&f.text).iter().any(|g| g.id == own_id) {
            own.push(format!(
                "{own_id} flags its own false positive {:?}",
                f.text
            ));
        }
        // Under a shared id (`jwt`, `private-key`) a hit is guard's own
        // detector, which counts as another detector here.
        for id in scan(&f.text)
            .into_iter()
            .filter(|id| *id != own_id || ALIASES.contains(&own_id))
        {
            // gitleaks reuses one rule's true positives as a sibling's false
            // positives (cloudflare, …): that other rule is right to fire.
            let its_tp = all.iter().any(|t| t.tp && t.rule == id && t.text == f.text);
            if !its_tp {
                others.push((f.rule.clone(), f.text.clone(), id.to_string()));
            }
        }
    }
    println!(
        "false positives checked: {checked}; flagged by their own rule: {}",
        own.len()
    );
    for (rule, text, id) in &others {
        println!("  {rule} false positive flagged by {id}: {text:?}");
    }
    assert!(own.is_empty(), "{}", own.join("\n"));
    let unexpected: Vec<String> = others
        .iter()
        .filter(|(rule, text, id)| {
            !FP_EXCEPTIONS
                .iter()
                .any(|(r, t, i, _)| r == rule && text.starts_with(t) && i == id)
        })
        .map(|(rule, text, id)| format!("{rule} false positive flagged by {id}: {text:?}"))
        .collect();
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
    let stale: Vec<&str> = FP_EXCEPTIONS
        .iter()
        .filter(|(r, t, i, _)| {
            !others
                .iter()
                .any(|(rule, text, id)| r == rule && text.starts_with(t) && i == id)
        })
        .map(|(r, _, _, _)| *r)
        .collect();
    assert!(
        stale.is_empty(),
        "exceptions that no longer happen: {stale:?}"
    );
}

/// A deterministic high-entropy string over `alphabet`.
fn token(seed: u64, len: usize, alphabet: &str) -> String {
    let mut rng = common::Rng(seed);
    let chars: Vec<char> = alphabet.chars().collect();
    (0..len).map(|_| chars[rng.below(chars.len())]).collect()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &str = "0123456789abcdef";

/// Secrets of the usual providers, built from parts so that the source
/// itself holds none: (name, variable, value).
fn provider_secrets() -> Vec<(&'static str, &'static str, String)> {
    let b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    vec![
        (
            "openai",
            "OPENAI_API_KEY",
            format!(
                "sk-proj-{}T3BlbkFJ{}",
                token(1, 74, b64url),
                token(2, 74, b64url)
            ),
        ),
        (
            "anthropic",
            "ANTHROPIC_API_KEY",
            format!("sk-ant-api03-{}AA", token(3, 93, b64url)),
        ),
        (
            "gitlab",
            "GITLAB_TOKEN",
            format!("glpat-{}", token(4, 20, ALNUM)),
        ),
        ("npm", "NPM_TOKEN", format!("npm_{}", token(5, 36, ALNUM))),
        (
            "huggingface",
            "HF_TOKEN",
            format!(
                "hf_{}",
                token(
                    6,
                    34,
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                )
            ),
        ),
        (
            "gcp",
            "GOOGLE_API_KEY",
            format!("AIza{}", token(7, 35, b64url)),
        ),
        (
            "digitalocean",
            "DIGITALOCEAN_TOKEN",
            format!("dop_v1_{}", token(8, 64, HEX)),
        ),
        (
            "slack-webhook",
            "SLACK_WEBHOOK_URL",
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                token(9, 10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
                token(10, 10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
                token(11, 24, ALNUM)
            ),
        ),
        (
            "stripe-test",
            "STRIPE_SECRET_KEY",
            format!("sk_test_{}", token(12, 24, ALNUM)),
        ),
        (
            "github",
            "GH_TOKEN",
            format!("ghp_{}", token(13, 36, ALNUM)),
        ),
        (
            "sendgrid",
            "SENDGRID_API_KEY",
            format!(
                "SG.{}.{}",
                token(14, 22, LOWER_ALNUM),
                token(15, 43, LOWER_ALNUM)
            ),
        ),
    ]
}

#[test]
fn provider_secrets_in_command_shapes_are_found_by_the_library() {
    let mut problems = Vec::new();
    for (name, var, secret) in provider_secrets() {
        for line in [
            format!("export {var}={secret}"),
            format!("{var}={secret} ./deploy.sh"),
            format!("mytool --api-key={secret}"),
            secret.clone(),
        ] {
            if scan(&line).is_empty() {
                problems.push(format!("{name}: not found in {line:?}"));
            }
            if redact(&line).contains(&secret) {
                problems.push(format!("{name}: not redacted: {}", redact(&line)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `guard check --json -c LINE`: the parsed JSON and the raw stdout.
fn check(line: &str) -> (serde_json::Value, String) {
    let run = Guard::new().args(["check", "--json", "-c", line]).run();
    let out = run.stdout();
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?} {}", run.stderr()));
    (v, out)
}

fn secret_literal_fired(v: &serde_json::Value) -> bool {
    v["matches"]
        .as_array()
        .is_some_and(|ms| ms.iter().any(|m| m["rule"] == "creds.secret-literal"))
}

#[test]
fn the_binary_reviews_and_redacts_provider_secrets() {
    let mut problems = Vec::new();
    for (name, var, secret) in provider_secrets() {
        for line in [
            format!("export {var}={secret}"),
            format!("{var}={secret} ./deploy.sh"),
            format!("mytool --api-key={secret}"),
        ] {
            let (v, out) = check(&line);
            if !secret_literal_fired(&v) {
                problems.push(format!(
                    "{name}: creds.secret-literal did not fire on {line:?}: {out}"
                ));
            }
            if v["decision"] == "allow" {
                problems.push(format!("{name}: allowed {line:?}"));
            }
            if out.contains(&secret) {
                problems.push(format!("{name}: secret printed: {out}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One generated fixture per rule family through the real binary, as a
/// quoted argument: the shell's parse, facts and redaction all see it.
#[test]
fn the_binary_redacts_a_fixture_of_every_family() {
    let rules = compiled();
    let mut seen = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for f in fixtures() {
        let simple = !f.text.contains('\'') && !f.text.contains('\n');
        if !f.tp || f.secret.is_empty() || !simple || !rules.contains(&f.rule.as_str()) {
            continue;
        }
        // The library's misses are the share test's business.
        if scan(&f.text).is_empty() {
            continue;
        }
        if !seen.insert(family(&f.rule).to_string()) {
            continue;
        }
        let line = format!("mytool --config '{}'", f.text);
        let (v, out) = check(&line);
        if !secret_literal_fired(&v) {
            problems.push(format!("{}: not found in {line:?}: {out}", f.rule));
        }
        if out.contains(&f.secret) {
            problems.push(format!("{}: secret printed: {out}", f.rule));
        }
    }
    assert!(
        seen.len() > 100,
        "only {} families had a simple fixture",
        seen.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
