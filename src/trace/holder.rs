//! Which programs may be handed credentials: only one the agent cannot
//! have written.
//!
//! A rule grants a credential to a program by name (`aws`), and an
//! approver approves a line by what it says (`aws s3 ls`). If the file
//! that runs under that name is the agent's (`./aws`, a directory of its
//! own early on PATH, `cp` of a script it then edits), the seal would
//! only keep the credential safe *for* the agent's code. So a program is
//! a holder only when its file, its interpreter's, and every directory
//! above them are out of the agent's reach: owned by another user, and
//! writable by no group the process is in and by no others (a sticky
//! directory excepted: nobody may rename what another owns in it). This
//! is OpenSSH's `StrictModes` walk, with "not the agent" for "root".

use std::os::unix::fs::MetadataExt;

use nix::unistd::Pid;

const STICKY: u32 = 0o1000;

/// Why the program `call` runs could have been written by the user its
/// process runs as, if it could: then it gets no credentials.
pub fn unfit(call: &super::Call) -> Option<String> {
    let pid = Pid::from_raw(call.pid);
    let users = match ids(pid) {
        Some(u) => u,
        None => return Some("cannot tell whose process it is".to_string()),
    };
    let Some(at) = &call.open_at else {
        return Some(format!("{} is not a file guard could examine", call.path));
    };
    if let Some(why) = reach(at, &call.path, &users) {
        return Some(why);
    }
    if let Some(interp) = call.shebang.as_ref().and_then(|s| s.first()) {
        match super::resolve::resolve(pid, "/", interp) {
            Ok(at) => return reach(&at, interp, &users),
            Err(e) => return Some(format!("its interpreter {interp}: {e}")),
        }
    }
    None
}

/// Who a process is, as far as writing files goes.
#[derive(Debug)]
struct Ids {
    uids: Vec<u32>,
    gids: Vec<u32>,
}

/// The real and effective uids of `pid` and all its groups, from
/// `/proc/PID/status` (readable for an undumpable process too).
fn ids(pid: Pid) -> Option<Ids> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str, take: usize| -> Option<Vec<u32>> {
        let line = status.lines().find_map(|l| l.strip_prefix(name))?;
        line.split_whitespace()
            .take(take)
            .map(|w| w.parse().ok())
            .collect()
    };
    let uids = field("Uid:", 2).filter(|u| u.len() == 2)?;
    let mut gids = field("Gid:", 2).filter(|g| g.len() == 2)?;
    gids.extend(field("Groups:", usize::MAX)?);
    Some(Ids { uids, gids })
}

/// Could one of `users` have written the file the tracer reaches at
/// `at` (`/proc/PID/root/…`, as `resolve` gives it), or renamed another
/// into its place? `shown` is the path as the tracee named it.
fn reach(at: &str, shown: &str, users: &Ids) -> Option<String> {
    let meta = match std::fs::metadata(at) {
        Ok(m) => m,
        Err(e) => return Some(format!("{shown}: {e}")),
    };
    if let Some(why) = open_to(&meta, users, false) {
        return Some(format!("{shown} is {why}"));
    }
    // A descriptor or a cwd link: the directory it is in is not known.
    let Some(rest) = under_root(at) else {
        return Some(format!("{shown} runs from a descriptor, not a path"));
    };
    let root = &at[..at.len() - rest.len()];
    let mut dir = std::path::Path::new(rest).parent();
    while let Some(d) = dir {
        let full = format!("{root}{}", d.display());
        let m = match std::fs::metadata(&full) {
            Ok(m) => m,
            Err(e) => return Some(format!("{}: {e}", d.display())),
        };
        if let Some(why) = open_to(&m, users, true) {
            return Some(format!("{shown} is in {}, {why}", d.display()));
        }
        dir = d.parent();
    }
    None
}

/// `/a/b` of `/proc/N/root/a/b` (`/` for the root itself).
fn under_root(at: &str) -> Option<&str> {
    let rest = at.strip_prefix("/proc/")?;
    let (n, rest) = rest.split_once('/')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.strip_prefix("root")?;
    if rest.is_empty() {
        return Some("/");
    }
    rest.starts_with('/').then_some(rest)
}

fn open_to(m: &std::fs::Metadata, who: &Ids, dir: bool) -> Option<String> {
    if who.uids.contains(&m.uid()) {
        return Some(format!("owned by uid {}, the program's own user", m.uid()));
    }
    let sticky = dir && m.mode() & STICKY != 0;
    let group = m.mode() & 0o020 != 0 && who.gids.contains(&m.gid());
    if (group || m.mode() & 0o002 != 0) && !sticky {
        return Some(format!(
            "writable by {} (mode {:o})",
            if group {
                format!("its group {}", m.gid())
            } else {
                "others".to_string()
            },
            m.mode() & 0o7777
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{open_to, reach, under_root, Ids};

    fn user(uid: u32, gids: &[u32]) -> Ids {
        Ids {
            uids: vec![uid, uid],
            gids: gids.to_vec(),
        }
    }
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_path_below_a_tracees_root() {
        for (at, want) in [
            ("/proc/12/root/usr/bin/aws", Some("/usr/bin/aws")),
            ("/proc/12/root", Some("/")),
            ("/proc/12/fd/3", None),
            ("/proc/12/rootx/a", None),
            ("/proc/self/root/a", None),
            ("/usr/bin/aws", None),
        ] {
            assert_eq!(under_root(at), want, "{at}");
        }
    }

    #[test]
    fn a_file_its_user_owns_or_others_can_write_is_out() {
        let dir = std::env::temp_dir().join(format!("guard-holder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("aws");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        let m = std::fs::metadata(&f).unwrap();
        let (me, group) = (m.uid(), m.gid());
        assert!(open_to(&m, &user(me, &[]), false).is_some());
        assert!(open_to(&m, &user(me + 1, &[]), false).is_none());
        // Group-writable matters to the group's members only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o775)).unwrap();
        let m = std::fs::metadata(&f).unwrap();
        assert!(open_to(&m, &user(me + 1, &[group]), false).is_some());
        assert!(open_to(&m, &user(me + 1, &[group + 1]), false).is_none());
        // The system's own programs are nobody's but root's to change.
        let at = format!("/proc/{}/root/bin/sh", std::process::id());
        assert!(reach(&at, "/bin/sh", &user(me + 1, &[])).is_none());
        let why = reach(&at, "/bin/sh", &user(0, &[])).expect("root's own file");
        assert!(why.contains("owned by uid 0"), "{why}");
        // /tmp is open to all, but sticky: only a file's owner may
        // replace what it holds.
        let tmp = std::fs::metadata("/tmp").unwrap();
        if tmp.mode() & 0o1000 != 0 {
            assert!(open_to(&tmp, &user(tmp.uid() + 1, &[]), true).is_none());
            assert!(open_to(&tmp, &user(tmp.uid() + 1, &[]), false).is_some());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
