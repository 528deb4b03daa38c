//! Telling people a request is waiting: a generic JSON webhook, or a
//! Slack-compatible incoming-webhook message. Each is sent once per
//! request, in the background, retried with backoff; a notification
//! never holds up a decision.

use std::time::Duration;

use super::config::Notify;
use super::store::Request;

const ATTEMPTS: u32 = 5;

fn link(public_url: Option<&str>, id: &str) -> Option<String> {
    public_url.map(|u| format!("{}/requests/{id}", u.trim_end_matches('/')))
}

/// The body for one notification target.
pub fn payload(target: &Notify, r: &Request, public_url: Option<&str>) -> serde_json::Value {
    let purpose = r.body["session"]["purpose"].as_str().unwrap_or("(none)");
    let link = link(public_url, &r.id);
    match target.format.as_str() {
        "slack" => {
            // Slack's mrkdwn: escape the three characters it treats as
            // markup, so a command line cannot fake a link or a mention.
            // Newlines and control characters are made visible too, so a
            // command cannot add lines of its own to the message.
            let esc = |s: &str| {
                super::shown::shown(s, false)
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            };
            let mut text = format!(
                "guard: {}@{} asks to run `{}`\npurpose: {}\nneeds {} approval(s)",
                esc(&r.user),
                esc(&r.host),
                esc(&r.command).replace('`', "'"),
                esc(purpose),
                r.required
            );
            if let Some(l) = &link {
                text.push_str(&format!("\n<{l}|review it>"));
            }
            serde_json::json!({ "text": text })
        }
        _ => serde_json::json!({
            "event": "review_requested",
            "id": r.id,
            "command": r.command,
            "user": r.user,
            "host": r.host,
            "session": r.session,
            "purpose": purpose,
            "rules": r.rules,
            "required": r.required,
            "expires_at": jiff::Timestamp::from_millisecond(r.expires_at).ok().map(|t| t.to_string()),
            "url": link,
        }),
    }
}

/// Send every notification for `r`, each on its own task.
pub fn send(targets: &[Notify], r: &Request, public_url: Option<&str>) {
    for t in targets {
        let body = payload(t, r, public_url);
        let url = t.url.clone();
        tokio::spawn(async move {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let Ok(http) = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
            else {
                return;
            };
            let mut wait = Duration::from_millis(250);
            for attempt in 1..=ATTEMPTS {
                match http.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => eprintln!(
                        "guard approver: notify {url}: HTTP {} (attempt {attempt})",
                        r.status()
                    ),
                    Err(e) => eprintln!("guard approver: notify {url}: {e} (attempt {attempt})"),
                }
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        });
    }
}
