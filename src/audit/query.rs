//! Reading the log back: filters for `guard audit show`, and one readable
//! table row per record for `show` and `tail`.

use serde_json::Value;

/// What `show` keeps. Every given filter must hold.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub session: Option<String>,
    pub since: Option<jiff::Timestamp>,
    /// `allow`, `deny`, `event` or `exit`.
    pub decision: Option<String>,
}

impl Filter {
    pub fn keeps(&self, r: &Value) -> bool {
        if let Some(s) = &self.session {
            if r["session"].as_str() != Some(s.as_str()) {
                return false;
            }
        }
        if let Some(since) = self.since {
            let at = r["time"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            if at.is_none_or(|t| t < since) {
                return false;
            }
        }
        if let Some(d) = &self.decision {
            let kind = r["kind"].as_str().unwrap_or_default();
            let decision = r["decision"].as_str().unwrap_or_default();
            if d != kind && d != decision {
                return false;
            }
        }
        true
    }
}

/// Parse `--since`: an RFC 3339 time, or an age such as `10m`, `2h`, `1d`.
pub fn since(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let age = crate::approve::settings::duration(text)
        .map_err(|_| format!("--since {text}: expected RFC 3339 time or an age like 10m"))?;
    let age = jiff::SignedDuration::try_from(age).map_err(|e| e.to_string())?;
    jiff::Timestamp::now()
        .checked_sub(age)
        .map_err(|e| e.to_string())
}

/// Records of the lines that parse; lines that do not are for `verify`.
pub fn parse(text: &str) -> impl Iterator<Item = Value> + '_ {
    text.lines().filter_map(|l| serde_json::from_str(l).ok())
}

/// The table's header, matching `row`.
pub const HEADER: &str =
    "SEQ     TIME                  KIND      DECISION CHANNEL  SESSION              LINE";

/// One record as a table row.
pub fn row(r: &Value) -> String {
    let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
    let seq = r["seq"].as_u64().map_or("-".to_string(), |n| n.to_string());
    let time: String = s("time").chars().take(19).collect();
    let kind = s("kind");
    let (decision, channel, what) = if kind == "exit" {
        let how = match (r["status"].as_i64(), r["signal"].as_str()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => format!("killed by {sig}"),
            _ => "ended".to_string(),
        };
        let of = r["of"].as_u64().map_or("?".to_string(), |n| n.to_string());
        let ms = r["duration_ms"].as_u64().unwrap_or(0);
        (
            "-".to_string(),
            "-".to_string(),
            format!("{how} after {ms} ms (seq {of})"),
        )
    } else {
        let what = if s("line") == "-" || s("line").is_empty() {
            s("reason")
        } else {
            s("line")
        };
        (s("decision"), s("channel"), what)
    };
    let what: String = what.replace('\n', "⏎");
    format!(
        "{seq:<7} {time:<21} {kind:<9} {decision:<8} {channel:<8} {:<20} {what}",
        s("session")
    )
}

/// One line of a session, with what it started and how it ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LineNode {
    pub record: Value,
    /// Programs it started that a rule matched (`mode: exec`).
    pub execs: Vec<Value>,
    /// The one record of what no rule cared about.
    pub summary: Option<Value>,
    pub exit: Option<Value>,
}

/// A session: its purpose and boundary, then its lines in order, and
/// events about it (start, end, killed execs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionNode {
    pub session: String,
    pub purpose: Option<String>,
    pub boundary: Option<String>,
    pub lines: Vec<LineNode>,
    pub events: Vec<Value>,
}

