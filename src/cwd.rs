//! Where each command of a line runs: `cd` and `pushd` earlier in the line
//! move it, so a relative path or a pattern is resolved where bash
//! resolves it, not in guard's own directory.
//!
//! A `cd` may fail or sit in a branch that does not run, so a command
//! after one may run in any of the directories the line could be in by
//! then; each is a candidate, and a rule that fires in any of them fires.
//! A directory guard cannot know (`cd "$x"`, `cd -`, `popd`) is unknown:
//! paths are then judged by their relative text alone.

use std::collections::HashMap;

use crate::command::Command;

/// For each command, the directories it may run in.
pub type Candidates = Vec<Vec<Option<String>>>;

/// Past this many candidates a command's directory is simply unknown.
const MAX_CANDIDATES: usize = 8;

/// The candidate directories of each command, in order; `None` is a
/// directory guard cannot know.
pub fn track(commands: &[Command], base: &str, home: &str) -> Candidates {
    let start = || vec![(!base.is_empty()).then(|| base.to_string())];
    // A `cd` at one nesting level (`via`) moves the commands after it at
    // that level; commands nested below it are listed after every command
    // of its level, so their order relative to it is not known.
    let movers: Vec<&[String]> = commands
        .iter()
        .filter(|c| moves(c))
        .map(|c| c.via.as_slice())
        .collect();
    // The line's bash never inherits CDPATH (exec.rs drops it); a line
    // that sets its own sends relative `cd`s where guard cannot follow.
    let cdpath = commands.iter().any(sets_cdpath);
    let mut levels: HashMap<&[String], Vec<Option<String>>> = HashMap::new();
    let mut out = Vec::with_capacity(commands.len());
    for cmd in commands {
        let via = cmd.via.as_slice();
        let below_a_move = movers
            .iter()
            .any(|m| m.len() < via.len() && via.starts_with(m));
        if below_a_move {
            out.push(vec![None]);
            continue;
        }
        let here = levels.entry(via).or_insert_with(start);
        out.push(here.clone());
        if moves(cmd) {
            let next: Vec<Option<String>> = here
                .iter()
                .map(|from| destination(cmd, from.as_deref(), home, cdpath))
                .collect();
            for d in next {
                if !here.contains(&d) {
                    here.push(d);
                }
            }
            if here.len() > MAX_CANDIDATES {
                *here = vec![None];
            }
        }
    }
    out
}

fn moves(cmd: &Command) -> bool {
    matches!(cmd.program(), "cd" | "pushd" | "popd") && cmd.dynamic.is_none()
}

/// Where `cd ARG` from `from` lands, when guard can know.
fn sets_cdpath(cmd: &Command) -> bool {
    let assigned = cmd.assignments.iter().any(|a| a.name == "CDPATH");
    let declared = crate::unwrap::DECLARATIONS.contains(&cmd.program())
        && cmd.args().iter().any(|w| w.text.starts_with("CDPATH"));
    assigned || declared || cmd.program() == "read"
}

fn destination(cmd: &Command, from: Option<&str>, home: &str, cdpath: bool) -> Option<String> {
    if cmd.program() == "popd" {
        return None;
    }
    let mut operands = cmd
        .args()
        .iter()
        .filter(|w| !matches!(w.text.as_str(), "-L" | "-P" | "-e" | "-@" | "--"));
    let target = match operands.next() {
        None if cmd.program() == "cd" => return (!home.is_empty()).then(|| home.to_string()),
        None => return None, // `pushd` alone swaps with the stack
        Some(w) => w,
    };
    if target.dynamic || target.glob || target.text == "-" || target.text.starts_with('+') {
        return None;
    }
    let text = match target.text.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
        Some(_) => return None, // `~user`
        None => target.text.clone(),
    };
    if text.starts_with('/') {
        return Some(crate::facts::normalize(&text));
    }
    if cdpath {
        return None;
    }
    from.map(|f| crate::facts::normalize(&format!("{f}/{text}")))
}

#[cfg(test)]
mod tests {
    use super::{track, Candidates};
    use crate::command::{Command, Word};

    fn cmd(via: &[&str], argv: &[&str]) -> Command {
        Command::new(
            argv.iter().map(|a| Word::literal(*a)).collect(),
            via.iter().map(|v| v.to_string()).collect(),
        )
    }

    #[test]
    fn candidates() {
        let some = |d: &str| Some(d.to_string());
        let cases: Vec<(Vec<Command>, Candidates)> = vec![
            (
                vec![cmd(&[], &["cd", "/tmp"]), cmd(&[], &["cat", "x"])],
                vec![vec![some("/w")], vec![some("/w"), some("/tmp")]],
            ),
            (
                vec![cmd(&[], &["cd", "sub"]), cmd(&[], &["cat", "x"])],
                vec![vec![some("/w")], vec![some("/w"), some("/w/sub")]],
            ),
            (
                vec![cmd(&[], &["cd"]), cmd(&[], &["cat", "x"])],
                vec![vec![some("/w")], vec![some("/w"), some("/h")]],
            ),
            (
                vec![cmd(&[], &["cd", "-"]), cmd(&[], &["cat", "x"])],
                vec![vec![some("/w")], vec![some("/w"), None]],
            ),
            // Below a level that moves, the order is not known.
            (
                vec![cmd(&[], &["cd", "/tmp"]), cmd(&["$(…)"], &["ls"])],
                vec![vec![some("/w")], vec![None]],
            ),
            // A subshell's cd stays in the subshell.
            (
                vec![cmd(&["(…)"], &["cd", "/tmp"]), cmd(&[], &["cat", "x"])],
                vec![vec![some("/w")], vec![some("/w")]],
            ),
            // A CDPATH the line sets sends a relative cd where it says.
            (
                vec![
                    cmd(&[], &["export", "CDPATH=/h"]),
                    cmd(&[], &["cd", "sub"]),
                    cmd(&[], &["cat", "x"]),
                ],
                vec![vec![some("/w")], vec![some("/w")], vec![some("/w"), None]],
            ),
        ];
        for (commands, want) in cases {
            assert_eq!(track(&commands, "/w", "/h"), want, "{commands:?}");
        }
    }
}
