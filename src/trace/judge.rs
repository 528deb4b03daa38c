//! How a traced tree's execs are decided: with the same engine, session,
//! boundaries, credentials and approvers as lines (`policy`, `gate`), in
//! the session of the line that started them.
//!
//! Three things are particular to execs:
//! - The program is what the kernel will run, not what argv[0] says:
//!   `exec -a other aws` is `aws`, and so is a renamed copy of it
//!   (`cp "$(command -v aws)" tool`), found by comparing files.
//! - No double prompts: a command the line's own analysis already
//!   approved (bash starting the `aws` the line names) passes again.
//! - What no rule cares about is not recorded one exec at a time, which
//!   for a build would be thousands of records: each line gets one
//!   summary (how many execs, which programs) when its root exits.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Call, Identity, Judge, Judgement, SecretFile};
use crate::actor::Actor;
use crate::approve::tty::Answer;
use crate::parse::{Env, DEFAULT_PATH};
use crate::policy::{self, Input, Verdict};
use crate::rules::load::{Config, ConfigError};
use crate::rules::spec::Action;
use crate::session::Session;
use crate::supervise::Ended;

/// The pseudo-rule of an exec that turned out to be something else than
/// what was decided.
pub const MISMATCH_RULE: &str = "guard.exec-mismatch";

/// One line, as its programs are judged.
#[derive(Debug, Clone, Default)]
pub struct Line {
    /// Its decision record.
    pub seq: Option<u64>,
    /// The commands its own analysis found and its decision allowed,
    /// argv[0] reduced to a program name.
    pub approved: Vec<Vec<String>>,
    /// Credentials its approval granted, which the tracer hands out itself
    /// (sealed) instead of the client: to the execs of `holders`, or when
    /// none is known to the line's first exec.
    pub secrets: Vec<(String, String)>,
    /// Credential files its approval granted, which the tracer makes
    /// inside each sealed program that is to have them.
    pub files: Vec<SecretFile>,
    /// The programs its credentials are for. When known, each exec of
    /// one of them in the line is handed them, and the line's first exec
    /// (its shell) is not.
    pub holders: Vec<String>,
}

impl Line {
    pub fn from_verdict(seq: Option<u64>, v: &Verdict) -> Line {
        Line {
            seq,
            approved: v.commands.iter().map(|c| normal(&c.argv_text())).collect(),
            secrets: Vec::new(),
            files: Vec::new(),
            holders: Vec::new(),
        }
    }

    pub fn with_holders(mut self, holders: Vec<String>) -> Line {
        self.holders = holders;
        self
    }

    /// The credentials go to its first exec, whatever that is: no
    /// program they are for is known.
    fn to_first(&self) -> bool {
        self.holders.is_empty()
    }

    pub fn with_secrets(mut self, secrets: Vec<(String, String)>) -> Line {
        self.secrets = secrets;
        self
    }

    pub fn with_files(mut self, files: Vec<SecretFile>) -> Line {
        self.files = files;
        self
    }

    /// Everything the line hands out: its variables, and its files by
    /// content (the tracer tells them apart).
    fn handed(&self) -> Vec<(String, String)> {
        let files = self
            .files
            .iter()
            .map(|f| (f.var.clone(), f.content.clone()));
        self.secrets.iter().cloned().chain(files).collect()
    }
}

/// Files grouped by the variable that names them (several, for a
/// directory).
fn by_var(files: &[SecretFile]) -> HashMap<String, Vec<SecretFile>> {
    let mut out: HashMap<String, Vec<SecretFile>> = HashMap::new();
    for f in files {
        let of = out.entry(f.var.clone()).or_default();
        of.retain(|g| g.name != f.name);
        of.push(f.clone());
    }
    out
}

/// argv with argv[0] as a bare program name.
fn normal(argv: &[String]) -> Vec<String> {
    let mut out = argv.to_vec();
    if let Some(first) = out.first_mut() {
        *first = crate::command::basename(first).to_string();
    }
    out
}

