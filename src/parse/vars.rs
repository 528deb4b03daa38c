//! The line's own variables: `export NVM_DIR="$HOME/.nvm" && .
//! "$NVM_DIR/nvm.sh"` sources a file guard can name, because the line set
//! the variable to a literal first. Followed only where bash's order is
//! certain: a top-level run of simple commands, the first pipeline of
//! each `&&`/`||` list, no background jobs. Anything that may set
//! variables behind guard's back (a function, `eval`, `read`, `trap`,
//! `readonly`, a sourced file, `${x:=…}`, arithmetic, `IFS`, a compound
//! command whose body may or may not run) ends the following for the
//! rest of the line. Subshells (pipelines, `( … )`, `&`) set nothing the
//! line sees.

use std::collections::HashMap;

use brush_parser::ast;

use crate::command::Command;

/// Variables set to a literal on every path so far.
#[derive(Debug, Default)]
pub(super) struct Known {
    on: bool,
    values: HashMap<String, String>,
}

impl Known {
    pub(super) fn new(on: bool) -> Known {
        Known {
            on,
            values: HashMap::new(),
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Assume nothing until `resume`.
    pub(super) fn suspend(&mut self) -> HashMap<String, String> {
        std::mem::take(&mut self.values)
    }

    pub(super) fn resume(&mut self, saved: HashMap<String, String>) {
        if self.on {
            self.values = saved;
        }
    }

    /// From here on, no value is certain.
    pub(super) fn stop(&mut self) {
        self.on = false;
        self.values.clear();
    }

    /// What the simple command `cmd`, just walked, leaves set. `certain`:
    /// it surely ran.
    pub(super) fn learn(&mut self, cmd: &Command, certain: bool) {
        if !self.on {
            return;
        }
        if matches!(cmd.program(), "." | "source") && !sources_nothing(cmd) {
            return self.stop();
        }
        let mut set: Vec<(String, Option<String>)> = Vec::new();
        if cmd.argv.is_empty() {
            for a in &cmd.assignments {
                let value = (!a.value.dynamic && !a.value.glob).then(|| a.value.text.clone());
                set.push((a.name.clone(), value));
            }
        } else {
            // `X=v cmd`: a prefix assignment is for that command only,
            // but a special builtin in POSIX mode keeps it.
            set.extend(cmd.assignments.iter().map(|a| (a.name.clone(), None)));
            if cmd.argv[0].text == "export" && !cmd.argv[0].dynamic {
                for w in cmd.args() {
                    if let Some((name, value)) = w.text.split_once('=') {
                        let value = (!w.dynamic && !w.glob).then(|| value.to_string());
                        set.push((name.to_string(), value));
                    }
                }
            }
        }
        for (name, value) in set {
            // `X+=…` appends and `X[1]=…` sets an element: neither is
            // followed, and neither leaves `$X` known.
            if !crate::unwrap::is_name(&name) || name == "IFS" {
                return self.stop();
            }
            match value.filter(|v| certain && learnable(&name) && plain_value(v)) {
                Some(v) => {
                    self.values.insert(name, v);
                }
                None => {
                    self.values.remove(&name);
                }
            }
        }
    }
}

/// Variables bash sets itself, or whose value is not what was assigned.
fn learnable(name: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "HOME",
        "PWD",
        "OLDPWD",
        "RANDOM",
        "SRANDOM",
        "SECONDS",
        "LINENO",
        "EPOCHSECONDS",
        "EPOCHREALTIME",
        "HISTCMD",
        "OPTIND",
        "OPTARG",
        "REPLY",
        "GROUPS",
        "UID",
        "EUID",
        "PPID",
        "SHELLOPTS",
        "FUNCNAME",
        "CDPATH",
        "PS4",
        "PROMPT_COMMAND",
        "ENV",
        "DIRSTACK",
        "PIPESTATUS",
        "_",
        "COLUMNS",
        "LINES",
        "MAPFILE",
        "COPROC",
    ];
    !name.is_empty() && !SPECIAL.contains(&name) && !name.starts_with("BASH")
}

/// A value that word splitting, pathname expansion and tilde expansion
/// leave as it is wherever it is expanded, quoted or not.
fn plain_value(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c))
}

/// `. FILE` where FILE is a literal absolute path that does not exist:
/// the source fails and sets nothing.
fn sources_nothing(cmd: &Command) -> bool {
    match cmd.args().first() {
        Some(f) if !f.dynamic && !f.glob && f.text.starts_with('/') => {
            // Only a clear "no such file": one guard may not look at may
            // be there.
            std::fs::symlink_metadata(&f.text).is_err_and(|e| {
                matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                )
            })
        }
        _ => false,
    }
}

/// Builtins that set variables, run code in this shell, or change how
/// later words expand.
const SETS: &[&str] = &[
    "eval",
    "read",
    "mapfile",
    "readarray",
    "getopts",
    "unset",
    "declare",
    "typeset",
    "local",
    "readonly",
    "let",
    "trap",
    "builtin",
    "command",
    "exec",
    "enable",
    "set",
    "shopt",
    "alias",
    "select",
    "wait",
    "jobs",
    "fc",
    "caller",
    "export",
    "printf",
    "coproc",
];

/// Does the simple command, as it will run (its words expanded), set
/// variables in ways not followed? `export NAME=VALUE` is followed and
/// `printf` without `-v` sets nothing; any option to either, or any other
/// builtin of `SETS`, ends the following. A `.` is judged in `learn`.
pub(super) fn sets_variables(cmd: &Command) -> bool {
    let Some(first) = cmd.argv.first() else {
        return false;
    };
    let name = first.text.as_str();
    if !SETS.contains(&name) {
        return false;
    }
    let options = cmd
        .args()
        .iter()
        .any(|w| w.dynamic || w.text.starts_with('-'));
    match name {
        "export" | "printf" => options,
        _ => true,
    }
}

/// Might this simple command set variables while its own words expand
/// (`${x:=…}`, arithmetic, in a word or a redirection), or by an append
/// or an array assignment? Decided on its source text, before its words
/// are expanded.
pub(super) fn may_change_variables(s: &ast::SimpleCommand) -> bool {
    let assigns_in_word = |raw: &str| {
        raw.contains("$((")
            || raw.contains("$[")
            || raw.contains("((")
            || raw.split("${").skip(1).any(|rest| rest.contains('='))
    };
    let items = s
        .prefix
        .iter()
        .flat_map(|p| p.0.iter())
        .chain(s.suffix.iter().flat_map(|p| p.0.iter()));
    let mut changes = items.map(|i| match i {
        ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w) => {
            a.append
                || matches!(a.name, ast::AssignmentName::ArrayElementName(..))
                || matches!(a.value, ast::AssignmentValue::Array(_))
                || assigns_in_word(&w.value)
        }
        ast::CommandPrefixOrSuffixItem::Word(w) => assigns_in_word(&w.value),
        other => assigns_in_word(&other.to_string()),
    });
    changes.any(|c| c)
        || s.word_or_name
            .as_ref()
            .is_some_and(|w| assigns_in_word(&w.value))
}
