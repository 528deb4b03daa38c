//! Credential files the broker hands the client: a directory
//! (`DOCKER_CONFIG`) always, a file (`KUBECONFIG`) only from a broker
//! that cannot seal (a sealing one makes files inside the holder, see
//! `trace::tracee::seal`).
//!
//! The broker keeps minted values where the agent cannot read them, but
//! the command it approved runs as the agent and must read its file. So
//! the client writes the files it is handed into a directory private to
//! its user, one per session: `$XDG_RUNTIME_DIR/guard/` (cleared at
//! logout), else `/tmp/guard-UID/`. The values are revoked when the
//! session ends; the files of sessions that have ended are removed the
//! next time any file is written.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::wire::FileGrant;

/// A directory that is ours alone: created 0700, or already there as a
/// real directory owned by us that nobody else can enter.
fn private(dir: &Path) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let m = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
            let me = nix::unistd::getuid().as_raw();
            if !m.is_dir() || m.uid() != me {
                return Err(format!(
                    "{} is not a directory of uid {me}; refusing to put credentials there",
                    dir.display()
                ));
            }
            if m.mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// This user's private runtime directory for guard (created 0700).
pub fn runtime_dir() -> Result<PathBuf, String> {
    root()
}

fn root() -> Result<PathBuf, String> {
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let run = PathBuf::from(run);
        let mine = std::fs::symlink_metadata(&run)
            .is_ok_and(|m| m.is_dir() && m.uid() == nix::unistd::getuid().as_raw());
        if mine {
            let dir = run.join("guard");
            private(&dir)?;
            return Ok(dir);
        }
    }
    // Not `temp_dir()`: an empty or relative TMPDIR would put the files
    // under the current directory, wherever that is.
    let tmp = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let dir = tmp.join(format!("guard-{}", nix::unistd::getuid().as_raw()));
    private(&dir)?;
    Ok(dir)
}

/// Write `files` for `session` and return the variables that point at
/// them; remove the files of sessions no longer in `live`.
pub fn materialise(
    session: &str,
    files: &[FileGrant],
    live: &[String],
) -> Result<Vec<(String, String)>, String> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let root = root()?.join("creds");
    private(&root)?;
    sweep(&root, live, session);
    let sdir = root.join(safe(session)?);
    private(&sdir)?;
    let mut env = Vec::new();
    for f in files {
        let cdir = sdir.join(safe(&f.credential)?);
        private(&cdir)?;
        let path = cdir.join(safe(&f.name)?);
        let tmp = cdir.join(format!(".{}.{}", safe(&f.name)?, std::process::id()));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            out.write_all(f.content.as_bytes())?;
            drop(out);
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })?;
        let target = if f.dir { &cdir } else { &path };
        env.push((f.env.clone(), target.display().to_string()));
    }
    Ok(env)
}

/// A name the broker sent, used as one path component.
fn safe(name: &str) -> Result<&str, String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(format!("`{name}` is not a safe file name"))
    }
}

fn sweep(root: &Path, live: &[String], current: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != current && !live.contains(&name) && !name.starts_with('.') {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
