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
