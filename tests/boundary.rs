//! Boundary signals, table-driven: which boundaries each line targets in
//! a session scoped to staging, through the library (the decision's
//! commands, as the shell would run them).

mod common;

use guard::rules::load;
use guard::session::{self, enforce};

const CONFIG: &str = r#"
boundaries:
  prod:
    aws_profiles: ["prod*"]
    aws_accounts: ["111122223333"]
    kube_contexts: ["prod-*"]
    kube_namespaces: ["payments"]
    hosts: ["*.prod.example.com", "db-prod*"]
    env: {DEPLOY_ENV: ["production"]}
  staging:
    aws_profiles: ["staging*"]
    kube_contexts: ["staging-*"]
    hosts: ["*.staging.example.com"]
"#;

/// (line, the crossing's text, or "" for none).
const TABLE: &[(&str, &str)] = &[
    // AWS: flags, assignments, exports, env wrappers, ARNs.
    ("aws --profile prod s3 ls", "prod (aws profile prod)"),
    ("aws s3 ls --profile=prod-ro", "prod (aws profile prod-ro)"),
    ("AWS_PROFILE=prod aws s3 ls", "prod (aws profile prod)"),
    (
        "AWS_DEFAULT_PROFILE=prod aws s3 ls",
        "prod (aws profile prod)",
    ),
    ("env AWS_PROFILE=prod aws s3 ls", "prod (aws profile prod)"),
    (
        "export AWS_PROFILE=prod && aws s3 ls",
        "prod (aws profile prod)",
    ),
    (
        "sudo -u ci aws --profile prod s3 ls",
        "prod (aws profile prod)",
    ),
    (
        "bash -c 'aws --profile prod s3 ls'",
        "prod (aws profile prod)",
    ),
    (
        "aws iam get-role --role-arn arn:aws:iam::111122223333:role/x",
        "prod (aws account 111122223333)",
    ),
    ("aws --profile staging s3 ls", ""),
    ("aws s3 ls", ""),
    // Kubernetes.
    (
        "kubectl --context prod-eu get pods",
        "prod (kube context prod-eu)",
    ),
    (
        "kubectl get pods --context=prod-us",
        "prod (kube context prod-us)",
    ),
    (
        "helm --kube-context prod-eu list",
        "prod (kube context prod-eu)",
    ),
    (
        "kubectl config use-context prod-eu",
        "prod (kube context prod-eu)",
    ),
    (
        "kubectl -n payments get pods",
        "prod (kube namespace payments)",
    ),
    (
        "kubectl get pods --namespace=payments",
        "prod (kube namespace payments)",
    ),
    ("kubectl --context staging-eu get pods", ""),
    // Hosts.
    ("psql -h db-prod1 -c 'select 1'", "prod (host db-prod1)"),
    ("psql 'host=db-prod2 dbname=app'", "prod (host db-prod2)"),
    (
        "psql postgres://app@db-prod3:5432/app",
        "prod (host db-prod3)",
    ),
    (
        "curl https://api.prod.example.com/v1",
        "prod (host api.prod.example.com)",
    ),
    (
        "wget -q http://user:pw@cdn.prod.example.com/x",
        "prod (host cdn.prod.example.com)",
    ),
    (
        "ssh -p 2222 deploy@bastion.prod.example.com uptime",
        "prod (host bastion.prod.example.com)",
    ),
    (
        "ssh -i key bastion.prod.example.com",
        "prod (host bastion.prod.example.com)",
    ),
    (
        "scp file deploy@web1.prod.example.com:/tmp/",
        "prod (host web1.prod.example.com)",
    ),
    (
        "rsync -a dist/ web1.prod.example.com:/srv/",
        "prod (host web1.prod.example.com)",
    ),
    (
        "git clone ssh://git@git.prod.example.com/app.git",
        "prod (host git.prod.example.com)",
    ),
    (
        "mysql --host=db-prod9 -e 'show tables'",
        "prod (host db-prod9)",
    ),
    ("curl https://api.staging.example.com/v1", ""),
    ("ssh web1.staging.example.com", ""),
    // Found in review: selectors only known at run time, context
    // management verbs.
    (
        "kubectl --context $(echo prod-eu) delete ns payments",
        "an unknown boundary (kube context only known at run time)",
    ),
    // The line's own literal is followed (src/parse/vars.rs); one it may
    // not have set is not.
    (
        "C=prod-eu; kubectl --context \"$C\" get pods",
        "prod (kube context prod-eu)",
    ),
    (
        "true && C=prod-eu; kubectl --context \"$C\" get pods",
        "an unknown boundary (kube context only known at run time)",
    ),
    (
        "kubectl get pods --context=$CTX",
        "an unknown boundary (kube context only known at run time)",
    ),
    (
        "P=prod; aws --profile \"$P\" s3 ls",
        "prod (aws profile prod)",
    ),
    (
        "P=staging; read P; aws --profile \"$P\" s3 ls",
        "an unknown boundary (aws profile only known at run time)",
    ),
    (
        "AWS_PROFILE=$P aws s3 ls",
        "an unknown boundary (aws profile only known at run time)",
    ),
    (
        "kubectl config rename-context prod-eu staging-x",
        "prod (kube context prod-eu)",
    ),
    (
        "kubectl config set-context prod-eu --namespace=x",
        "prod (kube context prod-eu)",
    ),
    // Variables named by the config, on a sensitive command.
    (
        "DEPLOY_ENV=production kubectl apply -f k8s/",
        "prod (DEPLOY_ENV=production)",
    ),
    // Mentioning is not using.
    ("echo https://api.prod.example.com", ""),
    ("grep -r db-prod1 config/", ""),
    ("cat notes-about-prod-eu.txt", ""),
    ("DEPLOY_ENV=production make docs", ""),
];

#[test]
fn boundary_signals() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, CONFIG).unwrap();
    let (_, env) = common::shipped();
    let cfg = load::load_with(&[file], &env.home, true).unwrap();
    let mut s = session::Session::new(
        session::Kind::Explicit,
        "t".to_string(),
        std::time::Duration::from_secs(60),
        None,
    );
    s.boundary = Some("staging".to_string());
    let mut failures = Vec::new();
    for (line, want) in TABLE {
        let mut v = common::decide(&cfg, &env, line);
        enforce::apply(&mut v, Some(&s), &cfg, &std::env::vars().collect());
        let crossing = v
            .matches
            .iter()
            .find(|(_, h)| h.rule == enforce::BOUNDARY_RULE)
            .map(|(_, h)| h.message.clone());
        let ok = match (crossing.as_deref(), *want) {
            (None, "") => true,
            (Some(m), w) if !w.is_empty() => m.ends_with(&format!("targets {w}")),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{line}\n    want: {want:?}\n    got:  {crossing:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
