//! parse + unwrap to a fixed point: every command a line would run,
//! however deeply it is nested, including through aliases and shell
//! functions defined earlier (in the line, in a sourced file, or on an
//! earlier interactive line).

use std::collections::{HashMap, VecDeque};

use crate::command::{Command, Word};
use crate::parse::{self, Env, ParseError, MAX_DEPTH};
use crate::unwrap::{Inner, Wrappers};

/// Aliases and functions known to the shell a line runs in.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// Alias name → replacement text.
    pub aliases: HashMap<String, String>,
    /// Function name → the commands of its body.
    pub functions: HashMap<String, Vec<Command>>,
}

impl Scope {
    /// Learn the definitions of a script without analysing them: what a
    /// sourced file or a saved shell state defines is analysed when used.
    /// Returns the file's other top-level commands, which run when it is
    /// sourced.
    pub fn learn(
        &mut self,
        text: &str,
        env: &Env,
        via: &[String],
    ) -> Result<Vec<Command>, ParseError> {
        let parsed = parse::parse_script(text, env, via, via.len())?;
        for (name, body) in parsed.definitions.functions {
            self.functions.insert(name, body);
        }
        let mut top = Vec::new();
        for c in parsed.commands {
            let in_function = c
                .via
                .get(via.len())
                .is_some_and(|v| v.starts_with("function "));
            if in_function {
                continue;
            }
            if c.via.len() == via.len() && c.program() == "alias" {
                self.learn_aliases(&c);
                continue;
            }
            top.push(c);
        }
        Ok(top)
    }

    /// `hash -p PATH NAME`, `BASH_CMDS[NAME]=PATH` and
    /// `BASH_ALIASES[NAME]=TEXT` make NAME run something else, as an alias
    /// does.
    fn learn_renames(&mut self, cmd: &Command) {
        if cmd.program() == "hash" {
            let args: Vec<&str> = cmd.args().iter().map(|w| w.text.as_str()).collect();
            if let Some(p) = args.iter().position(|a| *a == "-p") {
                if let (Some(path), Some(name)) = (args.get(p + 1), args.get(p + 2)) {
                    self.aliases
                        .insert((*name).to_string(), (*path).to_string());
                }
            }
        }
        for a in &cmd.assignments {
            for table in ["BASH_CMDS[", "BASH_ALIASES["] {
                if let Some(name) = a.name.strip_prefix(table).and_then(|n| n.strip_suffix(']')) {
                    self.aliases.insert(name.to_string(), a.value.text.clone());
                }
            }
        }
    }

    fn learn_aliases(&mut self, alias: &Command) {
        for w in alias.args() {
            if let Some((name, value)) = w.text.split_once('=') {
                self.aliases.insert(name.to_string(), value.to_string());
            }
        }
    }
}

/// Every command found, wrappers and what they wrap alike.
pub fn script(text: &str, env: &Env, wrappers: &Wrappers) -> Result<Vec<Command>, ParseError> {
    script_in(text, env, wrappers, &mut Scope::default())
}

/// As `script`, in a shell that already has `scope`'s definitions; the
/// line's own definitions are added to it.
pub fn script_in(
    text: &str,
    env: &Env,
    wrappers: &Wrappers,
    scope: &mut Scope,
) -> Result<Vec<Command>, ParseError> {
    let parsed = parse::parse_script(text, env, &[], 0)?;
    for (name, body) in parsed.definitions.functions {
        scope.functions.insert(name, body);
    }
    expand(parsed.commands.into(), env, wrappers, scope)
}

/// `guard -- PROGRAM ARGS…`: the argv is exact, but what it wraps is not.
pub fn argv(argv: &[String], env: &Env, wrappers: &Wrappers) -> Result<Vec<Command>, ParseError> {
    let cmd = Command::new(argv.iter().map(Word::literal).collect(), Vec::new());
    expand(VecDeque::from([cmd]), env, wrappers, &mut Scope::default())
}

