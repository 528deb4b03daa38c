//! Shell-style glob patterns over paths and names.
//!
//! globset answers "does this pattern match this text"; guard also has to
//! answer "can this argument pattern match any file this rule pattern
//! protects" (`cat ~/.aws/cred*` against `~/.aws/credentials`), which is an
//! intersection of two patterns. No maintained crate does that, so both
//! questions are answered here by one small automaton, keeping their
//! semantics identical.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character other than `/`.
    Any,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters, `/` included.
    DStar,
    /// Jump: either continue with the next token or skip `n` tokens
    /// (`**/` is `Skip(2) ** /`, so it also matches zero directories).
    Skip(usize),
    /// `[...]`: one character from a set (never `/`).
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    toks: Vec<Tok>,
}

impl Glob {
    /// Compile a pattern. Unbalanced `[` is taken literally, as bash does.
    pub fn new(pattern: &str) -> Glob {
        let chars: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' if i + 1 < chars.len() => {
                    toks.push(Tok::Lit(chars[i + 1]));
                    i += 2;
                    continue;
                }
                '*' => {
                    if i + 1 < chars.len() && chars[i + 1] == '*' {
                        while i < chars.len() && chars[i] == '*' {
                            i += 1;
                        }
                        // `**/` also matches zero directories.
                        if i < chars.len() && chars[i] == '/' {
                            toks.push(Tok::Skip(2));
                            toks.push(Tok::DStar);
                            toks.push(Tok::Lit('/'));
                            i += 1;
                        } else {
                            toks.push(Tok::DStar);
                        }
                        continue;
                    }
                    toks.push(Tok::Star);
                }
                '?' => toks.push(Tok::Any),
                '[' => {
                    if let Some((tok, next)) = parse_class(&chars, i) {
                        toks.push(tok);
                        i = next;
                        continue;
                    }
                    toks.push(Tok::Lit('['));
                }
                c => toks.push(Tok::Lit(c)),
            }
            i += 1;
        }
        Glob { toks }
    }

    /// Does the pattern contain any wildcard?
    pub fn is_literal(&self) -> bool {
        self.toks.iter().all(|t| matches!(t, Tok::Lit(_)))
    }

    /// The text of a pattern with no wildcards.
    pub fn literal_text(&self) -> String {
        self.toks
            .iter()
            .filter_map(|t| match t {
                Tok::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Does the pattern match this exact text?
    pub fn matches(&self, text: &str) -> bool {
        let lit = Glob {
            toks: text.chars().map(Tok::Lit).collect(),
        };
        self.intersects(&lit)
    }

    /// Is there a string that both patterns match?
    pub fn intersects(&self, other: &Glob) -> bool {
        let (a, b) = (&self.toks, &other.toks);
        let (n, m) = (a.len(), b.len());
        // reach[i][j]: a[..i] and b[..j] can consume the same string.
        let mut reach = vec![false; (n + 1) * (m + 1)];
        let idx = |i: usize, j: usize| i * (m + 1) + j;
        reach[idx(0, 0)] = true;
        for i in 0..=n {
            for j in 0..=m {
                if !reach[idx(i, j)] {
                    continue;
                }
                // Epsilon moves: a star may match nothing; `**/` may be skipped.
                if i < n {
                    if let Some(k) = epsilon(&a[i]) {
                        reach[idx(i + 1, j)] = true;
                        reach[idx((i + 1 + k).min(n), j)] = true;
                    }
                }
                if j < m {
                    if let Some(k) = epsilon(&b[j]) {
                        reach[idx(i, j + 1)] = true;
                        reach[idx(i, (j + 1 + k).min(m))] = true;
                    }
                }
                // Both consume one shared character; a star stays put and leaves by epsilon.
                if i < n
                    && j < m
                    && consumes(&a[i])
                    && consumes(&b[j])
                    && CharSet::of(&a[i]).overlaps(&CharSet::of(&b[j]))
                {
                    let ni = if is_repeating(&a[i]) { i } else { i + 1 };
                    let nj = if is_repeating(&b[j]) { j } else { j + 1 };
                    reach[idx(ni, nj)] = true;
                }
            }
        }
        reach[idx(n, m)]
    }
}

/// The epsilon move a token allows: `Some(k)` means it may be left without
/// consuming anything, also jumping `k` tokens further.
fn epsilon(t: &Tok) -> Option<usize> {
    match t {
        Tok::Star | Tok::DStar => Some(0),
        Tok::Skip(k) => Some(*k),
        _ => None,
    }
}

fn consumes(t: &Tok) -> bool {
    !matches!(t, Tok::Skip(_))
}

fn is_repeating(t: &Tok) -> bool {
    matches!(t, Tok::Star | Tok::DStar)
}

enum CharSet<'a> {
    One(char),
    AnyButSlash,
    AnyAtAll,
    Class(bool, &'a [(char, char)]),
    Nothing,
}

impl<'a> CharSet<'a> {
    fn of(t: &'a Tok) -> CharSet<'a> {
        match t {
            Tok::Lit(c) => CharSet::One(*c),
            Tok::Any | Tok::Star => CharSet::AnyButSlash,
            Tok::DStar => CharSet::AnyAtAll,
            Tok::Class { negated, items } => CharSet::Class(*negated, items),
            Tok::Skip(_) => CharSet::Nothing,
        }
    }

    fn contains(&self, c: char) -> bool {
        match self {
            CharSet::One(x) => *x == c,
            CharSet::AnyButSlash => c != '/',
            CharSet::AnyAtAll => true,
            CharSet::Nothing => false,
            CharSet::Class(neg, items) => {
                c != '/' && (items.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *neg)
            }
        }
    }

    fn overlaps(&self, other: &CharSet<'_>) -> bool {
        match (self, other) {
            (CharSet::Nothing, _) | (_, CharSet::Nothing) => false,
            (CharSet::One(c), o) | (o, CharSet::One(c)) => o.contains(*c),
            (CharSet::Class(false, items), o) | (o, CharSet::Class(false, items)) => items
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).any(|c| o.contains(c))),
            // Wildcards and negated classes always share some ordinary character.
            _ => true,
        }
    }
}

fn parse_class(chars: &[char], start: usize) -> Option<(Tok, usize)> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let first = i;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && i > first {
            return Some((Tok::Class { negated, items }, i + 1));
        }
        if i + 2 < chars.len() && chars[i + 1] == '-' && chars[i + 2] != ']' {
            items.push((c, chars[i + 2]));
            i += 3;
        } else {
            items.push((c, c));
            i += 1;
        }
    }
    None
}

