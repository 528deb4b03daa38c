//! The remote approver: a signed JSON POST, answered with a decision now
//! (200) or later (202 and a URL to poll). Every failure denies: a bad
//! secret file, an unreachable or slow approver, and any answer that is
//! not a well-formed decision. The answers are signed too, with the same
//! secret over the exact response body: on plain http, anyone who can
//! reach or impersonate the approver's port could otherwise say `allow`.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::settings::Webhook;
use super::Scope;

pub const SIGNATURE_HEADER: &str = "X-Guard-Signature";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Allow {
        approver: String,
        reason: Option<String>,
        scope: Scope,
    },
    Deny {
        approver: String,
        reason: Option<String>,
    },
    /// Could not ask at all (bad secret file): the chain denies.
    Unavailable(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingBody {
    poll_url: String,
    #[serde(default)]
    retry_after_ms: Option<u64>,
}

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", crate::hex::encode(mac.finalize().into_bytes()))
}

/// Constant-time check of a `sha256=<hex>` signature.
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(bytes) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The shared secret. A file others can read (or write) is refused: anyone
/// holding the key can forge approvals.
pub fn read_secret(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("webhook secret {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("webhook secret {} is not a file", path.display()));
    }
    if meta.mode() & 0o007 != 0 {
        return Err(format!(
            "webhook secret {} is accessible to others (mode {:o}); chmod o-rwx it",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("webhook secret {}: {e}", path.display()))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!("webhook secret {} is empty", path.display()));
    }
    Ok(secret.as_bytes().to_vec())
}

fn client(timeout: Duration) -> Result<reqwest::blocking::Client, String> {
    // rustls with ring, chosen at first use so the allow path never pays
    // for a TLS stack.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("guard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))
}

/// Ask the webhook and wait for its answer, until `cfg.timeout`.
pub fn ask(cfg: &Webhook, body: &[u8]) -> Answer {
    let secret = match read_secret(&cfg.secret_file) {
        Ok(s) => s,
        Err(e) => return Answer::Unavailable(e),
    };
    let deadline = Instant::now() + cfg.timeout;
    let per_request = |d: Instant| {
        d.saturating_duration_since(Instant::now())
            .min(Duration::from_secs(30))
    };
    let http = match client(per_request(deadline).max(Duration::from_millis(50))) {
        Ok(c) => c,
        Err(e) => return Answer::Unavailable(e),
    };
    let signature = sign(&secret, body);
    let mut backoff = Duration::from_millis(100);
    let mut poll: Option<String> = None;
    let mut last_error = String::from("no answer");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Answer::Deny {
                approver: "webhook".to_string(),
                reason: Some(format!(
                    "approver did not decide within {}s ({last_error})",
                    cfg.timeout.as_secs()
                )),
            };
        }
        let sent = match &poll {
            None => http
                .post(&cfg.url)
                .timeout(left)
                .header("Content-Type", "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .body(body.to_vec())
                .send(),
            Some(url) => http
                .get(url)
                .timeout(left)
                .header(SIGNATURE_HEADER, sign(&secret, url.as_bytes()))
                .send(),
        };
        let mut wait = backoff;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let signed = resp
                    .headers()
                    .get(SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let bytes = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if matches!(status, 200 | 202) {
                    let genuine = signed
                        .as_deref()
                        .is_some_and(|sig| verify(&secret, &bytes, sig));
                    if !genuine {
                        return Answer::Deny {
                            approver: "webhook".to_string(),
                            reason: Some(format!(
                                "the approver's answer (HTTP {status}) is {}; refusing it",
                                if signed.is_some() {
                                    "mis-signed"
                                } else {
                                    "not signed"
                                }
                            )),
                        };
                    }
                }
                match status {
                    200 => return decision(&text),
                    202 => match serde_json::from_str::<PendingBody>(&text) {
                        Ok(p) => {
                            poll = Some(resolve(&cfg.url, &p.poll_url));
                            wait = Duration::from_millis(
                                p.retry_after_ms.unwrap_or(500).clamp(50, 10_000),
                            );
                            backoff = Duration::from_millis(100);
                            last_error = "pending".to_string();
                        }
                        Err(e) => return malformed(&format!("202 without a poll_url: {e}")),
                    },
                    other => {
                        last_error = format!("HTTP {other}");
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                }
            }
            Err(e) => {
                last_error = if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    "unreachable".to_string()
                };
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
        std::thread::sleep(wait.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// A relative `poll_url` is resolved against the webhook's URL.
fn resolve(base: &str, poll: &str) -> String {
    if poll.starts_with("http://") || poll.starts_with("https://") {
        return poll.to_string();
    }
    match reqwest::Url::parse(base).and_then(|b| b.join(poll)) {
        Ok(u) => u.to_string(),
        Err(_) => poll.to_string(),
    }
}

fn malformed(why: &str) -> Answer {
    Answer::Deny {
        approver: "webhook".to_string(),
        reason: Some(format!("malformed answer from approver: {why}")),
    }
}

fn decision(text: &str) -> Answer {
    let body: DecisionBody = match serde_json::from_str(text) {
        Ok(b) => b,
        Err(e) => return malformed(&e.to_string()),
    };
    let approver = body
        .approver
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "webhook".to_string());
    let scope = match body.scope.as_deref() {
        None | Some("once") => Scope::Once,
        Some("session") => Scope::Session,
        Some(other) => return malformed(&format!("unknown scope `{other}`")),
    };
    match body.decision.as_str() {
        "allow" => Answer::Allow {
            approver,
            reason: body.reason,
            scope,
        },
        "deny" => Answer::Deny {
            approver,
            reason: body.reason,
        },
        other => malformed(&format!("unknown decision `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip() {
        let sig = sign(b"key", b"{\"a\":1}");
        assert!(sig.starts_with("sha256="));
        assert!(verify(b"key", b"{\"a\":1}", &sig));
        assert!(!verify(b"key", b"{\"a\":2}", &sig));
        assert!(!verify(b"other", b"{\"a\":1}", &sig));
        assert!(!verify(b"key", b"{\"a\":1}", "sha256=zz"));
    }

    #[test]
    fn decisions_are_checked() {
        assert!(matches!(
            decision(r#"{"decision":"allow","approver":"ann","scope":"session"}"#),
            Answer::Allow {
                scope: Scope::Session,
                ..
            }
        ));
        assert!(matches!(
            decision(r#"{"decision":"deny","reason":"no"}"#),
            Answer::Deny { .. }
        ));
        for bad in [
            r#"{"decision":"yes"}"#,
            r#"{"decision":"allow","scope":"forever"}"#,
            "not json",
            r#"{"decision":"allow","extra":1}"#,
            "",
        ] {
            assert!(matches!(decision(bad), Answer::Deny { .. }), "{bad}");
        }
    }
}
