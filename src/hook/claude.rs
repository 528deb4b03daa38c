//! Claude Code's PreToolUse hook: the documented input on stdin
//! (`tool_name`, `tool_input`, `cwd`, …), and on stdout
//! `{"hookSpecificOutput":{"hookEventName":"PreToolUse",
//! "permissionDecision":"allow"|"ask"|"deny","permissionDecisionReason":…}}`
//! with exit 0. Input guard cannot read blocks the call: exit 2, with the
//! reason on stderr, which is how Claude Code documents a blocking error.

use serde_json::{json, Value};

use super::{Call, Outcome};

/// The tool call a PreToolUse payload describes.
pub fn call(input: &Value) -> Result<Call, String> {
    let t = super::ToolInput::of(input)?;
    let (tool, args) = (t.tool, t.args);
    let text = |k: &str| t.text(k);
    let need = |k: &str| t.need(k);
    Ok(match tool {
        "Bash" => Call::Line(need("command")?),
        "Read" => Call::Read(vec![need("file_path")?]),
        "Write" | "Edit" | "MultiEdit" => Call::Write(vec![need("file_path")?]),
        "NotebookEdit" => Call::Write(vec![need("notebook_path")?]),
        "Grep" => Call::Search {
            path: text("path").unwrap_or_else(|| ".".to_string()),
            glob: text("glob"),
        },
        // Names only: a listing is not a read (as `ls` is not, in a line).
        "Glob" | "LS" => Call::Nothing(format!("{tool} {}", args)),
        other => Call::Nothing(other.to_string()),
    })
}

/// The hook's stdout for an outcome. `defer_allow` leaves an allow
/// undecided, so Claude Code's own permission prompts still apply.
pub fn output(outcome: &Outcome, defer_allow: bool) -> Value {
    let decision = match outcome {
        Outcome::Allow(_) if defer_allow => {
            return json!({"hookSpecificOutput": {"hookEventName": "PreToolUse"}})
        }
        Outcome::Allow(_) => "allow",
        Outcome::Ask(_) => "ask",
        Outcome::Deny(_) => "deny",
    };
    json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": outcome.reason(),
        }
    })
}
