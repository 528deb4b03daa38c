//! Gemini CLI's BeforeTool hook: `tool_name` and `tool_input` on stdin;
//! on stdout `{"decision":"allow"|"deny","reason":…}` with exit 0. Gemini
//! CLI has no "ask", so a review with no approver configured is a deny
//! that says what approval it needs. Unreadable input: exit 2, reason on
//! stderr (Gemini CLI's "system block").

use serde_json::{json, Value};

use super::{Call, Outcome};

pub fn call(input: &Value) -> Result<Call, String> {
    let t = super::ToolInput::of(input)?;
    let (tool, args) = (t.tool, t.args);
    let text = |k: &str| t.text(k);
    let need = |k: &str| t.need(k);
    Ok(match tool {
        "run_shell_command" => {
            let command = need("command")?;
            match text("dir_path") {
                Some(dir) => Call::Line(format!("cd -- {} && {command}", shell_words::quote(&dir))),
                None => Call::Line(command),
            }
        }
        "read_file" => Call::Read(vec![need("file_path")?]),
        "read_many_files" => {
            let paths: Vec<String> = args["paths"]
                .as_array()
                .ok_or("read_many_files input has no `paths`")?
                .iter()
                .filter_map(|p| p.as_str())
                .map(|p| format!("GLOB:{p}"))
                .collect();
            Call::Read(paths)
        }
        "write_file" | "replace" => Call::Write(vec![need("file_path")?]),
        "grep_search" => Call::Search {
            path: text("path").unwrap_or_else(|| ".".to_string()),
            glob: text("include"),
        },
        "glob" | "list_directory" => Call::Nothing(format!("{tool} {args}")),
        other => Call::Nothing(other.to_string()),
    })
}

pub fn output(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Allow(r) => json!({"decision": "allow", "reason": r}),
        Outcome::Ask(r) => json!({
            "decision": "deny",
            "reason": format!("{r} (needs approval; no approver is configured for hooks)"),
        }),
        Outcome::Deny(r) => json!({"decision": "deny", "reason": r}),
    }
}
