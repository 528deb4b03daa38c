//! What a session adds to a verdict: boundary crossings, credentials the
//! session was not started with, and the credentials an allowed command
//! is to be given.

use crate::boundary::{self, Touch};
use crate::policy::Verdict;
use crate::rules::load::Config;
use crate::rules::spec::{Action, Risk};
use crate::rules::Hit;

use super::Session;

pub const BOUNDARY_RULE: &str = "guard.boundary";
pub const GRANT_RULE: &str = "guard.grant";
pub const EXPOSURE_RULE: &str = "guard.grant-exposure";

/// Programs that pass data through without showing their environment.
/// With no rule of their own matched, they may share a line with a
/// credentialed command (`aws s3 ls | grep logs`). Not here: `jq` and `yq`
/// (`env`), pagers (`!cmd`), `rg` (`--pre`); `sort` only without
/// `--compress-program`.
const FILTERS: &[&str] = &[
    "grep", "egrep", "fgrep", "head", "tail", "uniq", "wc", "cut", "tr", "column", "tee", "cat",
    "echo", "printf", "true", "false", "test", "[", "sleep", "base64", "gzip", "gunzip", "zcat",
    "xxd", "od", "fold", "nl", "paste",
];

fn plain_filter(c: &crate::command::Command) -> bool {
    let program = c.program();
    let spelled = c.argv.first().map_or("", |w| w.text.as_str());
    // Only the system's own filter: a path (`./evil/grep`), a word only
    // known at run time, or a prefix assignment (`PATH=… grep`,
    // `LD_PRELOAD=… cat`) could be anything.
    if spelled.contains('/') || spelled != program || !c.assignments.is_empty() {
        return false;
    }
    // `sort` runs a program only when asked to compress (`--co` is enough
    // for getopt).
    let sort = program == "sort" && !c.args().iter().any(|w| w.text.starts_with("--co"));
    sort || FILTERS.contains(&program)
}

/// Launchers whose only effect is to start the command in their
/// arguments. A shell counts only with plain `-c`: `-l`, `-i`, `--rcfile`
/// run start-up files that may print the environment.
fn plain_launcher(c: &crate::command::Command) -> bool {
    const LAUNCHERS: &[&str] = &[
        "env", "nice", "ionice", "nohup", "timeout", "stdbuf", "xargs", "sudo", "doas", "command",
        "builtin", "exec", "time", "setsid", "chronic",
    ];
    const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh"];
    let spelled = c.argv.first().map_or("", |w| w.text.as_str());
    let system = ["/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/"];
    if spelled.contains('/') && !system.iter().any(|d| spelled.starts_with(d)) {
        return false;
    }
    let program = c.program();
    let args = c.args();
    if SHELLS.contains(&program) {
        return args.first().is_some_and(|w| w.text == "-c");
    }
    // `sudo -i`/`-s` start a login or interactive shell first.
    let shell_first = matches!(program, "sudo" | "doas")
        && args.iter().any(|w| {
            matches!(w.text.as_str(), "-i" | "-s" | "--login" | "--shell")
                || (w.text.starts_with('-')
                    && !w.text.starts_with("--")
                    && w.text.contains(['i', 's']))
        });
    LAUNCHERS.contains(&program) && !shell_first
}

