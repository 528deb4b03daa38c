//! Turning an allowed decision into the real process.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;

/// Variables that make bash run code guard never saw, or resolve the line
/// other than guard did (`CDPATH` sends a relative `cd` elsewhere).
const DROPPED: &[&str] = &[
    "BASH_ENV",
    "CDPATH",
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
/// run code guard never saw, and every secret: names `scrubbed` says
/// (the scrub patterns, or in broker mode the broker's list) and values
/// a detector recognises, for the names `scan_here` picks (in broker mode
/// the broker has scanned the values it was sent, with its detectors
/// already compiled). Whatever is exec'd next inherits what is left;
/// granted credentials are added back per command.
pub fn scrub(scrubbed: &dyn Fn(&str) -> bool, scan_here: &dyn Fn(&str) -> bool) {
    let names: Vec<OsString> = std::env::vars_os()
        .filter(|(k, v)| {
            let name = k.to_string_lossy();
            is_dropped(&name)
                || (name != crate::session::VAR
                    && (scrubbed(&name)
                        || (scan_here(&name)
                            && !crate::detect::scan(&v.to_string_lossy()).is_empty())))
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

/// Whether SIGPIPE was ignored when guard was started, before Rust's
/// runtime ignored it for itself: read by a constructor that runs before
/// `main` (and before the runtime touches the signal).
static SIGPIPE_WAS_IGNORED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

extern "C" fn record_sigpipe() {
    // SAFETY: sigaction with a null new action only reads the current
    // disposition; this runs single-threaded, before main.
    unsafe {
        let mut old: nix::libc::sigaction = std::mem::zeroed();
        if nix::libc::sigaction(nix::libc::SIGPIPE, std::ptr::null(), &mut old) == 0 {
            SIGPIPE_WAS_IGNORED.store(
                old.sa_sigaction == nix::libc::SIG_IGN,
                std::sync::atomic::Ordering::SeqCst,
            );
        }
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

/// Rust's runtime ignores SIGPIPE in guard itself, and an ignored
/// signal stays ignored across exec: without this, `yes | head -1` in a
/// guarded line would see EPIPE where bash's children see SIGPIPE. A
/// caller that ignored it (`nohup`, `trap '' PIPE`) gets it ignored, as
/// bash would pass it on.
pub fn restore_signals() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    let how = if SIGPIPE_WAS_IGNORED.load(std::sync::atomic::Ordering::SeqCst) {
        SigHandler::SigIgn
    } else {
        SigHandler::SigDfl
    };
    // SAFETY: a plain disposition, just before exec.
    let _ = unsafe { signal(Signal::SIGPIPE, how) };
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
    let argv = shell_argv(shell, login, startup, options, script, rest);
    let path = CString::new(shell.as_bytes()).unwrap_or_else(|_| CString::from(c"/bin/sh"));
    restore_signals();
    let err = nix::unistd::execv(&path, &cstrings(&argv)).err();
    ExecError {
        program: shell.to_string(),
        source: err.unwrap_or(nix::Error::UnknownErrno),
    }
}

/// The argv `shell` execs: the real shell, its start-up switches, the
/// passed-on options, `-c script`, then `$0 $1 …`.
pub fn shell_argv(
    shell: &str,
    login: bool,
    startup: bool,
    options: &[OsString],
    script: &OsString,
    rest: &[OsString],
) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![OsString::from(crate::command::basename(shell))];
    let zsh = crate::command::basename(shell) == "zsh";
    if startup {
        if login {
            argv.push(OsString::from("-l"));
        }
    } else if !zsh {
        argv.extend(no_startup_files(shell).iter().map(OsString::from));
    }
    argv.extend(options.iter().cloned());
    // zsh reads its options in order, so a passed-on `+f` or `-o rcs`
    // before `-f` would turn the startup files (`$ZDOTDIR/.zshenv`, the
    // agent's to write) back on: `-f` comes last. bash's long options
    // must come first, and bash has no option that undoes them.
    if !startup && zsh {
        argv.extend(no_startup_files(shell).iter().map(OsString::from));
    }
    argv.extend(command_words(script));
    argv.extend(rest.iter().cloned());
    argv
}

/// `-c SCRIPT` for a shell. `bash -c -x CMD` takes `-x` for an option
/// and runs CMD: a script that starts like an option would be decided as
/// one text and run as another, so `--` ends the options before it.
pub fn command_words(script: &std::ffi::OsStr) -> Vec<OsString> {
    let mut out = vec![OsString::from("-c")];
    if script.as_bytes().starts_with(b"-") || script.as_bytes().starts_with(b"+") {
        out.push(OsString::from("--"));
    }
    out.push(script.to_os_string());
    out
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
    restore_signals();
    let err = nix::unistd::execvp(first, &args).err();
    ExecError {
        program,
        source: err.unwrap_or(nix::Error::UnknownErrno),
    }
}

/// Exec `argv` as `bash -c` would when it is the line's only command:
/// the program found on PATH the way bash finds it, with the variables
/// bash adjusts before such an exec (`SHLVL`, `PWD`, `OLDPWD`, `_`).
/// Returns, having changed nothing that matters, whenever bash would do
/// anything else (not found, not executable, not a binary): the caller
/// then hands the line to bash, which reports it in its own words.
pub fn direct(argv: &[String]) {
    let Some(name) = argv.first() else { return };
    let Some(path) = find_program(name) else {
        return;
    };
    // bash raises SHLVL at start and lowers it again for the exec,
    // writing it back as a number; it warns and resets from 1000 on,
    // which only bash should print.
    match std::env::var("SHLVL") {
        Err(_) => set("SHLVL", "0"),
        Ok(v) if !v.is_empty() && v.len() <= 6 && v.bytes().all(|b| b.is_ascii_digit()) => {
            match v.parse::<u32>() {
                Ok(n) if n < 999 => set("SHLVL", &n.to_string()),
                _ => return,
            }
        }
        Ok(_) => return,
    }
    // POSIX mode tidies a logical PWD in ways not worth copying.
    if std::env::var_os("POSIXLY_CORRECT").is_some() {
        return;
    }
    let here = std::env::current_dir().ok();
    // Outside POSIX mode bash keeps any absolute PWD that names the
    // working directory, `..` and symlinks included.
    let pwd_ok = std::env::var("PWD").ok().is_some_and(|p| {
        let logical = std::path::Path::new(&p);
        logical.is_absolute() && same_file(logical, std::path::Path::new("."))
    });
    if !pwd_ok {
        match &here {
            Some(h) => set("PWD", &h.to_string_lossy()),
            None => return,
        }
    }
    if std::env::var_os("OLDPWD").is_some_and(|o| !std::path::Path::new(&o).is_dir()) {
        // SAFETY: single-threaded, just before exec.
        unsafe { std::env::remove_var("OLDPWD") };
    }
    set("_", &path);
    let Ok(c_path) = CString::new(path.as_bytes()) else {
        return;
    };
    let args = cstrings(&argv.iter().map(OsString::from).collect::<Vec<_>>());
    restore_signals();
    let _ = nix::unistd::execv(&c_path, &args);
}

fn set(name: &str, value: &str) {
    // SAFETY: guard is single-threaded here, just before exec.
    unsafe { std::env::set_var(name, value) };
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// The file bash would exec for `name`: the word itself when it names a
/// path, else the first PATH entry holding it. Only an executable
/// regular file counts; anything else (bash's "Permission denied", "is a
/// directory", "command not found") is bash's to report.
fn find_program(name: &str) -> Option<String> {
    use nix::unistd::{access, AccessFlags};
    let ok = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file()) && access(p, AccessFlags::X_OK).is_ok()
    };
    if name.contains('/') {
        return ok(std::path::Path::new(name)).then(|| name.to_string());
    }
    let path = std::env::var("PATH").ok()?;
    for dir in path.split(':') {
        // Relative entries (and the empty one, the current directory)
        // are rare enough to leave to bash, with its own idea of `$_`.
        if !dir.starts_with('/') {
            return None;
        }
        // As bash joins them: a slash only where the entry has none.
        let candidate = if dir.ends_with('/') {
            format!("{dir}{name}")
        } else {
            format!("{dir}/{name}")
        };
        let p = std::path::Path::new(&candidate);
        if p.exists() {
            return ok(p).then_some(candidate);
        }
    }
    None
}

#[cfg(test)]
mod argv_tests {
    use super::shell_argv;
    use std::ffi::OsString;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// The startup files stay off whatever options are passed on: zsh
    /// reads options in order, so its `-f` comes after them.
    #[test]
    fn passed_on_options_cannot_turn_the_startup_files_back_on() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "/bin/bash",
                &["+o", "posix"],
                &["bash", "--noprofile", "--norc", "+o", "posix", "-c", "ls"],
            ),
            ("/usr/bin/zsh", &["+f"], &["zsh", "+f", "-f", "-c", "ls"]),
            (
                "/usr/bin/zsh",
                &["-o", "rcs"],
                &["zsh", "-o", "rcs", "-f", "-c", "ls"],
            ),
            ("/bin/dash", &["-e"], &["dash", "-e", "-c", "ls"]),
        ];
        for (shell, options, want) in cases {
            let got = shell_argv(
                shell,
                false,
                false,
                &os(options),
                &OsString::from("ls"),
                &[],
            );
            assert_eq!(got, os(want), "{shell} {options:?}");
        }
    }
}
