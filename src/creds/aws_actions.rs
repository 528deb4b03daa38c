//! What an `aws` command line needs from IAM: the actions and resources
//! of one command, for a least-privilege report (`guard creds usage`) and
//! for a per-command session policy. A command this table does not know
//! gives `None`, and the caller falls back to a broader credential and
//! says so: a guess would be a policy that either fails or over-grants.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Needs {
    /// `service:Action`, sorted, without repeats.
    pub actions: Vec<String>,
    /// ARNs, or `*` where the action takes no resource.
    pub resources: Vec<String>,
}

/// Global options that take a value; everything else starting with `--`
/// before the service is a flag.
const GLOBAL_WITH_VALUE: &[&str] = &[
    "--profile",
    "--region",
    "--output",
    "--endpoint-url",
    "--query",
    "--color",
    "--ca-bundle",
    "--cli-read-timeout",
    "--cli-connect-timeout",
    "--cli-binary-format",
];

/// Services whose CLI operation names are their API names in kebab-case
/// (`describe-instances` is `ec2:DescribeInstances`), with their IAM
/// prefix.
const API_SERVICES: &[(&str, &str)] = &[
    ("ec2", "ec2"),
    ("iam", "iam"),
    ("sts", "sts"),
    ("lambda", "lambda"),
    ("logs", "logs"),
    ("dynamodb", "dynamodb"),
    ("ssm", "ssm"),
    ("s3api", "s3"),
    ("sqs", "sqs"),
    ("sns", "sns"),
    ("kms", "kms"),
    ("secretsmanager", "secretsmanager"),
    ("cloudformation", "cloudformation"),
    ("ecr", "ecr"),
    ("eks", "eks"),
    ("ecs", "ecs"),
    ("rds", "rds"),
    ("route53", "route53"),
    ("cloudwatch", "cloudwatch"),
];

/// Operations whose IAM action is not their name, by (service, op).
const RENAMED: &[(&str, &str, &[&str])] = &[
    ("s3api", "list-objects", &["s3:ListBucket"]),
    ("s3api", "list-objects-v2", &["s3:ListBucket"]),
    ("s3api", "list-object-versions", &["s3:ListBucketVersions"]),
    ("s3api", "head-object", &["s3:GetObject"]),
    ("s3api", "head-bucket", &["s3:ListBucket"]),
    ("s3api", "list-buckets", &["s3:ListAllMyBuckets"]),
    ("s3api", "get-bucket-policy", &["s3:GetBucketPolicy"]),
    ("lambda", "invoke", &["lambda:InvokeFunction"]),
    (
        "lambda",
        "update-function-code",
        &["lambda:UpdateFunctionCode"],
    ),
    (
        "logs",
        "tail",
        &["logs:DescribeLogGroups", "logs:FilterLogEvents"],
    ),
    ("logs", "filter-log-events", &["logs:FilterLogEvents"]),
    ("ecr", "get-login-password", &["ecr:GetAuthorizationToken"]),
    ("eks", "update-kubeconfig", &["eks:DescribeCluster"]),
    ("eks", "get-token", &["eks:DescribeCluster"]),
    ("ssm", "start-session", &["ssm:StartSession"]),
    ("dynamodb", "scan", &["dynamodb:Scan"]),
    ("dynamodb", "query", &["dynamodb:Query"]),
    ("iam", "list-users", &["iam:ListUsers"]),
    ("ec2", "run-instances", &["ec2:RunInstances"]),
];

/// Verbs an API operation name starts with. An op outside them (`wait`,
/// `help`, a CLI-only customization) is not an API call we can name.
const API_VERBS: &[&str] = &[
    "describe",
    "list",
    "get",
    "create",
    "delete",
    "put",
    "update",
    "start",
    "stop",
    "run",
    "terminate",
    "reboot",
    "modify",
    "attach",
    "detach",
    "associate",
    "disassociate",
    "authorize",
    "revoke",
    "tag",
    "untag",
    "send",
    "receive",
    "publish",
    "subscribe",
    "assume",
    "decrypt",
    "encrypt",
    "generate",
    "batch",
    "add",
    "remove",
    "invoke",
    "copy",
    "import",
    "export",
    "enable",
    "disable",
    "register",
    "deregister",
    "set",
    "upload",
    "restore",
    "scan",
    "query",
];

fn pascal(op: &str) -> String {
    op.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// `s3://b/k` → (b, k).
fn s3_url(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

fn bucket_arn(b: &str) -> String {
    format!("arn:aws:s3:::{b}")
}

fn object_arn(b: &str, key: &str) -> String {
    if key.is_empty() || key.ends_with('/') {
        format!("arn:aws:s3:::{b}/{key}*")
    } else {
        format!("arn:aws:s3:::{b}/{key}")
    }
}

/// The value after `--name` (or in `--name=value`).
fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
    }
    None
}

