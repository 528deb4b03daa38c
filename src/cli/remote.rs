//! Shell mode with a broker: the line goes to the broker with its
//! context, and the answer says whether and how to run it. Any failure to
//! get an answer refuses the line with one `guard:` line; there is no
//! falling back to deciding in-process.

use std::ffi::OsString;

use super::flags::ShellArgs;
use super::interactive::{Backend, Finisher, LineRun};
use super::shell::{self, Given, Launch, REFUSED};
use crate::client::{self, Conn};
use crate::exec;
use crate::parse::Env;
use crate::rules::load::BrokerSpec;
use crate::session;
use crate::supervise::Ended;
use crate::wire::{Request, Verdict};

pub(super) fn run(flags: &ShellArgs, spec: &BrokerSpec) -> i32 {
    let given = match shell::given(flags) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let starts = shell::starts_session(flags);
    match given {
        Given::Interactive => interactive(flags, spec),
        Given::Argv(words) => {
            let ask = Ask {
                mode: "argv",
                line: None,
                argv: Some(words.clone()),
                scope: None,
            };
            let Decided {
                conn: _conn,
                v,
                sent,
            } = match decide(spec, flags, starts, ask) {
                Ok(x) => x,
                Err(code) => return code,
            };
            if let Err(code) = apply(&v, &sent) {
                return code;
            }
            let argv: Vec<OsString> = words.iter().map(OsString::from).collect();
            super::run::command(v.session.clone(), v.seq, 127, || exec::argv(&argv), || {})
        }
        Given::Script { mode, text } => {
            let ask = Ask {
                mode,
                line: Some(text.clone()),
                argv: None,
                scope: None,
            };
            let Decided {
                conn: _conn,
                v,
                sent,
            } = match decide(spec, flags, starts, ask) {
                Ok(x) => x,
                Err(code) => return code,
            };
            if let Err(code) = apply(&v, &sent) {
                return code;
            }
            let launch = Launch {
                shell: &v.shell,
                startup: v.startup_files,
                flags,
                text: &text,
                direct: v.direct.as_deref(),
            };
            super::run::command(v.session.clone(), v.seq, REFUSED, || launch.exec(), || {})
        }
    }
}

/// What is being asked about.
struct Ask {
    mode: &'static str,
    line: Option<String>,
    argv: Option<Vec<String>>,
    scope: Option<String>,
}

fn refuse(e: &client::ClientError) -> i32 {
    eprintln!("guard: {e}");
    REFUSED
}

fn decide(spec: &BrokerSpec, flags: &ShellArgs, starts: bool, ask: Ask) -> Result<Decided, i32> {
    let mut conn = Conn::open(spec).map_err(|e| refuse(&e))?;
    let (env_names, env) = client::environment();
    let sent = Sent(env.keys().cloned().collect());
    let id = conn.id();
    // For the tracer of the line, which the broker starts before it
    // answers: reviews of what the line starts are drawn there.
    let terminal = client::own_terminal();
    let req = Request::Decide {
        id,
        mode: ask.mode.to_string(),
        line: ask.line,
        argv: ask.argv,
        login: flags.login,
        starts_session: starts,
        session: std::env::var(session::VAR).ok().filter(|s| !s.is_empty()),
        cwd: std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        env_names,
        env,
        scope: ask.scope,
        tty: terminal.is_some(),
    };
    let v = conn
        .decide(req, terminal.as_ref())
        .map_err(|e| refuse(&e))?;
    Ok(Decided { conn, v, sent })
}

/// The names whose values the broker was sent, and so scanned for
/// secrets: the client scans only the rest.
struct Sent(std::collections::BTreeSet<String>);

impl Sent {
    fn scan_here(&self, name: &str) -> bool {
        !self.0.contains(name)
    }
}

/// A verdict, with the connection it came on: kept open until the line
/// is set up, so the broker sees this client until then.
struct Decided {
    conn: Conn,
    v: Verdict,
    sent: Sent,
}

/// Print what the broker said, and on an allow set up the environment
/// the line runs with: scrubbed, the session exported, the credentials
/// granted.
fn apply(v: &Verdict, sent: &Sent) -> Result<(), i32> {
    for line in &v.stderr {
        eprintln!("{line}");
    }
    if !v.allow {
        return Err(refusal_code(v.code));
    }
    exec::scrub(&|name| v.unset_env.iter().any(|n| n == name), &|name| {
        sent.scan_here(name)
    });
    let set = |k: &str, val: &str| {
        // SAFETY: single-threaded; the command is started next.
        unsafe { std::env::set_var(k, val) };
    };
    if let Some(id) = &v.session {
        set(session::VAR, id);
    }
    for (k, val) in &v.set_env {
        set(k, val);
    }
    if !v.files.is_empty() {
        let session = v.session.as_deref().unwrap_or("none");
        match client::files::materialise(session, &v.files, &v.live_sessions) {
            Ok(env) => {
                for (k, val) in env {
                    set(&k, &val);
                }
            }
            Err(e) => {
                eprintln!("guard: denied: cannot write the granted credential files: {e}");
                return Err(REFUSED);
            }
        }
    }
    Ok(())
}

