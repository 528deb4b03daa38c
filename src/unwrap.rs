//! Wrappers as data: from a command to the commands it runs.
//!
//! The table (`rules/wrappers.yaml`, extendable by the user) says, per
//! program, which options take a value, how many positionals come before
//! the inner command, and whether the inner command is an argv or a script.

use std::sync::Arc;

use crate::command::{Assignment, Command, Stdin, Word};
use crate::glob::Glob;
use crate::rules::layer::Layer;
use crate::rules::spec::{InnerKind, WrapperSpec};

/// What a command runs besides itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inner {
    /// An argv to analyse as its own command.
    Argv {
        argv: Vec<Word>,
        assignments: Vec<Assignment>,
        label: String,
    },
    /// Script text to parse and analyse.
    Script { text: String, label: String },
    /// Text that holds `$(…)` or backticks as data, which bash may expand
    /// later (arithmetic on `a[$(…)]`, `PS4`, `${x@P}`): analysed when it
    /// parses, ignored when it does not.
    Deferred { text: String, label: String },
    /// Commands already analysed elsewhere (a function body, a sourced
    /// file) that this command runs.
    Commands(Vec<Command>),
    /// Code the command runs that guard cannot see.
    Dynamic { reason: String },
}

/// The wrapper table, across configuration layers.
#[derive(Debug)]
pub struct Wrappers {
    layers: Arc<Vec<Layer>>,
}

/// Literal `$(…)` or backticks in text bash may evaluate again: arithmetic
/// (array subscripts), prompts, `${x@P}`, `trap` strings, `compgen -W`.
/// Variable values always qualify, since any later expansion may
/// evaluate them; arguments qualify only where the program is shell code
/// that can (see `args_may_be_code`). An argument to `git commit -m`,
/// `echo` or `printf '%s'` is data: nothing evaluates it again.
fn deferred_code(cmd: &Command, out: &mut Vec<Inner>) {
    let args = (args_may_be_code(cmd) || writes_startup_file(cmd)).then_some(&cmd.argv);
    let words = args
        .into_iter()
        .flatten()
        .chain(cmd.assignments.iter().map(|a| &a.value))
        .chain(&cmd.data);
    deferred_words(words, out);
}

/// A call of a shell function or alias: its arguments become `$1`…, which
/// its body may evaluate in arithmetic.
pub fn deferred_args(cmd: &Command) -> Vec<Inner> {
    let mut out = Vec::new();
    deferred_words(cmd.argv.iter(), &mut out);
    out
}

fn deferred_words<'a>(words: impl Iterator<Item = &'a Word>, out: &mut Vec<Inner>) {
    for w in words {
        // Only static text: a real substitution was analysed already.
        let fixed = if w.dynamic {
            w.pattern.as_deref().unwrap_or("")
        } else {
            w.text.as_str()
        };
        if fixed.contains("$(") || fixed.matches('`').count() >= 2 {
            out.push(Inner::Deferred {
                text: w.text.clone(),
                label: "deferred $(…)".to_string(),
            });
        }
    }
}

/// Files shells (and direnv) run at start-up: text written into one is
/// code the next shell runs.
const STARTUP_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".bash_aliases",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".kshrc",
    ".mkshrc",
    "config.fish",
    ".envrc",
];

/// `echo '…' >> ~/.bashrc`, `… | tee -a ~/.zshrc`.
fn writes_startup_file(cmd: &Command) -> bool {
    use crate::command::RedirectKind;
    let startup = |w: &Word| STARTUP_FILES.contains(&crate::command::basename(&w.text));
    let tee = cmd.program() == "tee" && cmd.args().iter().any(startup);
    tee || cmd
        .redirects
        .iter()
        .any(|r| r.kind == RedirectKind::Write && startup(&r.target))
}

/// Builtins that, as measured against bash 5.2, never evaluate their
/// arguments again (a subscript such as `a[$(…)]` in them stays text).
/// Every other builtin (`declare`, `let`, `unset`, `read`, `test -v`,
/// `printf -v`, `set`, `trap`, `compgen`, …) may, and so may a function.
const DATA_BUILTINS: &[&str] = &[
    "echo", "printf", "true", "false", ":", "pwd", "cd", "pushd", "popd", "dirs", "type", "help",
    "jobs", "times", "umask", "ulimit", "exit", "return", "shift", "break", "continue", "kill",
    "caller", "disown", "enable", "history", "fg", "bg", "logout", "suspend", "shopt",
];

