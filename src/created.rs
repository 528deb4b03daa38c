//! Files a line creates before it reads them: `wget -O kitware.key URL &&
//! gpg --dearmor < kitware.key` reads the key it just downloaded, not a
//! credential that was there. A file is created by the line only when it
//! does not exist as guard decides (a dangling link exists), is not hidden
//! nor in a hidden directory (where tools read settings), and only by
//! something that empties it as it opens it: a `>` redirection or wget's
//! `-O`. Even a link planted there later, by a racing process, then hands
//! the reader what was just written, never what the link's target held
//! (`>>` and curl's lazily created `-o` file would, so they do not count).

use crate::command::{Command, Word};
use crate::cwd::Candidates;
use crate::facts::PathArg;

/// The files the line makes, each with the index of the command that
/// makes it.
pub struct Made(Vec<(usize, String)>);

/// What each command of the line makes.
pub fn track(commands: &[Command], dirs: &Candidates, home: &str) -> Made {
    let mut made = Vec::new();
    for (i, (cmd, cwds)) in commands.iter().zip(dirs).enumerate() {
        // Only where the command's directory is known for sure.
        let [Some(cwd)] = cwds.as_slice() else {
            continue;
        };
        for word in outputs(cmd) {
            let Some(path) = absolute(&word.text, cwd, home).filter(|p| !configures(p, cwd, home))
            else {
                continue;
            };
            if std::fs::symlink_metadata(&path)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            {
                made.push((i, path));
            }
        }
    }
    Made(made)
}

impl Made {
    /// Is this path operand of command `at` a file the line has made by
    /// the time that command runs (its own outputs included)?
    pub fn covers(&self, at: usize, arg: &PathArg, cwd: &str, home: &str) -> bool {
        !arg.glob
            && !arg.runtime
            && !self.0.is_empty()
            && absolute(&arg.text, cwd, home)
                .is_some_and(|p| self.0.iter().any(|(by, made)| *by <= at && *made == p))
    }
}

/// A hidden file, or one in a hidden directory, is where tools look for
/// their settings: a new `~/.ssh/authorized_keys` lets a key log in, a new
/// `~/.aws/config` names what runs for credentials, a new
/// `.claude/settings.json` decides what the agent may run. Making one is
/// judged as touching it, however fresh.
///
/// Below the line's directory or the home, whichever holds it more
/// closely, only what is below counts (a project in `/tmp/.tmpX/` is not
/// hidden itself).
fn configures(path: &str, cwd: &str, home: &str) -> bool {
    let below = |base: &str| {
        let base = base.trim_end_matches('/');
        (!base.is_empty())
            .then(|| path.strip_prefix(base)?.strip_prefix('/'))
            .flatten()
    };
    let rest = match (below(cwd), below(home)) {
        (Some(a), Some(b)) => Some(if a.len() < b.len() { a } else { b }),
        (a, b) => a.or(b),
    };
    rest.unwrap_or(path)
        .split('/')
        .any(|part| part.starts_with('.'))
}

fn absolute(text: &str, cwd: &str, home: &str) -> Option<String> {
    crate::facts::resolve(text, cwd, home).1
}

/// The static words naming files the command writes whole.
fn outputs(cmd: &Command) -> Vec<&Word> {
    let fixed = |w: &&Word| !w.dynamic && !w.glob && !w.text.is_empty() && w.text != "-";
    let mut out: Vec<&Word> = cmd
        .redirects
        .iter()
        .filter(|r| r.truncates && !r.target.text.starts_with("/dev/"))
        .map(|r| &r.target)
        .filter(fixed)
        .collect();
    if !cmd.via.is_empty() {
        return out;
    }
    let options: &[&str] = match cmd.program() {
        // wget empties its -O file before it connects, as `> file` would;
        // curl creates its -o file only when data arrives, so after a
        // failed fetch the name is whatever was there.
        "wget" => &["-O", "--output-document"],
        _ => return out,
    };
    let args = cmd.args();
    for (i, w) in args.iter().enumerate() {
        if options.contains(&w.text.as_str()) {
            out.extend(args.get(i + 1).filter(fixed));
        }
    }
    out
}