/// Lines a login session decided and is about to start, by their text:
/// the next shell exec'd with a `-c` script holding that text as one of
/// its lines starts the line, and everything below it is the line's.
pub type Launches = Arc<Mutex<Vec<(String, Line)>>>;

/// A directory's change time and inode: an entry added, removed or
/// renamed in it changes the first.
type Stamp = Option<(i64, i64, u64)>;

/// PATH, the tracee's root (dev, ino) and a hash of the flagged names.
type TableKey = (String, (u64, u64), u64);

/// Where the programs rules flag outright are on one PATH, in one root.
struct Table {
    /// Each PATH directory and its change time when the table was made:
    /// a program added, removed or renamed in one changes it.
    dirs: Vec<(String, Stamp)>,
    found: Vec<Flagged>,
    /// When `dirs` were last found unchanged.
    checked: Instant,
}

/// How long a table is trusted without looking at its directories again.
/// A table only serves to recognise copies of the programs on PATH under
/// other names; a program put on PATH this recently can only have been
/// put there by someone who holds its file anyway, and so could run a
/// copy kept off PATH just as well. Every line re-stats a dozen
/// directories without it.
const TABLE_FRESH: Duration = Duration::from_secs(1);

/// One copy of a flagged program on PATH.
#[derive(Clone)]
struct Flagged {
    id: Identity,
    name: String,
    /// The PATH directory it is in, in the tracee's view.
    dir: String,
}

/// Tables shared by every tree in the process (a broker traces many
/// lines a second, each of which would otherwise stat every flagged
/// program in every PATH directory), keyed by PATH, the tracee's root
/// and the set of names.
static TABLES: std::sync::OnceLock<Mutex<HashMap<TableKey, Table>>> = std::sync::OnceLock::new();

fn dir_stamp(at: &str) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(at)
        .ok()
        .map(|m| (m.ctime(), m.ctime_nsec(), m.ino()))
}

/// The flagged programs found on `path` in tracee `pid`'s view, each with
/// the file it is there.
fn flagged_on_path(cfg: &Config, pid: i32, path: &str) -> Vec<Flagged> {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    let names = cfg.rules.whole_programs();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    names.hash(&mut h);
    let root = std::fs::metadata(format!("/proc/{pid}/root"))
        .map(|m| (m.dev(), m.ino()))
        .unwrap_or_default();
    let key = (path.to_string(), root, h.finish());
    let tables = TABLES.get_or_init(Default::default);
    if let Ok(t) = tables.lock() {
        if let Some(table) = t.get(&key).filter(|t| t.checked.elapsed() < TABLE_FRESH) {
            return table.found.clone();
        }
    }
    let dirs: Vec<(String, Stamp)> = path
        .split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| {
            let d = d.trim_end_matches('/').to_string();
            let stamp = dir_stamp(&format!("/proc/{pid}/root{d}"));
            (d, stamp)
        })
        .collect();
    if let Ok(mut t) = tables.lock() {
        if let Some(table) = t.get_mut(&key).filter(|t| t.dirs == dirs) {
            table.checked = Instant::now();
            return table.found.clone();
        }
    }
    let found = scan(&names, pid, &dirs);
    if let Ok(mut t) = tables.lock() {
        if t.len() > 256 {
            t.clear();
        }
        t.insert(
            key,
            Table {
                dirs,
                found: found.clone(),
                checked: Instant::now(),
            },
        );
    }
    found
}

