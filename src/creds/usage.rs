//! `guard creds usage`: for each credential, who may hold it, where a
//! copy is still reachable, how it was used in the window, and whether
//! it was used at all. It joins three sources: the definitions, what
//! `creds scan` finds, and the audit log. For AWS it names the
//! service/operation pairs seen and the least policy that allows them,
//! from the same table a per-command policy uses.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::aws_actions;
use crate::inventory::Finding;
use crate::rules::spec::CredentialSpec;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    pub name: String,
    /// A configured credential (false: a copy `creds scan` found that no
    /// definition provides).
    pub defined: bool,
    /// Users its definition lets hold it (`*`: anyone).
    pub holders: Vec<String>,
    /// Where a copy is reachable outside guard, from `creds scan`.
    pub reachable: Vec<String>,
    /// Users whose commands were given it.
    pub used_by: Vec<String>,
    pub uses: usize,
    /// Sessions it was granted in.
    pub sessions: usize,
    /// `aws s3`, `kubectl get`, …
    pub programs: Vec<String>,
    pub boundaries: Vec<String>,
    pub last_used: Option<String>,
    /// Never used in the window: a candidate to remove.
    pub unused: bool,
    /// `s3:ListBucket`, … seen in its `aws` commands.
    pub aws_actions: Vec<String>,
    /// `aws` commands the action table does not know (the policy below
    /// does not cover them).
    pub aws_unknown: Vec<String>,
    pub suggested_policy: Option<Value>,
}

/// Which users, since when.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub since: Option<jiff::Timestamp>,
    pub user: Option<String>,
}

/// Programs with a two-level command tree.
const TWO_LEVEL: &[&str] = &["aws", "gcloud", "az", "gh", "doctl"];

/// `aws --profile p s3 ls s3://b` → `aws s3 ls`; `kubectl -n x get pods` →
/// `kubectl get`. A word right after an option is taken as its value.
pub fn program(argv: &[String]) -> Option<String> {
    let prog = argv.first()?.rsplit('/').next()?.to_string();
    let depth = if TWO_LEVEL.contains(&prog.as_str()) {
        2
    } else {
        1
    };
    let mut words = vec![prog];
    let mut after_option = false;
    for a in argv.iter().skip(1) {
        if words.len() > depth {
            break;
        }
        if a.starts_with('-') {
            after_option = !a.contains('=');
            continue;
        }
        if after_option {
            after_option = false;
            continue;
        }
        words.push(a.clone());
    }
    Some(words.join(" "))
}

fn argvs(record: &Value) -> Vec<Vec<String>> {
    record["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let argv: Vec<String> = c["argv"]
                .as_array()?
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            (!argv.is_empty()).then_some(argv)
        })
        .collect()
}

#[derive(Default)]
struct Seen {
    uses: usize,
    sessions: BTreeSet<String>,
    users: BTreeSet<String>,
    programs: BTreeSet<String>,
    boundaries: BTreeSet<String>,
    last: Option<jiff::Timestamp>,
    needs: Vec<aws_actions::Needs>,
    unknown: BTreeSet<String>,
}