/// True if an unquoted word with this text would be subject to pathname
/// expansion.
pub fn has_meta(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn matching() {
        let cases = [
            ("/h/.aws/credentials", "/h/.aws/credentials", true),
            ("**/.aws/credentials", "/h/.aws/credentials", true),
            ("**/.aws/credentials", ".aws/credentials", true),
            ("**/.aws/credentials", "x.aws/credentials", false),
            ("/h/.ssh/id_*", "/h/.ssh/id_rsa", true),
            ("/h/.ssh/id_*", "/h/.ssh/id_rsa.pub", true),
            ("/h/.ssh/id_*", "/h/.ssh/x/id_rsa", false),
            ("*.pem", "key.pem", true),
            ("*.pem", "dir/key.pem", false),
            ("**/*.pem", "dir/key.pem", true),
            ("/h/.config/gcloud/**", "/h/.config/gcloud/a/b", true),
            ("[ab]c", "bc", true),
            ("[!ab]c", "bc", false),
            ("AWS_*", "AWS_PROFILE", true),
            ("*SECRET*", "MY_SECRET_X", true),
            ("*_TOKEN", "TOKENS", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(Glob::new(p).matches(t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn intersection() {
        let cases = [
            ("/h/.aws/cred*", "/h/.aws/credentials", true),
            ("/h/.aws/*", "**/.aws/credentials", true),
            ("/h/.a?s/c*s", "**/.aws/credentials", true),
            ("/h/.ssh/*", "/h/.ssh/id_*", true),
            ("/h/.ssh/id_rsa*", "/h/.ssh/id_*", true),
            ("/h/*/credentials", "**/.aws/credentials", true),
            ("/h/*.txt", "**/.aws/credentials", false),
            ("/h/src/*.rs", "**/*.pem", false),
            ("*", "**/.env", true),
        ];
        for (p, q, want) in cases {
            assert_eq!(Glob::new(p).intersects(&Glob::new(q)), want, "{p} vs {q}");
            assert_eq!(Glob::new(q).intersects(&Glob::new(p)), want, "{q} vs {p}");
        }
    }
}
