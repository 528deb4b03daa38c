//! A cache of parsed, validated rule files, keyed by a hash of their
//! content (and of the schema), so YAML is parsed once per change rather
//! than once per command.
//!
//! A cache entry is trusted only as far as its source file is: it must be
//! owned by the same user as the source, and neither it nor its directory
//! may be writable by anyone else. An agent therefore cannot plant a
//! weaker policy for root-owned rules; root's entries live in
//! `/var/cache/guard`, written by `guard rules lint` run as root.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The schema is part of the key: a changed `spec.rs` never reads an old
/// entry.
const SCHEMA: &str = include_str!("spec.rs");

/// The file's name is part of the key because compiled rules record it.
pub fn key(name: &[u8], bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(SCHEMA.as_bytes());
    h.update(name);
    h.update([0]);
    h.update(bytes);
    crate::hex::encode(h.finalize())
}

/// Where entries for files owned by `owner` live.
fn dir_for(owner: u32) -> Option<PathBuf> {
    if owner == 0 {
        return Some(PathBuf::from("/var/cache/guard"));
    }
    if owner == nix::unistd::geteuid().as_raw() {
        return crate::state::dir().map(|d| d.join("cache"));
    }
    None
}

fn trusted(meta: &std::fs::Metadata, owner: u32) -> bool {
    meta.uid() == owner && meta.mode() & 0o022 == 0
}

/// The compiled blob for `key`, if a trusted entry exists.
pub fn load(source: &std::fs::Metadata, key: &str) -> Option<Vec<u8>> {
    let owner = source.uid();
    let dir = dir_for(owner)?;
    if !trusted(&std::fs::symlink_metadata(&dir).ok()?, owner) {
        return None;
    }
    let path = dir.join(format!("{key}.bin"));
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || !trusted(&meta, owner) {
        return None;
    }
    std::fs::read(&path).ok()
}

/// Best effort: a failure only means the next run parses again.
pub fn store(source: &std::fs::Metadata, key: &str, blob: &[u8]) {
    let owner = source.uid();
    if owner != nix::unistd::geteuid().as_raw() {
        return;
    }
    let Some(dir) = dir_for(owner) else { return };
    let _ = write(&dir, key, blob);
}

fn write(dir: &Path, key: &str, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    // Root's entries serve every user; a user's own serve only them.
    let shared = nix::unistd::geteuid().is_root();
    let (dir_mode, file_mode) = if shared {
        (0o755, 0o644)
    } else {
        (0o700, 0o600)
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(dir)?;
    let tmp = dir.join(format!(".{key}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(file_mode)
        .open(&tmp)?;
    f.write_all(data)?;
    std::fs::rename(&tmp, dir.join(format!("{key}.bin")))
}
