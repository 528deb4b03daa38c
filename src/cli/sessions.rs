//! `guard session start|end|status|list|reap`.

use clap::Subcommand;
use serde::Serialize;

use crate::rules::load;
use crate::session::store::{self, Ended};
use crate::session::{self, Kind, Session};

#[derive(Subcommand, Debug)]
pub enum SessionCmd {
    /// Start a session and print `export GUARD_SESSION=ID` (eval it).
    Start {
        /// Why the session exists: recorded with every decision in it.
        #[arg(long)]
        purpose: String,
        /// The boundary its commands must stay in (e.g. staging).
        #[arg(long)]
        boundary: Option<String>,
        /// How long it lives (e.g. 2h); default the config's session_ttl.
        #[arg(long)]
        ttl: Option<String>,
        /// A credential its commands may be given without review.
        #[arg(long = "grant", value_name = "CRED")]
        grants: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// End a session (default: $GUARD_SESSION), revoking its credentials.
    End { id: Option<String> },
    /// Show one session (default: $GUARD_SESSION).
    Status {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List live and ended sessions.
    List {
        #[arg(long)]
        json: bool,
    },
    /// End expired sessions and those whose process is gone.
    Reap,
}

#[derive(Serialize)]
struct View<'a> {
    #[serde(flatten)]
    session: &'a Session,
    state: &'a str,
    ended: Option<&'a str>,
    reason: Option<&'a str>,
}

fn view<'a>(s: &'a Session, ended: Option<&'a Ended>) -> View<'a> {
    View {
        session: s,
        state: if ended.is_some() { "ended" } else { "live" },
        ended: ended.map(|e| e.ended.as_str()),
        reason: ended.map(|e| e.reason.as_str()),
    }
}

fn current(id: Option<String>) -> Result<String, String> {
    id.or_else(|| std::env::var(session::VAR).ok())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| "no session given and GUARD_SESSION is not set".to_string())
}

/// What a session command prints, so the broker can run it for a client.
#[derive(Debug, Default)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
}

impl Out {
    fn line(&mut self, text: impl AsRef<str>) {
        self.stdout.push_str(text.as_ref());
        self.stdout.push('\n');
    }
}

pub fn run(home: &str, cmd: SessionCmd) -> i32 {
    // With a broker, sessions live there: ask it.
    let client = crate::client::settings::read();
    if let Some(spec) = &client.broker {
        return remote(spec, cmd);
    }
    let cfg = load::load(home);
    let result = run_with(&cfg, cmd, &|_| true);
    match result {
        Ok(out) => {
            print!("{}", out.stdout);
            out.code
        }
        Err(e) => {
            eprintln!("guard: {e}");
            2
        }
    }
}

/// Run a session command against `cfg`. `mine` says whether a session
/// may be shown to or ended by whoever asks (the broker: only their own).
pub fn run_with(
    cfg: &Result<load::Config, load::ConfigError>,
    cmd: SessionCmd,
    mine: &dyn Fn(&Session) -> bool,
) -> Result<Out, String> {
    match cmd {
        SessionCmd::Start {
            purpose,
            boundary,
            ttl,
            grants,
            json,
        } => start(cfg, purpose, boundary, ttl, grants, json),
        SessionCmd::End { id } => end(id, mine),
        SessionCmd::Status { id, json } => status(id, json, mine),
        SessionCmd::List { json } => list(json, mine),
        SessionCmd::Reap => {
            let mut out = Out::default();
            for e in store::reap().ended {
                out.line(format!("{}\t{}", e.session.id, e.reason));
            }
            Ok(out)
        }
    }
}

fn remote(spec: &crate::rules::load::BrokerSpec, cmd: SessionCmd) -> i32 {
    use crate::wire::Request;
    let mut conn = match crate::client::Conn::open(spec) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("guard: {e}");
            return 2;
        }
    };
    let id = conn.id();
    let req = match cmd {
        SessionCmd::Start {
            purpose,
            boundary,
            ttl,
            grants,
            json,
        } => Request::SessionStart {
            id,
            purpose,
            boundary,
            ttl,
            grants,
            json,
        },
        SessionCmd::End { id: s } => match current(s) {
            Ok(session) => Request::SessionEnd { id, session },
            Err(e) => {
                eprintln!("guard: {e}");
                return 2;
            }
        },
        SessionCmd::Status { id: s, json } => match current(s) {
            Ok(session) => Request::SessionStatus { id, session, json },
            Err(e) => {
                eprintln!("guard: {e}");
                return 2;
            }
        },
        SessionCmd::List { json } => Request::SessionList { id, json },
        SessionCmd::Reap => {
            println!("the broker reaps sessions itself");
            return 0;
        }
    };
    match conn.request(req) {
        Ok((code, stdout, stderr)) => {
            print!("{stdout}");
            eprint!("{stderr}");
            code
        }
        Err(e) => {
            eprintln!("guard: {e}");
            2
        }
    }
}