/// Every copy of a name in `names` in the PATH directories `dirs`, in
/// the order of `names`, then of `dirs`. Each directory is listed once
/// rather than asked for each name: a PATH of a dozen directories and a
/// hundred flagged names is a thousand lookups, nearly all of them for
/// nothing. A directory that can be searched but not listed is asked
/// name by name, as the kernel would find a program in it.
fn scan(names: &[&str], pid: i32, dirs: &[(String, Stamp)]) -> Vec<Flagged> {
    use std::os::unix::fs::MetadataExt;
    let wanted: std::collections::HashMap<&str, usize> =
        names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut hits: Vec<(usize, usize, Flagged)> = Vec::new();
    for (d, (dir, _)) in dirs.iter().enumerate() {
        let at = format!("/proc/{pid}/root{dir}");
        let present: Vec<usize> = match std::fs::read_dir(&at) {
            Ok(entries) => entries
                .filter_map(|e| {
                    let e = e.ok()?;
                    wanted.get(e.file_name().to_str()?).copied()
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                (0..names.len()).collect()
            }
            Err(_) => Vec::new(),
        };
        for n in present {
            let name = names[n];
            if let Ok(m) = std::fs::metadata(format!("{at}/{name}")) {
                if m.is_file() {
                    let id = Identity {
                        dev: m.dev(),
                        ino: m.ino(),
                        size: m.size(),
                    };
                    // Every copy counts, not just the first: a decoy
                    // earlier on PATH must not hide the real program.
                    let f = Flagged {
                        id,
                        name: name.to_string(),
                        dir: dir.clone(),
                    };
                    hits.push((n, d, f));
                }
            }
        }
    }
    hits.sort_by_key(|(n, d, _)| (*n, *d));
    hits.into_iter().map(|(_, _, f)| f).collect()
}

/// Interpreters that run a script named by their first operand.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "busybox", "python", "python2", "python3", "node",
    "nodejs", "perl", "ruby", "php", "lua", "tclsh", "Rscript",
];

/// Where an interpreter's script is in `words` (argv[0] a program name),
/// unless the code comes from an option (`-c`, `-e`, `-m`) instead.
fn script_arg(words: &[String]) -> Option<usize> {
    let first = words.first()?;
    let name = crate::command::basename(first);
    let family = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if !INTERPRETERS.contains(&name) && !INTERPRETERS.contains(&family) {
        return None;
    }
    for (i, w) in words.iter().enumerate().skip(1) {
        match w.as_str() {
            "-c" | "-e" | "-E" | "-m" | "-p" | "--eval" | "--print" | "-r" => return None,
            "--" => return words.get(i + 1).map(|_| i + 1),
            w if w.starts_with('-') || w.starts_with('+') => {}
            _ => return Some(i),
        }
    }
    None
}

/// Does this argv run `text` as a line of a `-c` script?
fn launches(argv: &[String], text: &str) -> bool {
    // guard's own `-c -- SCRIPT` for a script that looks like an option.
    argv.iter()
        .position(|a| a == "-c")
        .and_then(|i| match argv.get(i + 1) {
            Some(end) if end == "--" => argv.get(i + 2),
            next => next,
        })
        .is_some_and(|script| holds_lines(script, text))
}

/// Does `script` hold `text` as whole lines (a multi-line `text` too)?
fn holds_lines(script: &str, text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    script.match_indices(text).any(|(at, _)| {
        let before = script[..at].ends_with('\n') || at == 0;
        let rest = &script[at + text.len()..];
        before && (rest.is_empty() || rest.starts_with('\n'))
    })
}

/// How many quiet decisions a tree remembers before starting over.
const QUIET_MAX: usize = 4096;

#[derive(Default)]
struct Summary {
    count: u64,
    programs: BTreeSet<String>,
}

/// A file about to run, as `Known::program` compares it.
struct Run<'a> {
    file: Identity,
    /// Where the tracer can read it.
    open_at: Option<&'a str>,
    /// Its path in the tracee's view.
    path: &'a str,
    /// Whether it runs as a script, which sees the name it was run by.
    script: bool,
}

/// The programs rules flag outright, found on PATH, so that a copy under
/// another name is still recognised.
#[derive(Default)]
struct Known {
    /// PATH value → (file, program) of each flagged program on it.
    by_path: HashMap<String, Vec<Flagged>>,
    /// Content hashes, by file.
    hashes: HashMap<(u64, u64), Option<[u8; 32]>>,
}

