//! parse + unwrap to a fixed point: every command a line would run,
//! however deeply it is nested.

use std::collections::VecDeque;

use crate::command::{Command, Word};
use crate::parse::{self, Env, ParseError, MAX_DEPTH};
use crate::unwrap::{Inner, Wrappers};

/// Every command found, wrappers and what they wrap alike.
pub fn script(text: &str, env: &Env, wrappers: &Wrappers) -> Result<Vec<Command>, ParseError> {
    let parsed = parse::parse_script(text, env, &[], 0)?;
    expand(parsed.commands.into(), env, wrappers)
}

/// `guard -- PROGRAM ARGS…`: the argv is exact, but what it wraps is not.
pub fn argv(argv: &[String], env: &Env, wrappers: &Wrappers) -> Result<Vec<Command>, ParseError> {
    let cmd = Command::new(argv.iter().map(Word::literal).collect(), Vec::new());
    expand(VecDeque::from([cmd]), env, wrappers)
}

fn expand(
    mut queue: VecDeque<Command>,
    env: &Env,
    wrappers: &Wrappers,
) -> Result<Vec<Command>, ParseError> {
    let mut out = Vec::new();
    while let Some(mut cmd) = queue.pop_front() {
        if cmd.via.len() > MAX_DEPTH {
            return Err(ParseError {
                line: 0,
                col: 0,
                message: "nesting too deep".to_string(),
            });
        }
        for inner in wrappers.unwrap(&cmd) {
            match inner {
                Inner::Argv {
                    argv,
                    assignments,
                    label,
                } => {
                    let mut via = cmd.via.clone();
                    via.push(label);
                    let mut next = Command::new(argv, via);
                    next.assignments = assignments;
                    next.stdin = cmd.stdin;
                    next.stdin_text = cmd.stdin_text.clone();
                    next.env_refs = cmd.env_refs.clone();
                    next.dynamic = dynamic_name(&next.argv);
                    queue.push_back(next);
                }
                Inner::Script { text, label } => {
                    let mut via = cmd.via.clone();
                    via.push(label.clone());
                    let parsed = parse::parse_script(&text, env, &via, via.len()).map_err(|e| {
                        ParseError {
                            message: format!("in {label}: {}", e.message),
                            ..e
                        }
                    })?;
                    queue.extend(parsed.commands);
                }
                Inner::Dynamic { reason } => {
                    cmd.dynamic.get_or_insert(reason);
                }
            }
        }
        out.push(cmd);
    }
    Ok(out)
}

fn dynamic_name(argv: &[Word]) -> Option<String> {
    let first = argv.first()?;
    if first.dynamic {
        Some(format!(
            "command name `{}` is only known at run time",
            first.text
        ))
    } else if first.glob {
        Some(format!("command name `{}` is a glob", first.text))
    } else {
        None
    }
}
