//! What the shell needs to know before anything else: is there a broker,
//! and where. Read from the admin config only (`trust`), and cheaply: a
//! client in broker mode loads no rules at all.

use std::path::{Path, PathBuf};

use crate::rules::load::{self, BrokerSpec};

#[derive(Debug, Default)]
pub struct Settings {
    pub broker: Option<BrokerSpec>,
    /// `exec_tree` as the admin config says it, if it does.
    pub exec_tree: Option<bool>,
    /// The admin file these came from.
    pub admin_file: Option<PathBuf>,
    /// Files that failed the ownership check, and why.
    pub untrusted: Vec<String>,
    /// A value that does not parse: every line is refused.
    pub error: Option<String>,
}

/// The admin settings the shell starts from. A broker that
/// `/etc/guard/config.yaml` names is the broker, whatever `GUARD_CONFIG`
/// says: any root-owned file passes the ownership walk (an empty
/// `__init__.py`, a `hosts.deny` of comments), and one that names no
/// broker would otherwise turn broker mode off.
pub fn read() -> Settings {
    let mut out = Settings::default();
    let etc = Path::new(load::ETC).join("config.yaml");
    let system = crate::trust::admin_file(&etc);
    let named = std::env::var_os("GUARD_CONFIG").filter(|p| !p.is_empty());
    if let Ok(t) = &system {
        let mut mine = Settings::default();
        scan_into(&mut mine, &t.path, &t.bytes);
        if mine.broker.is_some() || mine.error.is_some() {
            if let Some(path) = &named {
                let path = Path::new(path);
                mine.untrusted.push(match crate::trust::admin_file(path) {
                    Err(e) => e.to_string(),
                    Ok(_) => format!(
                        "{}: ignored: {} names the broker",
                        path.display(),
                        etc.display()
                    ),
                });
            }
            return mine;
        }
    }
    if let Some(path) = named {
        match crate::trust::admin_file(Path::new(&path)) {
            Ok(t) => {
                scan_into(&mut out, &t.path, &t.bytes);
                return out;
            }
            Err(e) => out.untrusted.push(e.to_string()),
        }
    }
    match system {
        Ok(t) => scan_into(&mut out, &t.path, &t.bytes),
        Err(e) if etc.exists() => out.untrusted.push(e.to_string()),
        Err(_) => {}
    }
    out
}

fn scan_into(out: &mut Settings, path: &Path, bytes: &[u8]) {
    out.admin_file = Some(path.to_path_buf());
    let text = String::from_utf8_lossy(bytes);
    match scan(&text) {
        Ok(keys) => apply(out, path, keys),
        Err(e) => out.error = Some(format!("{}: {e}", path.display())),
    }
}

/// The broker keys of a config file. Top-level block keys are found by
/// line; a file written in flow style (`{broker: …}`) is parsed whole.
/// The full loader reads the same keys, and embedded mode refuses to run
/// if it finds a broker this scan missed.
fn scan(text: &str) -> Result<Vec<(String, String)>, String> {
    const KEYS: &[&str] = &["broker", "broker_user", "broker_timeout", "exec_tree"];
    let flow = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .is_some_and(|l| l.starts_with('{'));
    let mut found = Vec::new();
    if flow {
        let v: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        for k in KEYS {
            if let Some(v) = v.get(*k) {
                found.push((k.to_string(), scalar(v)?));
            }
        }
        return Ok(found);
    }
    for (n, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if !KEYS.contains(&key) {
            continue;
        }
        let v: yaml_serde::Value =
            yaml_serde::from_str(value).map_err(|e| format!("line {}: {key}: {e}", n + 1))?;
        found.push((
            key.to_string(),
            scalar(&v).map_err(|e| format!("line {}: {e}", n + 1))?,
        ));
    }
    Ok(found)
}

fn scalar(v: &yaml_serde::Value) -> Result<String, String> {
    match v {
        yaml_serde::Value::String(s) => Ok(s.clone()),
        yaml_serde::Value::Bool(true) => Ok("on".to_string()),
        yaml_serde::Value::Bool(false) => Ok("off".to_string()),
        yaml_serde::Value::Null => Err("a value is required".to_string()),
        other => Err(format!("`{other:?}` is not a plain value")),
    }
}

fn apply(out: &mut Settings, path: &Path, keys: Vec<(String, String)>) {
    let mut socket = None;
    let mut user = None;
    let mut timeout = load::DEFAULT_BROKER_TIMEOUT;
    for (k, v) in keys {
        let bad = |m: String| Some(format!("{}: {k}: {m}", path.display()));
        match k.as_str() {
            "broker" if v.starts_with('/') => socket = Some(PathBuf::from(v)),
            "broker" => out.error = bad(format!("`{v}` is not an absolute path")),
            "broker_user" => user = Some(v),
            "broker_timeout" => match crate::approve::settings::duration(&v) {
                Ok(d) => timeout = d,
                Err(e) => out.error = bad(e),
            },
            "exec_tree" => match load::exec_tree_value(&v) {
                Ok(b) => out.exec_tree = Some(b),
                Err(e) => out.error = bad(e),
            },
            _ => {}
        }
    }
    out.broker = socket.map(|socket| BrokerSpec {
        socket,
        user: user.unwrap_or_else(|| load::DEFAULT_BROKER_USER.to_string()),
        timeout,
    });
}

#[cfg(test)]
mod tests {
    use super::scan;

    #[test]
    fn finds_the_broker_keys_at_top_level_only() {
        let text =
            "# guard\nbroker: /run/guard/broker.sock  # the socket\nbroker_user: \"guard\"\n\
                    rules:\n  - id: x\n    broker: not-this\nexec_tree: off\n";
        assert_eq!(
            scan(text).unwrap(),
            vec![
                ("broker".to_string(), "/run/guard/broker.sock".to_string()),
                ("broker_user".to_string(), "guard".to_string()),
                ("exec_tree".to_string(), "off".to_string()),
            ]
        );
        let flow = "{broker: /tmp/b.sock, exec_tree: true}";
        assert_eq!(
            scan(flow).unwrap(),
            vec![
                ("broker".to_string(), "/tmp/b.sock".to_string()),
                ("exec_tree".to_string(), "on".to_string()),
            ]
        );
        assert!(scan("broker:\n").is_err());
    }
}