/// Whether bash itself may evaluate this command's arguments as code. An
/// external program cannot make bash do so: what it does with its argv
/// is its own, and programs that run their arguments as shell (`ssh`,
/// `bash -c`, `su -c`, `watch`) are in the wrapper table.
fn args_may_be_code(cmd: &Command) -> bool {
    let Some(first) = cmd.argv.first() else {
        return true; // `[[ … ]]`, or no program at all
    };
    if first.dynamic || first.glob {
        return true;
    }
    let program = first.text.as_str();
    if program.contains('/') {
        return false;
    }
    if !crate::parse::direct::SHELL_NAMES.contains(&program) {
        return false;
    }
    if !DATA_BUILTINS.contains(&program) {
        return true;
    }
    // `printf -v 'a[$(…)]' …` assigns through a subscript.
    program == "printf" && cmd.args().iter().any(|w| w.text.starts_with("-v"))
}

/// Declaration builtins whose `NAME=VALUE` arguments set variables.
pub(crate) const DECLARATIONS: &[&str] = &["export", "declare", "typeset", "local", "readonly"];

impl Wrappers {
    pub fn from_layers(layers: Arc<Vec<Layer>>) -> Wrappers {
        Wrappers { layers }
    }

    pub fn is_wrapper(&self, program: &str) -> bool {
        self.layers.iter().any(|l| l.is_wrapper(program))
    }

    fn is_command_env(&self, name: &str) -> bool {
        self.layers
            .iter()
            .any(|l| l.compiled.command_env.contains(&name))
    }

    /// Every inner command or script `cmd` runs.
    pub fn unwrap(&self, cmd: &Command) -> Vec<Inner> {
        let mut out = Vec::new();
        deferred_code(cmd, &mut out);
        self.command_env_values(cmd, &mut out);
        let program = cmd.program();
        for layer in self.layers.iter() {
            match layer.wrappers_for(program) {
                Ok(specs) => {
                    for spec in specs {
                        unwrap_one(spec, cmd, &mut out);
                    }
                }
                Err(e) => out.push(Inner::Dynamic {
                    reason: format!("wrapper table unreadable: {e}"),
                }),
            }
        }
        out
    }

    /// `GIT_SSH_COMMAND='…' git fetch`, `export PAGER='…'`: a program will
    /// run the value as a command line.
    fn command_env_values(&self, cmd: &Command, out: &mut Vec<Inner>) {
        let mut settings: Vec<(&str, &Word)> = cmd
            .assignments
            .iter()
            .map(|a| (a.name.as_str(), &a.value))
            .collect();
        if DECLARATIONS.contains(&cmd.program()) {
            for w in cmd.args() {
                if let Some((name, _)) = w.text.split_once('=') {
                    settings.push((name, w));
                }
            }
        }
        // GIT_CONFIG_KEY_<n>=core.pager GIT_CONFIG_VALUE_<n>=CMD
        for (name, key) in &settings {
            if let Some(n) = name.strip_prefix("GIT_CONFIG_KEY_") {
                let value_name = format!("GIT_CONFIG_VALUE_{n}");
                let key_text = key
                    .text
                    .split_once('=')
                    .map_or(key.text.as_str(), |(_, v)| v);
                let runs = self.layers.iter().any(|l| {
                    l.wrappers_for("git").into_iter().flatten().any(|w| {
                        w.config_option
                            .as_ref()
                            .is_some_and(|c| key_matches(&c.keys, key_text))
                    })
                });
                if let Some((_, value)) = settings.iter().find(|(n2, _)| *n2 == value_name) {
                    if runs {
                        let text = value
                            .text
                            .split_once('=')
                            .map_or(value.text.as_str(), |(_, v)| v);
                        push_script(
                            &mut *out,
                            text.trim_start_matches('!'),
                            value.dynamic,
                            &format!("{name}={key_text}"),
                        );
                    }
                }
            }
        }
        for (name, value) in settings {
            if !self.is_command_env(name) {
                continue;
            }
            let text = match value.text.split_once('=') {
                Some((n, v)) if n == name => v,
                _ => value.text.as_str(),
            };
            // less's LESSOPEN='| lesspipe %s' marks a pipe with a leading bar.
            let text = text
                .trim_start()
                .trim_start_matches('|')
                .trim_start_matches('|');
            push_script(out, text, value.dynamic, &format!("{name}="));
        }
    }
}

