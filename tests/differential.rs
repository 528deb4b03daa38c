//! Differential test of quote removal against the real bash: thousands of
//! generated static words (no expansion bash would do), each printed by
//! bash with `printf '%s\0' WORD` and compared byte for byte with the argv
//! guard's parser derives from the same script.

mod common;

use std::process::Command;

use guard::parse::{self, Env};

/// Words generated; every one of them is static by construction.
const WORDS: usize = 3000;
/// Words per bash invocation.
const BATCH: usize = 100;
/// Each word's output is followed by this record, `printf '\001\0'`.
const MARKER: &[u8] = b"\x01\0";

use common::Rng;

/// Characters safe unquoted anywhere in a word (no expansion, no glob, no
/// metacharacter).
const PLAIN: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', 'A', 'Q', 'Z', '0', '1', '9', '_', '-', '.', '/', ':', '@', '%',
    ',', '=', '+', '^', ']', '}',
];

/// Characters for the inside of quotes: spaces, tabs, metacharacters,
/// glob characters and quote characters of the other kind.
const QUOTABLE: &[char] = &[
    'a', 'k', 'Z', '5', ' ', ' ', '\t', '*', '?', '[', ']', '{', '}', ',', '|', '&', ';', '<', '>',
    '(', ')', '#', '~', '!', '%', '=', ':', '@', '^', '-', '/', '\'', '"', 'é',
];

/// Escapes bash decodes inside `$'…'`, and what else may appear there.
const ANSI_C: &[&str] = &[
    r"\n",
    r"\t",
    r"\x41",
    r"\x7e",
    r"\101",
    r"\60",
    r"\u00e9",
    r"\u263a",
    r"\U0001F600",
    r"\'",
    r"\\",
    r#"\""#,
    r"\a",
    r"\e",
    r"\E",
    r"\r",
    r"\v",
    r"\?",
    r"\q",
    "a",
    "Z",
    " ",
    "\t",
    "$",
    "`",
    "*",
    "\"",
    "#",
    // Braced hex, control characters, and UTF-8 spelled as bytes.
    r"\x{41}",
    r"\x{263a}",
    r"\cA",
    r"\cz",
    r"\c[",
    r"\c?",
    r"\c\\",
    r"\xc3\xa9",
    r"\303\251",
    r"\342\230\272",
];

/// The source text of one static word.
fn word(rng: &mut Rng) -> String {
    let mut out = String::new();
    let pieces = 1 + rng.below(5);
    for n in 0..pieces {
        match rng.below(8) {
            0 | 1 => plain(rng, &mut out),
            2 => single(rng, &mut out),
            3 => double(rng, &mut out),
            4 => backslash(rng, &mut out),
            5 => ansi_c(rng, &mut out),
            6 => mid_word(rng, &mut out, n),
            _ => {
                // Adjacent empty quotes glue pieces together.
                out.push_str(rng.pick(&["''", "\"\"", "$''"]));
            }
        }
    }
    // A word made only of line continuations would vanish; anchor it.
    out.push('q');
    out
}

fn plain(rng: &mut Rng, out: &mut String) {
    for _ in 0..1 + rng.below(4) {
        out.push(rng.pick(PLAIN));
    }
}

fn single(rng: &mut Rng, out: &mut String) {
    out.push('\'');
    for _ in 0..rng.below(6) {
        match rng.pick(QUOTABLE) {
            '\'' => out.push_str("\\$`"),
            c => out.push(c),
        }
        if rng.below(10) == 0 {
            out.push('\n');
        }
    }
    out.push('\'');
}

