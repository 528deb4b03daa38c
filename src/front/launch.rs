//! Doing what an allow says, as `src/cli/remote.rs::apply` and
//! `src/cli/shell.rs::Launch` do: the environment scrubbed and granted,
//! credential files written, then the line's own argv exec'd directly or
//! the real shell started with the line.

use alloc::string::String;
use alloc::vec::Vec;

use super::json::Value;
use super::sys;

/// `exec::DROPPED`.
const DROPPED: &[&str] = &[
    "BASH_ENV",
    "CDPATH",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
];
const SESSION_VAR: &str = "GUARD_SESSION";

/// The environment the line runs with, as `NAME=value` entries.
pub struct Env(pub Vec<(String, String)>);

impl Env {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn set(&mut self, k: &str, v: &str) {
        self.0.retain(|(n, _)| n != k);
        self.0.push((String::from(k), String::from(v)));
    }
    pub fn remove(&mut self, k: &str) {
        self.0.retain(|(n, _)| n != k);
    }
    fn entries(&self) -> Vec<Vec<u8>> {
        self.0
            .iter()
            .map(|(k, v)| {
                let mut e = Vec::with_capacity(k.len() + v.len() + 1);
                e.extend_from_slice(k.as_bytes());
                e.push(b'=');
                e.extend_from_slice(v.as_bytes());
                e
            })
            .collect()
    }
}

/// Scrub and grant. `Err` is a refusal line.
pub fn apply(env: &mut Env, v: &Value) -> Result<(), String> {
    // `shell` is required in a verdict (`wire::Verdict`): the full
    // client refuses one without it, and so does the front.
    if v.str("shell").is_none_or(str::is_empty) {
        return Err(String::from("malformed verdict: no shell"));
    }
    let unset = v
        .strs("unset_env")
        .ok_or_else(|| String::from("malformed unset_env"))?;
    env.0.retain(|(k, _)| {
        let dropped = DROPPED.contains(&k.as_str()) || k.starts_with("BASH_FUNC_");
        !(dropped || (k != SESSION_VAR && unset.iter().any(|n| n == k)))
    });
    let session = v.str("session");
    if let Some(id) = session {
        env.set(SESSION_VAR, id);
    }
    match v.get("set_env") {
        None | Some(Value::Null) => {}
        Some(Value::Obj(fields)) => {
            for (k, val) in fields {
                let Value::Str(val) = val else {
                    return Err(String::from("malformed set_env"));
                };
                env.set(k, val);
            }
        }
        Some(_) => return Err(String::from("malformed set_env")),
    }
    match v.get("files") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Arr(files)) if files.is_empty() => Ok(()),
        Some(Value::Arr(files)) => {
            let live = v
                .strs("live_sessions")
                .ok_or_else(|| String::from("malformed live_sessions"))?;
            let written = super::files::materialise(env, session.unwrap_or("none"), files, &live)
                .map_err(|e| {
                alloc::format!("cannot write the granted credential files: {e}")
            })?;
            for (k, val) in written {
                env.set(&k, &val);
            }
            Ok(())
        }
        Some(_) => Err(String::from("malformed files")),
    }
}

fn basename(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// `exec::shell_argv`, for a front that passes no options on.
pub fn shell_argv(
    shell: &str,
    login: bool,
    startup: bool,
    text: &str,
    rest: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let mut argv: Vec<Vec<u8>> = alloc::vec![basename(shell).as_bytes().to_vec()];
    if startup {
        if login {
            argv.push(b"-l".to_vec());
        }
    } else {
        let switches: &[&str] = match basename(shell) {
            "bash" => &["--noprofile", "--norc"],
            "zsh" => &["-f"],
            _ => &[],
        };
        argv.extend(switches.iter().map(|s| s.as_bytes().to_vec()));
    }
    argv.push(b"-c".to_vec());
    // As `exec::shell_argv`: a script that looks like an option is ended
    // from the options, or the shell would take it for one and run the
    // next word, which nobody decided.
    if text.starts_with(['-', '+']) {
        argv.push(b"--".to_vec());
    }
    argv.push(text.as_bytes().to_vec());
    argv.extend(rest.iter().cloned());
    argv
}

/// Run the allowed line. Returns the errno of a failed exec of the shell.
pub fn exec(env: &mut Env, v: &Value, login: bool, text: &str, rest: &[Vec<u8>]) -> (String, i32) {
    let shell = String::from(v.str("shell").unwrap_or_default());
    let startup = v.bool("startup_files");
    if !(startup && login) {
        if let Some(argv) = v.strs("direct").filter(|a| !a.is_empty()) {
            direct(env, &argv);
        }
    }
    let argv = shell_argv(&shell, startup && login, startup, text, rest);
    let e = sys::execve(shell.as_bytes(), &argv, &env.entries());
    (shell, e)
}

/// `exec::direct`: the program found on PATH as bash finds it, with the
/// variables bash sets before such an exec. Returns whenever bash would
/// do anything else, having changed nothing that matters.
fn direct(env: &mut Env, argv: &[String]) {
    let Some(path) = find_program(env, &argv[0]) else {
        return;
    };
    let shlvl = match env.get("SHLVL") {
        None => String::from("0"),
        Some(v) if !v.is_empty() && v.len() <= 6 && v.bytes().all(|b| b.is_ascii_digit()) => {
            match v.parse::<u32>() {
                Ok(n) if n < 999 => alloc::format!("{n}"),
                _ => return,
            }
        }
        Some(_) => return,
    };
    if env.get("POSIXLY_CORRECT").is_some() {
        return;
    }
    let here = sys::getcwd();
    let pwd_ok = env.get("PWD").is_some_and(|p| {
        p.starts_with('/')
            && match (sys::stat(p.as_bytes(), true), sys::stat(b".", true)) {
                (Ok(a), Ok(b)) => a.dev == b.dev && a.ino == b.ino,
                _ => false,
            }
    });
    let mut next = Env(env.0.clone());
    next.set("SHLVL", &shlvl);
    if !pwd_ok {
        match &here {
            Some(h) => next.set("PWD", &String::from_utf8_lossy(h)),
            None => return,
        }
    }
    if next
        .get("OLDPWD")
        .is_some_and(|o| !sys::stat(o.as_bytes(), true).is_ok_and(|s| s.is_dir()))
    {
        next.remove("OLDPWD");
    }
    next.set("_", &path);
    let args: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    let _ = sys::execve(path.as_bytes(), &args, &next.entries());
}

fn find_program(env: &Env, name: &str) -> Option<String> {
    let ok = |p: &str| {
        sys::stat(p.as_bytes(), true).is_ok_and(|s| s.is_file()) && sys::executable(p.as_bytes())
    };
    if name.contains('/') {
        return ok(name).then(|| String::from(name));
    }
    for dir in env.get("PATH")?.split(':') {
        if !dir.starts_with('/') {
            return None;
        }
        let candidate = if dir.ends_with('/') {
            alloc::format!("{dir}{name}")
        } else {
            alloc::format!("{dir}/{name}")
        };
        if sys::stat(candidate.as_bytes(), true).is_ok() {
            return ok(&candidate).then_some(candidate);
        }
    }
    None
}