impl Known {
    fn hash(&mut self, f: Identity, at: &str) -> Option<[u8; 32]> {
        *self.hashes.entry((f.dev, f.ino)).or_insert_with(|| {
            use sha2::{Digest, Sha256};
            use std::io::Read;
            // A copy of a program is no bigger than programs get.
            const MAX: u64 = 1 << 30;
            let f = super::resolve::open_regular(at).ok()?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut r = f.take(MAX);
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => h.update(&buf[..n]),
                    Err(_) => return None,
                }
            }
            Some(h.finalize().into())
        })
    }

    /// The flagged program `file` (readable at `open_at`) is: the same
    /// file, or a copy of it.
    fn program(&mut self, cfg: &Config, call: &Call, run: Run<'_>) -> Option<String> {
        let Run {
            file,
            open_at,
            path: run_path,
            script,
        } = run;
        let path = call
            .env("PATH")
            .unwrap_or("/usr/local/bin:/usr/bin:/bin")
            .to_string();
        if !self.by_path.contains_key(&path) {
            let found = flagged_on_path(cfg, call.pid, &path);
            self.by_path.insert(path.clone(), found);
        }
        // Only the candidates that could match are copied: this runs for
        // every exec, and PATH holds many flagged programs.
        let candidates = self
            .by_path
            .get(&path)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut matches: Vec<Flagged> = candidates
            .iter()
            .filter(|c| c.id.dev == file.dev && c.id.ino == file.ino)
            .cloned()
            .collect();
        if matches.is_empty() {
            let same_size: Vec<Flagged> = candidates
                .iter()
                .filter(|c| c.id.size == file.size)
                .cloned()
                .collect();
            if same_size.is_empty() {
                return None;
            }
            let mine = self.hash(file, open_at?)?;
            for c in same_size {
                let at = format!("/proc/{}/root{}/{}", call.pid, c.dir, c.name);
                use std::os::unix::fs::MetadataExt;
                let here = std::fs::metadata(&at)
                    .is_ok_and(|m| m.ino() == c.id.ino && m.dev() == c.id.dev);
                if here && self.hash(c.id, &at) == Some(mine) {
                    matches.push(c);
                }
            }
        }
        let (dir, base) = run_path.rsplit_once('/').unwrap_or(("", run_path));
        // A multi-call file (psql, createdb and pg_dump are one script on
        // Debian) run under one of its flagged names is that name.
        if matches.iter().any(|m| m.name == base) {
            return Some(base.to_string());
        }
        // A shim script (pyenv, rbenv, asdf) is one file under many names
        // in its own directory, and runs the program its name says: that
        // program's exec is decided next. A copy elsewhere is the program.
        let shims = script && matches.iter().all(|m| m.dir == dir);
        if shims {
            return None;
        }
        matches.into_iter().next().map(|m| m.name)
    }
}

/// How the judge reaches a human at a terminal (as `approve::tty::ask`).
pub type Ask<'a> = Box<dyn Fn(&crate::approve::Request<'_>, Duration) -> Answer + 'a>;

/// The judge for one traced tree.
pub struct LineJudge<'a> {
    cfg: &'a Result<Config, ConfigError>,
    home: String,
    session: Session,
    who: Arc<Actor>,
    /// The line every exec belongs to when no launch says otherwise.
    default: Line,
    launches: Launches,
    /// Line roots: the pid that exec'd a line's launch.
    roots: HashMap<i32, Line>,
    ask: Ask<'a>,
    known: Known,
    summaries: HashMap<Option<u64>, Summary>,
    /// The first exec guard itself makes, which it built from the line it
    /// decided (an embedded shell's wrapped line): not decided again.
    launch: Option<Vec<String>>,
    /// Execs allowed by policy alone, remembered: a build runs the same
    /// few commands thousands of times. Keyed by the engine's input.
    quiet: std::collections::HashSet<(Vec<String>, String, Option<u64>)>,
    /// The tree's root line's exit record is this judge's to write (the
    /// broker: nobody else waits for the command).
    write_exit: bool,
    started: Instant,
    /// The default line's credentials, until its first exec takes them.
    unclaimed: Option<Vec<(String, String)>>,
    /// A launch's credentials, claimed by the exec that matched it.
    claimed: Option<Vec<(String, String)>>,
    /// Every credential name handed out in this tree.
    secrets: std::collections::HashSet<String>,
    /// The credential files among them, by variable.
    files: HashMap<String, Vec<SecretFile>>,
    /// The tree is sealed (`Tree::sealing`), so a file can be handed to
    /// a sub-exec inside it.
    seals: bool,
    /// Each process's last refused exec (program name and arguments) and
    /// what it was told: `execvp` tries a bare name in every PATH
    /// directory, and one refusal, at a terminal too, answers them all.
    refused: HashMap<i32, (Vec<String>, String)>,
}

