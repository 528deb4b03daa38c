//! Turning an allowed decision into the real process.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;

/// Variables that make bash run code guard never saw.
const DROPPED: &[&str] = &[
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
];

pub fn is_dropped(name: &str) -> bool {
    DROPPED.contains(&name) || name.starts_with("BASH_FUNC_")
}

/// Remove from this process's environment the variables that make bash
/// run code guard never saw, and every secret: names the scrub patterns
/// match and values a detector recognises. Whatever is exec'd next
/// inherits what is left; granted credentials are added back per command.
pub fn scrub_env(settings: &crate::session::settings::Settings) {
    let scrubber = settings.scrubber();
    let names: Vec<OsString> = std::env::vars_os()
        .filter(|(k, v)| {
            let name = k.to_string_lossy();
            is_dropped(&name)
                || (name != crate::session::VAR
                    && (scrubber.matches(&name)
                        || !crate::detect::scan(&v.to_string_lossy()).is_empty()))
        })
        .map(|(k, _)| k)
        .collect();
    for k in names {
        // SAFETY: guard is single-threaded here, before exec.
        unsafe { std::env::remove_var(&k) };
    }
}

/// The start-up-file switches for shells that have them, so the real
/// shell does not source `~/.bashrc` or a profile behind guard's back.
pub fn no_startup_files(shell: &str) -> &'static [&'static str] {
    match crate::command::basename(shell) {
        "bash" => &["--noprofile", "--norc"],
        "zsh" => &["-f"],
        _ => &[],
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot run {program}: {source}")]
pub struct ExecError {
    pub program: String,
    #[source]
    pub source: nix::Error,
}

fn cstrings(argv: &[OsString]) -> Vec<CString> {
    argv.iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_else(|_| CString::from(c"")))
        .collect()
}

/// Replace this process with `shell [options] -c script [name args…]`.
/// Start-up files are read only when the config allows it (`startup`),
/// and then a login shell stays one.
pub fn shell(
    shell: &str,
    login: bool,
    startup: bool,
    options: &[OsString],
    script: &OsString,
    rest: &[OsString],
) -> ExecError {
    let mut argv: Vec<OsString> = vec![OsString::from(crate::command::basename(shell))];
    if startup {
        if login {
            argv.push(OsString::from("-l"));
        }
    } else {
        argv.extend(no_startup_files(shell).iter().map(OsString::from));
    }
    argv.extend(options.iter().cloned());
    argv.push(OsString::from("-c"));
    argv.push(script.clone());
    argv.extend(rest.iter().cloned());
    let path = CString::new(shell.as_bytes()).unwrap_or_else(|_| CString::from(c"/bin/sh"));
    let err = nix::unistd::execv(&path, &cstrings(&argv)).err();
    ExecError {
        program: shell.to_string(),
        source: err.unwrap_or(nix::Error::UnknownErrno),
    }
}

/// Replace this process with the exact argv, searched on PATH.
pub fn argv(argv: &[OsString]) -> ExecError {
    let args = cstrings(argv);
    let program = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(first) = args.first() else {
        return ExecError {
            program,
            source: nix::Error::ENOENT,
        };
    };
    let err = nix::unistd::execvp(first, &args).err();
    ExecError {
        program,
        source: err.unwrap_or(nix::Error::UnknownErrno),
    }
}