/// The records as sessions of lines of programs: the "why" of each
/// program is the line that started it, and the line's is the session's
/// purpose.
pub fn tree(records: impl Iterator<Item = Value>, only: Option<&str>) -> Vec<SessionNode> {
    let mut sessions: Vec<SessionNode> = Vec::new();
    let mut line_at: std::collections::HashMap<u64, (usize, usize)> = Default::default();
    let index = |sessions: &mut Vec<SessionNode>, id: &str| -> usize {
        match sessions.iter().position(|s| s.session == id) {
            Some(i) => i,
            None => {
                sessions.push(SessionNode {
                    session: id.to_string(),
                    purpose: None,
                    boundary: None,
                    lines: Vec::new(),
                    events: Vec::new(),
                });
                sessions.len() - 1
            }
        }
    };
    for r in records {
        let Some(id) = r["session"].as_str().map(str::to_string) else {
            continue;
        };
        if only.is_some_and(|o| o != id) {
            continue;
        }
        let si = index(&mut sessions, &id);
        let s = &mut sessions[si];
        if s.purpose.is_none() {
            s.purpose = r["purpose"].as_str().map(str::to_string);
        }
        if s.boundary.is_none() {
            s.boundary = r["boundary"].as_str().map(str::to_string);
        }
        let kind = r["kind"].as_str().unwrap_or_default();
        let mode = r["mode"].as_str().unwrap_or_default();
        let parent = r["parent"].as_u64();
        let attached =
            |r: &Value, key: &str| r[key].as_u64().and_then(|p| line_at.get(&p).copied());
        match (kind, mode) {
            ("decision", "exec") | ("event", "exec-summary") => {
                if let Some((si, li)) = parent.and_then(|p| line_at.get(&p).copied()) {
                    let l = &mut sessions[si].lines[li];
                    if mode == "exec" {
                        l.execs.push(r);
                    } else {
                        l.summary = Some(r);
                    }
                } else {
                    sessions[si].events.push(r);
                }
            }
            ("decision", _) => {
                if let Some(seq) = r["seq"].as_u64() {
                    line_at.insert(seq, (si, sessions[si].lines.len()));
                }
                sessions[si].lines.push(LineNode {
                    record: r,
                    execs: Vec::new(),
                    summary: None,
                    exit: None,
                });
            }
            ("exit", _) => match attached(&r, "of") {
                Some((si, li)) => sessions[si].lines[li].exit = Some(r),
                None => sessions[si].events.push(r),
            },
            _ => sessions[si].events.push(r),
        }
    }
    sessions
}

/// The tree as text, one session after another.
pub fn render_tree(sessions: &[SessionNode]) -> String {
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let mut out = String::new();
    for sess in sessions {
        out.push_str(&format!(
            "session {}  purpose: {}  boundary: {}\n",
            sess.session,
            sess.purpose
                .as_deref()
                .map_or("(not declared)".to_string(), |p| format!("{p:?}")),
            sess.boundary.as_deref().unwrap_or("any")
        ));
        for l in &sess.lines {
            let r = &l.record;
            let who = match r["approver"].as_str() {
                Some(a) => format!(" (approved by {a}, {})", s(r, "channel")),
                None => String::new(),
            };
            let rule = r["rule"]
                .as_str()
                .map(|x| format!(" [rule {x}]"))
                .unwrap_or_default();
            let ended =
                l.exit
                    .as_ref()
                    .map(|e| match (e["status"].as_i64(), e["signal"].as_str()) {
                        (Some(c), _) => format!(", exit {c}"),
                        (None, Some(sig)) => format!(", killed by {sig}"),
                        _ => String::new(),
                    });
            out.push_str(&format!(
                "  #{} {} {}{who}{rule}{}\n",
                r["seq"].as_u64().unwrap_or(0),
                s(r, "decision"),
                s(r, "line").replace('\n', "⏎"),
                ended.unwrap_or_default()
            ));
            let mut children: Vec<String> = l
                .execs
                .iter()
                .map(|e| {
                    let rule = e["rule"]
                        .as_str()
                        .map(|x| format!(" [rule {x}]"))
                        .unwrap_or_default();
                    let who = e["approver"]
                        .as_str()
                        .map(|a| format!(" (approved by {a})"))
                        .unwrap_or_default();
                    format!(
                        "pid {} (parent {}) {} {}{who}{rule}",
                        e["pid"].as_i64().unwrap_or(0),
                        e["ppid"].as_i64().unwrap_or(0),
                        s(e, "decision"),
                        s(e, "line")
                    )
                })
                .collect();
            if let Some(sum) = &l.summary {
                children.push(format!("{}: {}", s(sum, "reason"), s(sum, "line")));
            }
            let n = children.len();
            for (i, c) in children.into_iter().enumerate() {
                let branch = if i + 1 == n { "└─" } else { "├─" };
                out.push_str(&format!("     {branch} {c}\n"));
            }
        }
        for e in &sess.events {
            let what = s(e, "mode");
            if matches!(
                what.as_str(),
                "exec-killed" | "session-end" | "session-start"
            ) {
                out.push_str(&format!("  ({what}) {}\n", s(e, "reason")));
            }
        }
    }
    out
}
