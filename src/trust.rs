//! Which files may carry admin settings.
//!
//! The agent can write files and set `GUARD_CONFIG`. A setting that
//! changes what guard is (the real shell, the approver, the broker to
//! ask) must therefore come from a file the agent cannot have written:
//! owned by root (or, for the broker's own files, the broker's user),
//! writable by nobody else, in directories nobody else can rename it out
//! of. This is OpenSSH's `StrictModes` walk, with one addition: a sticky
//! directory owned by root (`/tmp`) is safe, since nobody else may rename
//! or remove what it holds.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {why}")]
pub struct Untrusted {
    pub path: String,
    pub why: String,
}

const STICKY: u32 = 0o1000;

/// An admin file, opened: its content and the path it really is at.
#[derive(Debug)]
pub struct Trusted {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

fn untrusted(path: &Path, why: impl Into<String>) -> Untrusted {
    Untrusted {
        path: path.display().to_string(),
        why: why.into(),
    }
}

/// Open `path` and check that it, and every directory above where it
/// really lives, is owned by one of `owners` and writable by no one else.
/// The file is read from the descriptor that was checked, so swapping a
/// symlink after the check changes nothing.
pub fn open_admin(path: &Path, owners: &[u32]) -> Result<Trusted, Untrusted> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| untrusted(path, e.to_string()))?;
    let meta = file
        .metadata()
        .map_err(|e| untrusted(path, e.to_string()))?;
    if !meta.is_file() {
        return Err(untrusted(path, "not a regular file"));
    }
    check_owner(path, &meta, owners)?;
    // Where the descriptor really points, whatever links led there.
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .or_else(|_| std::fs::canonicalize(path))
        .map_err(|e| untrusted(path, format!("cannot resolve: {e}")))?;
    let mut dir = real.parent();
    while let Some(d) = dir {
        let m = std::fs::metadata(d).map_err(|e| untrusted(d, e.to_string()))?;
        let sticky_root = m.mode() & STICKY != 0 && m.uid() == 0;
        if !sticky_root {
            check_owner(d, &m, owners)?;
        }
        dir = d.parent();
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| untrusted(path, e.to_string()))?;
    Ok(Trusted { path: real, bytes })
}

fn check_owner(path: &Path, meta: &std::fs::Metadata, owners: &[u32]) -> Result<(), Untrusted> {
    if !owners.contains(&meta.uid()) {
        return Err(untrusted(
            path,
            format!(
                "owned by uid {}, not {}",
                meta.uid(),
                owners
                    .iter()
                    .map(|o| if *o == 0 {
                        "root".to_string()
                    } else {
                        format!("uid {o}")
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(
            path,
            format!(
                "writable by group or others (mode {:o})",
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

/// Whether `path` could serve as an admin file for guard run by the
/// current user: root-owned and safe.
pub fn admin_file(path: &Path) -> Result<Trusted, Untrusted> {
    open_admin(path, &[0])
}
