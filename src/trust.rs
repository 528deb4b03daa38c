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
    if let Some(why) = unvouched_fs(&file, &meta) {
        return Err(untrusted(path, why));
    }
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

/// Pseudo filesystems, where a file's owner is not who chose what it
/// says: `/proc/PID/cmdline` of a setuid program waiting at a prompt is
/// root's, mode 0444, and holds whatever arguments its caller gave it.
const PSEUDO_FS: &[(i64, &str)] = &[
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0xcafe_4a11, "bpf"),
    (0x6265_6570, "configfs"),
    (0xde5e_81e4, "efivarfs"),
    (0x6165_676c, "pstore"),
    (0x1cd1, "devpts"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x6e73_6673, "nsfs"),
    (0x1980_0202, "mqueue"),
    (0x0187, "autofs"),
    (0xf97c_ff8c, "selinuxfs"),
];

const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

/// Why the filesystem `file` is on cannot vouch for its owner, if it
/// cannot: a pseudo filesystem, or FUSE mounted by anyone but root (its
/// daemon reports whatever owner it likes, and `fusermount` lets any
/// user mount one on a directory of theirs, under `/tmp` too).
fn unvouched_fs(file: &std::fs::File, meta: &std::fs::Metadata) -> Option<String> {
    let fs = match nix::sys::statfs::fstatfs(file) {
        Ok(fs) => fs,
        Err(e) => return Some(format!("cannot tell what filesystem it is on: {e}")),
    };
    let kind = fs.filesystem_type().0 as i64;
    if let Some((_, name)) = PSEUDO_FS.iter().find(|(m, _)| *m == kind) {
        return Some(format!(
            "on {name}, where a root-owned file holds what others chose"
        ));
    }
    if kind != FUSE_SUPER_MAGIC {
        return None;
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    match fuse_owner(&mounts, meta.dev()) {
        Some(0) => None,
        Some(uid) => Some(format!(
            "on a FUSE filesystem mounted by uid {uid}, whose daemon says who owns its files"
        )),
        None => Some("on a FUSE filesystem whose owner cannot be told".to_string()),
    }
}

/// Who mounted the FUSE filesystem of device `dev`, from `mountinfo`:
/// the `user_id=` of a `fuse`/`fuseblk` mount. Other filesystems that
/// report FUSE's type (virtiofs) only root can mount.
fn fuse_owner(mountinfo: &str, dev: u64) -> Option<u32> {
    let want = format!(
        "{}:{}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev)
    );
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(2) == Some(want.as_str()))?;
    let (_, tail) = line.split_once(" - ")?;
    let mut fields = tail.split(' ');
    let fstype = fields.next()?;
    let opts = fields.nth(1)?;
    if !(fstype == "fuse" || fstype == "fuseblk" || fstype.starts_with("fuse.")) {
        return Some(0);
    }
    opts.split(',')
        .find_map(|o| o.strip_prefix("user_id="))
        .and_then(|u| u.parse().ok())
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

#[cfg(test)]
mod tests {
    use super::{fuse_owner, unvouched_fs};

    fn verdict(path: &str) -> Option<String> {
        let f = std::fs::File::open(path).expect(path);
        let m = f.metadata().expect("metadata");
        unvouched_fs(&f, &m)
    }

    /// A file whose owner did not choose what it says is no admin file,
    /// however root-owned it looks; an ordinary file's owner speaks for it.
    #[test]
    fn pseudo_filesystems_cannot_vouch_for_a_file() {
        for path in [
            "/proc/self/cmdline",
            "/proc/self/status",
            "/sys/kernel/uevent_seqnum",
        ] {
            let why = verdict(path).unwrap_or_else(|| panic!("{path} was taken as ordinary"));
            assert!(
                why.contains("proc") || why.contains("sysfs"),
                "{path}: {why}"
            );
        }
        assert_eq!(verdict("/etc/passwd"), None);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "broker: /run/guard/broker.sock\n").expect("write");
        assert_eq!(verdict(file.to_str().expect("utf-8")), None);
    }

    /// FUSE's daemon reports the owners it likes: only a mount made by
    /// root vouches, and a FUSE-typed filesystem only root can mount
    /// (virtiofs) does too.
    #[test]
    fn a_fuse_mount_vouches_only_when_root_made_it() {
        let dev = nix::sys::stat::makedev(0, 53);
        let info = |fstype: &str, opts: &str| {
            format!(
                "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                 90 22 0:53 / /tmp/x rw,nosuid,nodev,relatime shared:50 - {fstype} src {opts}\n"
            )
        };
        let cases: &[(&str, &str, Option<u32>)] = &[
            ("fuse.sshfs", "rw,user_id=1000,group_id=1000", Some(1000)),
            ("fuse", "rw,user_id=0,group_id=0,allow_other", Some(0)),
            ("fuseblk", "rw,user_id=1001,group_id=1001", Some(1001)),
            ("fuse.x", "rw,group_id=0", None),
            ("virtiofs", "rw", Some(0)),
        ];
        for (fstype, opts, want) in cases {
            assert_eq!(
                fuse_owner(&info(fstype, opts), dev),
                *want,
                "{fstype} {opts}"
            );
        }
        // No such device in the table: nobody can say who mounted it.
        let other = nix::sys::stat::makedev(0, 99);
        assert_eq!(fuse_owner(&info("fuse", "user_id=0"), other), None);
    }
}
