//! The broker's compiled configuration: loaded once, kept warm, and
//! reloaded on SIGHUP or when a file changes. A reload that fails keeps
//! the rules that were loaded, and says why.
//!
//! Rules expand `~` to the home of the account they judge, so each home
//! gets its own compiled copy, built on first use and dropped at reload.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::rules::load::{self, Config, ConfigError};

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub struct Source {
    /// `--config FILE`, else the admin layers under `etc`.
    pub file: Option<PathBuf>,
    pub etc: PathBuf,
    /// What `guard creds import` wrote.
    pub imported: PathBuf,
}

impl Source {
    fn load(&self, home: &str) -> Result<Config, ConfigError> {
        let imported = self.imported.is_dir().then_some(self.imported.as_path());
        load::load_broker(self.file.as_deref(), &self.etc, imported, home)
    }
}

pub type Shared = Arc<Result<Config, ConfigError>>;

struct Generation {
    number: u64,
    loaded_at: String,
    /// The files the configuration was read from, for change detection.
    files: Vec<PathBuf>,
    by_home: Mutex<HashMap<String, Shared>>,
}

pub struct Rules {
    source: Source,
    current: RwLock<Arc<Generation>>,
    last_error: Mutex<Option<String>>,
    seen: Mutex<Vec<Stamp>>,
}

/// What a file looked like: enough to notice an edit or a replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    path: PathBuf,
    mtime_ns: i128,
    len: u64,
    ino: u64,
}

fn stamps(source: &Source, files: &[PathBuf]) -> Vec<Stamp> {
    let mut paths: Vec<PathBuf> = files.to_vec();
    let dirs: Vec<PathBuf> = match &source.file {
        Some(_) => vec![source.imported.clone()],
        None => vec![
            source.etc.clone(),
            source.etc.join("rules.d"),
            source.imported.clone(),
        ],
    };
    for d in dirs {
        if let Ok(entries) = std::fs::read_dir(&d) {
            paths.extend(entries.flatten().map(|e| e.path()));
        }
    }
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?;
            Some(Stamp {
                mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
                len: m.len(),
                ino: m.ino(),
                path: p,
            })
        })
        .collect()
}

fn real_files(cfg: &Config) -> Vec<PathBuf> {
    cfg.files
        .iter()
        .filter(|f| !f.starts_with('<'))
        .map(PathBuf::from)
        .collect()
}

impl Rules {
    /// The first load must succeed: a broker with no rules refuses to
    /// start.
    pub fn load(source: Source) -> Result<(Rules, Config), ConfigError> {
        let probe = source.load("/")?;
        let files = real_files(&probe);
        let seen = stamps(&source, &files);
        let generation = Generation {
            number: 1,
            loaded_at: jiff::Timestamp::now().to_string(),
            files,
            by_home: Mutex::new(HashMap::new()),
        };
        Ok((
            Rules {
                source,
                current: RwLock::new(Arc::new(generation)),
                last_error: Mutex::new(None),
                seen: Mutex::new(seen),
            },
            probe,
        ))
    }

    fn generation(&self) -> Arc<Generation> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The configuration as it applies to the account whose home is
    /// `home`.
    pub fn for_home(&self, home: &str) -> Shared {
        let g = self.generation();
        let mut map = match g.by_home.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(c) = map.get(home) {
            return Arc::clone(c);
        }
        let built: Shared = Arc::new(self.source.load(home));
        map.insert(home.to_string(), Arc::clone(&built));
        built
    }

    /// Load everything again; on failure keep what is loaded.
    pub fn reload(&self, why: &str) -> Result<u64, String> {
        let seen = stamps(&self.source, &self.generation().files);
        let attempt = self.source.load("/");
        let mut last = match self.last_error.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        if let Ok(mut s) = self.seen.lock() {
            *s = seen;
        }
        match attempt {
            Ok(cfg) => {
                let files = real_files(&cfg);
                let number = self.generation().number + 1;
                let next = Arc::new(Generation {
                    number,
                    loaded_at: jiff::Timestamp::now().to_string(),
                    files: files.clone(),
                    by_home: Mutex::new(HashMap::new()),
                });
                if let Ok(mut s) = self.seen.lock() {
                    *s = stamps(&self.source, &files);
                }
                match self.current.write() {
                    Ok(mut g) => *g = next,
                    Err(p) => *p.into_inner() = next,
                }
                *last = None;
                eprintln!("guard broker: reloaded the rules ({why}), generation {number}");
                Ok(number)
            }
            Err(e) => {
                let g = self.generation();
                let msg = format!(
                    "reload ({why}) failed: config error: {e}; keeping the rules loaded at {} (generation {})",
                    g.loaded_at, g.number
                );
                eprintln!("guard broker: {msg}");
                *last = Some(msg.clone());
                Err(msg)
            }
        }
    }

    /// Did a file change since the last load or attempt?
    pub fn changed(&self) -> bool {
        let now = stamps(&self.source, &self.generation().files);
        match self.seen.lock() {
            Ok(s) => *s != now,
            Err(_) => false,
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|l| l.clone())
    }

    pub fn describe(&self) -> (u64, String) {
        let g = self.generation();
        (g.number, g.loaded_at.clone())
    }

    pub fn source(&self) -> &Source {
        &self.source
    }
}

/// Paths printed in the broker's start-up line.
pub fn describe_source(s: &Source) -> String {
    match &s.file {
        Some(f) => f.display().to_string(),
        None => format!("{}/", Path::new(&s.etc).display()),
    }
}