fn push_script(out: &mut Vec<Inner>, text: &str, dynamic: bool, label: &str) {
    if dynamic {
        out.push(Inner::Dynamic {
            reason: format!("{label} runs a command only known at run time"),
        });
    }
    out.push(Inner::Script {
        text: text.to_string(),
        label: label.to_string(),
    });
}

/// What one option word means to a wrapper.
enum Opt {
    /// The wrapper will not run its command (`command -v`, `sudo -l`).
    Inert,
    /// Its value is a shell script (`su -c`).
    Script(Word),
    /// Its value is split into more words of the wrapper's command line.
    Split(String),
    /// It takes a value or is a plain switch; nothing to analyse.
    Plain,
}

fn is_option(w: &str) -> bool {
    w.starts_with('-') && w != "--"
}

/// Classify `args[i]` and say how many words it consumes. One-letter
/// options may be clustered (`-iu root`, `-qc CMD`, `-iS STRING`), and
/// take their value attached or from the next word.
fn classify(spec: &WrapperSpec, args: &[Word], i: usize) -> (Opt, usize) {
    let w = &args[i];
    let next = args.get(i + 1);
    let has = |list: &[String], o: &str| list.iter().any(|x| x == o);
    let value = |attached: Option<&str>| -> (Option<Word>, usize) {
        match attached {
            Some(v) => (
                Some(Word {
                    text: v.to_string(),
                    dynamic: w.dynamic,
                    glob: false,
                    pattern: None,
                }),
                1,
            ),
            None => (next.cloned(), 2),
        }
    };
    let kind = |name: &str, attached: Option<&str>| -> Option<(Opt, usize)> {
        if has(&spec.inert_options, name) {
            return Some((Opt::Inert, 1));
        }
        if has(&spec.script_options, name) {
            let (v, n) = value(attached);
            return Some((v.map_or(Opt::Plain, Opt::Script), n));
        }
        if has(&spec.split_options, name) {
            let (v, n) = value(attached);
            return Some((v.map_or(Opt::Plain, |v| Opt::Split(v.text)), n));
        }
        if has(&spec.options_with_value, name) {
            return Some((Opt::Plain, if attached.is_some() { 1 } else { 2 }));
        }
        None
    };
    let text = w.text.as_str();
    if let Some(long) = text.strip_prefix("--") {
        let (name, attached) = match long.split_once('=') {
            Some((n, v)) => (format!("--{n}"), Some(v)),
            None => (text.to_string(), None),
        };
        return kind(&name, attached).unwrap_or((Opt::Plain, 1));
    }
    let letters = text.get(1..).unwrap_or("");
    for (pos, letter) in letters.char_indices() {
        let rest = &letters[pos + letter.len_utf8()..];
        let attached = (!rest.is_empty()).then_some(rest);
        if let Some(found) = kind(&format!("-{letter}"), attached) {
            // A plain switch before a value-taking letter is fine; a
            // value-taking letter ends the cluster.
            return found;
        }
    }
    (Opt::Plain, 1)
}

/// Indices of the positionals, skipping options and their values.
fn positional_indices(spec: &WrapperSpec, args: &[Word]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if is_option(&args[i].text) {
            i += classify(spec, args, i).1;
        } else {
            out.push(i);
            i += 1;
        }
    }
    out
}

