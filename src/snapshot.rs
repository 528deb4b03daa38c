//! Shell state carried between interactive lines.
//!
//! Each line runs in a fresh real shell. Before the line, the shell
//! sources the snapshot (cwd, exported variables, aliases, functions);
//! when it exits, an EXIT trap writes the new snapshot. guard itself parses
//! every snapshot it loads, so a function or alias the agent managed to
//! plant in the file is still seen when it is called.

use std::path::{Path, PathBuf};

pub struct Snapshot {
    dir: PathBuf,
}

impl Snapshot {
    pub fn new(dir: PathBuf) -> Snapshot {
        Snapshot { dir }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join("snapshot.sh")
    }

    fn next_file(&self) -> PathBuf {
        self.dir.join("snapshot.next.sh")
    }

    fn cwd_file(&self) -> PathBuf {
        self.dir.join("cwd")
    }

    /// Start a session in `cwd`.
    pub fn init(&self, cwd: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        std::fs::write(
            self.file(),
            format!("builtin cd -- {}\n", quote(&cwd.to_string_lossy())),
        )?;
        std::fs::write(self.cwd_file(), cwd.to_string_lossy().as_bytes())
    }

    /// The script a line runs as: restore, the line, save on exit. The
    /// `hide` variables (credentials granted to this line alone) are unset
    /// before the state is saved, so they never reach the file or a later
    /// line.
    pub fn wrap(&self, line: &str, hide: &[String]) -> String {
        let next = quote(&self.next_file().to_string_lossy());
        let cwd = quote(&self.cwd_file().to_string_lossy());
        let file = quote(&self.file().to_string_lossy());
        let unset = if hide.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = hide.iter().map(|n| quote(n)).collect();
            format!("builtin unset -v {} 2>/dev/null; ", names.join(" "))
        };
        format!(
            "__guard_save() {{ builtin local s=$?; {unset}{{ builtin printf 'builtin cd -- %q\\n' \"$PWD\"; builtin export -p; builtin alias -p; builtin declare -f; }} > {next} 2>/dev/null; builtin printf '%s' \"$PWD\" > {cwd} 2>/dev/null; builtin return $s; }}\n\
             builtin trap __guard_save EXIT\n\
             builtin shopt -s expand_aliases\n\
             builtin source {file} 2>/dev/null\n\
             {line}\n"
        )
    }

    /// Adopt what the line's shell saved, without the variables that must
    /// not carry over: those guard drops before exec, and those `secret`
    /// says are secrets (scrubbed from every command guard starts).
    pub fn commit(&self, secret: &dyn Fn(&str) -> bool) -> std::io::Result<()> {
        let text = match std::fs::read_to_string(self.next_file()) {
            Ok(t) => t,
            // The shell was killed before its trap ran: keep the old state.
            Err(_) => return Ok(()),
        };
        let kept: Vec<&str> = text
            .lines()
            // What guard drops before exec must not come back this way, and
            // guard's own settings (GUARD_CONFIG, GUARD_SESSION, …) are
            // guard's to pass on, not the saved state's to set.
            .filter(|l| {
                declared_name(l).is_none_or(|n| {
                    !crate::exec::is_dropped(n)
                        && !secret(n)
                        && !matches!(n, "GUARD_CONFIG" | "GUARD_STATE_DIR" | "GUARD_SESSION")
                })
            })
            .collect();
        std::fs::write(self.file(), kept.join("\n") + "\n")?;
        let _ = std::fs::remove_file(self.next_file());
        Ok(())
    }

    pub fn text(&self) -> String {
        std::fs::read_to_string(self.file()).unwrap_or_default()
    }

    pub fn cwd(&self) -> Option<String> {
        std::fs::read_to_string(self.cwd_file())
            .ok()
            .filter(|c| c.starts_with('/'))
    }
}

/// NAME in `declare -x NAME=…` or `declare -x NAME`, as `export -p`
/// prints them.
fn declared_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("declare -")?;
    let rest = rest.split_once(' ')?.1;
    Some(rest.split('=').next().unwrap_or(rest))
}

fn quote(s: &str) -> String {
    shell_words::quote(s).into_owned()
}
