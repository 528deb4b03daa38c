//! Python source as the interpreter reads it: which text is code, which is
//! a string literal and which is a comment. `python -c "class A: pass"`
//! names no program: `pass` there is a keyword, never an identifier, and a
//! comment runs nothing. A word inside a string may still be handed to a
//! process, so strings are kept for the caller to scan.

/// One source split into its code and its string literals.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// The code with each string literal replaced by a space and each
    /// comment dropped.
    pub code: String,
    /// The contents of each string literal, f-strings' fields included.
    pub strings: Vec<String>,
}

/// Python's reserved words: none can name a variable, an import or an
/// attribute, so none outside a string names a program. The soft
/// keywords (`match`, `case`, `type`, `_`) can, and are not here.
pub const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Split `src`. An unterminated string runs to the end, so what cannot be
/// lexed is kept as string text, which callers scan the most closely.
pub fn split(src: &str) -> Split {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Split::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' | '"' => {
                let prefix = string_prefix(&out.code);
                let raw = prefix.contains(['r', 'R']);
                let formatted = prefix.contains(['f', 'F']);
                let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
                let quote = if triple { 3 } else { 1 };
                i += quote;
                let mut text = String::new();
                while let Some(&d) = chars.get(i) {
                    if d == '\\' {
                        // Even a raw string's backslash keeps the quote open.
                        if raw {
                            text.push(d);
                        }
                        if let Some(&e) = chars.get(i + 1) {
                            text.push(e);
                        }
                        i += 2;
                        continue;
                    }
                    if d == c && (0..quote).all(|k| chars.get(i + k) == Some(&c)) {
                        i += quote;
                        break;
                    }
                    if d == '\n' && !triple {
                        // A one-quote string cannot span lines: Python
                        // rejects the source, and the rest is read as code.
                        break;
                    }
                    if formatted && (d == '{' || d == '}') {
                        if chars.get(i + 1) == Some(&d) {
                            text.push(d);
                            i += 2;
                            continue;
                        }
                        if d == '{' {
                            // A replacement field is code, with strings of
                            // its own (Python 3.12 lets them reuse the quote).
                            let end = field_end(&chars, i + 1, triple);
                            let field: String = chars[i + 1..end.saturating_sub(1).max(i + 1)]
                                .iter()
                                .collect();
                            let inner = split(&field);
                            out.code.push(' ');
                            out.code.push_str(&inner.code);
                            out.code.push(' ');
                            out.strings.extend(inner.strings);
                            text.push(' ');
                            i = end;
                            continue;
                        }
                    }
                    text.push(d);
                    i += 1;
                }
                out.strings.push(text);
                out.code.push(' ');
            }
            _ => {
                out.code.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The prefix letters of a string starting here (`r`, `rb`, `f`, `Rf`):
/// the identifier run that ends the code so far, when it is one.
fn string_prefix(code: &str) -> String {
    let prefix: String = code
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let valid = prefix.len() <= 2 && prefix.chars().all(|c| "rRbBfFuU".contains(c));
    if valid {
        prefix
    } else {
        String::new()
    }
}

/// Past the `}` that closes a replacement field whose text starts at
/// `from`: braces nest, and strings inside are skipped whole.
fn field_end(chars: &[char], from: usize, triple: bool) -> usize {
    let mut depth = 1;
    let mut j = from;
    while j < chars.len() {
        match chars[j] {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            q @ ('\'' | '"') => {
                let quote = if chars.get(j + 1) == Some(&q) && chars.get(j + 2) == Some(&q) {
                    3
                } else {
                    1
                };
                j += quote;
                while j < chars.len() {
                    if chars[j] == '\\' {
                        j += 2;
                        continue;
                    }
                    if chars[j] == q && (0..quote).all(|k| chars.get(j + k) == Some(&q)) {
                        j += quote - 1;
                        break;
                    }
                    j += 1;
                }
            }
            '\n' if !triple => return j,
            _ => {}
        }
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_code_strings_and_comments() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("class A: pass", "class A: pass", &[]),
            (
                "import os # look at this\nos.system('aws s3 ls')",
                "import os \nos.system( )",
                &["aws s3 ls"],
            ),
            ("x = \"a # b\" # c", "x =   ", &["a # b"]),
            (
                "s = '''one\n'two'\n''' + 'x'",
                "s =   +  ",
                &["one\n'two'\n", "x"],
            ),
            (
                r#"p = r'\d+' ; q = '\'at\''"#,
                "p = r  ; q =  ",
                &[r"\d+", "'at'"],
            ),
            (
                "f\"{os.environ['AWS_KEY']}\"",
                "f os.environ[ ]  ",
                &["AWS_KEY", " "],
            ),
            (
                "f'{os.system(\"aws s3 ls\")} at {x}'",
                "f os.system( )  x  ",
                &["aws s3 ls", "  at  "],
            ),
            (
                "f\"{d[\"k\"]}\" + f'{{x}}'",
                "f d[ ]   + f ",
                &["k", " ", "{x}"],
            ),
            ("open('x", "open( ", &["x"]),
            ("a = 'x\nb = 1", "a =  \nb = 1", &["x"]),
        ];
        for (src, code, strings) in cases {
            let got = split(src);
            assert_eq!(got.code, *code, "code of {src:?}");
            assert_eq!(got.strings, *strings, "strings of {src:?}");
        }
    }
}
