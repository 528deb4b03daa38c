//! `guard approver serve`: a small reference approver for local use and
//! tests. It speaks the webhook protocol, checks every signature (401 when
//! it does not verify), lists each pending request on its own terminal and
//! takes `y` or `n` (optionally followed by a reason) for the oldest one.
//! Every decision names the request it answers (`"id"`), and is signed.

use std::collections::{HashMap, VecDeque};
use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::approve::webhook::{self, SIGNATURE_HEADER};

struct Pending {
    number: usize,
    id: String,
}

#[derive(Default)]
struct State {
    next: usize,
    pending: VecDeque<Pending>,
    /// Decision bodies by request id, served to polls. Each carries its
    /// request's id, as guard requires.
    decided: HashMap<String, String>,
}

fn header(req: &tiny_http::Request, name: &'static str) -> Option<String> {
    req.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_string())
}

/// Every answer is signed, so guard can tell it from a forger's.
fn respond(req: tiny_http::Request, code: u16, body: &str, secret: &[u8]) {
    let json = tiny_http::Header::from_bytes("Content-Type", "application/json").ok();
    let sig = tiny_http::Header::from_bytes(
        SIGNATURE_HEADER.as_bytes(),
        webhook::sign(secret, body.as_bytes()).as_bytes(),
    )
    .ok();
    let mut resp = tiny_http::Response::from_string(body).with_status_code(code);
    for h in [json, sig].into_iter().flatten() {
        resp = resp.with_header(h);
    }
    // A client that went away is its own problem.
    let _ = req.respond(resp);
}

/// One line per matched rule, and the command, for the operator.
fn card(number: usize, body: &serde_json::Value) -> String {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    let mut out = format!(
        "\n#{number} {}@{} in {}\n  $ {}\n",
        s(&body["user"]),
        s(&body["host"]),
        s(&body["cwd"]),
        s(&body["command"])
    );
    for m in body["matches"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} [{}] {}\n",
            s(&m["rule"]),
            s(&m["action"]),
            s(&m["message"])
        ));
    }
    if let Some(session) = body["session"]["id"].as_str() {
        out.push_str(&format!("  session {session}\n"));
    }
    out.push_str("  allow? [y/n] (n may be followed by a reason)\n");
    out
}

fn handle(req: tiny_http::Request, secret: &[u8], state: &Mutex<State>) {
    let mut req = req;
    let mut body = Vec::new();
    if std::io::Read::read_to_end(req.as_reader(), &mut body).is_err() {
        return respond(req, 400, r#"{"error":"unreadable body"}"#, secret);
    }
    let signature = header(&req, SIGNATURE_HEADER).unwrap_or_default();
    let url = req.url().to_string();
    let Ok(mut st) = state.lock() else {
        return respond(req, 500, r#"{"error":"state poisoned"}"#, secret);
    };
    match req.method() {
        tiny_http::Method::Post => {
            if !webhook::verify(secret, &body, &signature) {
                return respond(req, 401, r#"{"error":"bad signature"}"#, secret);
            }
            let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
                return respond(req, 400, r#"{"error":"not JSON"}"#, secret);
            };
            let Some(id) = json["id"]
                .as_str()
                .filter(|i| i.chars().all(|c| c.is_ascii_alphanumeric()))
            else {
                return respond(req, 400, r#"{"error":"missing id"}"#, secret);
            };
            st.next += 1;
            let number = st.next;
            st.pending.push_back(Pending {
                number,
                id: id.to_string(),
            });
            print!("{}", card(number, &json));
            let waiting: Vec<String> = st
                .pending
                .iter()
                .map(|p| format!("#{}", p.number))
                .collect();
            println!("pending: {}", waiting.join(" "));
            let poll =
                serde_json::json!({"poll_url": format!("/poll/{id}"), "retry_after_ms": 200});
            respond(req, 202, &poll.to_string(), secret);
        }
        tiny_http::Method::Get => {
            let host = header(&req, "Host").unwrap_or_default();
            if !webhook::verify(secret, format!("http://{host}{url}").as_bytes(), &signature) {
                return respond(req, 401, r#"{"error":"bad signature"}"#, secret);
            }
            let Some(id) = url.strip_prefix("/poll/") else {
                return respond(req, 404, r#"{"error":"not found"}"#, secret);
            };
            if let Some(decision) = st.decided.get(id) {
                let decision = decision.clone();
                return respond(req, 200, &decision, secret);
            }
            if st.pending.iter().any(|p| p.id == id) {
                let poll =
                    serde_json::json!({"poll_url": format!("/poll/{id}"), "retry_after_ms": 200});
                return respond(req, 202, &poll.to_string(), secret);
            }
            respond(req, 404, r#"{"error":"unknown request"}"#, secret)
        }
        _ => respond(req, 405, r#"{"error":"method not allowed"}"#, secret),
    }
}

pub fn serve(listen: &str, secret_file: &Path, name: &str) -> Result<(), String> {
    let secret = webhook::read_secret(secret_file)?;
    let server =
        tiny_http::Server::http(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let state = Arc::new(Mutex::new(State::default()));
    println!("guard approver listening on http://{listen} as {name}; answer y or n");
    let http_state = Arc::clone(&state);
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            handle(req, &secret, &http_state);
        }
    });
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("terminal: {e}"))?;
        let line = line.trim();
        let (answer, reason) = match line.split_once(char::is_whitespace) {
            Some((a, r)) => (a, Some(r.trim().to_string())),
            None => (line, None),
        };
        let allow = match answer {
            "y" | "Y" | "yes" => true,
            "n" | "N" | "no" => false,
            "" => continue,
            _ => {
                println!("answer y or n");
                continue;
            }
        };
        let mut st = state.lock().map_err(|_| "state poisoned".to_string())?;
        let Some(p) = st.pending.pop_front() else {
            println!("nothing pending");
            continue;
        };
        // The id binds the signed answer to this request: guard refuses a
        // decision that names another (a replay) or none.
        let decision = serde_json::json!({
            "id": p.id,
            "decision": if allow { "allow" } else { "deny" },
            "approver": name,
            "reason": reason,
            "scope": "once",
        });
        st.decided.insert(p.id, decision.to_string());
        println!("#{} {}", p.number, if allow { "allowed" } else { "denied" });
    }
    Ok(())
}