/// Granted variables go to the shell that runs the line, so every
/// command of the line sees them. Any command other than the granting
/// ones, plain filters, and the launchers that start those means a human
/// should see the line.
fn exposure(v: &Verdict, cfg: &Config, grants: &[String]) -> Option<Hit> {
    if grants.is_empty() {
        return None;
    }
    let matched = |i: usize| v.matches.iter().any(|(n, _)| *n == i);
    let grants_on = |i: usize| {
        v.matches.iter().any(|(n, h)| {
            *n == i
                && cfg
                    .rules
                    .get(&h.rule)
                    .ok()
                    .flatten()
                    .is_some_and(|r| !r.spec.grants.is_empty())
        })
    };
    let program = |i: usize| crate::command::basename(v.commands[i].program()).to_string();
    let n = v.commands.len();
    let mut ok: Vec<bool> = (0..n)
        .map(|i| {
            v.commands[i].argv.is_empty()
                || grants_on(i)
                || (!matched(i) && plain_filter(&v.commands[i]))
        })
        .collect();
    // A launcher (`sudo`, `bash -c`, `env`, `xargs`) is fine when what it
    // starts is: the command found inside it names it last in `via` and
    // is spelled out in its arguments. Repeat for launchers of launchers.
    loop {
        let mut changed = false;
        for j in 0..n {
            if ok[j] {
                continue;
            }
            let outer = v.commands[j].argv_text().join(" ");
            let launches_ok = (0..n).any(|k| {
                k != j
                    && ok[k]
                    && !v.commands[k].argv.is_empty()
                    && v.commands[k]
                        .via
                        .last()
                        .and_then(|w| w.split_whitespace().next())
                        .is_some_and(|w| crate::command::basename(w) == program(j))
                    && outer.contains(&v.commands[k].argv_text().join(" "))
            });
            if launches_ok && plain_launcher(&v.commands[j]) {
                ok[j] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut others: Vec<String> = Vec::new();
    for (i, fine) in ok.iter().enumerate() {
        if !fine && !others.contains(&program(i)) {
            others.push(program(i));
        }
    }
    if others.is_empty() {
        return None;
    }
    Some(Hit {
        rule: EXPOSURE_RULE.to_string(),
        action: Action::Review,
        risk: Risk::High,
        message: format!(
            "credential {} would also reach {} in this line",
            grants.join(", "),
            others.join(", ")
        ),
    })
}

/// The session's view of one line.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// Credentials the matching rules grant, in rule order.
    pub grants: Vec<String>,
    /// Boundaries the line touches, for the approval card.
    pub touches: Vec<Touch>,
}

/// Tag the line's commands with boundaries, raise the verdict for a
/// crossing or a widening, and say which credentials it would get.
/// `vars` is the environment the line starts in.
pub fn apply(
    v: &mut Verdict,
    session: Option<&Session>,
    cfg: &Config,
    vars: &std::collections::BTreeMap<String, String>,
) -> Plan {
    let settings = &cfg.sessions;
    let mut plan = Plan::default();
    let sensitive = |i: usize| v.matches.iter().any(|(n, _)| *n == i);
    plan.touches = boundary::tag(&v.commands, &sensitive, &settings.boundaries, vars);
    // A credential scoped to other users (`users:`, as `creds import`
    // writes) is not this user's to be granted; the rule still decides.
    let user = crate::actor::current().user.clone();
    let for_user = |g: &String| {
        settings
            .credential(g)
            .is_none_or(|d| d.users.is_empty() || d.users.contains(&user))
    };
    for (_, hit) in &v.matches {
        if let Ok(Some(rule)) = cfg.rules.get(&hit.rule) {
            for g in rule.spec.grants.iter().filter(|g| for_user(g)) {
                if !plan.grants.contains(g) {
                    plan.grants.push(g.clone());
                }
            }
        }
    }
    let mut extra: Vec<Hit> = Vec::new();
    if let Some(h) = exposure(v, cfg, &plan.grants) {
        extra.push(h);
    }
    if let Some(scope) = session.and_then(|s| s.boundary.as_deref()) {
        let mut crossings: Vec<String> = plan
            .touches
            .iter()
            .filter(|t| t.boundary != scope)
            // A signal that also names the session's own boundary is not
            // a crossing.
            .filter(|t| {
                !plan
                    .touches
                    .iter()
                    .any(|o| o.boundary == scope && o.signal == t.signal)
            })
            .map(|t| {
                if t.boundary == boundary::UNKNOWN {
                    format!("an unknown boundary ({})", t.signal)
                } else {
                    format!("{} ({})", t.boundary, t.signal)
                }
            })
            .collect();
        for g in &plan.grants {
            if let Some(b) = settings.credential(g).and_then(|d| d.boundary.as_deref()) {
                if b != scope {
                    crossings.push(format!("{b} (credential {g})"));
                }
            }
        }
        crossings.dedup();
        if !crossings.is_empty() {
            extra.push(Hit {
                rule: BOUNDARY_RULE.to_string(),
                action: settings.cross_boundary,
                risk: Risk::Critical,
                message: format!(
                    "session is scoped to {scope}; this command targets {}",
                    crossings.join(", ")
                ),
            });
        }
    }
    let session_grants: &[String] = session.map_or(&[], |s| &s.grants);
    let wider: Vec<&String> = plan
        .grants
        .iter()
        .filter(|g| !session_grants.contains(g))
        .collect();
    if !wider.is_empty() {
        let id = session.map_or("(none)", |s| s.id.as_str());
        extra.push(Hit {
            rule: GRANT_RULE.to_string(),
            action: Action::Review,
            risk: Risk::High,
            message: format!(
                "grants {}, which session {id} was not started with",
                wider
                    .iter()
                    .map(|g| format!("credential {g}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    for hit in extra {
        if hit.action > v.action {
            v.action = hit.action;
            v.reason = hit.message.clone();
            v.rule = Some(hit.rule.clone());
        }
        v.matches.push((0, hit));
    }
    plan
}