/// An interactive shell whose lines the broker decides. Its session is
/// opened first, so the prompt and the saved state can name it.
fn interactive(flags: &ShellArgs, spec: &BrokerSpec) -> i32 {
    let open = Ask {
        mode: "open",
        line: None,
        argv: None,
        scope: None,
    };
    // The whole interactive session is traced (the broker attached
    // before it answered): every program any of its lines starts is
    // decided as it starts.
    let Decided { conn, v, sent } = match decide(spec, flags, true, open) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Err(code) = apply(&v, &sent) {
        return code;
    }
    drop(conn);
    let home = Env::from_process().home;
    let mut backend = Remote {
        spec: spec.clone(),
        flags,
        session: v.session.clone().unwrap_or_else(|| "none".to_string()),
        shell: v.shell.clone(),
        startup: v.startup_files,
        unset: v.unset_env.clone(),
    };
    super::interactive::run(&mut backend, flags, &home)
}

struct Remote<'a> {
    spec: BrokerSpec,
    flags: &'a ShellArgs,
    session: String,
    shell: String,
    startup: bool,
    unset: Vec<String>,
}

impl Backend for Remote<'_> {
    fn session(&self) -> String {
        self.session.clone()
    }

    fn owns_session(&self) -> bool {
        true
    }

    /// The shell's own scratch space (snapshots, history), private to the
    /// agent and apart from where an embedded guard keeps its state: in
    /// broker mode nothing here is guard's state, and nothing the broker
    /// trusts.
    fn state_dir(&self) -> Option<std::path::PathBuf> {
        crate::client::files::runtime_dir().ok()
    }

    fn line(&mut self, line: &str, _env: &Env, snapshot: &str) -> Result<LineRun, i32> {
        let ask = Ask {
            mode: "interactive",
            line: Some(line.to_string()),
            argv: None,
            scope: Some(snapshot.to_string()),
        };
        let Decided { v, .. } = decide(&self.spec, self.flags, false, ask)?;
        for l in &v.stderr {
            eprintln!("{l}");
        }
        if !v.allow {
            return Err(refusal_code(v.code));
        }
        self.shell = v.shell.clone();
        self.startup = v.startup_files;
        self.unset = v.unset_env.clone();
        let mut env: Vec<(String, String)> = v.set_env.clone().into_iter().collect();
        if !v.files.is_empty() {
            match client::files::materialise(&self.session, &v.files, &v.live_sessions) {
                Ok(more) => env.extend(more),
                Err(e) => {
                    eprintln!("guard: denied: cannot write the granted credential files: {e}");
                    return Err(REFUSED);
                }
            }
        }
        Ok(LineRun {
            env,
            seq: v.seq,
            trace: None,
        })
    }

    fn shell(&self) -> (String, bool) {
        (self.shell.clone(), self.startup)
    }

    fn scrubbed(&self, name: &str) -> bool {
        self.unset.iter().any(|n| n == name)
    }

    fn exited(&self, _seq: Option<u64>, _ended: &Ended, _took: std::time::Duration) {}

    /// Never asked: the broker traces the whole session.
    fn run_traced(
        &self,
        _line: crate::trace::judge::Line,
        _launch: Vec<String>,
        exec: &mut dyn FnMut() -> crate::exec::ExecError,
    ) -> Ended {
        let _ = exec;
        Ended::Exited(REFUSED)
    }

    /// The broker ends the session when this process is gone: it holds
    /// this shell's pidfd.
    fn finisher(&self) -> Finisher {
        std::sync::Arc::new(|_why: &str| {})
    }

    fn started(&self) {}
}

/// The exit status of a refusal the broker sent: its code when that is a
/// status (1..=255), else guard's own. `exit(256)` would be a success.
fn refusal_code(code: i32) -> i32 {
    if (1..=255).contains(&code) {
        code
    } else {
        REFUSED
    }
}

#[cfg(test)]
mod tests {
    use super::{refusal_code, REFUSED};

    #[test]
    fn a_refusal_never_exits_as_a_success() {
        let cases = [
            (1, 1),
            (126, 126),
            (255, 255),
            (0, REFUSED),
            (256, REFUSED),
            (512, REFUSED),
            (-1, REFUSED),
            (i32::MIN, REFUSED),
        ];
        for (code, want) in cases {
            assert_eq!(refusal_code(code), want, "{code}");
        }
    }
}
