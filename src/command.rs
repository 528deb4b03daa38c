//! The plain data handed from `parse` to `unwrap`, `facts` and `policy`.

use serde::Serialize;

/// One shell word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    /// The value bash would produce, where it is known statically. Unknown
    /// expansions are kept as their source text.
    pub text: String,
    /// Part of the value is only known at run time (parameter expansion,
    /// command substitution, arithmetic).
    pub dynamic: bool,
    /// The word has unquoted glob characters and bash would expand it
    /// against the file system.
    pub glob: bool,
    /// For a dynamic or glob word: a pattern of every value it may take,
    /// static text escaped, unquoted globs kept, and each run-time part
    /// as `\u{1}` (anything at all).
    #[serde(skip)]
    pub pattern: Option<String>,
}

impl Word {
    pub fn literal(text: impl Into<String>) -> Word {
        Word {
            text: text.into(),
            dynamic: false,
            glob: false,
            pattern: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectKind {
    Read,
    Write,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: Word,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub name: String,
    pub value: Word,
}

/// How a command's standard input is fed, when that matters: a shell that
/// reads its program from stdin runs code guard never saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stdin {
    Inherited,
    Pipe,
    HereDoc,
    HereString,
}

/// One simple command, found anywhere in a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub argv: Vec<Word>,
    pub assignments: Vec<Assignment>,
    pub redirects: Vec<Redirect>,
    /// The wrappers and nesting this command was found inside, outermost
    /// first: `sudo`, `bash -c`, `$(…)`, `find -exec`.
    pub via: Vec<String>,
    pub stdin: Stdin,
    /// The text of a here-document or here-string fed to the command.
    pub stdin_text: Option<String>,
    /// `stdin_text` is exactly what the command reads: a here-document
    /// with nothing for bash to expand, or a here-string of static words.
    pub stdin_literal: bool,
    /// Standard output goes to a file (`> FILE`, `&> FILE`), so no other
    /// command of the line reads what this one prints.
    pub stdout_to_file: bool,
    /// What it prints may be read by another command of the line: it
    /// feeds a pipe, or sits in a group whose output is redirected.
    pub output_read: bool,
    /// Names of variables expanded in this command's words.
    pub env_refs: Vec<String>,
    /// Words that are values rather than arguments, such as the defaults
    /// in `${x:-WORD}`: checked like arguments for paths and secrets.
    pub data: Vec<Word>,
    /// Why this command's program cannot be known before it runs.
    pub dynamic: Option<String>,
}

impl Command {
    pub fn new(argv: Vec<Word>, via: Vec<String>) -> Command {
        Command {
            argv,
            assignments: Vec::new(),
            redirects: Vec::new(),
            via,
            stdin: Stdin::Inherited,
            stdin_text: None,
            stdin_literal: false,
            stdout_to_file: false,
            output_read: false,
            env_refs: Vec::new(),
            data: Vec::new(),
            dynamic: None,
        }
    }

    /// The basename of argv[0]: `/usr/local/bin/aws`, `./aws` and
    /// `~/bin/aws` all run `aws` as far as rules are concerned.
    pub fn program(&self) -> &str {
        self.argv.first().map(|w| basename(&w.text)).unwrap_or("")
    }

    pub fn args(&self) -> &[Word] {
        self.argv.get(1..).unwrap_or(&[])
    }

    pub fn argv_text(&self) -> Vec<String> {
        self.argv.iter().map(|w| w.text.clone()).collect()
    }
}

pub fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}