/// What makes two execs of one process the same attempt: the program's
/// name and its arguments, whichever PATH directory it was tried in.
fn attempt(call: &Call) -> Vec<String> {
    let mut key = vec![crate::command::basename(&call.path).to_string()];
    key.extend(call.args.argv.iter().skip(1).cloned());
    key
}

/// Processes whose last refusal is remembered, at most.
const REFUSED_MAX: usize = 1024;

impl<'a> LineJudge<'a> {
    pub fn new(
        cfg: &'a Result<Config, ConfigError>,
        home: String,
        session: Session,
        who: Arc<Actor>,
        default: Line,
        ask: Ask<'a>,
    ) -> LineJudge<'a> {
        LineJudge {
            cfg,
            home,
            session,
            who,
            launches: Launches::default(),
            roots: HashMap::new(),
            ask,
            known: Known::default(),
            summaries: HashMap::new(),
            launch: None,
            quiet: std::collections::HashSet::new(),
            write_exit: false,
            started: Instant::now(),
            unclaimed: Some(default.handed()).filter(|s| !s.is_empty() && default.to_first()),
            claimed: None,
            secrets: default.handed().into_iter().map(|(k, _)| k).collect(),
            files: by_var(&default.files),
            seals: false,
            refused: HashMap::new(),
            default,
        }
    }

    /// Lines started later in this tree (a login session's).
    pub fn with_launches(mut self, launches: Launches) -> Self {
        self.launches = launches;
        self
    }

    /// The exec guard itself makes first, from what it decided.
    pub fn with_launch(mut self, argv: Vec<String>) -> Self {
        self.launch = Some(argv);
        self
    }

    /// The tree seals its holders: a sub-exec may be granted a file.
    pub fn sealing(mut self, on: bool) -> Self {
        self.seals = on;
        self
    }

    /// Write the root's exit record (nobody else will).
    pub fn writing_exit(mut self) -> Self {
        self.write_exit = true;
        self
    }

    /// The line an exec belongs to: the nearest line root among it and
    /// its ancestors, else the tree's.
    fn line_of(&mut self, call: &Call) -> Line {
        if let Ok(mut pending) = self.launches.lock() {
            if let Some(i) = pending
                .iter()
                .position(|(text, _)| launches(&call.args.argv, text))
            {
                let (_, line) = pending.remove(i);
                let handed = line.handed();
                if !handed.is_empty() {
                    self.secrets.extend(handed.iter().map(|(k, _)| k.clone()));
                    self.files.extend(by_var(&line.files));
                    if line.to_first() {
                        self.claimed = Some(handed);
                    }
                }
                self.roots.insert(call.pid, line.clone());
                return line;
            }
        }
        if self.roots.is_empty() {
            return self.default.clone();
        }
        let mut at = call.pid;
        for _ in 0..64 {
            if let Some(l) = self.roots.get(&at) {
                return l.clone();
            }
            match crate::session::owner::stat(at) {
                Some(s) if s.ppid > 1 => at = s.ppid,
                _ => break,
            }
        }
        self.default.clone()
    }

    fn actor(&self, call: &Call) -> Arc<Actor> {
        Arc::new(Actor {
            pid: call.pid,
            cwd: Some(call.cwd.clone()),
            ..(*self.who).clone()
        })
    }

    /// The exec as the engine sees it: argv with the program the kernel
    /// will run in front.
    fn words(&mut self, call: &Call) -> Vec<String> {
        let mut words = call.args.argv.clone();
        let program = match (self.cfg, call.file) {
            (Ok(cfg), Some(file)) => {
                let run = Run {
                    file,
                    open_at: call.open_at.as_deref(),
                    path: &call.path,
                    script: call.shebang.is_some(),
                };
                self.known.program(cfg, call, run)
            }
            _ => None,
        }
        .unwrap_or_else(|| call.path.clone());
        if words.is_empty() {
            words.push(program);
        } else {
            words[0] = program;
        }
        // `python3 "$(command -v aws)" s3 ls` runs aws as surely as `aws`
        // does: an interpreter's script that is (a copy of) a program the
        // rules name is decided as that program.
        if let (Ok(cfg), Some(i)) = (self.cfg, script_arg(&words)) {
            let pid = nix::unistd::Pid::from_raw(call.pid);
            let at = super::resolve::resolve(pid, &call.cwd, &words[i]);
            if let Ok((at, meta)) = at.and_then(|a| std::fs::metadata(&a).map(|m| (a, m))) {
                use std::os::unix::fs::MetadataExt;
                let f = Identity {
                    dev: meta.dev(),
                    ino: meta.ino(),
                    size: meta.size(),
                };
                let script = if words[i].starts_with('/') {
                    words[i].clone()
                } else {
                    format!("{}/{}", call.cwd.trim_end_matches('/'), words[i])
                };
                let run = Run {
                    file: f,
                    open_at: Some(&at),
                    path: &script,
                    script: true,
                };
                let named = self.known.program(cfg, call, run).or_else(|| {
                    let base = crate::command::basename(&words[i]);
                    cfg.rules
                        .whole_programs()
                        .contains(&base)
                        .then(|| base.to_string())
                });
                if let Some(name) = named {
                    let mut out = vec![name];
                    out.extend(words[i + 1..].iter().cloned());
                    return out;
                }
            }
        }
        words
    }

    /// Decide `words` for this exec: the engine, less what the line
    /// already approved and less the dynamic rule (whatever a shell or
    /// interpreter runs next is itself an exec, and decided).
    fn verdict(&self, words: &[String], env: &Env, line: &Line) -> Verdict {
        let Ok(cfg) = self.cfg else {
            let e = self
                .cfg
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Verdict::config_error(e);
        };
        let mut v = policy::decide(Input::Argv(words), cfg, env);
        v.matches.retain(|(i, h)| {
            if h.rule == policy::DYNAMIC_RULE {
                return false;
            }
            let approved = v
                .commands
                .get(*i)
                .is_some_and(|c| line.approved.contains(&normal(&c.argv_text())));
            !(approved && h.action != Action::Deny)
        });
        let strictest = v.matches.iter().map(|(_, h)| h.action).max();
        let unmatched = v
            .commands
            .iter()
            .enumerate()
            .any(|(i, c)| !c.argv.is_empty() && !v.matches.iter().any(|(n, _)| *n == i));
        let mut action = strictest.unwrap_or(Action::Allow);
        if unmatched {
            action = action.max(cfg.default);
        }
        v.action = action;
        match v.matches.iter().find(|(_, h)| h.action == action) {
            Some((_, h)) => {
                v.reason = h.message.clone();
                v.rule = Some(h.rule.clone());
            }
            None => {
                v.reason = "no rule matched".to_string();
                v.rule = None;
            }
        }
        v
    }

    fn judge(&mut self, call: &Call) -> Judgement {
        if self.launch.as_ref() == Some(&call.args.argv) {
            self.launch = None;
            return Judgement::Allow(Vec::new());
        }
        if let Some((tried, why)) = self.refused.get(&call.pid) {
            if *tried == attempt(call) {
                return Judgement::Deny(why.clone());
            }
        }
        let judged = self.judge_anew(call);
        if let Judgement::Deny(why) = &judged {
            if self.refused.len() >= REFUSED_MAX {
                self.refused.clear();
            }
            self.refused.insert(call.pid, (attempt(call), why.clone()));
        }
        judged
    }

    fn judge_anew(&mut self, call: &Call) -> Judgement {
        let line = self.line_of(call);
        let env = Env {
            home: self.home.clone(),
            cwd: call.cwd.clone(),
            path: call.env("PATH").unwrap_or(DEFAULT_PATH).to_string(),
            fresh: false,
        };
        let words = self.words(call);
        let key = (words.clone(), call.cwd.clone(), line.seq);
        if call.shebang.is_none() && self.quiet.contains(&key) {
            self.count(line.seq, &words[0]);
            return Judgement::Allow(Vec::new());
        }
        let mut v = self.verdict(&words, &env, &line);
        // A script's interpreter is a program the kernel runs too.
        if let Some(interp) = &call.shebang {
            let mut iw = interp.clone();
            iw.push(call.path.clone());
            iw.extend(call.args.argv.iter().skip(1).cloned());
            let iv = self.verdict(&iw, &env, &line);
            if iv.action > v.action {
                v = iv;
            }
        }
        let quiet =
            v.action == Action::Allow && v.matches.iter().all(|(_, h)| h.action == Action::Allow);
        if quiet {
            self.count(line.seq, &words[0]);
            if call.shebang.is_none() {
                if self.quiet.len() >= QUIET_MAX {
                    self.quiet.clear();
                }
                self.quiet.insert(key);
            }
            return Judgement::Allow(Vec::new());
        }
        let vars: std::collections::BTreeMap<String, String> = call
            .args
            .env
            .iter()
            .filter_map(|(_, e)| {
                e.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let text = shell_words::join(&words);
        let ask = |r: &crate::approve::Request<'_>, t: Duration| (self.ask)(r, t);
        let ctx = crate::gate::Context {
            cfg: self.cfg,
            session: Some(&self.session),
            vars: &vars,
            ask: &ask,
            parent: line.seq.map(|s| (s, call.ppid)),
            holder: Some(call.pid),
        };
        let outcome = crate::actor::with(self.actor(call), || {
            crate::gate::gate(&ctx, "exec", &text, &v)
        });
        match outcome {
            Ok(grant) if grant.files.is_empty() => Judgement::Allow(grant.env),
            // Made inside the sealed program, as for a line.
            Ok(mut grant) if self.seals => {
                let files: Vec<SecretFile> = grant.files.iter().map(SecretFile::of).collect();
                self.files.extend(by_var(&files));
                for f in files {
                    grant.env.push((f.var, f.content));
                }
                Judgement::Allow(grant.env)
            }
            Ok(_) => Judgement::Deny(
                "guard: denied: the credential it was granted is a file, which only a line \
                 of its own can be given; run it as its own command"
                    .to_string(),
            ),
            Err(refusal) => Judgement::Deny(refusal.lines.join(" ")),
        }
    }

    /// The line's credentials, if this exec runs a program they are for.
    fn for_program(&mut self, call: &Call) -> Option<Vec<(String, String)>> {
        if !self.seals {
            return None;
        }
        let line = self.line_of(call);
        if line.to_first() {
            return None;
        }
        let words = self.words(call);
        let program = crate::command::basename(words.first()?);
        line.holders
            .iter()
            .any(|h| h == program)
            .then(|| line.handed())
    }

    fn count(&mut self, seq: Option<u64>, program: &str) {
        let s = self.summaries.entry(seq).or_default();
        s.count += 1;
        if s.programs.len() < 32 {
            s.programs
                .insert(crate::command::basename(program).to_string());
        }
    }

    /// Record the summaries still open (the tree is done).
    pub fn finish(&mut self) {
        let session = self.session.id.clone();
        let who = Arc::clone(&self.who);
        for (seq, s) in self.summaries.drain() {
            let programs: Vec<String> = s.programs.into_iter().collect();
            crate::actor::with(Arc::clone(&who), || {
                crate::audit::exec_summary(&session, seq, s.count, &programs)
            });
        }
    }
}

impl Judge for LineJudge<'_> {
    fn exec(&mut self, call: &Call) -> Judgement {
        let first = self.unclaimed.take();
        let judged = self.judge(call);
        let claimed = self.claimed.take();
        match judged {
            Judgement::Allow(mut env) => {
                let by_program = self.for_program(call);
                for (k, v) in first.into_iter().chain(claimed).chain(by_program).flatten() {
                    if !env.iter().any(|(n, _)| *n == k) {
                        env.push((k, v));
                    }
                }
                self.secrets.extend(env.iter().map(|(k, _)| k.clone()));
                Judgement::Allow(env)
            }
            deny => deny,
        }
    }

    fn holds_secret(&self, name: &str) -> bool {
        self.secrets.contains(name)
    }

    fn secret_files(&self, name: &str) -> Vec<SecretFile> {
        self.files.get(name).cloned().unwrap_or_default()
    }

    fn mismatch(&mut self, pid: i32, expected: &str, got: &str) {
        let line = self.default.clone();
        let who = Arc::new(Actor {
            pid,
            ..(*self.who).clone()
        });
        let session = self.session.id.clone();
        crate::actor::with(who, || {
            crate::audit::event(
                "exec-killed",
                &session,
                &format!(
                    "killed pid {pid}: decided {expected}, but the kernel ran {got} [rule {MISMATCH_RULE}]{}",
                    line.seq.map(|s| format!(" (line {s})")).unwrap_or_default()
                ),
            )
        });
    }

    fn root_ended(&mut self, ended: Ended) {
        if self.write_exit {
            if let Some(of) = self.default.seq {
                let _ = crate::actor::with(Arc::clone(&self.who), || {
                    crate::audit::exit(
                        of,
                        Some(self.session.id.clone()),
                        &ended,
                        self.started.elapsed(),
                    )
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{launches, scan};

    /// The table of flagged programs on PATH, made by listing each
    /// directory once: every copy, in the order of the names, then of
    /// PATH; a directory, a missing directory or an unflagged name is no
    /// program.
    #[test]
    fn flagged_programs_are_found_in_every_path_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        for d in ["a", "b"] {
            std::fs::create_dir(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("a/kubectl"), "1").expect("write");
        std::fs::write(root.join("b/aws"), "2").expect("write");
        std::fs::write(root.join("b/kubectl"), "3").expect("write");
        std::fs::write(root.join("b/ls"), "4").expect("write");
        std::fs::create_dir(root.join("a/psql")).expect("mkdir");
        std::os::unix::fs::symlink("../b/aws", root.join("a/aws")).expect("link");
        let d = root.to_str().expect("utf-8");
        let dirs: Vec<(String, super::Stamp)> = ["a", "missing", "b"]
            .iter()
            .map(|x| (format!("{d}/{x}"), None))
            .collect();
        let me = std::process::id() as i32;
        let got: Vec<(String, String)> = scan(&["aws", "kubectl", "psql"], me, &dirs)
            .into_iter()
            .map(|f| (f.name, f.dir.trim_start_matches(d).to_string()))
            .collect();
        let want: Vec<(String, String)> = [
            ("aws", "/a"),
            ("aws", "/b"),
            ("kubectl", "/a"),
            ("kubectl", "/b"),
        ]
        .iter()
        .map(|(n, x)| (n.to_string(), x.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    fn argv(script: &str) -> Vec<String> {
        vec!["bash".into(), "-c".into(), script.into()]
    }

    #[test]
    fn launch_matches_whole_lines_only() {
        let cases: &[(&str, &str, bool)] = &[
            ("ls", "ls", true),
            ("cd /tmp\nls\n", "ls", true),
            ("cd /tmp\nls -l\n", "ls", false),
            ("lsblk", "ls", false),
            (
                "for f in *; do\n  echo $f\ndone\nexit",
                "for f in *; do\n  echo $f\ndone",
                true,
            ),
            (
                "xfor f in *; do\n  echo $f\ndone",
                "for f in *; do\n  echo $f\ndone",
                false,
            ),
            (
                "for f in *; do\n  echo $f\ndone2",
                "for f in *; do\n  echo $f\ndone",
                false,
            ),
            ("anything", "", false),
        ];
        for (script, text, want) in cases {
            assert_eq!(
                launches(&argv(script), text),
                *want,
                "{script:?} ∋ {text:?}"
            );
        }
        assert!(!launches(&["bash".into(), "ls".into()], "ls"));
        let ended: Vec<String> = ["bash", "-c", "--", "-x"].map(String::from).to_vec();
        assert!(launches(&ended, "-x"));
        assert!(!launches(&ended, "--"));
    }
}
