//! Facts + rules → verdict. The strictest answer over every command wins.

use crate::analyze;
use crate::command::Command;
use crate::facts::{self, Facts};
use crate::parse::Env;
use crate::rules::load::Config;
use crate::rules::spec::{Action, Risk};
use crate::rules::Hit;

/// Pseudo-rule ids for decisions no YAML rule made.
pub const DYNAMIC_RULE: &str = "guard.dynamic";
pub const PARSE_RULE: &str = "guard.parse";
pub const CONFIG_RULE: &str = "guard.config";
pub const INTERNAL_RULE: &str = "guard.internal";

/// The decision for one command line, before approval.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub action: Action,
    pub reason: String,
    /// The rule that decided, if one did.
    pub rule: Option<String>,
    pub commands: Vec<Command>,
    /// Each hit with the index of the command it matched.
    pub matches: Vec<(usize, Hit)>,
}

impl Verdict {
    fn refused(rule: &str, reason: String) -> Verdict {
        Verdict {
            action: Action::Deny,
            reason: reason.clone(),
            rule: Some(rule.to_string()),
            commands: Vec::new(),
            matches: vec![(
                0,
                Hit {
                    rule: rule.to_string(),
                    action: Action::Deny,
                    risk: Risk::High,
                    message: reason,
                },
            )],
        }
    }

    /// A config that failed to load refuses everything.
    pub fn config_error(message: String) -> Verdict {
        Verdict::refused(CONFIG_RULE, format!("config error: {message}"))
    }
}

/// What a line is checked as.
pub enum Input<'a> {
    Script(&'a str),
    Argv(&'a [String]),
}

/// `shopt -s dotglob`, or any GLOBIGNORE, makes `*` match dotfiles.
fn enables_dotglob(c: &Command) -> bool {
    let shopt = c.program() == "shopt"
        && c.args().iter().any(|w| w.text == "-s")
        && c.args().iter().any(|w| w.text == "dotglob");
    shopt || c.assignments.iter().any(|a| a.name == "GLOBIGNORE")
}

pub fn decide(input: Input<'_>, cfg: &Config, env: &Env) -> Verdict {
    decide_in(input, cfg, env, &mut analyze::Scope::default())
}

/// As `decide`, in a shell that already has `scope`'s aliases and
/// functions; the line's own definitions are added to it.
pub fn decide_in(input: Input<'_>, cfg: &Config, env: &Env, scope: &mut analyze::Scope) -> Verdict {
    // A bug in the analysis refuses the line; it never lets it through.
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decide_unguarded(input, cfg, env, scope)
    }));
    attempt.unwrap_or_else(|_| {
        Verdict::refused(
            INTERNAL_RULE,
            format!(
                "internal error while analysing the line: {}",
                crate::panic_note::last()
            ),
        )
    })
}

fn decide_unguarded(
    input: Input<'_>,
    cfg: &Config,
    env: &Env,
    scope: &mut analyze::Scope,
) -> Verdict {
    let analysed = match input {
        Input::Script(s) => analyze::script_in(s, env, &cfg.wrappers, scope),
        Input::Argv(a) => analyze::argv(a, env, &cfg.wrappers),
    };
    let commands = match analysed {
        Ok(c) => c,
        Err(e) => return Verdict::refused(PARSE_RULE, format!("cannot parse command line: {e}")),
    };
    let known = |p: &str| cfg.rules.flags_whole_program(p);
    let dotglob = commands.iter().any(enables_dotglob);
    let dirs = crate::cwd::track(&commands, &env.cwd, &env.home);
    let mut matches = Vec::new();
    let mut unmatched = false;
    for (i, cmd) in commands.iter().enumerate() {
        // A rule that fires in any directory the command may run in fires.
        let mut hits: Vec<Hit> = Vec::new();
        for cwd in &dirs[i] {
            let ctx = facts::Context {
                home: &env.home,
                cwd: cwd.as_deref().unwrap_or(""),
                known_program: &known,
                transfers: &cfg.transfers,
                dotglob,
            };
            let f: Facts = facts::collect(cmd, &ctx);
            match cfg.rules.hits(&f) {
                Ok(found) => {
                    for h in found {
                        if !hits.iter().any(|k| k.rule == h.rule) {
                            hits.push(h);
                        }
                    }
                }
                Err(e) => return Verdict::refused(CONFIG_RULE, format!("config error: {e}")),
            }
        }
        if let Some(reason) = &cmd.dynamic {
            hits.push(Hit {
                rule: DYNAMIC_RULE.to_string(),
                action: cfg.dynamic,
                risk: Risk::High,
                message: reason.clone(),
            });
        }
        // An empty argv (`X=1` alone, a redirection on a group) is not a
        // program for `default` to judge.
        if hits.is_empty() && !cmd.argv.is_empty() {
            unmatched = true;
        }
        matches.extend(hits.into_iter().map(|h| (i, h)));
    }
    let strictest = matches.iter().map(|(_, h)| h.action).max();
    let mut action = strictest.unwrap_or(Action::Allow);
    if unmatched {
        action = action.max(cfg.default);
    }
    let decider = matches.iter().find(|(_, h)| h.action == action);
    let (reason, rule) = match decider {
        Some((_, h)) => (h.message.clone(), Some(h.rule.clone())),
        None if unmatched && action == cfg.default && action != Action::Allow => {
            ("no rule matched; the default applies".to_string(), None)
        }
        None => ("no rule matched".to_string(), None),
    };
    Verdict {
        action,
        reason,
        rule,
        commands,
        matches,
    }
}
