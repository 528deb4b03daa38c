//! `guard hook <harness>`: guard as a harness's pre-tool hook, for
//! accounts whose login shell cannot be changed. Each harness's JSON is
//! turned into one `Call`: a shell line, or file paths a tool reads or
//! writes (checked as the line `cat -- PATH` or `tee -- PATH` would be,
//! so the credential-file rules see exactly what they see in a shell).
//! The decision goes through the same gate as a line, audited with
//! `mode: "hook:<harness>"`. Advisory: the harness can run processes
//! outside its hooks (README, "Harness hooks").

pub mod claude;
pub mod gemini;
pub mod generic;
pub mod install;

use std::collections::BTreeMap;

use crate::gate::{self, Context};
use crate::parse::Env;
use crate::policy::{self, Input};
use crate::rules::load;
use crate::rules::spec::Action;

/// What a tool call would do, as guard judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A shell command line (Bash, run_shell_command).
    Line(String),
    /// Files whose contents the tool reads (Read, Grep).
    Read(Vec<String>),
    /// Files the tool writes (Write, Edit).
    Write(Vec<String>),
    /// A content search under a path (Grep): every file it would read,
    /// and the filter glob, if any.
    Search { path: String, glob: Option<String> },
    /// Nothing guard has rules for (names only, or another tool).
    Nothing(String),
}

/// A tool call as Claude Code and Gemini CLI both send it: `tool_name`,
/// and its arguments in `tool_input`.
pub struct ToolInput<'a> {
    pub tool: &'a str,
    pub args: &'a serde_json::Value,
}

impl<'a> ToolInput<'a> {
    pub fn of(input: &'a serde_json::Value) -> Result<ToolInput<'a>, String> {
        let tool = input["tool_name"]
            .as_str()
            .ok_or("the hook input has no tool_name")?;
        Ok(ToolInput {
            tool,
            args: &input["tool_input"],
        })
    }

    pub fn text(&self, key: &str) -> Option<String> {
        self.args[key].as_str().map(str::to_string)
    }

    /// A string argument the tool cannot be without.
    pub fn need(&self, key: &str) -> Result<String, String> {
        self.text(key)
            .ok_or_else(|| format!("{} input has no `{key}`", self.tool))
    }
}

/// A search over more files than this is not walked: it is asked about.
const SEARCH_LIMIT: usize = 5000;

/// Directories a search tool skips (ripgrep's defaults: hidden ones; and
/// build output that holds no one's secrets).
fn skipped_dir(name: &str) -> bool {
    name.starts_with('.') || matches!(name, "node_modules" | "target")
}

/// The files a search of `root` reads, or `None` past `SEARCH_LIMIT`.
fn walk(root: &std::path::Path) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                if !skipped_dir(&name) {
                    stack.push(e.path());
                }
            } else {
                out.push(e.path().to_string_lossy().into_owned());
                if out.len() > SEARCH_LIMIT {
                    return None;
                }
            }
        }
    }
    Some(out)
}

/// `p` as an absolute path, against `cwd`.
fn absolute(p: &str, cwd: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::path::Path::new(cwd).join(path)
    }
}

/// Paths with the real path added for each one that exists: a symlink
/// to `~/.aws/credentials` is judged as what it opens.
fn with_real_paths(paths: &[String], cwd: &str) -> Vec<String> {
    let mut out = paths.to_vec();
    for p in paths.iter().filter(|p| !p.starts_with("GLOB:")) {
        if let Ok(real) = std::fs::canonicalize(absolute(p, cwd)) {
            let real = real.to_string_lossy().into_owned();
            if !out.contains(&real) {
                out.push(real);
            }
        }
    }
    out
}

/// Why writing `path` needs a person, when it changes what runs next
/// outside guard's view: the shell's start-up files, git hooks. (A
/// harness's own settings are the shipped rule guard.tamper-harness,
/// for shell lines and file tools alike.)
fn protected_write(path: &str, home: &str) -> Option<&'static str> {
    let p = std::path::Path::new(path);
    let name = p.file_name()?.to_string_lossy();
    let parent = p
        .parent()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let in_dir = |d: &str| parent.ends_with(d) || parent.contains(&format!("{d}/"));
    if in_dir("/.git/hooks") || parent.ends_with("/.git") && name == "config" {
        return Some("a git hook or git's config, which runs commands");
    }
    let rc = [
        ".bashrc",
        ".bash_profile",
        ".bash_login",
        ".profile",
        ".zshrc",
        ".zshenv",
        ".zprofile",
        ".bash_logout",
    ];
    if parent == home && rc.contains(&name.as_ref()) {
        return Some("a shell start-up file");
    }
    None
}

impl Call {
    /// The line guard decides: the call as a shell would run it. Paths
    /// are quoted, except for a trailing glob a search tool filters by,
    /// which must stay a glob to be matched against the rules' globs.
    pub fn line(&self) -> Option<String> {
        let paths = |verb: &str, ps: &[String]| {
            let quoted: Vec<String> = ps.iter().map(|p| quote_path(p)).collect();
            format!("{verb} -- {}", quoted.join(" "))
        };
        match self {
            Call::Line(l) => Some(l.clone()),
            Call::Read(ps) if !ps.is_empty() => Some(paths("cat", ps)),
            Call::Write(ps) if !ps.is_empty() => {
                Some(format!("{} </dev/null >/dev/null", paths("tee", ps)))
            }
            _ => None,
        }
    }
}

