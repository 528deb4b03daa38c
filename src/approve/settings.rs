//! The `approval:` settings, checked once at load.

use std::path::PathBuf;
use std::time::Duration;

use crate::rules::spec::ApprovalSpec;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub tty: bool,
    pub timeout: Duration,
    pub webhook: Option<Webhook>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub secret_file: PathBuf,
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            tty: true,
            timeout: DEFAULT_TIMEOUT,
            webhook: None,
        }
    }
}

/// `120s`, `2m`, `1m 30s`, `500ms`, or ISO 8601 (`PT2M`).
pub fn duration(text: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a duration: {e}"))?;
    Duration::try_from(d).map_err(|_| format!("`{text}` is negative"))
}

impl Settings {
    pub fn from_spec(spec: &ApprovalSpec) -> Result<Settings, (&'static str, String)> {
        let timeout = match &spec.timeout {
            Some(t) => duration(t).map_err(|e| ("timeout", e))?,
            None => DEFAULT_TIMEOUT,
        };
        let webhook = match &spec.webhook {
            None => None,
            Some(w) => {
                if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                    return Err((
                        "url",
                        format!("webhook url must be http:// or https://, not `{}`", w.url),
                    ));
                }
                if w.secret_file.is_empty() {
                    return Err(("secret_file", "webhook needs a secret_file".to_string()));
                }
                Some(Webhook {
                    url: w.url.clone(),
                    secret_file: PathBuf::from(&w.secret_file),
                    timeout: match &w.timeout {
                        Some(t) => duration(t).map_err(|e| ("timeout", e))?,
                        None => DEFAULT_TIMEOUT,
                    },
                })
            }
        };
        Ok(Settings {
            tty: spec.tty.unwrap_or(true),
            timeout,
            webhook,
        })
    }
}
