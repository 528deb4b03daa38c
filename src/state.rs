//! Where guard keeps its state: `$GUARD_STATE_DIR`, else the user's state
//! directory.

use std::path::PathBuf;

pub fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GUARD_STATE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("guard"))
}

/// Create the state directory, private to the user.
pub fn ensure() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir =
        dir().ok_or_else(|| std::io::Error::other("no state directory (set GUARD_STATE_DIR)"))?;
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
    }
    Ok(dir)
}