fn unwrap_one(spec: &WrapperSpec, cmd: &Command, out: &mut Vec<Inner>) {
    let program = cmd.program();
    let args: Vec<Word> = cmd.args().to_vec();

    option_commands(spec, program, &args, out);
    exec_options(spec, program, &args, out);
    for (i, w) in args.iter().enumerate() {
        if let Some(attached) = find_option(&w.text, &spec.program_file_options) {
            let file = attached.or_else(|| args.get(i + 1).map(|v| v.text.as_str()));
            if file.is_some_and(is_stdin_path) {
                stdin_program(program, cmd, out);
            }
        }
    }
    setting_commands(spec, program, &args, out);
    if matches!(program, "sed" | "gsed") {
        if let Some(script) = crate::facts::sed_scripts(&args) {
            // `e COMMAND` runs a line guard can read; `s///e` and a bare
            // `e` run lines of the input.
            match crate::facts::sed_commands(&script) {
                Some(lines) => {
                    for line in lines {
                        push_script(out, &line, false, &format!("{program} e"));
                    }
                }
                None => out.push(Inner::Dynamic {
                    reason: format!("{program} runs lines of its input as commands"),
                }),
            }
        }
    }
    if program == "git" {
        // `--config-env=KEY=VAR`: the value comes from the environment.
        for w in &args {
            if let Some(rest) = w.text.strip_prefix("--config-env=") {
                if let Some((key, var)) = rest.rsplit_once('=') {
                    let runs = spec
                        .config_option
                        .as_ref()
                        .is_some_and(|c| key_matches(&c.keys, key));
                    if runs {
                        match cmd.assignments.iter().find(|a| a.name == var) {
                            Some(a) => push_script(
                                out,
                                a.value.text.trim_start_matches('!'),
                                a.value.dynamic,
                                "git --config-env",
                            ),
                            None => out.push(Inner::Dynamic {
                                reason: format!(
                                    "git runs {key} from ${var}, only known at run time"
                                ),
                            }),
                        }
                    }
                }
            }
        }
        // GIT_CONFIG_PARAMETERS="'key'='value' …"
        if let Some(a) = cmd
            .assignments
            .iter()
            .find(|a| a.name == "GIT_CONFIG_PARAMETERS")
        {
            for pair in a.value.text.split("' '") {
                let pair = pair.trim_matches('\'');
                if let Some((key, value)) = pair.split_once("'='") {
                    if spec
                        .config_option
                        .as_ref()
                        .is_some_and(|c| key_matches(&c.keys, key))
                    {
                        push_script(
                            out,
                            value.trim_start_matches('!'),
                            a.value.dynamic,
                            "GIT_CONFIG_PARAMETERS",
                        );
                    }
                }
            }
        }
        // `ext::CMD` remote URLs run CMD (protocol.ext.allow).
        for w in args.iter().filter(|w| w.text.starts_with("ext::")) {
            push_script(
                out,
                &w.text["ext::".len()..].replace("% ", " "),
                w.dynamic,
                "git ext::",
            );
        }
    }

    match spec.inner {
        InnerKind::Shell => return shell(program, cmd, &args, out),
        InnerKind::Source => return source(program, cmd, &args, out),
        InnerKind::Interpreter => return interpreter(program, spec, cmd, &args, out),
        InnerKind::Alias => {
            for w in &args {
                if let Some((name, value)) = w.text.split_once('=') {
                    push_script(out, value, w.dynamic, &format!("alias {name}"));
                }
            }
            return;
        }
        _ => {}
    }

    let mut args = args;
    let mut i = 0;
    if !spec.subcommands.is_empty() {
        let pos = positional_indices(spec, &args);
        let found = spec.subcommands.iter().find_map(|sub| {
            let words: Vec<&str> = sub.split_whitespace().collect();
            let hit = words.len() <= pos.len()
                && words.iter().zip(&pos).all(|(w, &p)| args[p].text == *w);
            hit.then(|| pos[words.len() - 1] + 1)
        });
        match found {
            Some(next) => i = next,
            None => return,
        }
    }
    let mut assignments = Vec::new();
    let mut skipped = 0;
    let mut start = None;
    let mut options_done = false;
    let mut saw_script = false;
    while i < args.len() {
        let w = args[i].text.clone();
        if !options_done && spec.separator.as_deref() == Some(w.as_str()) {
            start = Some(i + 1);
            break;
        }
        if !options_done && w == "--" {
            options_done = true;
            i += 1;
            continue;
        }
        if !options_done && is_option(&w) && (skipped == 0 || spec.permute) {
            match classify(spec, &args, i) {
                (Opt::Inert, _) => return,
                (Opt::Script(v), n) => {
                    saw_script = true;
                    let label = format!("{program} {}", w.split('=').next().unwrap_or(&w));
                    push_script(out, &v.text, v.dynamic, &label);
                    i += n;
                }
                (Opt::Split(v), n) => {
                    // env -S expands `${NAME}` itself.
                    let split: Vec<Word> = shell_words::split(&v)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| Word {
                            dynamic: t.contains("${"),
                            ..Word::literal(t)
                        })
                        .collect();
                    let rest = args.split_off((i + n).min(args.len()));
                    args.truncate(i);
                    args.extend(split);
                    args.extend(rest);
                }
                (Opt::Plain, n) => i += n,
            }
            continue;
        }
        if spec.assignments && skipped == 0 && start.is_none() && is_assignment(&w) {
            if let Some((name, value)) = w.split_once('=') {
                assignments.push(Assignment {
                    name: name.to_string(),
                    value: Word {
                        text: value.to_string(),
                        dynamic: args[i].dynamic,
                        glob: false,
                        pattern: None,
                    },
                });
            }
            i += 1;
            continue;
        }
        // With no inner argv, positionals are only stepped over, so that
        // options after them are still seen (`su root -c CMD`).
        if skipped < spec.skip || spec.inner == InnerKind::None {
            skipped += 1;
            i += 1;
            continue;
        }
        start = Some(i);
        break;
    }
    let Some(start) = start.filter(|&s| s < args.len()) else {
        if spec.stdin_script && !saw_script {
            stdin_program(program, cmd, out);
        }
        // `… | xargs env`: the command is appended from the input.
        let fed = cmd
            .via
            .last()
            .is_some_and(|v| matches!(v.as_str(), "xargs" | "parallel" | "sem"));
        if fed && matches!(spec.inner, InnerKind::Argv | InnerKind::Script) {
            out.push(Inner::Dynamic {
                reason: format!("{program} runs a command named by its input"),
            });
        }
        return;
    };
    let end = args[start..]
        .iter()
        .position(|w| spec.terminators.contains(&w.text))
        .map_or(args.len(), |p| start + p);
    let inner: Vec<Word> = args[start..end].to_vec();
    if inner.is_empty() {
        return;
    }
    match spec.inner {
        InnerKind::Argv => {
            input_named_program(program, &inner, out);
            out.push(Inner::Argv {
                argv: inner,
                assignments,
                label: program.to_string(),
            })
        }
        InnerKind::Script => {
            let dynamic = inner.iter().any(|w| w.dynamic);
            let text: Vec<&str> = inner.iter().map(|w| w.text.as_str()).collect();
            push_script(out, &text.join(" "), dynamic, program);
        }
        InnerKind::Shell
        | InnerKind::Alias
        | InnerKind::None
        | InnerKind::Source
        | InnerKind::Interpreter => {}
    }
}

