//! Lines bash would run by a plain exec: one simple command, every word
//! a literal. For those the client can exec the argv itself and skip
//! starting bash, with the same result (`tests/direct_exec.rs` compares
//! the two). Anything that needs the shell's help (expansions, globs,
//! redirections, assignments, builtins, lists, `&`, `!`, `time`) is not
//! one.

use brush_parser::ast;

/// Names bash runs itself instead of exec'ing: builtins and keywords.
pub(crate) const SHELL_NAMES: &[&str] = &[
    ".",
    ":",
    "[",
    "[[",
    "]]",
    "{",
    "}",
    "!",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "until",
    "wait",
    "while",
];

/// Characters that are literal in bash, unquoted, wherever they stand in
/// a word (after the first: `=` there could make an assignment, which the
/// grammar has already ruled out for argv).
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c)
}

/// The argv of `text` if it is one static simple command, quote removal
/// done; `None` if bash would do anything more than exec it.
pub fn static_argv(text: &str) -> Option<Vec<String>> {
    if text.len() > 64 * 1024 {
        return None;
    }
    let options = super::options();
    let mut parser = brush_parser::Parser::new(std::io::Cursor::new(text.as_bytes()), &options);
    let program = parser.parse_program().ok()?;
    let [list] = program.complete_commands.as_slice() else {
        return None;
    };
    let [ast::CompoundListItem(and_or, sep)] = list.0.as_slice() else {
        return None;
    };
    if matches!(sep, ast::SeparatorOperator::Async) || !and_or.additional.is_empty() {
        return None;
    }
    let p = &and_or.first;
    if p.bang || p.timed.is_some() {
        return None;
    }
    let [ast::Command::Simple(s)] = p.seq.as_slice() else {
        return None;
    };
    if s.prefix.is_some() {
        return None;
    }
    let mut raw = vec![s.word_or_name.as_ref()?.value.as_str()];
    for item in s.suffix.iter().flat_map(|x| x.0.iter()) {
        match item {
            ast::CommandPrefixOrSuffixItem::Word(w) => raw.push(w.value.as_str()),
            _ => return None,
        }
    }
    let argv: Vec<String> = raw.iter().map(|w| literal(w)).collect::<Option<_>>()?;
    let first = argv.first()?;
    if first.is_empty() || SHELL_NAMES.contains(&first.as_str()) || raw[0].contains('=') {
        return None;
    }
    Some(argv)
}

/// Quote removal of a word made only of plain characters, single-quoted
/// text, and double-quoted text with nothing for bash to expand in it.
fn literal(word: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = word.chars();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    ch => out.push(ch),
                }
            },
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '$' | '`' | '\\' | '!' => return None,
                    ch => out.push(ch),
                }
            },
            c if plain(c) => out.push(c),
            _ => return None,
        }
    }
    any.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::static_argv;

    #[test]
    fn only_plain_simple_commands() {
        let yes: &[(&str, &[&str])] = &[
            ("ls /", &["ls", "/"]),
            ("  ls -la /tmp  ", &["ls", "-la", "/tmp"]),
            (
                "grep -e '%s\\n' 'a b' \"c d\"",
                &["grep", "-e", "%s\\n", "a b", "c d"],
            ),
            ("/usr/bin/env", &["/usr/bin/env"]),
            ("ls /;", &["ls", "/"]),
            ("git commit -m 'x=1'", &["git", "commit", "-m", "x=1"]),
            ("ls ''", &["ls", ""]),
        ];
        for (line, want) in yes {
            let got = static_argv(line);
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(got, Some(want), "{line}");
        }
        for line in [
            "ls $HOME",
            "ls ~",
            "ls *",
            "ls /tmp/x?",
            "ls {a,b}",
            "ls > out",
            "X=1 ls",
            "ls; ls",
            "ls && ls",
            "ls | head",
            "ls &",
            "! ls",
            "time ls",
            "echo hi",
            "cd /tmp",
            "(ls)",
            "{ ls; }",
            "ls \"$x\"",
            "ls `pwd`",
            "printf x",
            "ls $(pwd)",
            "ls a\\ b",
            "exec ls",
            "true",
            "for i in 1; do ls; done",
            "ls <<< x",
            "",
            "# comment",
            "ls 2>&1",
            "=x",
            "ls \"a\\\"b\"",
            "x=1",
        ] {
            assert_eq!(static_argv(line), None, "{line}");
        }
    }
}
