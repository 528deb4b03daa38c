//! `guard hook json`: a harness-neutral hook (schemas/hook-json.schema.json).
//! Input `{"tool":"shell","command":…}` or `{"tool":"read"|"write",
//! "paths":[…]}`, optional `cwd`; output `{"decision":"allow"|"ask"|"deny",
//! "reason":…}`. Exit 0 with a decision; 2 when guard cannot decide.

use serde_json::{json, Value};

use super::{Call, Outcome};

pub fn call(input: &Value) -> Result<Call, String> {
    let tool = input["tool"].as_str().ok_or("the input has no `tool`")?;
    let paths = || -> Result<Vec<String>, String> {
        let list = input["paths"]
            .as_array()
            .ok_or_else(|| format!("`{tool}` needs `paths`"))?;
        list.iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "`paths` must be strings".to_string())
            })
            .collect()
    };
    Ok(match tool {
        "shell" => Call::Line(
            input["command"]
                .as_str()
                .ok_or("`shell` needs `command`")?
                .to_string(),
        ),
        "read" => Call::Read(paths()?),
        "write" => Call::Write(paths()?),
        other => return Err(format!("unknown tool `{other}` (shell, read or write)")),
    })
}

pub fn output(outcome: &Outcome) -> Value {
    let decision = match outcome {
        Outcome::Allow(_) => "allow",
        Outcome::Ask(_) => "ask",
        Outcome::Deny(_) => "deny",
    };
    json!({"decision": decision, "reason": outcome.reason()})
}