/// An interpreter runs inline code (`script_options`, scanned by facts),
/// a script file, or else the program on its stdin: a pipe or document
/// feeding it is code guard never sees, and with nothing at all it is an
/// interactive prompt.
fn interpreter(
    program: &str,
    spec: &WrapperSpec,
    cmd: &Command,
    args: &[Word],
    out: &mut Vec<Inner>,
) {
    let mut i = 0;
    let mut operand = None;
    while i < args.len() {
        let w = &args[i].text;
        if w == "--" {
            operand = args.get(i + 1);
            break;
        }
        if is_option(w) && !is_stdin_path(w) {
            match classify(spec, args, i) {
                // Inline code or a module: something other than stdin runs.
                (Opt::Script(_), _) => return,
                (_, n) => i += n,
            }
            continue;
        }
        operand = Some(&args[i]);
        break;
    }
    match operand {
        Some(file) if !is_stdin_path(&file.text) && file.dynamic => {
            out.push(Inner::Dynamic {
                reason: format!(
                    "{program} runs a script only known at run time (`{}`)",
                    file.text
                ),
            });
        }
        Some(file) if !is_stdin_path(&file.text) => {}
        // A literal here-document is the program, scanned as inline code.
        _ if cmd.stdin_literal && cmd.stdin_text.is_some() => {}
        _ if cmd.stdin != Stdin::Inherited => {
            out.push(Inner::Dynamic {
                reason: format!("{program} runs a program read from its stdin"),
            });
        }
        Some(_) => out.push(Inner::Dynamic {
            reason: format!("{program} runs a program read from its stdin"),
        }),
        None if args.is_empty() => out.push(Inner::Dynamic {
            reason: format!("{program} starts an interactive interpreter"),
        }),
        None => {}
    }
}

/// `source FILE` / `. FILE`: code from a file runs in this very shell.
fn source(program: &str, cmd: &Command, args: &[Word], out: &mut Vec<Inner>) {
    let Some(file) = args.iter().find(|w| w.text != "--") else {
        return;
    };
    if is_stdin_path(&file.text) {
        return stdin_program(program, cmd, out);
    }
    if file.dynamic {
        out.push(Inner::Dynamic {
            reason: format!(
                "{program} runs code only known at run time (`{}`)",
                file.text
            ),
        });
    }
}

