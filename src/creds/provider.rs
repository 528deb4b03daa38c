//! Running a credential's provider and reading what it prints.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::rules::spec::ProviderSpec;

/// How long a provider or revoke helper may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("cannot run {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("{0} took longer than {1:?}")]
    Timeout(String, Duration),
    #[error("{0} exited with {1}{2}")]
    Failed(String, String, String),
    #[error("{0}")]
    Output(String),
    #[error("env_file {0}: {1}")]
    EnvFile(String, String),
    #[error("store {0}: {1}")]
    Store(String, String),
}

/// The values a provider gives, flattened: JSON nesting becomes dotted
/// keys (`data.data.password`, the shape of `vault read -format=json`),
/// and a warning for the agent's stderr, if any.
pub fn fetch(
    name: &str,
    p: &ProviderSpec,
) -> Result<(BTreeMap<String, String>, Option<String>), ProviderError> {
    fetch_with(name, p, None)
}

/// `fetch`, with `stdin` for a command provider (a per-command mint gets
/// the command's context there).
pub fn fetch_with(
    name: &str,
    p: &ProviderSpec,
    stdin: Option<&[u8]>,
) -> Result<(BTreeMap<String, String>, Option<String>), ProviderError> {
    if let Some(argv) = &p.command {
        let (out, note) = run_noting(argv, stdin)?;
        // Only a per-command provider's note is passed on: it is the one
        // place a broader-than-asked mint is announced.
        let warning = note
            .filter(|_| stdin.is_some())
            .map(|n| format!("guard: warning: credential `{name}`: {n}"));
        return parse(&out)
            .map(|v| (v, warning))
            .map_err(ProviderError::Output);
    }
    if let Some(path) = &p.env_file {
        return env_file(path).map(|v| (v, None));
    }
    if let Some(path) = &p.store {
        return store(path).map(|v| (v, None));
    }
    if let Some(values) = &p.static_values {
        let warning = format!(
            "guard: warning: credential `{name}` uses a static provider: its values sit in the \
             config file (meant for tests only)"
        );
        return Ok((values.clone(), Some(warning)));
    }
    Err(ProviderError::Output("no provider".to_string()))
}

/// Run a helper with an optional stdin, its stdout captured; stderr's
/// first line explains a failure.
pub fn run(argv: &[String], stdin: Option<&[u8]>) -> Result<String, ProviderError> {
    run_noting(argv, stdin).map(|(out, _)| out)
}

/// `run`, also giving the first line a helper that succeeded wrote on
/// stderr (masked): a per-command provider says there when it had to
/// mint more broadly than the command needs.
pub fn run_noting(
    argv: &[String],
    stdin: Option<&[u8]>,
) -> Result<(String, Option<String>), ProviderError> {
    let program = argv.first().cloned().unwrap_or_default();
    let mut child = Command::new(&program)
        .args(argv.iter().skip(1))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ProviderError::Spawn(program.clone(), e))?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write as _;
        let _ = pipe.write_all(data);
    }
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    // Read both pipes off-thread so a chatty helper cannot block on a
    // full pipe while we wait for it.
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut out);
        }
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_end(&mut err);
        }
        (out, err)
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProviderError::Timeout(program, TIMEOUT));
            }
        }
    };
    let (out, err) = reader.join().unwrap_or_default();
    if !status.success() {
        let first = String::from_utf8_lossy(&err)
            .lines()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(": {}", mask(l.trim())))
            .unwrap_or_default();
        return Err(ProviderError::Failed(program, status.to_string(), first));
    }
    let note = String::from_utf8_lossy(&err)
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| mask(l.trim()));
    String::from_utf8(out)
        .map(|o| (o, note))
        .map_err(|_| ProviderError::Output(format!("{program}: output is not UTF-8")))
}

/// A helper's stderr line with secrets masked: what the detectors know,
/// plus any `token=…`, `password: …` or `Bearer …`, because a helper that
/// fails may well echo what it was handling.
pub fn mask(line: &str) -> String {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let redacted = crate::detect::redact(line);
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r#"(?i)(\b[\w.-]*(?:token|secret|passw(?:or)?d|pass\b|pwd|key|auth|credential)[\w.-]*["']?\s*[=:]\s*(?:(?:bearer|basic|token)\s+)?|\b(?:bearer|basic)\s+)("[^"]*"|'[^']*'|\S+)"#,
        )
        .ok()
    });
    match re {
        Some(re) => re.replace_all(&redacted, "${1}***").into_owned(),
        None => "(helper output withheld)".to_string(),
    }
}

/// `KEY=VALUE` lines (an `export ` prefix and shell quoting allowed) or
/// one JSON object.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(trimmed).map_err(|e| format!("provider JSON: {e}"))?;
        let mut out = BTreeMap::new();
        flatten("", &v, &mut out);
        return Ok(out);
    }
    let mut out = BTreeMap::new();
    for (n, line) in trimmed.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("provider output line {} is not KEY=VALUE", n + 1));
        };
        let value = if v.starts_with(['"', '\'']) {
            shell_words::split(v)
                .ok()
                .and_then(|w| w.into_iter().next())
                .unwrap_or_default()
        } else {
            v.to_string()
        };
        out.insert(k.trim().to_string(), value);
    }
    Ok(out)
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(&key(k), v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        serde_json::Value::Number(n) => {
            out.insert(prefix.to_string(), n.to_string());
        }
        serde_json::Value::Bool(b) => {
            out.insert(prefix.to_string(), b.to_string());
        }
        serde_json::Value::Null | serde_json::Value::Array(_) => {}
    }
}

/// A private file's text: owned by root or this user, and readable or
/// writable by nobody else.
fn private_text(path: &str) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let me = nix::unistd::getuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        return Err(format!("owned by uid {}, not root or {me}", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "mode {:o} lets others read it; it must be 0600",
            meta.mode() & 0o777
        ));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// A file of `KEY=VALUE` lines that only its owner, root or this user,
/// can read or write.
fn env_file(path: &str) -> Result<BTreeMap<String, String>, ProviderError> {
    let fail = |m: String| ProviderError::EnvFile(path.to_string(), m);
    let text = private_text(path).map_err(fail)?;
    parse(&text).map_err(fail)
}

/// A private JSON object of values, as `guard creds import` writes them.
fn store(path: &str) -> Result<BTreeMap<String, String>, ProviderError> {
    let fail = |m: String| ProviderError::Store(path.to_string(), m);
    let text = private_text(path).map_err(fail)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let mut out = BTreeMap::new();
    flatten("", &v, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn helper_stderr_is_masked() {
        for (line, secret) in [
            (
                "error: token=supersecretvalue123 rejected",
                "supersecretvalue123",
            ),
            ("login failed: password: hunter2hunter2", "hunter2hunter2"),
            ("401 with Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
            (
                "AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI/K7MDENG\" bad",
                "wJalrXUtnFEMI",
            ),
            ("api_key='k-123456789' expired", "k-123456789"),
            (
                r#"error: {"SecretAccessKey": "wJalrXUtnFEMIK7MDENG", "x":1}"#,
                "wJalrXUtnFEMIK7MDENG",
            ),
            ("{'password': 'hunter2hunter2'}", "hunter2hunter2"),
            ("pass=hunter2hunter2", "hunter2hunter2"),
        ] {
            let out = mask(line);
            assert!(!out.contains(secret), "{line} -> {out}");
            assert!(out.contains("***"), "{line} -> {out}");
        }
        assert_eq!(mask("the vault is sealed"), "the vault is sealed");
    }
}
