//! What a request is, as the approver judges it: who asked, what it
//! matched, how many reviewers it needs, and who may not review it.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::config::Config;

/// The fields the approver acts on. The body itself is stored whole.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: String,
    pub command: String,
    pub agent: String,
    pub host: String,
    pub session_id: Option<String>,
    /// The user who opened the session, when guard says.
    pub owner: Option<String>,
    pub rules: Vec<String>,
    pub risks: Vec<String>,
    pub boundaries: Vec<String>,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub fingerprint: String,
}

/// The longest request id guard makes is 24 hex digits; anything that is
/// not a short token is refused before it reaches a URL or a table.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

fn text(v: &Value, what: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("`{what}` must be a string"))
}

pub fn summarize(body: &Value) -> Result<Summary, String> {
    if !body.is_object() {
        return Err("the request must be a JSON object".to_string());
    }
    let id = text(&body["id"], "id")?;
    if !valid_id(&id) {
        return Err("`id` must be 1 to 64 letters or digits".to_string());
    }
    let command = text(&body["command"], "command")?;
    let agent = text(&body["user"], "user")?;
    let host = body["host"].as_str().unwrap_or("").to_string();
    let expires = text(&body["expires_at"], "expires_at")?;
    let expires_at = expires
        .parse::<jiff::Timestamp>()
        .map_err(|e| format!("`expires_at` is not a timestamp: {e}"))?
        .as_millisecond();
    let session = &body["session"];
    let session_id = session["id"].as_str().map(str::to_string);
    let owner = session["owner"].as_str().map(str::to_string);
    let mut rules = Vec::new();
    let mut risks = Vec::new();
    for m in body["matches"].as_array().into_iter().flatten() {
        if let Some(r) = m["rule"].as_str() {
            rules.push(r.to_string());
        }
        if let Some(r) = m["risk"].as_str() {
            risks.push(r.to_string());
        }
    }
    let mut boundaries: Vec<String> = session["boundary"]
        .as_str()
        .map(str::to_string)
        .into_iter()
        .collect();
    for t in body["targets"].as_array().into_iter().flatten() {
        if let Some(b) = t["boundary"].as_str() {
            boundaries.push(b.to_string());
        }
    }
    // What "the same request" means for allow-for-session: the commands
    // guard found and the line, from the same account, host, session
    // owner and directory, aimed at the same boundaries. A session grant
    // for a staging command says nothing about the same words in prod.
    let mut h = Sha256::new();
    for part in [
        body["commands"].to_string(),
        command.clone(),
        agent.clone(),
        host.clone(),
        owner.clone().unwrap_or_default(),
        body["cwd"].as_str().unwrap_or("").to_string(),
        {
            let mut b = boundaries.clone();
            b.sort();
            b.dedup();
            b.join(",")
        },
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let fingerprint = crate::hex::encode(h.finalize());
    Ok(Summary {
        id,
        command,
        agent,
        host,
        session_id,
        owner,
        rules,
        risks,
        boundaries,
        expires_at,
        fingerprint,
    })
}

/// The most any matching `approvals_required` entry asks for, at least 1.
pub fn required(config: &Config, s: &Summary) -> u32 {
    config
        .approvals_required
        .iter()
        .filter(|r| {
            r.rule.as_ref().is_some_and(|x| s.rules.contains(x))
                || r.risk.as_ref().is_some_and(|x| s.risks.contains(x))
                || r.boundary
                    .as_ref()
                    .is_some_and(|x| s.boundaries.contains(x))
        })
        .map(|r| r.count)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// A name as an account: case folded and any `@domain` dropped, so
/// `Agent7` or `agent7@corp` (an SSO name) is still agent7.
pub fn account(name: &str) -> String {
    name.split('@').next().unwrap_or(name).trim().to_lowercase()
}

/// Why `reviewer` may not approve a request from `agent` in a session
/// opened by `owner`, if they may not.
pub fn self_approval(
    config: &Config,
    reviewer: &str,
    agent: &str,
    owner: Option<&str>,
) -> Option<String> {
    let me = account(reviewer);
    if me == account(agent) {
        return Some(format!("{reviewer} asked for this; no self-approval"));
    }
    if owner.is_some_and(|o| account(o) == me) {
        return Some(format!("{reviewer} owns this session; no self-approval"));
    }
    if config.agents.iter().any(|a| account(a) == me) {
        return Some(format!("{reviewer} is an agent account and cannot approve"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approver::config::Required;

    fn body(rule: &str, risk: &str, boundary: Option<&str>) -> Value {
        serde_json::json!({
            "id": "abc123", "command": "aws s3 ls", "user": "agent", "host": "h",
            "expires_at": "2030-01-01T00:00:00Z",
            "session": {"id": "s1", "boundary": boundary, "owner": "olive"},
            "matches": [{"rule": rule, "risk": risk}],
            "commands": [{"argv": ["aws", "s3", "ls"]}],
        })
    }

    #[test]
    fn the_largest_matching_count_wins() {
        let config = Config {
            approvals_required: vec![
                Required {
                    rule: Some("cloud.aws".into()),
                    risk: None,
                    boundary: None,
                    count: 2,
                },
                Required {
                    rule: None,
                    risk: None,
                    boundary: Some("prod".into()),
                    count: 3,
                },
            ],
            ..Config::default()
        };
        let table = [
            (body("cloud.aws", "high", None), 2),
            (body("cloud.aws", "high", Some("prod")), 3),
            (body("kube.kubectl", "high", Some("staging")), 1),
            (body("kube.kubectl", "high", Some("prod")), 3),
        ];
        for (b, want) in table {
            let s = summarize(&b).unwrap();
            assert_eq!(required(&config, &s), want, "{b}");
        }
    }

    #[test]
    fn malformed_requests_are_refused() {
        for bad in [
            serde_json::json!([]),
            serde_json::json!({"command": "x", "user": "a", "expires_at": "2030-01-01T00:00:00Z"}),
            serde_json::json!({"id": "../x", "command": "x", "user": "a", "expires_at": "2030-01-01T00:00:00Z"}),
            serde_json::json!({"id": "a1", "command": 7, "user": "a", "expires_at": "2030-01-01T00:00:00Z"}),
            serde_json::json!({"id": "a1", "command": "x", "user": "a", "expires_at": "soon"}),
        ] {
            assert!(summarize(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_one_approves_their_own_request() {
        let config = Config {
            agents: vec!["bot".into()],
            ..Config::default()
        };
        let table = [
            ("agent", "agent", Some("olive"), true),
            ("olive", "agent", Some("olive"), true),
            ("bot", "agent", None, true),
            ("Agent", "agent", None, true),
            ("olive@corp.example", "agent", Some("olive"), true),
            ("BOT", "agent", None, true),
            ("ann", "agent", Some("olive"), false),
        ];
        for (reviewer, agent, owner, refused) in table {
            assert_eq!(
                self_approval(&config, reviewer, agent, owner).is_some(),
                refused,
                "{reviewer}"
            );
        }
    }
}