/// `find -exec {} …`, `xargs -I{} {} …`: the program itself comes from the
/// input.
fn input_named_program(program: &str, inner: &[Word], out: &mut Vec<Inner>) {
    if inner
        .first()
        .is_some_and(|w| w.text.contains("{}") || w.text.contains("{.}"))
    {
        out.push(Inner::Dynamic {
            reason: format!("{program} runs a program named by its input"),
        });
    }
}

/// Paths that are the process's own stdin.
fn is_stdin_path(p: &str) -> bool {
    matches!(p, "-" | "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0")
}

/// A program that reads the commands it runs from stdin: what a
/// here-document says is analysed, and anything else is unknown.
fn stdin_program(program: &str, cmd: &Command, out: &mut Vec<Inner>) {
    let from = match cmd.stdin {
        Stdin::Inherited => return,
        Stdin::Pipe => "a pipe",
        Stdin::HereDoc => "a here-document",
        Stdin::HereString => "a here-string",
    };
    out.push(Inner::Dynamic {
        reason: format!("{program} reads the commands it runs from {from}"),
    });
    if let Some(text) = &cmd.stdin_text {
        out.push(Inner::Script {
            text: text.clone(),
            label: format!("{program} <<…"),
        });
    }
}

/// Does option word `w` name `opt`? Returns the attached value, if any:
/// `--user=x`, and for one-letter options `-ux`.
fn option_value<'w>(w: &'w str, opt: &str) -> Option<Option<&'w str>> {
    if w == opt {
        return Some(None);
    }
    // vim's `+CMD`
    if opt == "+" {
        return w.strip_prefix('+').filter(|v| !v.is_empty()).map(Some);
    }
    if opt.starts_with("--") {
        return w
            .strip_prefix(opt)
            .and_then(|rest| rest.strip_prefix('='))
            .map(Some);
    }
    if opt.len() == 2 && !w.starts_with("--") {
        return w.strip_prefix(opt).filter(|v| !v.is_empty()).map(Some);
    }
    None
}

fn find_option<'w>(w: &'w str, opts: &[String]) -> Option<Option<&'w str>> {
    opts.iter().find_map(|o| option_value(w, o))
}

fn is_assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(name, _)| is_name(name))
}

/// A shell variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `git --upload-pack=CMD`, `git -c core.pager=CMD`.
fn option_commands(spec: &WrapperSpec, program: &str, args: &[Word], out: &mut Vec<Inner>) {
    let mut i = 0;
    while i < args.len() {
        let w = &args[i].text;
        if let Some(attached) = find_option(w, &spec.command_options) {
            let value = attached
                .map(|v| (v.to_string(), args[i].dynamic))
                .or_else(|| args.get(i + 1).map(|v| (v.text.clone(), v.dynamic)));
            if let Some((text, dynamic)) = value {
                let text = text.trim_start().trim_start_matches([':', '!']);
                // gdb's `shell CMD`
                let text = text.strip_prefix("shell ").unwrap_or(text);
                push_script(
                    out,
                    text,
                    dynamic,
                    &format!("{program} {}", w.split('=').next().unwrap_or(w)),
                );
            }
        }
        if let Some(config) = &spec.config_option {
            if let Some(attached) = option_value(w, &config.flag) {
                let setting = attached
                    .map(|v| (v.to_string(), args[i].dynamic))
                    .or_else(|| args.get(i + 1).map(|v| (v.text.clone(), v.dynamic)));
                if let Some((setting, dynamic)) = setting {
                    // `key=value`, or ssh's `Key value`.
                    let split = setting
                        .split_once('=')
                        .or_else(|| setting.trim_start().split_once(char::is_whitespace));
                    if let Some((key, value)) = split {
                        if key_matches(&config.keys, key.trim()) {
                            let value = value.trim_start().trim_start_matches(['!', ':']);
                            push_script(
                                out,
                                value,
                                dynamic,
                                &format!("{program} {} {key}", config.flag),
                            );
                        }
                    }
                }
            }
        }
        i += 1;
    }
}