fn start(
    cfg: &Result<load::Config, load::ConfigError>,
    purpose: String,
    boundary: Option<String>,
    ttl: Option<String>,
    grants: Vec<String>,
    json: bool,
) -> Result<Out, String> {
    let cfg = cfg.as_ref().map_err(|e| e.to_string())?;
    let settings = &cfg.sessions;
    if purpose.trim().is_empty() {
        return Err("--purpose must say why the session exists".to_string());
    }
    if let Some(b) = &boundary {
        if !settings.boundaries.contains_key(b) {
            let known: Vec<&str> = settings.boundaries.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown boundary `{b}` (the config defines: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    for g in &grants {
        let def = settings
            .credential(g)
            .ok_or_else(|| format!("unknown credential `{g}`"))?;
        if let (Some(want), Some(b)) = (&boundary, &def.boundary) {
            if want != b {
                return Err(format!(
                    "credential `{g}` belongs to boundary {b}; the session is scoped to {want}"
                ));
            }
        }
    }
    let ttl = match &ttl {
        Some(t) => crate::approve::settings::duration(t)?,
        None => settings.session_ttl,
    };
    let mut s = Session::new(Kind::Explicit, session::new_id(), ttl, None);
    s.tty_dev = tty_of_asker();
    s.purpose = Some(purpose);
    s.boundary = boundary;
    s.grants = grants;
    store::save(&s).map_err(|e| format!("cannot save the session: {e}"))?;
    crate::audit::event(
        "session-start",
        &s.id,
        &format!(
            "session started: purpose {:?}, boundary {}, grants [{}], expires {}",
            s.purpose.as_deref().unwrap_or_default(),
            s.boundary.as_deref().unwrap_or("any"),
            s.grants.join(", "),
            s.expires
        ),
    );
    let mut out = Out::default();
    if json {
        out.line(serde_json::to_string_pretty(&view(&s, None)).unwrap_or_default());
    } else {
        out.line(format!("export {}={};", session::VAR, s.id));
        out.line(format!(
            "echo Session {} started, expires {};",
            s.id, s.expires
        ));
    }
    Ok(out)
}

/// The terminal of whoever asked for the session: the broker's peer, or
/// this process.
fn tty_of_asker() -> Option<u64> {
    let pid = crate::actor::current().pid;
    crate::session::owner::stat(pid)
        .map(|s| s.tty_nr)
        .filter(|t| *t != 0)
}

fn end(id: Option<String>, mine: &dyn Fn(&Session) -> bool) -> Result<Out, String> {
    let id = current(id)?;
    if let Ok(Some(s)) = store::load(&id) {
        if !mine(&s) {
            return Err(format!("session {id} is not yours"));
        }
    }
    let mut out = Out::default();
    match store::end(&id, "ended by `guard session end`") {
        Some(e) => {
            let revoked: Vec<String> = e
                .revoked
                .iter()
                .map(|r| format!("{} ({})", r.credential, r.outcome))
                .collect();
            out.line(format!(
                "session {id} ended{}",
                if revoked.is_empty() {
                    String::new()
                } else {
                    format!("; revoked {}", revoked.join(", "))
                }
            ));
            Ok(out)
        }
        None => match store::ended_reason(&id) {
            // Ending twice is not an error: teardown is idempotent.
            Some(why) => {
                out.line(format!("session {id} had already ended ({why})"));
                Ok(out)
            }
            None => Err(format!("no session {id}")),
        },
    }
}

fn status(id: Option<String>, json: bool, mine: &dyn Fn(&Session) -> bool) -> Result<Out, String> {
    let id = current(id)?;
    let live = store::load(&id).map_err(|e| e.to_string())?;
    let ended = store::ended(&id);
    let s = match (&live, &ended) {
        (Some(s), _) => s,
        (None, Some(e)) => &e.session,
        (None, None) => return Err(format!("no session {id}")),
    };
    if !mine(s) {
        return Err(format!("no session {id}"));
    }
    let v = view(s, if live.is_some() { None } else { ended.as_ref() });
    let mut out = Out::default();
    if json {
        out.line(serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print_table(&mut out, &[v]);
    }
    Ok(out)
}

fn list(json: bool, mine: &dyn Fn(&Session) -> bool) -> Result<Out, String> {
    let live: Vec<Session> = store::live().into_iter().filter(|s| mine(s)).collect();
    let ended: Vec<Ended> = store::all_ended()
        .into_iter()
        .filter(|e| mine(&e.session))
        .collect();
    let mut views: Vec<View<'_>> = live.iter().map(|s| view(s, None)).collect();
    views.extend(ended.iter().map(|e| view(&e.session, Some(e))));
    let mut out = Out::default();
    if json {
        out.line(serde_json::to_string_pretty(&views).unwrap_or_default());
    } else {
        print_table(&mut out, &views);
    }
    Ok(out)
}

fn print_table(out: &mut Out, views: &[View<'_>]) {
    out.line(format!(
        "{:<34} {:<8} {:<6} {:<10} {:<25} PURPOSE",
        "ID", "KIND", "STATE", "BOUNDARY", "EXPIRES/ENDED"
    ));
    for v in views {
        let s = v.session;
        let kind = match s.kind {
            Kind::Explicit => "explicit",
            Kind::Login => "login",
            Kind::Harness => "harness",
        };
        out.line(format!(
            "{:<34} {:<8} {:<6} {:<10} {:<25} {}",
            s.id,
            kind,
            v.state,
            s.boundary.as_deref().unwrap_or("any"),
            v.ended.unwrap_or(&s.expires),
            s.purpose.as_deref().unwrap_or("-")
        ));
    }
}
