//! Script text → every simple command in it.
//!
//! brush-parser supplies the bash grammar; this module walks its AST,
//! removes quotes, and follows every place bash would run a nested command
//! list: `$(…)`, backticks, `<(…)`, `>(…)`, function bodies, compound
//! commands. Re-parsing strings handed to other programs (`bash -c`, `eval`)
//! is `unwrap`'s job.

mod ansi_c;
pub mod direct;
mod vars;
mod walk;
mod word;

use crate::command::Command;

pub use walk::Definitions;
pub use word::ANYTHING;

/// Nesting deeper than this is refused rather than followed.
pub const MAX_DEPTH: usize = 24;

/// Brackets and compound keywords nested deeper than this are refused
/// before parsing: the grammar is recursive and would exhaust the stack.
const MAX_SYNTAX_NESTING: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl ParseError {
    fn at(line: usize, col: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line,
            col,
            message: message.into(),
        }
    }
}

/// What word expansion may assume about the environment.
#[derive(Debug, Clone)]
pub struct Env {
    pub home: String,
    pub cwd: String,
    /// The PATH the line's programs are looked up on.
    pub path: String,
    /// The line runs in a new bash whose only functions and traps are the
    /// line's own (guard drops `BASH_FUNC_*` and `BASH_ENV` before exec),
    /// so a literal assignment earlier in the line is what a later
    /// `$NAME` expands to. Not so for a line of an interactive session,
    /// or a script a traced program runs with an environment of its own.
    pub fresh: bool,
}

/// The PATH assumed where the line's own is not known: Debian's default.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Env {
    pub fn from_process() -> Env {
        let home = std::env::var("HOME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| dirs::home_dir().map(|p| p.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "/".to_string());
        let cwd = std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
        Env {
            home,
            cwd,
            path,
            fresh: true,
        }
    }
}

/// The result of parsing one script.
#[derive(Debug, Default)]
pub struct Parsed {
    pub commands: Vec<Command>,
    pub definitions: Definitions,
}

/// Parse a script and collect every simple command in it. `via` is the
/// nesting the script itself was found in; `depth` counts it.
pub fn parse_script(
    text: &str,
    env: &Env,
    via: &[String],
    depth: usize,
) -> Result<Parsed, ParseError> {
    if depth > MAX_DEPTH || syntax_nesting(text) > MAX_SYNTAX_NESTING {
        return Err(ParseError::at(1, 1, "nesting too deep"));
    }
    let options = options();
    let mut parser = brush_parser::Parser::new(std::io::Cursor::new(text.as_bytes()), &options);
    let program = parser.parse_program().map_err(|e| convert_error(&e))?;
    let mut walker = walk::Walker::new(env, depth, &options);
    walker.program(&program, via)?;
    Ok(walker.finish())
}

/// An over-estimate of how deeply `text` nests brackets and compound
/// commands, ignoring single-quoted text.
fn syntax_nesting(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut in_single = false;
    let mut word = String::new();
    for c in text.chars() {
        if in_single {
            in_single = c != '\'';
            continue;
        }
        if c.is_ascii_alphabetic() {
            word.push(c);
            continue;
        }
        match word.as_str() {
            "if" | "while" | "until" | "for" | "case" | "select" => depth += 1,
            "fi" | "done" | "esac" => depth = depth.saturating_sub(1),
            _ => {}
        }
        word.clear();
        match c {
            '\'' => in_single = true,
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        max = max.max(depth);
    }
    max
}

fn options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions {
        // bash -c runs with extglob off; accepting `@(…)` would let guard
        // see words bash rejects.
        enable_extended_globbing: false,
        ..Default::default()
    }
}

fn convert_error(e: &brush_parser::ParseError) -> ParseError {
    use brush_parser::ParseError as E;
    match e {
        E::ParsingNear(pos) => ParseError::at(pos.line, pos.column, "syntax error"),
        E::ParsingAtEndOfInput => ParseError::at(0, 0, "syntax error: unexpected end of input"),
        E::Tokenizing { inner, position } => {
            let (line, col) = position.as_ref().map_or((0, 0), |p| (p.line, p.column));
            ParseError::at(line, col, inner.to_string())
        }
    }
}
