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

pub fn run(home: &str, cmd: SessionCmd) -> i32 {
    let result = match cmd {
        SessionCmd::Start {
            purpose,
            boundary,
            ttl,
            grants,
            json,
        } => start(home, purpose, boundary, ttl, grants, json),
        SessionCmd::End { id } => end(id),
        SessionCmd::Status { id, json } => status(id, json),
        SessionCmd::List { json } => list(json),
        SessionCmd::Reap => {
            for e in store::reap().ended {
                println!("{}\t{}", e.session.id, e.reason);
            }
            Ok(0)
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("guard: {e}");
        2
    })
}

fn start(
    home: &str,
    purpose: String,
    boundary: Option<String>,
    ttl: Option<String>,
    grants: Vec<String>,
    json: bool,
) -> Result<i32, String> {
    let cfg = load::load(home).map_err(|e| e.to_string())?;
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
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&view(&s, None)).unwrap_or_default()
        );
    } else {
        println!("export {}={};", session::VAR, s.id);
        println!("echo Session {} started, expires {};", s.id, s.expires);
    }
    Ok(0)
}

fn end(id: Option<String>) -> Result<i32, String> {
    let id = current(id)?;
    match store::end(&id, "ended by `guard session end`") {
        Some(e) => {
            let revoked: Vec<String> = e
                .revoked
                .iter()
                .map(|r| format!("{} ({})", r.credential, r.outcome))
                .collect();
            println!(
                "session {id} ended{}",
                if revoked.is_empty() {
                    String::new()
                } else {
                    format!("; revoked {}", revoked.join(", "))
                }
            );
            Ok(0)
        }
        None => match store::ended_reason(&id) {
            // Ending twice is not an error: teardown is idempotent.
            Some(why) => {
                println!("session {id} had already ended ({why})");
                Ok(0)
            }
            None => Err(format!("no session {id}")),
        },
    }
}

fn status(id: Option<String>, json: bool) -> Result<i32, String> {
    let id = current(id)?;
    let live = store::load(&id).map_err(|e| e.to_string())?;
    let ended = store::ended(&id);
    let s = match (&live, &ended) {
        (Some(s), _) => s,
        (None, Some(e)) => &e.session,
        (None, None) => return Err(format!("no session {id}")),
    };
    let v = view(s, if live.is_some() { None } else { ended.as_ref() });
    if json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print_table(&[v]);
    }
    Ok(0)
}

fn list(json: bool) -> Result<i32, String> {
    let live = store::live();
    let ended = store::all_ended();
    let mut views: Vec<View<'_>> = live.iter().map(|s| view(s, None)).collect();
    views.extend(ended.iter().map(|e| view(&e.session, Some(e))));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&views).unwrap_or_default()
        );
    } else {
        print_table(&views);
    }
    Ok(0)
}

fn print_table(views: &[View<'_>]) {
    println!(
        "{:<34} {:<8} {:<6} {:<10} {:<25} PURPOSE",
        "ID", "KIND", "STATE", "BOUNDARY", "EXPIRES/ENDED"
    );
    for v in views {
        let s = v.session;
        let kind = match s.kind {
            Kind::Explicit => "explicit",
            Kind::Login => "login",
            Kind::Harness => "harness",
        };
        println!(
            "{:<34} {:<8} {:<6} {:<10} {:<25} {}",
            s.id,
            kind,
            v.state,
            s.boundary.as_deref().unwrap_or("any"),
            v.ended.unwrap_or(&s.expires),
            s.purpose.as_deref().unwrap_or("-")
        );
    }
}