/// `git config [set] [-f FILE] KEY VALUE`: a setting that runs later.
fn setting_commands(spec: &WrapperSpec, program: &str, args: &[Word], out: &mut Vec<Inner>) {
    let (Some(sub), Some(config)) = (&spec.setting_subcommand, &spec.config_option) else {
        return;
    };
    let Some(at) = args.iter().position(|w| w.text == *sub) else {
        return;
    };
    let mut operands = Vec::new();
    let mut i = at + 1;
    while i < args.len() {
        let w = args[i].text.as_str();
        if matches!(
            w,
            "-f" | "--file" | "--blob" | "--type" | "--default" | "--comment" | "--value"
        ) {
            i += 2;
            continue;
        }
        if !is_option(w) {
            operands.push(&args[i]);
        }
        i += 1;
    }
    if operands
        .first()
        .is_some_and(|w| matches!(w.text.as_str(), "set" | "--add"))
    {
        operands.remove(0);
    }
    if let (Some(key), Some(value)) = (operands.first(), operands.get(1)) {
        if key_matches(&config.keys, &key.text) {
            let text = value.text.trim_start_matches('!');
            push_script(
                out,
                text,
                value.dynamic,
                &format!("{program} {sub} {}", key.text),
            );
        }
    }
}

fn key_matches(keys: &[String], key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    keys.iter()
        .any(|k| Glob::new(&k.to_ascii_lowercase()).matches(&key))
}

/// `find … -exec CMD {} ;`
fn exec_options(spec: &WrapperSpec, program: &str, args: &[Word], out: &mut Vec<Inner>) {
    let mut i = 0;
    while i < args.len() {
        let Some(opt) = spec.exec_options.iter().find(|o| o.option == args[i].text) else {
            i += 1;
            continue;
        };
        let start = i + 1;
        let end = args[start..]
            .iter()
            .position(|w| opt.terminators.contains(&w.text))
            .map_or(args.len(), |p| start + p);
        if end > start {
            input_named_program(program, &args[start..end], out);
            out.push(Inner::Argv {
                argv: args[start..end].to_vec(),
                assignments: Vec::new(),
                label: format!("{program} {}", opt.option),
            });
        }
        i = end + 1;
    }
}

/// bash-style invocation: `-c STRING [NAME ARGS…]`, a script file, or a
/// program read from stdin.
fn shell(program: &str, cmd: &Command, args: &[Word], out: &mut Vec<Inner>) {
    let mut i = 0;
    let (mut command_string, mut reads_stdin) = (false, false);
    while i < args.len() {
        let w = args[i].text.as_str();
        if w == "--" || w == "-" {
            if program == "guard" && w == "--" {
                if i + 1 < args.len() {
                    out.push(Inner::Argv {
                        argv: args[i + 1..].to_vec(),
                        assignments: Vec::new(),
                        label: "guard --".to_string(),
                    });
                }
                return;
            }
            i += 1;
            break;
        }
        if let Some(long) = w.strip_prefix("--") {
            let takes_value = matches!(long, "rcfile" | "init-file");
            command_string |= long == "command";
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        // A lone `+` is an empty set of options (`bash -c + SCRIPT` runs
        // SCRIPT), not the script.
        if w == "+" {
            i += 1;
            continue;
        }
        if (w.starts_with('-') || w.starts_with('+')) && w.len() > 1 {
            let mut extra = 0;
            for ch in w[1..].chars() {
                match ch {
                    'c' => command_string = true,
                    's' => reads_stdin = true,
                    'o' | 'O' => extra += 1,
                    _ => {}
                }
            }
            i += 1 + extra;
            continue;
        }
        break;
    }
    let rest = args.get(i..).unwrap_or(&[]);
    if command_string {
        match rest.first() {
            Some(script) => {
                push_script(out, &script.text, script.dynamic, &format!("{program} -c"))
            }
            // `xargs sh -c`: the script is appended at run time.
            None => out.push(Inner::Dynamic {
                reason: format!("{program} -c runs a script only known at run time"),
            }),
        }
        return;
    }
    if rest.first().is_some_and(|f| is_stdin_path(&f.text)) {
        return stdin_program(program, cmd, out);
    }
    if let Some(file) = rest.first().filter(|_| !reads_stdin) {
        // `bash <(curl …)`: the script itself is produced at run time.
        if file.dynamic {
            out.push(Inner::Dynamic {
                reason: format!(
                    "{program} runs a script only known at run time (`{}`)",
                    file.text
                ),
            });
        }
        return;
    }
    if cmd.stdin == Stdin::Inherited {
        let reason = if reads_stdin {
            format!("{program} -s reads its program from stdin")
        } else {
            format!("{program} starts an interactive shell guard cannot see into")
        };
        out.push(Inner::Dynamic { reason });
        return;
    }
    stdin_program(program, cmd, out);
}
