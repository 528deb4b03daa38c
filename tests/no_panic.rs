//! Fuzz-style smoke test: thousands of generated and mutated lines go
//! through the whole analysis. None may hit an internal error (a caught
//! panic): malformed input is a parse refusal, never a crash.

mod common;

use guard::policy::INTERNAL_RULE;

use common::Rng;

const PIECES: &[&str] = &[
    "aws",
    " s3 ls",
    "kubectl",
    "sudo ",
    "env ",
    "bash -c ",
    "eval ",
    "'",
    "\"",
    "$(",
    ")",
    "`",
    "${",
    "}",
    "{",
    "[[",
    "]]",
    "((",
    "))",
    "<(",
    ">(",
    "<<EOF\n",
    "\nEOF\n",
    "<<<",
    "|",
    "||",
    "&&",
    ";",
    "&",
    "\n",
    "\\",
    "$'\\x41'",
    "$'\\u{1F600}'",
    "{1..3}",
    "{a,b}",
    "*",
    "?",
    "[a-",
    "~",
    "~root/",
    "$HOME",
    "=",
    " -c ",
    " -exec ",
    " {} ",
    " \\;",
    "xargs ",
    "find . ",
    "ssh h ",
    "git -c core.pager=",
    "é",
    "ls -é",
    "for i in ",
    "do ",
    "done",
    "if ",
    "then ",
    "fi",
    "case x in x) ",
    ";; esac",
    "function f ",
    "f() ",
    "alias k=",
    "source ",
    ". ",
    "/dev/stdin",
    "python3 -c ",
    "awk '",
    "sed 's/x/y/e'",
    "${x:-",
    "${!x}",
    "a[$(",
    "declare -n ",
    "$((1+",
    "coproc ",
    "time ",
    "!",
    "#",
    "\t",
    "  ",
];

#[test]
fn generated_lines_never_hit_an_internal_error() {
    let (cfg, env) = common::shipped();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut failures = Vec::new();
    for _ in 0..4000 {
        let n = 1 + rng.below(12);
        let line: String = (0..n).map(|_| rng.pick(PIECES)).collect();
        let v = common::decide(&cfg, &env, &line);
        if v.rule.as_deref() == Some(INTERNAL_RULE) {
            failures.push(format!("{line:?}: {}", v.reason));
        }
    }
    assert!(
        failures.is_empty(),
        "{} internal errors, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

#[test]
fn mutated_corpus_lines_never_hit_an_internal_error() {
    let path = common::root().join("../shared/corpus/tldr-sensitive.tsv");
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: ../shared/corpus is not present");
        return;
    };
    let (cfg, env) = common::shipped();
    let mut rng = Rng(42);
    let mut failures = Vec::new();
    for line in text.lines().filter_map(|l| l.split('\t').nth(1)).take(1500) {
        let mut chars: Vec<char> = line.chars().collect();
        for _ in 0..3 {
            let at = rng.below(chars.len() + 1);
            match rng.next() % 3 {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                _ => {
                    let piece = rng.pick(PIECES);
                    for (k, c) in piece.chars().enumerate() {
                        chars.insert((at + k).min(chars.len()), c);
                    }
                }
            }
        }
        let mutated: String = chars.into_iter().collect();
        let v = common::decide(&cfg, &env, &mutated);
        if v.rule.as_deref() == Some(INTERNAL_RULE) {
            failures.push(format!("{mutated:?}: {}", v.reason));
        }
    }
    assert!(
        failures.is_empty(),
        "{} internal errors, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}