fn expand(
    mut queue: VecDeque<Command>,
    env: &Env,
    wrappers: &Wrappers,
    scope: &mut Scope,
) -> Result<Vec<Command>, ParseError> {
    let mut out = Vec::new();
    let mut written: Vec<std::path::PathBuf> = queue.iter().flat_map(|c| writes(c, env)).collect();
    // A line that sets PATH, anywhere, looks programs up where guard does
    // not: the commands seen so far and those still queued are asked.
    let mut set_path = false;
    while let Some(mut cmd) = queue.pop_front() {
        written.extend(writes(&cmd, env));
        set_path |= sets_path(&cmd);
        if cmd.via.len() > MAX_DEPTH {
            return Err(ParseError {
                line: 0,
                col: 0,
                message: "nesting too deep".to_string(),
            });
        }
        let program = cmd.program().to_string();
        if program == "alias" {
            scope.learn_aliases(&cmd);
        }
        scope.learn_renames(&cmd);
        let mut inners = wrappers.unwrap(&cmd);
        let calls = defined(&cmd, scope);
        if !calls.is_empty() {
            inners.extend(crate::unwrap::deferred_args(&cmd));
        }
        inners.extend(calls);
        if matches!(program.as_str(), "source" | ".") {
            inners.extend(sourced(&cmd, env, scope, &written));
        }
        for inner in inners {
            match inner {
                Inner::Argv {
                    argv,
                    assignments,
                    label,
                } => {
                    let execd = execs(&label);
                    let mut via = cmd.via.clone();
                    via.push(label);
                    let mut next = Command::new(argv, via);
                    next.assignments = assignments;
                    next.stdin = cmd.stdin;
                    next.stdin_text = cmd.stdin_text.clone();
                    next.stdin_literal = cmd.stdin_literal;
                    next.stdout_to_file = cmd.stdout_to_file;
                    next.output_read = cmd.output_read;
                    next.env_refs = cmd.env_refs.clone();
                    next.dynamic = dynamic_name(&next.argv);
                    if execd
                        && next.dynamic.is_none()
                        && !set_path
                        && !queue.iter().any(sets_path)
                        && missing_builtin(&next, env, &written)
                    {
                        // Nothing is unwrapped from an exec that fails.
                        out.push(next);
                        continue;
                    }
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
                    for (name, body) in parsed.definitions.functions {
                        scope.functions.insert(name, body);
                    }
                    queue.extend(parsed.commands);
                }
                Inner::Commands(commands) => queue.extend(commands),
                Inner::Deferred { text, label } => {
                    // Not every `$(` in data is code; what parses is checked.
                    if via_has(&cmd.via, &label) {
                        continue;
                    }
                    let mut via = cmd.via.clone();
                    via.push(label);
                    if let Ok(parsed) =
                        parse::parse_script(&deferred_text(&text), env, &via, via.len())
                    {
                        queue.extend(parsed.commands);
                    }
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

/// A call of an alias or a function defined earlier runs its definition.
fn defined(cmd: &Command, scope: &Scope) -> Vec<Inner> {
    let Some(first) = cmd.argv.first().filter(|w| !w.dynamic) else {
        return Vec::new();
    };
    let name = first.text.as_str();
    let mut out = Vec::new();
    let alias_label = format!("alias {name}");
    if let Some(value) = scope.aliases.get(name) {
        // bash does not expand an alias inside its own expansion.
        if !cmd.via.contains(&alias_label) {
            let rest: Vec<String> = cmd.args().iter().map(|w| w.text.clone()).collect();
            let text = format!("{value} {}", shell_words::join(&rest));
            out.push(Inner::Script {
                text,
                label: alias_label,
            });
        }
    }
    let call_label = format!("{name}()");
    if let Some(body) = scope.functions.get(name) {
        if !cmd.via.contains(&call_label) {
            let mut via = cmd.via.clone();
            via.push(call_label);
            let commands = body
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    let mut v = via.clone();
                    v.extend(
                        c.via
                            .iter()
                            .filter(|s| !s.starts_with("function "))
                            .cloned(),
                    );
                    c.via = v;
                    c
                })
                .collect();
            out.push(Inner::Commands(commands));
        }
    }
    out
}

/// `source FILE` / `. FILE` with a static path guard can read: the file's
/// definitions join the scope (analysed when called) and its other
/// commands are analysed now, since they run now.
fn sourced(
    cmd: &Command,
    env: &Env,
    scope: &mut Scope,
    written: &[std::path::PathBuf],
) -> Vec<Inner> {
    let Some(file) = cmd.args().iter().find(|w| w.text != "--") else {
        return Vec::new();
    };
    if file.dynamic || file.glob {
        return Vec::new(); // the wrapper table marks these dynamic
    }
    let path = at(env, &file.text);
    // What the line itself writes is not what is on disk now: the text
    // echoed into it becomes code only when it is sourced.
    if written.contains(&path) {
        return vec![Inner::Dynamic {
            reason: format!("sources {}, which the line itself writes", file.text),
        }];
    }
    let text = match crate::fileview::read(&path) {
        // bash cannot source it either.
        crate::fileview::Seen::Missing => return Vec::new(),
        crate::fileview::Seen::Text(t) => t,
        crate::fileview::Seen::Unreadable(why) => {
            return vec![Inner::Dynamic {
                reason: format!("sources {} which guard cannot read ({why})", file.text),
            }]
        }
    };
    let mut via = cmd.via.clone();
    via.push(format!("source {}", file.text));
    match scope.learn(&text, env, &via) {
        Ok(top) => vec![Inner::Commands(top)],
        Err(e) => vec![Inner::Dynamic {
            reason: format!("sources {} which guard cannot parse ({e})", file.text),
        }],
    }
}

fn at(env: &Env, path: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(&env.cwd).join(path);
    // `./x.sh` and `x.sh` are one file.
    p.components().collect()
}

/// Files a command writes that a later `source` may read: its output
/// redirections, and the targets of `tee`, `cp`, `mv`, `install`, `ln`.
fn writes(cmd: &Command, env: &Env) -> Vec<std::path::PathBuf> {
    use crate::command::RedirectKind;
    let mut out: Vec<std::path::PathBuf> = cmd
        .redirects
        .iter()
        .filter(|r| r.kind == RedirectKind::Write && !r.target.dynamic)
        .map(|r| at(env, &r.target.text))
        .collect();
    let args = cmd.args();
    let mut files = args
        .iter()
        .filter(|w| !w.text.starts_with('-') && !w.dynamic);
    match cmd.program() {
        "tee" => out.extend(files.map(|w| at(env, &w.text))),
        "cp" | "mv" | "install" | "ln" => out.extend(files.next_back().map(|w| at(env, &w.text))),
        _ => {}
    }
    out
}

fn sets_path(c: &Command) -> bool {
    c.assignments.iter().any(|a| a.name == "PATH")
        || c.args()
            .iter()
            .any(|w| w.text.starts_with("PATH=") || w.text.starts_with("PATH+="))
}

/// Does the wrapper labelled `label` start its argv with execvp, where
/// no shell builtin exists? `xargs`, `env`, `sudo`, `find -exec` and
/// bash's own `exec` do; `command` and `builtin` run builtins in bash.
fn execs(label: &str) -> bool {
    // GNU parallel and sem hand their command line to a shell.
    label == "exec"
        || !(crate::parse::direct::SHELL_NAMES.contains(&label)
            || matches!(label, "parallel" | "sem"))
}

/// `xargs command …`, `env eval …`: exec'd, a shell builtin's name is
/// only whatever file of that name is on PATH (Fedora ships
/// `/usr/bin/command` as a script that runs the builtin; Debian ships
/// none). With no such file the exec fails and the name runs nothing.
fn missing_builtin(cmd: &Command, env: &Env, written: &[std::path::PathBuf]) -> bool {
    let Some(first) = cmd.argv.first() else {
        return false;
    };
    let name = first.text.as_str();
    // A name with a slash may be a file the line makes before it runs; a
    // PATH the line sets, or a file of that name it writes, is not the
    // PATH guard looks at.
    if name.contains('/')
        || !crate::parse::direct::SHELL_NAMES.contains(&cmd.program())
        || cmd.assignments.iter().any(|a| a.name == "PATH")
        || written.iter().any(|w| {
            w.file_name()
                .is_some_and(|f| f == std::ffi::OsStr::new(name))
        })
    {
        return false;
    }
    // A file guard cannot look at (a directory it may not search) may be
    // there: only a clear "no such file" counts as missing.
    let runnable = |p: std::path::PathBuf| {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(p) {
            Ok(m) => m.is_file() && m.permissions().mode() & 0o111 != 0,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ),
        }
    };
    !env.path.split(':').any(|dir| {
        // An empty PATH entry is the current directory.
        let dir = if dir.is_empty() { "." } else { dir };
        runnable(at(env, dir).join(name))
    })
}

fn via_has(via: &[String], label: &str) -> bool {
    via.iter().any(|v| v == label)
}

/// The substitutions inside deferred text, as a script: quotes that are
/// data here are dropped so the `$(…)` inside them is seen.
fn deferred_text(text: &str) -> String {
    text.replace(['\'', '"'], " ")
}

fn dynamic_name(argv: &[Word]) -> Option<String> {
    let first = argv.first()?;
    if first.text == "{}" {
        return Some("command name `{}` is filled in from input at run time".to_string());
    }
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