fn double(rng: &mut Rng, out: &mut String) {
    out.push('"');
    for _ in 0..rng.below(6) {
        match rng.below(6) {
            // The four escapes double quotes know, and backslash-newline.
            0 => out.push_str(rng.pick(&[r#"\""#, r"\\", r"\$", r"\`", "\\\n"])),
            // A backslash before anything else stays.
            1 => out.push_str(rng.pick(&[r"\a", r"\n", r"\'", r"\ ", r"\*"])),
            _ => match rng.pick(QUOTABLE) {
                '"' => out.push('\''),
                c => out.push(c),
            },
        }
    }
    out.push('"');
}

fn backslash(rng: &mut Rng, out: &mut String) {
    let escaped = rng.pick(&[
        ' ', '\t', '\n', '$', '`', '*', '?', '[', '{', '\'', '"', '\\', '#', '~', '|', '&', ';',
        '<', '>', '(', ')', 'a', '!',
    ]);
    out.push('\\');
    out.push(escaped);
}

fn ansi_c(rng: &mut Rng, out: &mut String) {
    out.push_str("$'");
    for _ in 0..rng.below(5) {
        out.push_str(rng.pick(ANSI_C));
    }
    out.push('\'');
}

/// Characters that are only literal away from the start of a word: `#`
/// (a comment at the start), `~` (tilde expansion at the start or after
/// `=`/`:`), `!`.
fn mid_word(rng: &mut Rng, out: &mut String, n: usize) {
    if n == 0 || out.is_empty() {
        out.push('w');
    }
    out.push('w');
    out.push(rng.pick(&['#', '~', '!', '#']));
}

/// bash's words for each source word, in order.
fn bash_words(words: &[String]) -> Vec<Vec<Vec<u8>>> {
    let mut script = String::new();
    for w in words {
        script.push_str("printf '%s\\0' ");
        script.push_str(w);
        script.push_str("\nprintf '\\001\\0'\n");
    }
    let out = Command::new("/bin/bash")
        .arg("-c")
        .arg(&script)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run /bin/bash");
    assert!(
        out.status.success(),
        "bash failed on a batch: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut records = Vec::new();
    let mut current = Vec::new();
    let mut rest: &[u8] = &out.stdout;
    while !rest.is_empty() {
        if rest.starts_with(MARKER) {
            records.push(std::mem::take(&mut current));
            rest = &rest[MARKER.len()..];
            continue;
        }
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .expect("NUL-terminated output");
        current.push(rest[..end].to_vec());
        rest = &rest[end + 1..];
    }
    assert_eq!(records.len(), words.len(), "one record per word");
    records
}

/// guard's view of `printf '%s\0' WORD`: the words after the format, or
/// `None` when any of them is not static.
fn guard_words(env: &Env, word: &str) -> Result<Option<Vec<String>>, String> {
    let script = format!("printf '%s\\0' {word}");
    let parsed = parse::parse_script(&script, env, &[], 0).map_err(|e| e.to_string())?;
    let [cmd] = parsed.commands.as_slice() else {
        return Err(format!("{} commands", parsed.commands.len()));
    };
    let args = cmd.argv.get(2..).unwrap_or(&[]);
    if args.iter().any(|w| w.dynamic || w.glob) {
        return Ok(None);
    }
    Ok(Some(args.iter().map(|w| w.text.clone()).collect()))
}

fn show(words: &[Vec<u8>]) -> String {
    let parts: Vec<String> = words
        .iter()
        .map(|w| match std::str::from_utf8(w) {
            Ok(s) => format!("{s:?}"),
            Err(_) => format!("b\"{}\"", w.escape_ascii()),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[test]
fn quote_removal_matches_bash() {
    let env = Env {
        home: "/home/agent".to_string(),
        cwd: "/home/agent/project".to_string(),
        path: guard::parse::DEFAULT_PATH.to_string(),
        fresh: true,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words: Vec<String> = (0..WORDS).map(|_| word(&mut rng)).collect();

    let mut compared = 0;
    let mut not_static = Vec::new();
    let mut mismatches = Vec::new();
    for batch in words.chunks(BATCH) {
        for (w, bash) in batch.iter().zip(bash_words(batch)) {
            match guard_words(&env, w) {
                Ok(Some(guard)) => {
                    compared += 1;
                    let guard_bytes: Vec<Vec<u8>> =
                        guard.iter().map(|s| s.as_bytes().to_vec()).collect();
                    if guard_bytes != bash {
                        mismatches.push(format!(
                            "  word {w:?}\n    bash  {}\n    guard {guard:?}",
                            show(&bash)
                        ));
                    }
                }
                Ok(None) => not_static.push(format!("  {w:?} (bash {})", show(&bash))),
                Err(e) => mismatches.push(format!(
                    "  word {w:?}\n    bash  {}\n    guard error: {e}",
                    show(&bash)
                )),
            }
        }
    }
    println!(
        "{} words, {compared} compared as static, {} marked dynamic or glob, {} mismatches",
        words.len(),
        not_static.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} words differ from bash; first 20:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        not_static.is_empty(),
        "{} static words were marked dynamic or glob; first 20:\n{}",
        not_static.len(),
        not_static
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(compared >= 2000, "only {compared} words compared");
}
