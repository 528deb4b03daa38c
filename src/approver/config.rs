//! The approver's own config (`--config FILE`): how many reviewers a
//! request needs, who is told about it, and how reviewers sign in.

use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The largest count among the entries a request matches; 1 if none.
    #[serde(default)]
    pub approvals_required: Vec<Required>,
    #[serde(default)]
    pub notify: Vec<Notify>,
    /// The page's public address, for links in notifications.
    #[serde(default)]
    pub public_url: Option<String>,
    /// A header a trusted reverse proxy sets to the signed-in reviewer's
    /// name (SSO). Off unless named: anyone who can reach the port could
    /// otherwise claim to be anyone.
    #[serde(default)]
    pub trusted_header: Option<String>,
    /// The addresses of the proxies `trusted_header` is taken from; it is
    /// ignored on any other connection. Required with `trusted_header`.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Accounts that may never approve anything (the agents').
    #[serde(default)]
    pub agents: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Required {
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub risk: Option<String>,
    #[serde(default)]
    pub boundary: Option<String>,
    pub count: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub url: String,
    /// `generic` (the request's summary as JSON) or `slack` (an
    /// incoming-webhook message).
    #[serde(default = "generic")]
    pub format: String,
}

fn generic() -> String {
    "generic".to_string()
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: Config = yaml_serde::from_str(&text).map_err(|e| match e.location() {
            Some(l) => format!("{}:{}:{}: {e}", path.display(), l.line(), l.column()),
            None => format!("{}: {e}", path.display()),
        })?;
        for (i, r) in config.approvals_required.iter().enumerate() {
            let keys = [&r.rule, &r.risk, &r.boundary]
                .iter()
                .filter(|k| k.is_some())
                .count();
            if keys != 1 {
                return Err(format!(
                    "{}: approvals_required[{i}] needs exactly one of rule, risk, boundary",
                    path.display()
                ));
            }
            if r.count == 0 {
                return Err(format!(
                    "{}: approvals_required[{i}]: count must be at least 1",
                    path.display()
                ));
            }
        }
        if config.trusted_header.is_some() && config.trusted_proxies.is_empty() {
            return Err(format!(
                "{}: trusted_header needs trusted_proxies: the addresses of the proxies that set it",
                path.display()
            ));
        }
        for (i, n) in config.notify.iter().enumerate() {
            if !(n.url.starts_with("http://") || n.url.starts_with("https://")) {
                return Err(format!(
                    "{}: notify[{i}]: url must be http(s)",
                    path.display()
                ));
            }
            if !matches!(n.format.as_str(), "generic" | "slack") {
                return Err(format!(
                    "{}: notify[{i}]: format must be generic or slack, not `{}`",
                    path.display(),
                    n.format
                ));
            }
        }
        Ok(config)
    }
}
