//! A rule's `match` / `unless` conditions, compiled and tested against
//! `Facts`.

use std::sync::OnceLock;

use regex::Regex;

use super::spec::MatchSpec;
use crate::facts::Facts;
use crate::glob::Glob;

#[derive(Debug)]
pub struct Matcher {
    program: Vec<Glob>,
    subcommand: Vec<Vec<String>>,
    flags: Vec<String>,
    args_regex: Option<LazyRegex>,
    arg_regex: Option<LazyRegex>,
    /// Path patterns compile on first use: most commands have no path
    /// operand worth testing.
    paths: LazyGlobs,
    env: Vec<Glob>,
    env_refs: Vec<Glob>,
    secrets: Vec<String>,
    code: Option<bool>,
    transfer: Vec<String>,
    transfer_allowed: Option<bool>,
}

#[derive(Debug)]
struct LazyGlobs {
    patterns: Vec<String>,
    home: String,
    compiled: OnceLock<PathGlobs>,
}

/// A rule's path patterns: what it protects, and the `!`-prefixed files
/// it leaves out (`!~/.ssh/known_hosts` under `~/.ssh/**`).
#[derive(Debug)]
struct PathGlobs {
    protect: Vec<Glob>,
    except: Vec<Glob>,
}

impl PathGlobs {
    /// Is this existing or literal file protected? Exceptions hold only
    /// for a file that is only written (see `PathArg::written`).
    fn covers(&self, file: &str, written: bool) -> bool {
        self.protect.iter().any(|g| g.matches(file))
            && !(written && self.except.iter().any(|g| g.matches(file)))
    }
}

impl LazyGlobs {
    fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    fn get(&self) -> &PathGlobs {
        self.compiled.get_or_init(|| {
            let (except, protect): (Vec<&String>, Vec<&String>) =
                self.patterns.iter().partition(|p| p.starts_with('!'));
            PathGlobs {
                protect: protect
                    .iter()
                    .flat_map(|p| path_globs(p, &self.home))
                    .collect(),
                except: except
                    .iter()
                    .flat_map(|p| path_globs(&p[1..], &self.home))
                    .collect(),
            }
        })
    }
}

/// Regexes compile on first use: most rules never meet a command that
/// needs theirs, and start-up time is on every command's path.
#[derive(Debug)]
pub struct LazyRegex {
    pattern: String,
    compiled: OnceLock<Result<Regex, String>>,
}

impl LazyRegex {
    pub fn new(pattern: &str) -> LazyRegex {
        LazyRegex {
            pattern: pattern.to_string(),
            compiled: OnceLock::new(),
        }
    }

