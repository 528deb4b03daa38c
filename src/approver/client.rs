//! `guard approver --url URL --user NAME list|show|approve|deny`: the
//! reviewer API from a terminal. The password comes from
//! `GUARD_APPROVER_PASSWORD`, never from argv (where `ps` would show it).

use std::time::Duration;

use serde_json::{json, Value};

pub struct Remote {
    pub url: String,
    pub user: String,
    password: String,
    http: reqwest::blocking::Client,
}

impl Remote {
    pub fn new(url: Option<String>, user: Option<String>) -> Result<Remote, String> {
        let url = url
            .or_else(|| std::env::var("GUARD_APPROVER_URL").ok())
            .ok_or("name the approver with --url URL (or GUARD_APPROVER_URL)")?;
        let user = user
            .or_else(|| std::env::var("GUARD_APPROVER_USER").ok())
            .ok_or("name the reviewer with --user NAME")?;
        let password = std::env::var("GUARD_APPROVER_PASSWORD")
            .map_err(|_| "set GUARD_APPROVER_PASSWORD to the reviewer's password")?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(Remote {
            url: url.trim_end_matches('/').to_string(),
            user,
            password,
            http,
        })
    }

    fn call(&self, req: reqwest::blocking::RequestBuilder) -> Result<Value, String> {
        let resp = req
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .map_err(|e| format!("approver {}: {e}", self.url))?;
        let status = resp.status();
        let body: Value = resp.json().unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        Err(body["error"].as_str().map_or_else(
            || format!("approver answered HTTP {status}"),
            str::to_string,
        ))
    }

    pub fn list(&self, all: bool) -> Result<Value, String> {
        let state = if all { "any" } else { "pending" };
        self.call(
            self.http
                .get(format!("{}/api/v1/requests?state={state}", self.url)),
        )
    }

    pub fn show(&self, id: &str) -> Result<Value, String> {
        self.call(self.http.get(format!("{}/api/v1/requests/{id}", self.url)))
    }

    pub fn decide(
        &self,
        id: &str,
        decision: &str,
        scope: &str,
        reason: Option<&str>,
    ) -> Result<Value, String> {
        self.call(
            self.http
                .post(format!("{}/api/v1/requests/{id}/decision", self.url))
                .json(&json!({"decision": decision, "scope": scope, "reason": reason})),
        )
    }
}

/// One line per request, for people. Every field is shown with its
/// control characters escaped: a command cannot repaint the terminal.
pub fn table(rows: &Value) -> String {
    let f = |v: &Value| super::shown::shown(v.as_str().unwrap_or("?"), false);
    let mut out = String::new();
    for r in rows.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{}  {}/{}  {}  {}@{}  {}\n",
            f(&r["id"]),
            r["approvals"],
            r["required"],
            f(&r["expires_at"]),
            f(&r["user"]),
            f(&r["host"]),
            f(&r["command"]),
        ));
    }
    out
}
