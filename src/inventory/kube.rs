//! Kubernetes contexts in `~/.kube/config` and every `$KUBECONFIG` file,
//! with how each context's user authenticates.

use std::path::{Path, PathBuf};

use yaml_serde::Value;

use super::{read_with, url_host, Finding, Kind, Sources};

pub(super) fn scan(src: &Sources<'_>) -> Vec<Finding> {
    let mut paths = vec![src.home(".kube/config")];
    if let Some(list) = src.env.get("KUBECONFIG") {
        for p in list.split(':').filter(|p| !p.is_empty()).map(PathBuf::from) {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for path in paths {
        out.extend(read_with(Kind::KubeContext, &path, |t| contexts(&path, t)));
    }
    out
}

fn contexts(path: &Path, text: &str) -> Vec<Finding> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    // The parse error is dropped on purpose: it may quote the file.
    let Ok(doc) = yaml_serde::from_str::<Value>(text) else {
        return vec![Finding::broken(Kind::KubeContext, path, "malformed")];
    };
    let current = doc.get("current-context").and_then(Value::as_str);
    let mut out = Vec::new();
    for ctx in list(&doc, "contexts") {
        let Some(name) = ctx.get("name").and_then(Value::as_str) else {
            continue;
        };
        let body = ctx.get("context");
        let field = |k: &str| body.and_then(|b| b.get(k)).and_then(Value::as_str);
        let mut f = Finding::new(Kind::KubeContext, name, path.display().to_string());
        f.signals.kube_context = Some(name.to_string());
        f.signals.kube_namespace = field("namespace").map(String::from);
        if let Some(server) = field("cluster")
            .and_then(|c| named(&doc, "clusters", c, "cluster"))
            .and_then(|c| c.get("server"))
            .and_then(Value::as_str)
        {
            f.signals.hosts.extend(url_host(server));
        }
        let user = field("user").and_then(|u| named(&doc, "users", u, "user"));
        f.tags.push(auth(user).to_string());
        if current == Some(name) {
            f.tags.push("current".to_string());
        }
        out.push(f);
    }
    out
}

fn list<'a>(doc: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    doc.get(key)
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
}

/// The `body` of the entry of `doc[key]` called `name`.
fn named<'a>(doc: &'a Value, key: &str, name: &str, body: &str) -> Option<&'a Value> {
    list(doc, key)
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|e| e.get(body))
}

/// How a kubeconfig user authenticates, by the keys present (their
/// values are never read).
fn auth(user: Option<&Value>) -> &'static str {
    let Some(user) = user else {
        return "no-user";
    };
    let has = |k: &str| user.get(k).is_some();
    if has("token") || has("tokenFile") {
        "token"
    } else if has("client-key-data") || has("client-key") {
        "client-cert"
    } else if has("exec") {
        "exec"
    } else if has("auth-provider") {
        "auth-provider"
    } else if has("password") {
        "basic-auth"
    } else {
        "no-auth"
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::contexts;

    #[test]
    fn contexts_and_auth() {
        let text = "current-context: a\nclusters:\n- name: c\n  cluster: {server: 'https://k.prod:6443'}\n\
                    contexts:\n- name: a\n  context: {cluster: c, user: u, namespace: ns}\n- name: b\n  context: {}\n\
                    users:\n- name: u\n  user: {token: t}\n";
        let found = contexts(Path::new("k"), text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].tags, ["token", "current"]);
        assert_eq!(found[0].signals.hosts, ["k.prod"]);
        assert_eq!(found[0].signals.kube_namespace.as_deref(), Some("ns"));
        assert_eq!(found[1].tags, ["no-user"]);
        assert_eq!(contexts(Path::new("k"), ": : [")[0].tags, ["malformed"]);
    }
}