    pub fn get(&self) -> Result<&Regex, String> {
        self.compiled
            .get_or_init(|| Regex::new(&self.pattern).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A regex that fails to compile at match time: the caller must fail
/// closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRegex(pub String);

impl Matcher {
    pub fn new(spec: &MatchSpec, home: &str) -> Matcher {
        Matcher {
            program: spec.program.iter().map(|p| Glob::new(p)).collect(),
            subcommand: spec
                .subcommand
                .iter()
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .collect(),
            flags: spec.flags.clone(),
            args_regex: spec.args_regex.as_deref().map(LazyRegex::new),
            arg_regex: spec.arg_regex.as_deref().map(LazyRegex::new),
            paths: LazyGlobs {
                patterns: spec.paths.clone(),
                home: home.to_string(),
                compiled: OnceLock::new(),
            },
            env: spec.env.iter().map(|p| Glob::new(p)).collect(),
            env_refs: spec.env_refs.iter().map(|p| Glob::new(p)).collect(),
            secrets: spec.secrets.clone(),
            code: spec.code,
            transfer: spec.transfer.clone(),
            transfer_allowed: spec.transfer_allowed,
        }
    }

    pub fn regexes(&self) -> impl Iterator<Item = &LazyRegex> {
        self.args_regex.iter().chain(self.arg_regex.iter())
    }

    pub fn matches(&self, f: &Facts) -> Result<bool, BadRegex> {
        if !self.program.is_empty() && !self.program.iter().any(|g| g.matches(&f.program)) {
            return Ok(false);
        }
        if !self.subcommand.is_empty() && !self.subcommand.iter().any(|s| subcommand_matches(s, f))
        {
            return Ok(false);
        }
        if !self.flags.is_empty()
            && !f
                .args
                .iter()
                .any(|a| self.flags.iter().any(|fl| flag_matches(fl, a)))
        {
            return Ok(false);
        }
        if !self.env.is_empty() && !f.env.iter().any(|n| self.env.iter().any(|g| g.matches(n))) {
            return Ok(false);
        }
        // `${!x}` and `${!PREFIX@}` read names only known at run time:
        // recorded as patterns, they match any rule pattern they overlap.
        if !self.env_refs.is_empty()
            && !f.env_refs.iter().any(|n| {
                self.env_refs.iter().any(|g| {
                    if n.contains('*') {
                        g.intersects(&Glob::new(n))
                    } else {
                        g.matches(n)
                    }
                })
            })
        {
            return Ok(false);
        }
        if !self.secrets.is_empty()
            && !f
                .secrets
                .iter()
                .any(|s| self.secrets.iter().any(|want| want == "any" || want == s))
        {
            return Ok(false);
        }
        if !self.transfer.is_empty() || self.transfer_allowed.is_some() {
            let Some(t) = &f.transfer else {
                return Ok(false);
            };
            if !self.transfer.is_empty() && !self.transfer.iter().any(|k| k == t.kind) {
                return Ok(false);
            }
            if self.transfer_allowed.is_some_and(|want| want != t.allowed) {
                return Ok(false);
            }
        }
        if let Some(want) = self.code {
            if want == f.code.is_empty() {
                return Ok(false);
            }
        }
        if !self.paths.is_empty() && self.first_path(f).is_none() {
            return Ok(false);
        }
        if let Some(re) = &self.args_regex {
            let re = re.get().map_err(BadRegex)?;
            if !re.is_match(&f.args_joined) {
                return Ok(false);
            }
        }
        if let Some(re) = &self.arg_regex {
            let re = re.get().map_err(BadRegex)?;
            if !f.args.iter().any(|a| re.is_match(a)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The first path operand a path condition accepts.
    pub fn first_path<'f>(&self, f: &'f Facts) -> Option<&'f str> {
        if self.paths.is_empty() || f.paths.is_empty() {
            return None;
        }
        let globs = self.paths.get();
        f.paths
            .iter()
            .find(|p| {
                if let Some(files) = p.expanded.as_ref().filter(|_| p.glob) {
                    // No match leaves the word as it is, and that is read.
                    let lit = std::iter::once(&p.text).filter(|_| files.is_empty());
                    files.iter().chain(lit).any(|f| globs.covers(f, p.written))
                } else if p.glob {
                    let pattern = if f.dotglob {
                        Glob::new(&p.text)
                    } else {
                        Glob::bash(&p.text)
                    };
                    // What a pattern may match is judged against what is
                    // protected only: leaving the exceptions out of an
                    // intersection would take a language difference.
                    globs
                        .protect
                        .iter()
                        .any(|g| g.intersects_sharing(&pattern, shared_run(g, p.runtime)))
                } else {
                    globs.covers(&p.text, p.written)
                }
            })
            .map(|p| p.text.as_str())
    }

    pub fn first_env<'f>(&self, f: &'f Facts) -> Option<&'f str> {
        f.env
            .iter()
            .chain(f.env_refs.iter())
            .find(|n| {
                self.env
                    .iter()
                    .chain(self.env_refs.iter())
                    .any(|g| g.matches(n))
            })
            .map(String::as_str)
    }
}

/// `~/x` protects the user's own file, and also the same tail anywhere
/// (`/home/other/x`, a relative `x`, `$DIR/x`); a relative pattern matches
/// at any depth.
fn path_globs(pattern: &str, home: &str) -> Vec<Glob> {
    if let Some(rest) = pattern.strip_prefix("~/") {
        return vec![
            Glob::new(&format!("{home}/{rest}")),
            Glob::new(&format!("**/{rest}")),
        ];
    }
    if pattern.starts_with('/') || pattern.starts_with("**/") {
        return vec![Glob::new(pattern)];
    }
    vec![Glob::new(&format!("**/{pattern}"))]
}

/// A run-time part may be anything, so it must not supply the whole of
/// what a rule looks for: four characters of the rule's literal text (or
/// all of a shorter literal) have to be matched by what the word says
/// outright.
fn shared_run(g: &Glob, has_runtime_part: bool) -> usize {
    if has_runtime_part {
        g.required().chars().count().min(4)
    } else {
        0
    }
}

/// Positionals must start with the subcommand words; a positional right
/// after an option may be that option's value and can be skipped.
fn subcommand_matches(words: &[String], f: &Facts) -> bool {
    let pos = &f.positionals;
    for start in 0..pos.len() {
        if pos[start].0 == words[0] {
            let tail: Vec<&str> = pos[start..].iter().map(|(w, _)| w.as_str()).collect();
            if tail.len() >= words.len() && tail.iter().zip(words).all(|(a, b)| a == b) {
                return true;
            }
        }
        if !pos[start].1 {
            return false;
        }
    }
    false
}

/// `--profile`, `--profile=x`; `-u`, `-ux`, and a short cluster `-su`.
fn flag_matches(flag: &str, word: &str) -> bool {
    if word == flag {
        return true;
    }
    if flag.starts_with("--") {
        return word
            .strip_prefix(flag)
            .is_some_and(|rest| rest.starts_with('='));
    }
    if flag.len() == 2 && flag.starts_with('-') && word.starts_with('-') && !word.starts_with("--")
    {
        let letter = flag.as_bytes()[1] as char;
        let cluster = &word[1..];
        let is_cluster = cluster.len() <= 8 && cluster.chars().all(|c| c.is_ascii_alphabetic());
        return word.starts_with(flag) || (is_cluster && cluster.contains(letter));
    }
    false
}