pub fn report(
    defs: &[CredentialSpec],
    findings: &[Finding],
    records: impl Iterator<Item = Value>,
    window: &Window,
) -> Vec<Usage> {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for r in records {
        if r["kind"] != "decision" || r["decision"] != "allow" {
            continue;
        }
        let Some(at) = r["time"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        else {
            continue;
        };
        if window.since.is_some_and(|s| at < s) {
            continue;
        }
        let user = r["user"].as_str().unwrap_or("").to_string();
        if window.user.as_ref().is_some_and(|u| *u != user) {
            continue;
        }
        for cred in r["credentials"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let s = seen.entry(cred.to_string()).or_default();
            s.uses += 1;
            s.users.insert(user.clone());
            if let Some(id) = r["session"].as_str() {
                s.sessions.insert(id.to_string());
            }
            if let Some(b) = r["boundary"].as_str() {
                s.boundaries.insert(b.to_string());
            }
            s.last = s.last.max(Some(at));
            for argv in argvs(&r) {
                if let Some(p) = program(&argv) {
                    s.programs.insert(p);
                }
                if argv[0].rsplit('/').next() == Some("aws") {
                    match aws_actions::needs(&argv) {
                        Some(n) => s.needs.push(n),
                        None => {
                            s.unknown.insert(argv.join(" "));
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for def in defs {
        let s = seen.remove(&def.name).unwrap_or_default();
        let reachable: Vec<String> = findings
            .iter()
            .filter(|f| f.credential.as_deref() == Some(def.name.as_str()))
            .map(|f| f.location.clone())
            .collect();
        let mut u = usage(&def.name, true, s, reachable);
        u.holders = if def.users.is_empty() {
            vec!["*".to_string()]
        } else {
            def.users.clone()
        };
        if let Some(b) = &def.boundary {
            if !u.boundaries.contains(b) && u.uses == 0 {
                u.boundaries.push(b.clone());
            }
        }
        out.push(u);
    }
    // Granted under a name no definition has any more.
    for (name, s) in seen {
        out.push(usage(&name, false, s, Vec::new()));
    }
    // Copies no definition provides: held, and by construction never
    // granted through guard.
    for f in findings.iter().filter(|f| f.credential.is_none()) {
        let mut u = usage(
            &format!("{}:{}", f.kind.as_str(), f.name),
            false,
            Seen::default(),
            vec![f.location.clone()],
        );
        u.boundaries = f.boundary.clone().into_iter().collect();
        out.push(u);
    }
    out
}

fn usage(name: &str, defined: bool, s: Seen, reachable: Vec<String>) -> Usage {
    let mut actions: Vec<String> = s.needs.iter().flat_map(|n| n.actions.clone()).collect();
    actions.sort();
    actions.dedup();
    Usage {
        name: name.to_string(),
        defined,
        holders: Vec::new(),
        reachable,
        used_by: s.users.into_iter().collect(),
        uses: s.uses,
        sessions: s.sessions.len(),
        programs: s.programs.into_iter().collect(),
        boundaries: s.boundaries.into_iter().collect(),
        last_used: s.last.map(|t| t.to_string()),
        unused: s.uses == 0,
        aws_actions: actions,
        aws_unknown: s.unknown.into_iter().collect(),
        suggested_policy: (!s.needs.is_empty()).then(|| aws_actions::policy(&s.needs)),
    }
}

/// The report for people.
pub fn table(rows: &[Usage]) -> String {
    let mut out =
        String::from("CREDENTIAL  USES  SESSIONS  LAST USED  PROGRAMS  BOUNDARIES  NOTE\n");
    for u in rows {
        let dash = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(",")
            }
        };
        let mut note = Vec::new();
        if u.unused {
            note.push("UNUSED: candidate to remove".to_string());
        }
        if !u.defined {
            note.push("not managed by guard".to_string());
        }
        if !u.reachable.is_empty() {
            note.push(format!("copy at {}", u.reachable.join(",")));
        }
        if !u.aws_actions.is_empty() {
            note.push(format!("aws needs {}", u.aws_actions.join(",")));
        }
        out.push_str(&format!(
            "{}  {}  {}  {}  {}  {}  {}\n",
            u.name,
            u.uses,
            u.sessions,
            u.last_used.as_deref().unwrap_or("never"),
            dash(&u.programs),
            dash(&u.boundaries),
            note.join("; ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::program;

    #[test]
    fn programs_and_their_subcommands() {
        let table = [
            ("aws --profile prod s3 ls s3://b", "aws s3 ls"),
            ("aws s3 ls", "aws s3 ls"),
            ("kubectl -n web get pods", "kubectl get"),
            ("kubectl --context=prod apply -f x", "kubectl apply"),
            ("/usr/bin/psql -h db -c 'select 1'", "psql"),
            ("gh pr list", "gh pr list"),
        ];
        for (line, want) in table {
            let argv = shell_words::split(line).unwrap();
            assert_eq!(program(&argv).as_deref(), Some(want), "{line}");
        }
    }
}
