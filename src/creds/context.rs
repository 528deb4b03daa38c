//! What a `scope: command` provider is told about the command it mints
//! for (schemas/credential-context.schema.json): each command's argv,
//! program and subcommand, the targets guard reads off it (AWS profile,
//! region and bucket or URL, kube context and namespace, database host,
//! name and user, SSH host), what IAM needs for an `aws` command, and the
//! session. Values are redacted as everywhere else guard reports argv.

use serde_json::{json, Map, Value};

use super::aws_actions;
use crate::boundary::Touch;
use crate::policy::Verdict;
use crate::rules::spec::Action;
use crate::session::Session;

/// The value of `--name VALUE`, `--name=VALUE` or (short) `-n VALUE`.
fn option(argv: &[String], names: &[&str]) -> Option<String> {
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        for n in names {
            if a == n {
                return it.next().cloned();
            }
            if n.starts_with("--") {
                if let Some(v) = a.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

/// The targets one command names.
pub fn targets(argv: &[String]) -> Map<String, Value> {
    let mut t = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            t.insert(k.to_string(), json!(v));
        }
    };
    let prog = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        .unwrap_or_default();
    match prog.as_str() {
        "aws" => {
            put("profile", option(argv, &["--profile"]));
            put("region", option(argv, &["--region"]));
            let mut buckets: Vec<String> = argv
                .iter()
                .filter_map(|a| a.strip_prefix("s3://"))
                .map(|r| r.split('/').next().unwrap_or(r).to_string())
                .chain(option(argv, &["--bucket"]))
                .collect();
            buckets.sort();
            buckets.dedup();
            // Two buckets: say neither, rather than the one that suits
            // whoever wrote the line (the `aws` field lists them all).
            if buckets.len() == 1 {
                put("bucket", buckets.pop());
            }
        }
        "kubectl" | "helm" => {
            put(
                "kube_context",
                option(argv, &["--context", "--kube-context"]),
            );
            put("namespace", option(argv, &["--namespace", "-n"]));
        }
        "psql" | "pg_dump" | "pg_restore" | "createdb" | "dropdb" => {
            put("db_host", option(argv, &["--host", "-h"]));
            put("db_user", option(argv, &["--username", "-U"]));
            put("db", option(argv, &["--dbname", "-d"]));
            if let Some(url) = argv
                .iter()
                .skip(1)
                .find(|a| a.starts_with("postgres://") || a.starts_with("postgresql://"))
            {
                if let Ok(u) = reqwest::Url::parse(url) {
                    put("db_host", u.host_str().map(str::to_string));
                    put("db_user", Some(u.username().to_string()));
                    put("db", Some(u.path().trim_start_matches('/').to_string()));
                }
            }
        }
        "ssh" | "scp" | "sftp" => {
            // The destination: the first word that is not an option or an
            // option's value.
            let with_value = [
                "-p", "-i", "-l", "-o", "-F", "-J", "-L", "-R", "-D", "-P", "-E", "-S", "-W", "-b",
                "-c", "-m",
            ];
            let mut skip = false;
            for a in argv.iter().skip(1) {
                if skip {
                    skip = false;
                    continue;
                }
                if with_value.contains(&a.as_str()) {
                    skip = true;
                    continue;
                }
                if a.starts_with('-') {
                    continue;
                }
                let host = a.rsplit('@').next().unwrap_or(a);
                let host = host.split(':').next().unwrap_or(host);
                put("ssh_host", Some(host.to_string()));
                break;
            }
        }
        _ => {}
    }
    let urls: Vec<&String> = argv
        .iter()
        .skip(1)
        .filter(|a| a.starts_with("https://") || a.starts_with("http://"))
        .collect();
    // One URL or none: with two, which one the program uses is its own
    // business, and a provider must not be told the convenient one.
    if let [url] = urls.as_slice() {
        put("url", Some((*url).clone()));
    }
    t
}

/// The whole context for the line `v` decided in `session`, about its
/// command `at` (the one whose rule granted the credential; default: the
/// first a non-allow rule matched, else the first).
pub fn of(v: &Verdict, session: &Session, touches: &[Touch], at: Option<usize>) -> Value {
    let argvs: Vec<Vec<String>> = v
        .commands
        .iter()
        .map(|c| crate::detect::redact_argv(&c.argv_text()))
        .collect();
    let commands: Vec<Value> = argvs
        .iter()
        .map(|argv| {
            let words = super::usage::program(argv).unwrap_or_default();
            let (program, sub) = words.split_once(' ').unwrap_or((&words, ""));
            json!({"argv": argv, "program": program, "subcommand": sub, "targets": targets(argv)})
        })
        .collect();
    let main = at.filter(|i| *i < commands.len()).unwrap_or_else(|| {
        v.matches
            .iter()
            .find(|(_, h)| h.action != Action::Allow)
            .map(|(i, _)| *i)
            .filter(|i| *i < commands.len())
            .unwrap_or(0)
    });
    let first = commands.get(main).cloned().unwrap_or(json!({}));
    let aws = argvs.get(main).and_then(|a| aws_actions::needs(a));
    json!({
        "scope": "command",
        "argv": first["argv"],
        "program": first["program"],
        "subcommand": first["subcommand"],
        "targets": first["targets"],
        "aws": aws,
        "commands": commands,
        "boundaries": touches.iter().map(|t| json!({"boundary": t.boundary, "signal": t.signal})).collect::<Vec<_>>(),
        "session": {"id": session.id, "purpose": session.purpose, "boundary": session.boundary},
    })
}

#[cfg(test)]
mod tests {
    use super::targets;

    #[test]
    fn targets_read_off_argv() {
        let table: [(&str, &str); 9] = [
            (
                "aws --profile prod --region eu-west-1 s3 ls s3://logs/2026",
                r#"{"bucket":"logs","profile":"prod","region":"eu-west-1"}"#,
            ),
            (
                "kubectl --context prod-eu -n web get pods",
                r#"{"kube_context":"prod-eu","namespace":"web"}"#,
            ),
            (
                "psql -h db.prod -U app -d orders -c 'select 1'",
                r#"{"db":"orders","db_host":"db.prod","db_user":"app"}"#,
            ),
            (
                "psql postgres://ro@db.staging/orders",
                r#"{"db":"orders","db_host":"db.staging","db_user":"ro"}"#,
            ),
            (
                "ssh -i key -p 2222 deploy@bastion.prod uptime",
                r#"{"ssh_host":"bastion.prod"}"#,
            ),
            (
                "curl -H 'Authorization: Bearer x' https://api.example/v1",
                r#"{"url":"https://api.example/v1"}"#,
            ),
            (
                "curl -e https://allowed.example https://evil.example/x",
                "{}",
            ),
            ("aws s3 cp s3://a/x s3://b/y", "{}"),
            ("ls -la", "{}"),
        ];
        for (line, want) in table {
            let argv = shell_words::split(line).unwrap();
            assert_eq!(
                serde_json::Value::Object(targets(&argv)).to_string(),
                want,
                "{line}"
            );
        }
    }
}
