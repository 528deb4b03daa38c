//! Credential files, as `src/client/files.rs` writes them: into a
//! directory private to this user, one per session, and the files of
//! sessions that have ended removed.

use alloc::string::String;
use alloc::vec::Vec;

use super::json::Value;
use super::launch::Env;
use super::sys;

fn join(dir: &str, name: &str) -> String {
    alloc::format!("{dir}/{name}")
}

/// A directory that is ours alone: created 0700, or already there as a
/// real directory of ours, tightened to 0700.
fn private(dir: &str) -> Result<(), String> {
    match sys::mkdir(dir.as_bytes(), 0o700) {
        Ok(()) => Ok(()),
        Err(sys::EEXIST) => {
            let me = sys::getuid();
            let st =
                sys::stat(dir.as_bytes(), false).map_err(|e| String::from(sys::describe(e)))?;
            if !st.is_dir() || st.uid != me {
                return Err(alloc::format!(
                    "{dir} is not a directory of uid {me}; refusing to put credentials there"
                ));
            }
            if st.mode & 0o077 != 0 {
                let fd = sys::open(
                    dir.as_bytes(),
                    sys::O_RDONLY | sys::O_DIRECTORY | sys::O_NOFOLLOW | sys::O_CLOEXEC,
                )
                .map_err(|e| alloc::format!("{dir}: {}", sys::describe(e)))?;
                let r = sys::fchmod(fd, 0o700);
                sys::close(fd);
                r.map_err(|e| alloc::format!("{dir}: {}", sys::describe(e)))?;
            }
            Ok(())
        }
        Err(e) => Err(alloc::format!("{dir}: {}", sys::describe(e))),
    }
}

fn root(env: &Env) -> Result<String, String> {
    if let Some(run) = env.get("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let mine =
            sys::stat(run.as_bytes(), false).is_ok_and(|s| s.is_dir() && s.uid == sys::getuid());
        if mine {
            let dir = join(run, "guard");
            private(&dir)?;
            return Ok(dir);
        }
    }
    let tmp = env
        .get("TMPDIR")
        .filter(|d| d.starts_with('/'))
        .unwrap_or("/tmp");
    let dir = join(
        tmp.trim_end_matches('/'),
        &alloc::format!("guard-{}", sys::getuid()),
    );
    private(&dir)?;
    Ok(dir)
}

fn safe(name: &str) -> Result<&str, String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(alloc::format!("`{name}` is not a safe file name"))
    }
}

/// Write `files` for `session` and give the variables that point at them.
pub fn materialise(
    env: &Env,
    session: &str,
    files: &[Value],
    live: &[String],
) -> Result<Vec<(String, String)>, String> {
    let root = join(&root(env)?, "creds");
    private(&root)?;
    sweep(&root, live, session);
    let sdir = join(&root, safe(session)?);
    private(&sdir)?;
    let mut out = Vec::new();
    for f in files {
        let field = |k: &str| {
            f.str(k)
                .ok_or_else(|| alloc::format!("a credential file without `{k}`"))
        };
        let cdir = join(&sdir, safe(field("credential")?)?);
        private(&cdir)?;
        let name = safe(field("name")?)?;
        let path = join(&cdir, name);
        let tmp = join(&cdir, &alloc::format!(".{name}.{}", pid()));
        let fd = sys::openat(
            sys::AT_FDCWD,
            tmp.as_bytes(),
            sys::O_WRONLY | sys::O_CREAT | sys::O_EXCL | sys::O_CLOEXEC,
            0o600,
        )
        .map_err(|e| alloc::format!("cannot write {path}: {}", sys::describe(e)))?;
        let wrote = sys::write_all(fd, field("content")?.as_bytes());
        sys::close(fd);
        if let Err(e) = wrote.and_then(|()| sys::rename(tmp.as_bytes(), path.as_bytes())) {
            let _ = sys::unlinkat(sys::AT_FDCWD as i32, tmp.as_bytes(), false);
            return Err(alloc::format!("cannot write {path}: {}", sys::describe(e)));
        }
        let target = if f.bool("dir") { cdir } else { path };
        out.push((String::from(field("env")?), target));
    }
    Ok(out)
}

fn pid() -> u32 {
    // /proc/self is a link to our pid.
    sys::readlink(b"/proc/self")
        .ok()
        .and_then(|p| core::str::from_utf8(&p).ok()?.parse().ok())
        .unwrap_or(0)
}

fn sweep(root: &str, live: &[String], current: &str) {
    let Ok(fd) = sys::open(
        root.as_bytes(),
        sys::O_RDONLY | sys::O_DIRECTORY | sys::O_CLOEXEC,
    ) else {
        return;
    };
    let names = sys::entries(fd).unwrap_or_default();
    sys::close(fd);
    for (name, _) in names {
        let Ok(name) = core::str::from_utf8(&name) else {
            continue;
        };
        if name != current && !live.iter().any(|l| l == name) && !name.starts_with('.') {
            remove_all(&join(root, name), 0);
        }
    }
}

/// `remove_dir_all`, not following links, to the depth this tree has.
fn remove_all(path: &str, depth: usize) {
    if depth > 8 {
        return;
    }
    if let Ok(fd) = sys::open(
        path.as_bytes(),
        sys::O_RDONLY | sys::O_DIRECTORY | sys::O_NOFOLLOW | sys::O_CLOEXEC,
    ) {
        let names = sys::entries(fd).unwrap_or_default();
        sys::close(fd);
        for (name, is_dir) in names {
            let Ok(name) = core::str::from_utf8(&name) else {
                continue;
            };
            let child = join(path, name);
            if is_dir {
                remove_all(&child, depth + 1);
            } else {
                let _ = sys::unlinkat(sys::AT_FDCWD as i32, child.as_bytes(), false);
            }
        }
        let _ = sys::unlinkat(sys::AT_FDCWD as i32, path.as_bytes(), true);
    } else {
        let _ = sys::unlinkat(sys::AT_FDCWD as i32, path.as_bytes(), false);
    }
}
