//! `guard hook install <harness> [--project|--user] [--uninstall]`: merge
//! guard's entry into the harness's settings file. Other settings and
//! other hooks are kept as they are; running it twice changes nothing;
//! `--uninstall` takes out exactly what install put in.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// Where a harness keeps its hooks, and what guard's entry looks like.
pub struct Harness {
    pub name: &'static str,
    /// The settings file, relative to the project or the home directory.
    pub file: &'static str,
    pub event: &'static str,
    pub matcher: &'static str,
}

pub const CLAUDE_CODE: Harness = Harness {
    name: "claude-code",
    file: ".claude/settings.json",
    event: "PreToolUse",
    matcher: "Bash|Read|Grep|Glob|Edit|MultiEdit|Write|NotebookEdit",
};

pub const GEMINI: Harness = Harness {
    name: "gemini",
    file: ".gemini/settings.json",
    event: "BeforeTool",
    matcher: "run_shell_command|read_file|read_many_files|write_file|replace|grep_search",
};

pub fn harness(name: &str) -> Option<&'static Harness> {
    [&CLAUDE_CODE, &GEMINI].into_iter().find(|h| h.name == name)
}

/// The settings file for `--project` (under `project`) or `--user`.
pub fn settings_path(h: &Harness, user: bool, project: &Path) -> Result<PathBuf, String> {
    if user {
        let home = dirs::home_dir().ok_or("no home directory")?;
        Ok(home.join(h.file))
    } else {
        Ok(project.join(h.file))
    }
}

/// The command guard's entry runs. An installed Claude Code hook leaves
/// allowed calls to Claude Code's own prompts (`--defer-allow`): adding
/// guard must never make the harness less strict than it was.
pub fn command_for(h: &Harness, guard: &Path, defer_allow: bool) -> String {
    let flag = if defer_allow && h.name == "claude-code" {
        " --defer-allow"
    } else {
        ""
    };
    format!(
        "{} hook {}{flag}",
        shell_words::quote(&guard.to_string_lossy()),
        h.name
    )
}

fn is_ours(hook: &Value, command: &str) -> bool {
    hook["type"] == "command" && hook["command"].as_str() == Some(command)
}

/// `settings` with guard's entry added (install) or removed (uninstall).
/// Returns whether anything changed.
pub fn apply(
    settings: &mut Value,
    h: &Harness,
    command: &str,
    uninstall: bool,
) -> Result<bool, String> {
    if settings.is_null() {
        *settings = Value::Object(Map::new());
    }
    let root = settings
        .as_object_mut()
        .ok_or("the settings file is not a JSON object")?;
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let hooks = hooks.as_object_mut().ok_or("`hooks` is not an object")?;
    let groups = hooks
        .entry(h.event)
        .or_insert_with(|| Value::Array(Vec::new()));
    let groups = groups
        .as_array_mut()
        .ok_or_else(|| format!("`hooks.{}` is not a list", h.event))?;
    let present = groups.iter().any(|g| {
        g["hooks"]
            .as_array()
            .is_some_and(|hs| hs.iter().any(|x| is_ours(x, command)))
    });
    let changed = if uninstall {
        // Only a group that held guard and holds nothing else once guard
        // is out goes; a user's own empty group stays.
        groups.retain_mut(|g| {
            let Some(hs) = g.get_mut("hooks").and_then(Value::as_array_mut) else {
                return true;
            };
            let before = hs.len();
            hs.retain(|x| !is_ours(x, command));
            !(hs.is_empty() && before > 0)
        });
        present
    } else if present {
        false
    } else {
        groups.push(json!({
            "matcher": h.matcher,
            "hooks": [{"type": "command", "command": command}],
        }));
        true
    };
    // Leave no empty containers behind that install created.
    if uninstall {
        if groups.is_empty() {
            hooks.remove(h.event);
        }
        if hooks.is_empty() {
            root.remove("hooks");
        }
    }
    Ok(changed)
}

/// Install or uninstall in `path`, writing it back only when it changed
/// (atomically: a temp file beside it, then rename).
pub fn run(path: &Path, h: &Harness, command: &str, uninstall: bool) -> Result<bool, String> {
    // A settings file that is a symlink (dotfile repos) is edited where
    // it points, and stays a link.
    let resolved = std::fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let mut settings: Value = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Value::Null,
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if uninstall {
                return Ok(false);
            }
            Value::Null
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if !apply(&mut settings, h, command, uninstall)? {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(&settings).map_err(|e| e.to_string())?;
    text.push('\n');
    let tmp = path.with_extension(format!("json.guard-{}", std::process::id()));
    {
        use std::io::Write as _;
        // create_new: a file (or a link) planted at the temp name is
        // never written through.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_idempotent_and_uninstall_restores() {
        let before = json!({
            "model": "opus",
            "permissions": {"allow": ["Bash(npm test)"]},
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "dcg"}]}],
                      "Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]}
        });
        let cmd = "/usr/bin/guard hook claude-code";
        let mut s = before.clone();
        assert!(apply(&mut s, &CLAUDE_CODE, cmd, false).unwrap());
        let once = s.clone();
        assert!(!apply(&mut s, &CLAUDE_CODE, cmd, false).unwrap());
        assert_eq!(s, once);
        assert_eq!(s["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        assert!(apply(&mut s, &CLAUDE_CODE, cmd, true).unwrap());
        assert_eq!(s, before);
        // A user's own empty group is theirs to keep.
        let mut own = json!({"hooks": {"PreToolUse": [{"matcher": "X", "hooks": []}]}});
        let kept = own.clone();
        apply(&mut own, &CLAUDE_CODE, cmd, false).unwrap();
        apply(&mut own, &CLAUDE_CODE, cmd, true).unwrap();
        assert_eq!(own, kept);
        let mut empty = Value::Null;
        apply(&mut empty, &CLAUDE_CODE, cmd, false).unwrap();
        apply(&mut empty, &CLAUDE_CODE, cmd, true).unwrap();
        assert_eq!(empty, json!({}));
    }
}
