//! Requests that are not lines: sessions and status. A peer sees and
//! ends only its own sessions (root sees all).

use std::sync::Arc;

use super::peer::Peer;
use super::Broker;
use crate::cli::sessions::{self, SessionCmd};
use crate::rules::load::{Config, ConfigError};
use crate::session::Session;
use crate::wire::{Reply, Request};

pub fn session(
    broker: &Arc<Broker>,
    peer: &Peer,
    cfg: &Result<Config, ConfigError>,
    req: Request,
) -> Result<Reply, String> {
    let id = req.id();
    let cmd = match req {
        Request::SessionStart {
            purpose,
            boundary,
            ttl,
            grants,
            json,
            ..
        } => SessionCmd::Start {
            purpose,
            boundary,
            ttl,
            grants,
            json,
        },
        Request::SessionEnd { session, .. } => SessionCmd::End { id: Some(session) },
        Request::SessionStatus { session, json, .. } => SessionCmd::Status {
            id: Some(session),
            json,
        },
        Request::SessionList { json, .. } => SessionCmd::List { json },
        other => return Err(format!("not a session request: {}", other.kind())),
    };
    let uid = peer.uid;
    let mine = move |s: &Session| uid == 0 || s.uid == Some(uid);
    let reply = match sessions::run_with(cfg, cmd, &mine) {
        Ok(out) => Reply::Done {
            id,
            code: out.code,
            stdout: out.stdout,
            stderr: String::new(),
        },
        Err(e) => Reply::Done {
            id,
            code: 2,
            stdout: String::new(),
            stderr: format!("guard: {e}\n"),
        },
    };
    // A session started here may have an owner to watch.
    for s in crate::session::store::live() {
        if s.uid == Some(uid) {
            broker.watcher.watch(&s);
        }
    }
    Ok(reply)
}

/// `guard status` against the broker.
pub fn status(broker: &Arc<Broker>, id: u64) -> Reply {
    let (generation, loaded_at) = broker.rules.describe();
    let body = serde_json::json!({
        "broker": concat!("guard ", env!("CARGO_PKG_VERSION")),
        "protocol": crate::wire::VERSION,
        "rules_generation": generation,
        "rules_loaded_at": loaded_at,
        "last_reload_error": broker.rules.last_error(),
        "config": super::rules::describe_source(broker.rules.source()),
        "exec_tree": broker.exec_tree,
        "started": broker.started,
    });
    Reply::Done {
        id,
        code: 0,
        stdout: body.to_string(),
        stderr: String::new(),
    }
}
