//! Shell mode: decide, record, then become the real shell.

use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Read};

use super::flags::{self, ShellArgs};
use crate::audit;
use crate::exec;
use crate::parse::Env;
use crate::policy::{self, Input, Verdict};
use crate::report;
use crate::rules::load::{self, Config};
use crate::rules::spec::Action;

/// Exit status of a refusal, as bash uses for "cannot execute".
pub const REFUSED: i32 = 126;

pub fn run(argv0: &OsStr, args: &[OsString]) -> i32 {
    let flags = match flags::parse(argv0, args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("guard: {e}");
            return 2;
        }
    };
    let env = Env::from_process();
    let cfg = load::load(&env.home);
    exec::scrub_env();
    match (&flags.argv, &flags.command, &flags.script_file) {
        (Some(argv), _, _) => run_argv(&cfg, &env, argv),
        (None, Some(cmd), _) => match cmd.to_str() {
            Some(text) => run_script(&cfg, &env, &flags, text, "-c"),
            None => refuse_plain("command line is not valid UTF-8"),
        },
        (None, None, Some(file)) => run_file(&cfg, &env, &flags, file),
        (None, None, None) => {
            if std::io::stdin().is_terminal() && !flags.stdin {
                interactive(&cfg, &env, &flags)
            } else {
                let mut text = String::new();
                if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                    return refuse_plain(&format!("cannot read script from stdin: {e}"));
                }
                run_script(&cfg, &env, &flags, &text, "stdin")
            }
        }
    }
}

fn refuse_plain(why: &str) -> i32 {
    eprintln!("guard: denied: {why}");
    REFUSED
}

fn verdict(cfg: &Result<Config, load::ConfigError>, env: &Env, input: Input<'_>) -> Verdict {
    match cfg {
        Ok(cfg) => policy::decide(input, cfg, env),
        Err(e) => Verdict::config_error(e.to_string()),
    }
}

/// Decide whether the line may run, record the decision, and say why
/// not on stderr when it may not. `Ok` means exec now.
fn gate(mode: &str, line: &str, v: &Verdict) -> Result<(), i32> {
    let (outcome, why) = match v.action {
        Action::Allow => ("allow", None),
        // Approval channels come later; until then nobody can approve.
        Action::Review => ("deny", Some("review required; no approver available")),
        Action::Deny => ("deny", None),
    };
    let reason = match why {
        Some(w) => format!("{} ({w})", v.reason),
        None => v.reason.clone(),
    };
    if let Err(e) = audit::append(&audit::Record::new(mode, line, v, outcome, &reason)) {
        eprintln!("guard: denied: {e}");
        return Err(REFUSED);
    }
    if outcome == "allow" {
        Ok(())
    } else {
        eprintln!("{}", report::refusal(v, why));
        Err(REFUSED)
    }
}

fn run_argv(cfg: &Result<Config, load::ConfigError>, env: &Env, argv: &[OsString]) -> i32 {
    let Some(words) = argv
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
    else {
        return refuse_plain("command line is not valid UTF-8");
    };
    let v = verdict(cfg, env, Input::Argv(&words));
    if let Err(code) = gate("argv", &shell_words::join(&words), &v) {
        return code;
    }
    let e = exec::argv(argv);
    eprintln!("guard: {e}");
    if e.source == nix::Error::ENOENT {
        127
    } else {
        REFUSED
    }
}

fn run_script(
    cfg: &Result<Config, load::ConfigError>,
    env: &Env,
    flags: &ShellArgs,
    text: &str,
    mode: &str,
) -> i32 {
    let v = verdict(cfg, env, Input::Script(text));
    if let Err(code) = gate(mode, text, &v) {
        return code;
    }
    let shell = shell_of(cfg);
    let e = exec::shell(
        &shell,
        &flags.passthrough,
        &OsString::from(text),
        &flags.rest,
    );
    eprintln!("guard: {e}");
    REFUSED
}

/// `guard script.sh args`: the file's text is what gets decided, and what
/// runs (as `-c`, so the file cannot change in between).
fn run_file(
    cfg: &Result<Config, load::ConfigError>,
    env: &Env,
    flags: &ShellArgs,
    file: &OsStr,
) -> i32 {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return refuse_plain(&format!("cannot read {}: {e}", file.to_string_lossy())),
    };
    let mut flags_with_name = ShellArgs {
        passthrough: flags.passthrough.clone(),
        rest: vec![file.to_os_string()],
        ..ShellArgs::default()
    };
    flags_with_name.rest.extend(flags.rest.iter().cloned());
    run_script(cfg, env, &flags_with_name, &text, "file")
}

fn shell_of(cfg: &Result<Config, load::ConfigError>) -> String {
    cfg.as_ref()
        .map_or_else(|_| "/bin/bash".to_string(), |c| c.shell.clone())
}

/// A minimal line loop; each line is decided and run in a fresh shell.
fn interactive(cfg: &Result<Config, load::ConfigError>, env: &Env, flags: &ShellArgs) -> i32 {
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    let mut status = 0;
    loop {
        eprint!("guard$ ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return status,
            Ok(_) => {}
        }
        let line = line.trim_end_matches('\n');
        if line.trim().is_empty() {
            continue;
        }
        let v = verdict(cfg, env, Input::Script(line));
        if let Err(code) = gate("interactive", line, &v) {
            status = code;
            continue;
        }
        let shell = shell_of(cfg);
        let mut cmd = std::process::Command::new(&shell);
        cmd.args(exec::no_startup_files(&shell))
            .args(&flags.passthrough)
            .arg("-c")
            .arg(line);
        status = match cmd.status() {
            Ok(s) => s.code().unwrap_or(128 + 2),
            Err(e) => {
                eprintln!("guard: cannot run {shell}: {e}");
                REFUSED
            }
        };
    }
}
