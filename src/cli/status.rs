//! `guard status`: how lines are decided on this account, and how far
//! that can be trusted.

use serde::Serialize;

use crate::client::{self, Conn};
use crate::wire::Request;

/// What embedded mode can and cannot promise, said wherever it shows.
pub const ADVISORY: &str = "embedded mode is advisory: guard runs as the account it guards, \
so that account can reach its log, its state and its credentials; configure a broker to enforce";

#[derive(Serialize)]
struct Status {
    /// `embedded` or `broker`.
    mode: &'static str,
    advisory: bool,
    note: Option<&'static str>,
    broker: Option<BrokerStatus>,
    /// The admin file the settings came from.
    admin_config: Option<String>,
    /// Files that failed the ownership check and were read with user
    /// trust only.
    untrusted_config: Vec<String>,
    /// `on`, `off`, or `on (default)`.
    exec_tree: String,
    /// Whether this machine can trace (seccomp and ptrace), or why not:
    /// with `exec_tree` on and no tracing, every line is refused.
    tracing: String,
    config_error: Option<String>,
}

#[derive(Serialize)]
struct BrokerStatus {
    socket: String,
    user: String,
    answers: bool,
    version: Option<String>,
    protocol: Option<u32>,
    error: Option<String>,
    /// What the broker reports about itself.
    report: Option<serde_json::Value>,
}

pub fn run(json: bool) -> i32 {
    let s = client::settings::read();
    let broker = s.broker.as_ref().map(|spec| {
        let mut b = BrokerStatus {
            socket: spec.socket.display().to_string(),
            user: spec.user.clone(),
            answers: false,
            version: None,
            protocol: None,
            error: None,
            report: None,
        };
        match Conn::open(spec).and_then(|mut c| c.greeted().map(|()| c)) {
            Ok(mut conn) => {
                b.answers = true;
                b.version = Some(conn.broker_version.clone());
                b.protocol = Some(crate::wire::VERSION);
                let id = conn.id();
                match conn.request(Request::Status { id }) {
                    Ok((_, out, _)) => b.report = serde_json::from_str(&out).ok(),
                    Err(e) => b.error = Some(e.to_string()),
                }
            }
            Err(e) => b.error = Some(e.to_string()),
        }
        b
    });
    let embedded = broker.is_none();
    let st = Status {
        mode: if embedded { "embedded" } else { "broker" },
        advisory: embedded,
        note: embedded.then_some(ADVISORY),
        exec_tree: match s.exec_tree {
            Some(true) => "on".to_string(),
            Some(false) => "off".to_string(),
            None => "on (default)".to_string(),
        },
        tracing: match crate::trace::available() {
            Ok(()) => "available".to_string(),
            Err(why) => format!("unavailable: {why}"),
        },
        broker,
        admin_config: s.admin_file.as_ref().map(|p| p.display().to_string()),
        untrusted_config: s.untrusted.clone(),
        config_error: s.error.clone(),
    };
    let ok = st.config_error.is_none() && st.broker.as_ref().is_none_or(|b| b.answers);
    if json {
        println!("{}", serde_json::to_string(&st).unwrap_or_default());
    } else {
        println!("mode: {}", st.mode);
        if let Some(n) = st.note {
            println!("note: {n}");
        }
        if let Some(b) = &st.broker {
            println!(
                "broker: {} (user {}): {}",
                b.socket,
                b.user,
                if b.answers {
                    format!("answers, {}", b.version.as_deref().unwrap_or("?"))
                } else {
                    format!("not answering: {}", b.error.as_deref().unwrap_or("?"))
                }
            );
        }
        match &st.admin_config {
            Some(f) => println!("admin config: {f}"),
            None => println!("admin config: none"),
        }
        for u in &st.untrusted_config {
            println!("user trust only: {u}");
        }
        println!("exec_tree: {} (tracing {})", st.exec_tree, st.tracing);
        if let Some(e) = &st.config_error {
            println!("config error: {e}");
        }
    }
    i32::from(!ok)
}
