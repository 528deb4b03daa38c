//! RE2 (Go regexp) to Rust `regex` syntax. gitleaks' patterns are RE2;
//! build.rs rewrites them with this before checking and embedding them.

/// Rewrites an RE2 (Go) pattern into the `regex` crate's dialect with the
/// same meaning. The differences that matter for gitleaks' patterns:
/// - Go's `\w`, `\d`, `\s` and `\b` are ASCII; Rust's are Unicode, which
///   is both wider and much bigger to compile under `{0,50}`.
/// - Go reads a `{` that starts no repetition, and a `[` inside a class,
///   as literals; Rust rejects the first and nests classes on the second.
/// - Rust reads `&&`, `--` and `~~` in a class as set operations.
pub fn translate(go: &str) -> String {
    let c: Vec<char> = go.chars().collect();
    let mut out = String::with_capacity(go.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    while i < c.len() {
        let ch = c[i];
        if ch == '\\' && i + 1 < c.len() {
            let n = c[i + 1];
            let rep = match (in_class, n) {
                (false, 'w') => Some("[[:word:]]"),
                (false, 'd') => Some("[[:digit:]]"),
                (false, 's') => Some(r"[\t\n\f\r ]"),
                (false, 'b') => Some(r"(?-u:\b)"),
                (false, 'B') => Some(r"(?-u:\B)"),
                (true, 'w') => Some("[:word:]"),
                (true, 'd') => Some("[:digit:]"),
                (true, 's') => Some(r"\t\n\f\r "),
                _ => None,
            };
            i += 2;
            match rep {
                Some(r) => out.push_str(r),
                None => {
                    out.push(ch);
                    out.push(n);
                    // `\p{Greek}`, `\x{263a}`: copy the braces as they are.
                    if matches!(n, 'p' | 'P' | 'x') && c.get(i) == Some(&'{') {
                        while i < c.len() {
                            out.push(c[i]);
                            i += 1;
                            if c[i - 1] == '}' {
                                break;
                            }
                        }
                    }
                }
            }
            continue;
        }
        if in_class {
            match ch {
                '[' => match posix_class(&c[i..]) {
                    Some(len) => {
                        out.extend(&c[i..i + len]);
                        i += len;
                        continue;
                    }
                    None => out.push_str(r"\["),
                },
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '&' | '-' | '~' if c.get(i + 1) == Some(&ch) => {
                    out.push('\\');
                    out.push(ch);
                }
                _ => out.push(ch),
            }
            i += 1;
            continue;
        }
        match ch {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if c.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` first in a class is a literal in both dialects.
                if c.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
                continue;
            }
            '{' => match repetition(&c[i..]) {
                Some(len) => {
                    out.extend(&c[i..i + len]);
                    i += len;
                    continue;
                }
                None => out.push_str(r"\{"),
            },
            '}' => out.push_str(r"\}"),
            _ => out.push(ch),
        }
        i += 1;
    }
    out
}

/// Length of `{n}`, `{n,}` or `{n,m}` at the start of `c`.
fn repetition(c: &[char]) -> Option<usize> {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while c.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if c.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    (c.get(i) == Some(&'}')).then_some(i + 1)
}

/// Length of `[:alpha:]` or `[:^alpha:]` at the start of `c`.
fn posix_class(c: &[char]) -> Option<usize> {
    if c.get(1) != Some(&':') {
        return None;
    }
    let mut i = 2;
    if c.get(i) == Some(&'^') {
        i += 1;
    }
    let start = i;
    while c.get(i).is_some_and(char::is_ascii_lowercase) {
        i += 1;
    }
    (i > start && c.get(i) == Some(&':') && c.get(i + 1) == Some(&']')).then_some(i + 2)
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn translates_re2_quirks() {
        assert_eq!(translate(r"\w{3}"), "[[:word:]]{3}");
        assert_eq!(translate(r"[\w.-]"), "[[:word:].-]");
        assert_eq!(
            translate(r"import[ \t]+{[ \t\w,]+}"),
            r"import[ \t]+\{[ \t[:word:],]+\}"
        );
        assert_eq!(translate(r"[[:alnum:]]"), "[[:alnum:]]");
        assert_eq!(translate(r"[^]]+]"), r"[^\]]+]");
        assert_eq!(translate(r"[a[b]"), r"[a\[b]");
        assert_eq!(translate(r"[a&&b~~]"), r"[a\&&b\~~]");
        assert_eq!(translate(r"\x60\p{L}"), r"\x60\p{L}");
        assert_eq!(translate(r"\bab\b"), r"(?-u:\b)ab(?-u:\b)");
    }

    #[test]
    fn translated_patterns_keep_go_meaning() {
        let m = |go: &str, text: &str| regex::Regex::new(&translate(go)).unwrap().is_match(text);
        // ASCII classes, as in Go.
        assert!(!m(r"^\w+$", "café"));
        assert!(m(r"^\w+$", "cafe_1"));
        assert!(m(r"\bkey\b", "ékeyé"));
        // Literal braces and brackets.
        assert!(m(r"^\{\{[ \t\w]+}}$", "{{ foo }}"));
        assert!(m(r"import[ \t]+{[ \t\w,]+}", "import { a, b }"));
        assert!(m(r"^[a[]+$", "a[a"));
        assert!(m(r"^\d{2,}$", "123"));
    }
}