/// The high-level `aws s3` commands.
fn s3(op: &str, args: &[String]) -> Option<(Vec<&'static str>, Vec<String>)> {
    let urls: Vec<(&str, &str)> = args.iter().filter_map(|a| s3_url(a)).collect();
    let recursive = args.iter().any(|a| a == "--recursive");
    let mut actions = Vec::new();
    let mut res = Vec::new();
    match op {
        "ls" => match urls.first() {
            None => {
                actions.push("s3:ListAllMyBuckets");
                res.push("*".to_string());
            }
            Some((b, _)) => {
                actions.push("s3:ListBucket");
                res.push(bucket_arn(b));
            }
        },
        "cp" | "mv" | "sync" => {
            let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
            let (src, dst) = match positional.as_slice() {
                [s, d, ..] => (s.as_str(), d.as_str()),
                _ => return None,
            };
            if let Some((b, k)) = s3_url(src) {
                actions.push("s3:GetObject");
                res.push(object_arn(b, k));
                if recursive || op == "sync" {
                    actions.push("s3:ListBucket");
                    res.push(bucket_arn(b));
                }
                if op == "mv" {
                    actions.push("s3:DeleteObject");
                }
            }
            if let Some((b, k)) = s3_url(dst) {
                actions.push("s3:PutObject");
                res.push(object_arn(b, k));
                if op == "sync" {
                    actions.push("s3:ListBucket");
                    res.push(bucket_arn(b));
                }
            }
            if actions.is_empty() {
                return None;
            }
        }
        "rm" => {
            let (b, k) = *urls.first()?;
            actions.push("s3:DeleteObject");
            res.push(object_arn(b, k));
            if recursive {
                actions.push("s3:ListBucket");
                res.push(bucket_arn(b));
            }
        }
        "mb" => {
            let (b, _) = *urls.first()?;
            actions.push("s3:CreateBucket");
            res.push(bucket_arn(b));
        }
        "rb" => {
            let (b, _) = *urls.first()?;
            actions.push("s3:DeleteBucket");
            res.push(bucket_arn(b));
            if args.iter().any(|a| a == "--force") {
                actions.extend(["s3:ListBucket", "s3:DeleteObject"]);
                res.push(object_arn(b, ""));
            }
        }
        "presign" => {
            let (b, k) = *urls.first()?;
            actions.push("s3:GetObject");
            res.push(object_arn(b, k));
        }
        _ => return None,
    }
    Some((actions, res))
}

/// The resource an API call names, where the table knows how to say it.
/// `args` are the operation's own arguments; `all` the whole command
/// (the region is a global option).
fn resource(service: &str, op: &str, args: &[String], all: &[String]) -> String {
    let region = option(all, "--region").unwrap_or("*");
    let named = match service {
        "lambda" => option(args, "--function-name").map(|f| {
            if f.starts_with("arn:") {
                f.to_string()
            } else {
                format!("arn:aws:lambda:{region}:*:function:{f}")
            }
        }),
        "dynamodb" => {
            option(args, "--table-name").map(|t| format!("arn:aws:dynamodb:{region}:*:table/{t}"))
        }
        "ssm" if op.contains("parameter") => option(args, "--name").map(|n| {
            format!(
                "arn:aws:ssm:{region}:*:parameter/{}",
                n.trim_start_matches('/')
            )
        }),
        "logs" => option(args, "--log-group-name")
            .or_else(|| {
                args.iter()
                    .find(|a| !a.starts_with('-'))
                    .map(String::as_str)
                    .filter(|_| op == "tail")
            })
            .map(|g| format!("arn:aws:logs:{region}:*:log-group:{g}:*")),
        "s3api" => option(args, "--bucket").map(|b| match option(args, "--key") {
            Some(k) => object_arn(b, k),
            None => bucket_arn(b),
        }),
        "iam" => option(args, "--user-name")
            .map(|u| format!("arn:aws:iam::*:user/{u}"))
            .or_else(|| option(args, "--role-name").map(|r| format!("arn:aws:iam::*:role/{r}"))),
        "sts" if op == "assume-role" => option(args, "--role-arn").map(str::to_string),
        _ => None,
    };
    named.unwrap_or_else(|| "*".to_string())
}

/// What `argv` (an `aws …` command) needs, or `None` when the table does
/// not know the command.
pub fn needs(argv: &[String]) -> Option<Needs> {
    let prog = argv.first()?;
    if prog.rsplit('/').next() != Some("aws") {
        return None;
    }
    let mut i = 1;
    let mut positional: Vec<&str> = Vec::new();
    while i < argv.len() && positional.len() < 2 {
        let a = argv[i].as_str();
        if positional.is_empty() && GLOBAL_WITH_VALUE.contains(&a) {
            i += 2;
            continue;
        }
        if a.starts_with("--") {
            if positional.is_empty() {
                i += 1;
                continue;
            }
            break;
        }
        positional.push(a);
        i += 1;
    }
    let [service, op] = positional.as_slice() else {
        return None;
    };
    let (service, op) = (*service, *op);
    let (mut actions, mut resources): (Vec<String>, Vec<String>) = if service == "s3" {
        let (a, r) = s3(op, &argv[i..])?;
        (a.iter().map(|s| s.to_string()).collect(), r)
    } else if let Some((_, _, acts)) = RENAMED.iter().find(|(s, o, _)| *s == service && *o == op) {
        (
            acts.iter().map(|s| s.to_string()).collect(),
            vec![resource(service, op, &argv[i..], argv)],
        )
    } else {
        let prefix = API_SERVICES.iter().find(|(s, _)| *s == service)?.1;
        let verb = op.split('-').next().unwrap_or("");
        if !API_VERBS.contains(&verb) {
            return None;
        }
        (
            vec![format!("{prefix}:{}", pascal(op))],
            vec![resource(service, op, &argv[i..], argv)],
        )
    };
    actions.sort();
    actions.dedup();
    resources.sort();
    resources.dedup();
    if resources.len() > 1 {
        resources.retain(|r| r != "*");
    }
    Some(Needs { actions, resources })
}

/// An IAM policy allowing exactly these needs, merged, as JSON.
pub fn policy(all: &[Needs]) -> serde_json::Value {
    let mut actions: Vec<String> = all.iter().flat_map(|n| n.actions.clone()).collect();
    let mut resources: Vec<String> = all.iter().flat_map(|n| n.resources.clone()).collect();
    actions.sort();
    actions.dedup();
    resources.sort();
    resources.dedup();
    if resources.iter().any(|r| r == "*") {
        resources = vec!["*".to_string()];
    }
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}],
    })
}
