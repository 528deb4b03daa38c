//! The remote approver: a signed JSON POST, answered with a decision now
//! (200) or later (202 and a URL to poll). Every failure denies: a bad
//! secret file, an unreachable or slow approver, and any answer that is
//! not a well-formed decision. The answers are signed too, with the same
//! secret over the exact response body: on plain http, anyone who can
//! reach or impersonate the approver's port could otherwise say `allow`.
//! A signature alone does not say which request an answer is for, so a
//! decision must carry the `id` of the request it answers: a signed
//! `allow` seen once on the wire cannot be replayed to answer another.

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
    /// The `id` of the request this decision answers. Optional only so a
    /// missing one is refused with its own reason rather than as malformed.
    #[serde(default)]
    id: Option<String>,
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

/// Ask the webhook and wait for its answer, until `cfg.timeout`. `id` is
/// the request's id, as `body` carries it: a decision naming any other
/// request (or none) is refused.
pub fn ask(cfg: &Webhook, id: &str, body: &[u8]) -> Answer {
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
                    200 => return decision(&text, id),
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

/// A refused answer: well-formed and signed, but not an answer to this
/// request.
fn refused(why: &str) -> Answer {
    Answer::Deny {
        approver: "webhook".to_string(),
        reason: Some(format!("the approver's answer {why}; refusing it")),
    }
}

/// A 200 body as the answer to the request `id`. A malformed body is a
/// deny; so is a well-formed one that names another request or none,
/// since the signature covers the body but nothing else binds it to this
/// request: without the id, a signed `allow` seen once could be replayed.
fn decision(text: &str, id: &str) -> Answer {
    let body: DecisionBody = match serde_json::from_str(text) {
        Ok(b) => b,
        Err(e) => return malformed(&e.to_string()),
    };
    let answers = body.id;
    let approver = body
        .approver
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "webhook".to_string());
    let scope = match body.scope.as_deref() {
        None | Some("once") => Scope::Once,
        Some("session") => Scope::Session,
        Some(other) => return malformed(&format!("unknown scope `{other}`")),
    };
    let answer = match body.decision.as_str() {
        "allow" => Answer::Allow {
            approver,
            reason: body.reason,
            scope,
        },
        "deny" => Answer::Deny {
            approver,
            reason: body.reason,
        },
        other => return malformed(&format!("unknown decision `{other}`")),
    };
    match answers.as_deref() {
        Some(named) if named == id => answer,
        Some(_) => refused("is for another request"),
        None => refused("names no request"),
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

    const ID: &str = "6f1c0a9b2d3e4f5061728394";

    #[test]
    fn decisions_are_checked() {
        assert!(matches!(
            decision(
                &format!(
                    r#"{{"id":"{ID}","decision":"allow","approver":"ann","scope":"session"}}"#
                ),
                ID
            ),
            Answer::Allow {
                scope: Scope::Session,
                ..
            }
        ));
        assert!(matches!(
            decision(
                &format!(r#"{{"id":"{ID}","decision":"deny","reason":"no"}}"#),
                ID
            ),
            Answer::Deny { .. }
        ));
        for bad in [
            format!(r#"{{"id":"{ID}","decision":"yes"}}"#),
            format!(r#"{{"id":"{ID}","decision":"allow","scope":"forever"}}"#),
            "not json".to_string(),
            format!(r#"{{"id":"{ID}","decision":"allow","extra":1}}"#),
            r#"{"id":7,"decision":"allow"}"#.to_string(),
            String::new(),
        ] {
            assert!(
                matches!(decision(&bad, ID), Answer::Deny { reason: Some(r), .. } if r.starts_with("malformed answer")),
                "{bad}"
            );
        }
    }

    /// The answer must name this request: anything else is a deny, even a
    /// well-formed `allow` (a replay of another request's answer).
    #[test]
    fn a_decision_must_name_the_request_it_answers() {
        let other = "000000000000000000000000";
        let for_another = "the approver's answer is for another request; refusing it";
        let for_none = "the approver's answer names no request; refusing it";
        let table: [(String, Option<&str>); 9] = [
            (format!(r#"{{"id":"{ID}","decision":"allow"}}"#), None),
            (
                format!(r#"{{"decision":"allow","id":"{ID}","scope":"once"}}"#),
                None,
            ),
            (
                format!(r#"{{"id":"{other}","decision":"allow"}}"#),
                Some(for_another),
            ),
            (
                format!(r#"{{"id":"{other}","decision":"allow","scope":"session"}}"#),
                Some(for_another),
            ),
            (
                format!(r#"{{"id":"{ID} ","decision":"allow"}}"#),
                Some(for_another),
            ),
            (
                format!(r#"{{"id":"{}","decision":"allow"}}"#, ID.to_uppercase()),
                Some(for_another),
            ),
            (
                r#"{"id":"","decision":"allow"}"#.to_string(),
                Some(for_another),
            ),
            (
                r#"{"decision":"allow","approver":"ann"}"#.to_string(),
                Some(for_none),
            ),
            (
                r#"{"id":null,"decision":"allow"}"#.to_string(),
                Some(for_none),
            ),
        ];
        for (text, refusal) in &table {
            match (decision(text, ID), refusal) {
                (Answer::Allow { .. }, None) => {}
                (Answer::Deny { approver, reason }, Some(why)) => {
                    assert_eq!(approver, "webhook", "{text}");
                    assert_eq!(reason.as_deref(), Some(*why), "{text}");
                }
                (got, want) => panic!("{text}: got {got:?}, want refusal {want:?}"),
            }
        }
        // A deny for another request is refused too: guard's reason, not
        // the other request's approver's.
        assert_eq!(
            decision(
                &format!(r#"{{"id":"{other}","decision":"deny","approver":"bob","reason":"x"}}"#),
                ID
            ),
            Answer::Deny {
                approver: "webhook".to_string(),
                reason: Some(for_another.to_string()),
            }
        );
    }
}
