//! Running an allowed command: exec'd in place, or, with `audit:
//! {supervise: true}`, supervised so that how it ended is audited.

use crate::audit;
use crate::exec::ExecError;
use crate::rules::load::{Config, ConfigError};
use crate::session::Session;
use crate::supervise;
use crate::trace;

/// What a traced run needs to decide its tree.
pub(super) struct Traced<'a> {
    pub cfg: &'a Result<Config, ConfigError>,
    pub home: String,
    pub session: Session,
    pub line: trace::judge::Line,
    /// The argv guard will exec first, built from the decided line.
    pub launch: Option<Vec<String>>,
}

/// Run the command with every exec below it decided (`exec_tree: on`):
/// guard is the tracer of its child.
pub(super) fn traced(
    t: Traced<'_>,
    not_found: i32,
    exec: impl FnOnce() -> ExecError,
    finish: impl FnOnce(),
    group: trace::spawn::Group,
) -> Result<supervise::Ended, i32> {
    let judge = || {
        let j = trace::judge::LineJudge::new(
            t.cfg,
            t.home.clone(),
            t.session.clone(),
            crate::actor::this_process(),
            t.line.clone(),
            Box::new(trace::spawn::ask_from_tracer),
        )
        .writing_exit();
        match t.launch.clone() {
            Some(argv) => j.with_launch(argv),
            None => j,
        }
    };
    match trace::spawn::run(exec, not_found, judge, group) {
        Ok(ended) => {
            finish();
            Ok(ended)
        }
        Err(e) => {
            eprintln!(
                "guard: denied: exec-tree enforcement failed: {e} (an admin config with \
                 `exec_tree: off` runs lines without it)"
            );
            Err(super::shell::REFUSED)
        }
    }
}

/// Run the command `exec` starts. `decision` is the seq of its decision
/// record (none when the escape hatch let it run unaudited); `not_found`
/// is the status when the program does not exist. `finish` runs once the
/// command has ended and been recorded (a login session ends there).
pub(super) fn command(
    session: Option<String>,
    decision: Option<u64>,
    not_found: i32,
    exec: impl FnOnce() -> ExecError,
    finish: impl FnOnce(),
) -> i32 {
    // Off unless configured: on this machine the supervising parent costs
    // more than the start-up budget allows (README, Measured).
    if !audit::settings().supervise.unwrap_or(false) {
        let e = exec();
        eprintln!("guard: {e}");
        return if e.source == nix::Error::ENOENT {
            not_found
        } else {
            super::shell::REFUSED
        };
    }
    match supervise::run(exec, not_found) {
        Err(e) => {
            eprintln!("guard: {e}");
            super::shell::REFUSED
        }
        Ok((ended, took)) => {
            if let Some(of) = decision {
                if let Err(e) = audit::exit(of, session, &ended, took) {
                    eprintln!("guard: {e}");
                }
            }
            finish();
            supervise::mirror(ended)
        }
    }
}
