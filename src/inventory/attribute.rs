//! Which boundary a finding seems to reach, and whether a configured
//! credential covers it.

use super::{Finding, Kind};
use crate::glob::Glob;
use crate::rules::spec::{BoundarySpec, CredentialSpec};
use crate::session::settings::Settings;

pub(super) fn attribute(f: &mut Finding, settings: &Settings) {
    f.boundary = settings
        .boundaries
        .iter()
        .find(|(name, spec)| reaches(f, name, spec))
        .map(|(name, _)| name.clone());
    // Settings keep credentials in config order; report the first by name.
    let mut covering: Vec<&CredentialSpec> = settings
        .credentials
        .iter()
        .filter(|c| covers(c, f))
        .collect();
    covering.sort_by(|a, b| a.name.cmp(&b.name));
    f.credential = covering.first().map(|c| c.name.clone());
    f.covered = f.credential.is_some();
}

/// The first boundary (by name) any signal matches wins: a finding is
/// reported once, and a stable order keeps the report stable.
fn reaches(f: &Finding, name: &str, b: &BoundarySpec) -> bool {
    let any = |globs: &[String], text: &str| globs.iter().any(|g| Glob::new(g).matches(text));
    let s = &f.signals;
    s.env_boundaries.iter().any(|e| e == name)
        || s.aws_profile
            .as_deref()
            .is_some_and(|p| any(&b.aws_profiles, p))
        || s.aws_accounts.iter().any(|a| any(&b.aws_accounts, a))
        || s.kube_context
            .as_deref()
            .is_some_and(|c| any(&b.kube_contexts, c))
        || s.kube_namespace
            .as_deref()
            .is_some_and(|n| any(&b.kube_namespaces, n))
        || s.hosts.iter().any(|h| any(&b.hosts, h))
}

/// Variables a credential for this kind of finding would provide.
fn family(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::AwsProfile => &["AWS_*"],
        Kind::KubeContext => &["KUBECONFIG"],
        Kind::Pgpass => &["PG*", "DATABASE_URL", "*_DATABASE_URL"],
        Kind::SshKey => &["SSH_*", "GIT_SSH*"],
        Kind::Netrc | Kind::GitCredentials => &[
            "NETRC",
            "GIT_*",
            "GH_*",
            "GITHUB_*",
            "*_TOKEN",
            "*PASSWORD*",
        ],
        Kind::Docker => &["DOCKER_*", "REGISTRY_*"],
        Kind::Gh => &["GH_*", "GITHUB_*"],
        Kind::Gcloud => &["GOOGLE_*", "CLOUDSDK_*", "GCLOUD_*"],
        // A variable is covered only by a credential providing that name.
        Kind::Env | Kind::Dotenv => &[],
    }
}

fn covers(c: &CredentialSpec, f: &Finding) -> bool {
    let provided = c
        .env
        .iter()
        .map(|e| e.split('=').next().unwrap_or_default())
        .chain(c.files.iter().map(|m| m.env.as_str()));
    let mut provided: Vec<&str> = provided.collect();
    if let Some(var) = &f.signals.var {
        return provided.iter().any(|p| p == var);
    }
    let same_boundary = f.boundary.is_some() && c.boundary == f.boundary;
    let fam = family(f.kind);
    same_boundary && {
        provided.retain(|p| fam.iter().any(|g| Glob::new(g).matches(p)));
        !provided.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::rules::spec::MaterialSpec;

    fn settings() -> Settings {
        let prod = BoundarySpec {
            aws_profiles: vec!["prod*".into()],
            hosts: vec!["*.prod.example".into()],
            ..BoundarySpec::default()
        };
        Settings {
            boundaries: BTreeMap::from([("prod".to_string(), prod)]),
            credentials: vec![
                CredentialSpec {
                    name: "aws-prod".into(),
                    env: vec!["AWS_ACCESS_KEY_ID=a.b".into()],
                    boundary: Some("prod".into()),
                    ..CredentialSpec::default()
                },
                CredentialSpec {
                    name: "kube".into(),
                    files: vec![MaterialSpec {
                        env: "KUBECONFIG".into(),
                        from: "k".into(),
                        ..MaterialSpec::default()
                    }],
                    ..CredentialSpec::default()
                },
            ],
            ..Settings::default()
        }
    }

    #[test]
    fn boundary_and_coverage() {
        let s = settings();
        let mut p = Finding::new(Kind::AwsProfile, "prod-admin", "x");
        p.signals.aws_profile = Some("prod-admin".into());
        attribute(&mut p, &s);
        assert_eq!(
            (p.boundary.as_deref(), p.credential.as_deref()),
            (Some("prod"), Some("aws-prod"))
        );

        let mut pg = Finding::new(Kind::Pgpass, "db", "x");
        pg.signals.hosts = vec!["db.prod.example".into()];
        attribute(&mut pg, &s);
        assert_eq!((pg.boundary.as_deref(), pg.covered), (Some("prod"), false));

        let mut v = Finding::new(Kind::Env, "KUBECONFIG", "env:KUBECONFIG");
        v.signals.var = Some("KUBECONFIG".into());
        attribute(&mut v, &s);
        assert_eq!(
            (v.boundary.as_deref(), v.credential.as_deref()),
            (None, Some("kube"))
        );

        let mut d = Finding::new(Kind::AwsProfile, "dev", "x");
        d.signals.aws_profile = Some("dev".into());
        attribute(&mut d, &s);
        assert_eq!((d.boundary.as_deref(), d.covered), (None, false));
    }
}
