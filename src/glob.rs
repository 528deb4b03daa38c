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
    /// The longest literal run every match must contain: a text without
    /// it is rejected before the automaton runs.
    required: String,
    /// May a wildcard match the `.` that starts a file name? Rule
    /// patterns say yes; bash's pathname expansion says no.
    dotfiles: bool,
}

impl Glob {
    /// A rule pattern: `**` spans directories and wildcards match
    /// dotfiles.
    pub fn new(pattern: &str) -> Glob {
        Glob::compile(pattern, true)
    }

    /// An argument bash would expand: with `globstar` and `dotglob` off,
    /// `**` is `*` and no wildcard matches a leading `.`.
    pub fn bash(pattern: &str) -> Glob {
        Glob::compile(pattern, false)
    }

    /// Compile a pattern. Unbalanced `[` is taken literally, as bash does.
    fn compile(pattern: &str, rule: bool) -> Glob {
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
                    if rule && i + 1 < chars.len() && chars[i + 1] == '*' {
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
                // A part only known at run time (see `Word::pattern`).
                '\u{1}' => toks.push(Tok::DStar),
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
        let required = longest_literal(&toks);
        Glob {
            toks,
            required,
            dotfiles: rule,
        }
    }

    /// Does the pattern contain any wildcard?
    pub fn is_literal(&self) -> bool {
        self.toks.iter().all(|t| matches!(t, Tok::Lit(_)))
    }

    /// The literal text every match contains.
    pub fn required(&self) -> &str {
        &self.required
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
        if !text.contains(self.required.as_str()) {
            return false;
        }
        let lit = Glob {
            toks: text.chars().map(Tok::Lit).collect(),
            required: String::new(),
            dotfiles: true,
        };
        self.intersects(&lit)
    }

    /// Is there a string that both patterns match?
    pub fn intersects(&self, other: &Glob) -> bool {
        self.intersects_sharing(other, 0)
    }

    /// Is there a string both patterns match where `run` consecutive
    /// characters of it are literal in both? A word with a run-time part
    /// (`/boot/config-$(uname -r)`) may supply anything there, so it can
    /// name a protected file only through what it says outright: the part
    /// of `**/.config/gcloud/**` it reaches must be spelt in the word, not
    /// left to `$(…)` (its `config` is the wrong `config`).
    pub fn intersects_sharing(&self, other: &Glob, run: usize) -> bool {
        let (a, b) = (&self.toks, &other.toks);
        let (n, m) = (a.len(), b.len());
        let runs = run + 1;
        // reach[i][j][s][r]: a[..i] and b[..j] can consume the same string;
        // s = 1 when that string is empty or ends in `/` (a name starts);
        // r is the literal-on-both run so far, held at `run` once reached.
        let mut reach = vec![false; (n + 1) * (m + 1) * 2 * runs];
        let idx = |i: usize, j: usize, s: usize, r: usize| ((i * (m + 1) + j) * 2 + s) * runs + r;
        reach[idx(0, 0, 1, 0)] = true;
        for i in 0..=n {
            for j in 0..=m {
                for s in 0..2 {
                    for r in 0..runs {
                        if !reach[idx(i, j, s, r)] {
                            continue;
                        }
                        // Epsilon moves: a star may match nothing; `**/` may be skipped.
                        if i < n {
                            if let Some(k) = epsilon(&a[i]) {
                                reach[idx(i + 1, j, s, r)] = true;
                                reach[idx((i + 1 + k).min(n), j, s, r)] = true;
                            }
                        }
                        if j < m {
                            if let Some(k) = epsilon(&b[j]) {
                                reach[idx(i, j + 1, s, r)] = true;
                                reach[idx(i, (j + 1 + k).min(m), s, r)] = true;
                            }
                        }
                        if i == n || j == m || !consumes(&a[i]) || !consumes(&b[j]) {
                            continue;
                        }
                        // Both consume one shared character; a star stays put
                        // and leaves by epsilon.
                        let (sa, sb) = (CharSet::of(&a[i]), CharSet::of(&b[j]));
                        let ni = if is_repeating(&a[i]) { i } else { i + 1 };
                        let nj = if is_repeating(&b[j]) { j } else { j + 1 };
                        let nr = match (&a[i], &b[j]) {
                            _ if r == run => run,
                            (Tok::Lit(_), Tok::Lit(_)) => r + 1,
                            _ => 0,
                        };
                        if sa.contains('/') && sb.contains('/') {
                            reach[idx(ni, nj, 1, nr)] = true;
                        }
                        // A run-time part (DStar in a bash pattern) may be anything.
                        let may_dot = |g: &Glob, t: &Tok| {
                            g.dotfiles || matches!(t, Tok::Lit('.') | Tok::DStar)
                        };
                        let dot_ok = s == 0 || (may_dot(self, &a[i]) && may_dot(other, &b[j]));
                        if dot_ok && sa.contains('.') && sb.contains('.') {
                            reach[idx(ni, nj, 0, nr)] = true;
                        }
                        if sa.overlaps_ordinary(&sb) {
                            reach[idx(ni, nj, 0, nr)] = true;
                        }
                    }
                }
            }
        }
        reach[idx(n, m, 0, run)] || reach[idx(n, m, 1, run)]
    }
}

/// The longest run of literal characters that every match contains. The
/// `/` of a `**/` is optional, so it ends a run.
fn longest_literal(toks: &[Tok]) -> String {
    let mut best = String::new();
    let mut run = String::new();
    let mut optional_until = 0;
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Skip(k) => {
                optional_until = i + k + 1;
                run.clear();
            }
            Tok::Lit(c) if i >= optional_until => run.push(*c),
            _ => run.clear(),
        }
        if run.chars().count() > best.chars().count() {
            best = run.clone();
        }
    }
    best
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

    /// Do both sets hold a common character other than `/` and `.`?
    fn overlaps_ordinary(&self, other: &CharSet<'_>) -> bool {
        let ordinary = |c: char| c != '/' && c != '.';
        match (self, other) {
            (CharSet::Nothing, _) | (_, CharSet::Nothing) => false,
            (CharSet::One(c), o) | (o, CharSet::One(c)) => ordinary(*c) && o.contains(*c),
            (CharSet::Class(false, items), o) | (o, CharSet::Class(false, items)) => items
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).any(|c| ordinary(c) && o.contains(c))),
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
    // A `[` is a pattern only with a `]` after it (`[ -f x ]` is the test
    // command, `[` alone).
    text.contains(['*', '?']) || text.find('[').is_some_and(|i| text[i + 1..].contains(']'))
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
            ("/h/*/credentials", "**/.aws/credentials", false),
            ("/h/.*/credentials", "**/.aws/credentials", true),
            ("/h/*.txt", "**/.aws/credentials", false),
            ("/h/src/*.rs", "**/*.pem", false),
        ];
        for (p, q, want) in cases {
            assert_eq!(Glob::bash(p).intersects(&Glob::new(q)), want, "{p} vs {q}");
            assert_eq!(Glob::new(q).intersects(&Glob::bash(p)), want, "{q} vs {p}");
        }
    }

    #[test]
    fn intersection_through_what_a_word_says() {
        // (word pattern with \u{1} for a run-time part, rule, run, want)
        let cases = [
            ("/boot/config-\u{1}", "**/.config/gcloud/**", 4, false),
            ("/boot/config-\u{1}", "**/*.key", 4, false),
            ("/boot/config-\u{1}", "**/*.key", 0, true),
            ("/r/.a\u{1}ws/credentials", "/r/.aws/credentials", 4, true),
            ("\u{1}/.aws/credentials", "**/.aws/credentials", 4, true),
            (
                "/p/deb [k-keyring.gpg] x/\u{1} main",
                "**/.gnupg/private-keys-v1.d/**",
                4,
                false,
            ),
            (
                "/p/deb [k-keyring.gpg] x/\u{1} main",
                "**/.gnupg/private-keys-v1.d/**",
                0,
                true,
            ),
            ("/p/\u{1}.pem", "**/*.pem", 4, true),
            ("/p/\u{1}", "**/*.pem", 4, false),
            ("/p/\u{1}/bin:\u{1}", "**/.ssh/**", 4, false),
        ];
        for (word, rule, run, want) in cases {
            assert_eq!(
                Glob::new(rule).intersects_sharing(&Glob::bash(word), run),
                want,
                "{word:?} vs {rule} ({run})"
            );
        }
    }

    #[test]
    fn bash_wildcards_skip_dotfiles() {
        let cases = [
            ("/p/*", "**/.env", false),
            ("/p/.*", "**/.env", true),
            ("/p/.e*", "**/.env", true),
            ("/p/*/*.js", "**/.env.*", false),
            ("/p/src/**/*.js", "**/.env.*", false),
            ("/h/.[^.]*", "/h/.aws", true),
            ("/h/.aws/*", "/h/.aws/credentials", true),
            ("/h/*", "/h/.aws/**", false),
        ];
        for (arg, rule, want) in cases {
            assert_eq!(
                Glob::bash(arg).intersects(&Glob::new(rule)),
                want,
                "{arg} vs {rule}"
            );
        }
    }
}