/// `p` for a shell line: quoted whole, or (a `GLOB:` prefix, from a
/// search tool's filter) with its glob characters left active.
fn quote_path(p: &str) -> String {
    match p.strip_prefix("GLOB:") {
        Some(glob) => glob
            .split('/')
            .map(|part| {
                if part.contains(['*', '?', '['])
                    && !part.contains([
                        '\'', '"', '$', '`', '\\', ' ', ';', '&', '|', '<', '>', '(', ')',
                    ])
                {
                    part.to_string()
                } else {
                    shell_words::quote(part).into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/"),
        None => shell_words::quote(p).into_owned(),
    }
}

/// guard's answer to a tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allow(String),
    /// A review with no approver configured: the harness asks its user.
    Ask(String),
    Deny(String),
}

impl Outcome {
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Allow(r) | Outcome::Ask(r) | Outcome::Deny(r) => r,
        }
    }
}

/// Decide a call made in `cwd`, audited as `mode`. `Err` is a failure to
/// decide at all (a bad config, an audit log that cannot be written):
/// the harness is then told to block.
pub fn decide(call: &Call, cwd: Option<&str>, mode: &str) -> Result<Outcome, String> {
    let cwd = cwd.filter(|d| d.starts_with('/'));
    if let Some(dir) = cwd {
        // Relative paths in the call are the harness's, not ours. A cwd
        // that is gone is still where they are relative to.
        let _ = std::env::set_current_dir(dir);
    }
    let mut env = Env::from_process();
    if let Some(dir) = cwd {
        env.cwd = dir.to_string();
    }
    let cfg = load::load(&env.home);
    let c = cfg.as_ref().map_err(|e| format!("config error: {e}"))?;
    crate::audit::configure(&c.audit);
    let cwd_now = env.cwd.clone();
    let call = &match call {
        Call::Search { path, glob } => {
            let root = absolute(path, &cwd_now);
            let mut paths = vec![path.clone()];
            if let Some(g) = glob {
                // A filter with no `/` matches at any depth.
                let sep = if g.contains('/') { "/" } else { "/**/" };
                paths.push(format!(
                    "GLOB:{}{sep}{g}",
                    root.to_string_lossy().trim_end_matches('/')
                ));
            }
            if root.is_dir() {
                match walk(&root) {
                    Some(files) => paths.extend(files),
                    None => {
                        let what = format!("search of {}", root.display());
                        let reason = format!(
                            "guard: review: a search of more than {SEARCH_LIMIT} files under {} is not checked file by file",
                            root.display()
                        );
                        note(mode, &what, "ask", &reason)?;
                        return Ok(Outcome::Ask(reason));
                    }
                }
            }
            Call::Read(with_real_paths(&paths, &cwd_now))
        }
        Call::Read(ps) => Call::Read(with_real_paths(ps, &cwd_now)),
        Call::Write(ps) => Call::Write(with_real_paths(ps, &cwd_now)),
        other => other.clone(),
    };
    if let Call::Write(ps) = call {
        for p in ps {
            let abs = absolute(p, &cwd_now).to_string_lossy().into_owned();
            if let Some(why) = protected_write(&abs, &env.home) {
                let reason = format!("guard: review: writes {abs}: {why}");
                note(mode, &format!("write {abs}"), "ask", &reason)?;
                return Ok(Outcome::Ask(reason));
            }
        }
    }
    let Some(line) = call.line() else {
        let what = match call {
            Call::Nothing(w) => w.clone(),
            _ => "nothing".to_string(),
        };
        // Still recorded: the log says what the agent did.
        note(mode, &what, "allow", "no rule applies to this tool")?;
        return Ok(Outcome::Allow(
            "guard: no rule applies to this tool".to_string(),
        ));
    };
    let v = policy::decide(Input::Script(&line), c, &env);
    if v.action == Action::Review && c.approval.webhook.is_none() {
        let reason = format!(
            "guard: review: {}{}",
            crate::detect::redact(&v.reason),
            rule_suffix(&v)
        );
        let record = crate::audit::Record::new(mode, &line, &v, "ask", &v.reason);
        crate::audit::write(&record).map_err(|e| e.to_string())?;
        return Ok(Outcome::Ask(reason));
    }
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    let no_terminal = |_: &crate::approve::Request<'_>, _: std::time::Duration| {
        crate::approve::tty::Answer::Unavailable("a hook has no terminal".to_string())
    };
    let ctx = Context {
        cfg: &cfg,
        session: None,
        vars: &vars,
        ask: &no_terminal,
        parent: None,
        holder: None,
    };
    match gate::gate(&ctx, mode, &line, &v) {
        Ok(_) if v.action == Action::Allow => Ok(Outcome::Allow(format!(
            "guard: allowed: {}",
            crate::detect::redact(&v.reason)
        ))),
        Ok(_) => Ok(Outcome::Allow(format!(
            "guard: approved: {}{}",
            crate::detect::redact(&v.reason),
            rule_suffix(&v)
        ))),
        Err(refusal) => Ok(Outcome::Deny(refusal.lines.join("; "))),
    }
}

/// Record an answer no rule gave (a tool with nothing to check, a search
/// too big to walk, a write to what runs next), so the log still says
/// what the agent did.
fn note(mode: &str, what: &str, outcome: &'static str, reason: &str) -> Result<(), String> {
    let v = crate::policy::Verdict {
        action: if outcome == "allow" {
            Action::Allow
        } else {
            Action::Review
        },
        reason: reason.to_string(),
        rule: None,
        commands: Vec::new(),
        matches: Vec::new(),
    };
    let record = crate::audit::Record::new(mode, what, &v, outcome, reason);
    crate::audit::write(&record)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn rule_suffix(v: &crate::policy::Verdict) -> String {
    v.rule
        .as_ref()
        .map(|r| format!(" [rule {r}]"))
        .unwrap_or_default()
}

/// Read a hook's whole stdin, bounded: a harness sends one JSON object.
pub fn read_stdin() -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .take(4 * 1024 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("reading the hook input: {e}"))?;
    Ok(text)
}
