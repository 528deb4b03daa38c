//! Directories a credential directory variable (`DOCKER_CONFIG`) can name
//! in a sealed holder without any of the credential being on disk.
//!
//! A memfd cannot be a directory, and a directory the holder can search
//! by path, any other process of its user can too. So the directory
//! holds no credential at all: only symlinks such as
//! `config.json -> /proc/self/fd/105`. `/proc/self` is resolved in the
//! process that follows the link, so the holder reaches its own memfd
//! (`tracee::seal`), and any other process of the agent's reaches its own
//! descriptor 105, which is not the credential. The directories are the
//! tracer's (the broker's user), under one base only it can write; a
//! name says what the directory holds, so one made earlier is reused.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static BASE: OnceLock<PathBuf> = OnceLock::new();

/// Use `base` for the directories, made if missing. It and every
/// directory above it must be writable by nobody but root and this
/// process's user: a directory the agent could swap would be one whose
/// links it chose.
pub fn set(base: &Path) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", base.display());
    match std::fs::symlink_metadata(base) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .mode(0o755)
                .create(base)
                .map_err(err)?;
        }
        Err(e) => return Err(err(e)),
        Ok(_) => {}
    }
    let me = nix::unistd::geteuid().as_raw();
    let m = std::fs::symlink_metadata(base).map_err(err)?;
    if !m.is_dir() || m.uid() != me {
        return Err(format!(
            "{} is not a directory of uid {me}'s own",
            base.display()
        ));
    }
    // Searchable by the holders, whoever they are; written by this user
    // only (the umask may have taken the first from `mode` above).
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
    let mut above = base.parent();
    while let Some(dir) = above.filter(|d| !d.as_os_str().is_empty()) {
        let m = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let sticky = m.mode() & 0o1000 != 0;
        if (m.uid() != 0 && m.uid() != me) || (m.mode() & 0o022 != 0 && !sticky) {
            return Err(format!(
                "{} is open to others (uid {}, mode {:o})",
                dir.display(),
                m.uid(),
                m.mode() & 0o7777
            ));
        }
        above = dir.parent();
    }
    BASE.set(base.to_path_buf())
        .map_err(|_| "the links directory is already set".to_string())
}

/// The directory holding, for each `(name, fd)`, `name ->
/// /proc/self/fd/fd`: made now if no earlier holder needed the same.
pub fn dir(entries: &[(String, i32)]) -> Result<PathBuf, String> {
    let base = BASE
        .get()
        .ok_or("the tracer has no directory for a credential directory's links")?;
    let mut entries = entries.to_vec();
    entries.sort();
    entries.dedup_by(|a, b| a.0 == b.0);
    if let Some((bad, _)) = entries.iter().find(|(n, _)| !safe(n)) {
        return Err(format!("`{bad}` is not a safe file name"));
    }
    let leaf = entries
        .iter()
        .map(|(n, fd)| format!("{n}={fd}"))
        .collect::<Vec<_>>()
        .join(",");
    if leaf.is_empty() || leaf.len() > 240 {
        return Err(format!("no directory can be named for {leaf:?}"));
    }
    let path = base.join(&leaf);
    if holds(&path, &entries) {
        return Ok(path);
    }
    static N: AtomicU64 = AtomicU64::new(0);
    let tmp = base.join(format!(
        ".new-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let made = (|| -> std::io::Result<()> {
        std::fs::DirBuilder::new().mode(0o755).create(&tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        for (name, fd) in &entries {
            std::os::unix::fs::symlink(format!("/proc/self/fd/{fd}"), tmp.join(name))?;
        }
        std::fs::rename(&tmp, &path)
    })();
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    // Another thread may have made it first: then it is that one.
    if holds(&path, &entries) {
        Ok(path)
    } else {
        Err(format!(
            "cannot make {}: {}",
            path.display(),
            made.err()
                .map_or_else(|| "wrong links".to_string(), |e| e.to_string())
        ))
    }
}

fn holds(path: &Path, entries: &[(String, i32)]) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
        && entries.iter().all(|(name, fd)| {
            std::fs::read_link(path.join(name))
                .is_ok_and(|t| t == Path::new(&format!("/proc/self/fd/{fd}")))
        })
}

/// One path component that is nothing else (no `/`, `..` or hidden name),
/// and none of the separators of a directory's name here.
fn safe(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn a_name_is_one_plain_component() {
        for (name, ok) in [
            ("config.json", true),
            ("git-credentials", true),
            ("", false),
            (".hidden", false),
            ("..", false),
            ("a/b", false),
            ("a=1", false),
            ("a,b", false),
        ] {
            assert_eq!(safe(name), ok, "{name:?}");
        }
    }
}
