//! What the front must know before it may speak for guard: the shape of
//! its own command line, the admin settings (from root-owned files only,
//! as `src/trust.rs` checks them) and the broker user's uid. Whenever any
//! of it is not the plain case, the answer is `Delegate`: the full guard
//! binary handles it, with every check it has.

use alloc::string::String;
use alloc::vec::Vec;

use super::sys;

/// The front is not the one to run this: exec the full binary.
#[derive(Debug, PartialEq, Eq)]
pub struct Delegate;

/// `guard -c STRING [NAME ARGS…]`, with `-l`/`--login` and `-lc`.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    pub login: bool,
    pub text: String,
    pub rest: Vec<Vec<u8>>,
}

/// The one shape the front runs itself; anything else (`--`, a script,
/// stdin, interactive, options for bash, subcommands) is delegated.
pub fn line(argv0: &[u8], args: &[&[u8]]) -> Result<Line, Delegate> {
    let mut login = argv0.first() == Some(&b'-');
    let mut command = false;
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            b"--login" | b"-l" => login = true,
            b"-c" => command = true,
            b"-lc" | b"-cl" => {
                login = true;
                command = true;
            }
            _ => break,
        }
        i += 1;
    }
    if !command || i >= args.len() {
        return Err(Delegate);
    }
    let text = core::str::from_utf8(args[i]).map_err(|_| Delegate)?;
    // `-c -x CMD` is an option and then the script, to bash and to the
    // full client's parser: the front parses neither.
    if text.starts_with(['-', '+']) {
        return Err(Delegate);
    }
    Ok(Line {
        login,
        text: String::from(text),
        rest: args[i + 1..].iter().map(|a| a.to_vec()).collect(),
    })
}

/// The broker to ask, from the admin config.
#[derive(Debug, PartialEq, Eq)]
pub struct Broker {
    pub socket: String,
    pub user: String,
    pub timeout_ms: u64,
}

pub const DEFAULT_USER: &str = "guard";
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
const STICKY: u32 = 0o1000;

/// `src/trust.rs::admin_file`: the file and every directory above where
/// it really is owned by root and writable by nobody else (a root-owned
/// sticky directory is fine). `Err(Missing)` when there is no such file.
pub fn admin_file(path: &[u8]) -> Result<Vec<u8>, Trust> {
    let fd = match sys::open(path, sys::O_RDONLY | sys::O_CLOEXEC) {
        Ok(fd) => fd,
        Err(sys::ENOENT) => return Err(Trust::Missing),
        Err(_) => return Err(Trust::Bad),
    };
    let out = checked(fd);
    sys::close(fd);
    out
}

#[derive(Debug, PartialEq, Eq)]
pub enum Trust {
    Missing,
    Bad,
}

fn safe(st: &sys::Stat) -> bool {
    st.uid == 0 && st.mode & 0o022 == 0
}

/// Filesystems whose owners and modes mean what they say: on them, a
/// root-owned file was written by root. The front takes admin settings
/// from these only; anything else (`/proc/PID/cmdline` of a setuid
/// program is root's and says what its caller chose, a FUSE daemon
/// says what it likes) goes to the full binary, which knows the rest
/// (`trust::ordinary_fs`).
const ORDINARY_FS: &[u64] = &[
    0xEF53,      // ext2/3/4
    0x5846_5342, // xfs
    0x9123_683E, // btrfs
    0x0102_1994, // tmpfs
    0x794C_7630, // overlayfs
];

fn checked(fd: i32) -> Result<Vec<u8>, Trust> {
    let st = sys::fstat(fd).map_err(|_| Trust::Bad)?;
    if !st.is_file() || !safe(&st) {
        return Err(Trust::Bad);
    }
    let fs = sys::fs_type(fd).map_err(|_| Trust::Bad)?;
    if !ORDINARY_FS.contains(&fs) {
        return Err(Trust::Bad);
    }
    let mut link = Vec::from(&b"/proc/self/fd/"[..]);
    super::json::int(&mut link, fd as u64);
    let real = sys::readlink(&link).map_err(|_| Trust::Bad)?;
    if real.first() != Some(&b'/') {
        return Err(Trust::Bad);
    }
    let mut dir = parent(&real);
    while let Some(d) = dir {
        let m = sys::stat(d, true).map_err(|_| Trust::Bad)?;
        let sticky_root = m.mode & STICKY != 0 && m.uid == 0;
        if !sticky_root && !safe(&m) {
            return Err(Trust::Bad);
        }
        dir = parent(d);
    }
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sys::read(fd, &mut buf) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => return Err(Trust::Bad),
        }
    }
}

/// `/a/b` → `/a` → `/` → none.
fn parent(p: &[u8]) -> Option<&[u8]> {
    if p == b"/" {
        return None;
    }
    let i = p.iter().rposition(|&b| b == b'/')?;
    Some(if i == 0 { &p[..1] } else { &p[..i] })
}

/// The broker keys of an admin file, read as `client::settings::scan`
/// reads them: top-level `key: value` lines. Only plain values are taken
/// here; a quoted, flow-style or otherwise unusual file is delegated, and
/// so is a file that names no broker (embedded mode).
pub fn broker(text: &[u8]) -> Result<Broker, Delegate> {
    let text = core::str::from_utf8(text).map_err(|_| Delegate)?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---");
    if first.is_some_and(|l| l.starts_with('{')) {
        return Err(Delegate);
    }
    let mut socket = None;
    let mut user = None;
    let mut timeout_ms = DEFAULT_TIMEOUT_MS;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if !matches!(
            key,
            "broker" | "broker_user" | "broker_timeout" | "exec_tree"
        ) {
            continue;
        }
        let v = plain(value).ok_or(Delegate)?;
        match key {
            "broker" if v.starts_with('/') => socket = Some(String::from(v)),
            "broker_user" => user = Some(String::from(a_string(v).ok_or(Delegate)?)),
            "broker_timeout" => timeout_ms = millis(v).ok_or(Delegate)?,
            "exec_tree" if matches!(v, "on" | "off" | "true" | "false" | "yes" | "no") => {}
            _ => return Err(Delegate),
        }
    }
    Ok(Broker {
        socket: socket.ok_or(Delegate)?,
        user: user.unwrap_or_else(|| String::from(DEFAULT_USER)),
        timeout_ms,
    })
}

/// A YAML plain scalar of the simplest kind (no quotes, no escapes, no
/// indicator first), with an optional comment after it.
fn plain(value: &str) -> Option<&str> {
    let v = value.trim();
    let v = match v.find(" #").or_else(|| v.find("\t#")) {
        Some(i) => v[..i].trim_end(),
        None => v,
    };
    let ok = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-' | b'+'))
        && !matches!(v.as_bytes()[0], b'.' | b'-' | b'+');
    ok.then_some(v)
}

/// A plain scalar that YAML reads as a string, not a number, null or
/// boolean.
fn a_string(v: &str) -> Option<&str> {
    let ok = !v.as_bytes()[0].is_ascii_digit()
        && !matches!(
            v,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        );
    ok.then_some(v)
}

/// `5s`, `500ms`, `2m`: the durations the front reads itself.
fn millis(v: &str) -> Option<u64> {
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = digits.parse().ok()?;
    match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        _ => None,
    }
}

/// The uid of `user` from `/etc/passwd`; a user only NSS knows is the
/// full binary's to look up.
pub fn uid_in(passwd: &[u8], user: &str) -> Option<u32> {
    passwd.split(|&b| b == b'\n').find_map(|l| {
        let mut f = l.split(|&b| b == b':');
        if f.next()? != user.as_bytes() {
            return None;
        }
        f.next()?;
        core::str::from_utf8(f.next()?).ok()?.parse().ok()
    })
}

/// Variables whose values every decide carries (`wire::BASE_ENV`).
pub const BASE_ENV: &[&str] = &[
    "HOME",
    "PATH",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "KUBECONFIG",
];
/// `client::ENV_BUDGET`.
pub const ENV_BUDGET: usize = 128 * 1024;

/// The environment as (name, value) pairs, when the broker can be sent
/// every value: else the full binary, which scans the rest itself.
pub fn environment<'a>(envp: &[&'a [u8]]) -> Result<Vec<(&'a str, &'a str)>, Delegate> {
    let mut out = Vec::with_capacity(envp.len());
    let mut used = 0;
    for e in envp {
        let e = core::str::from_utf8(e).map_err(|_| Delegate)?;
        let (k, v) = e.split_once('=').ok_or(Delegate)?;
        if k == "SSH_ORIGINAL_COMMAND" {
            return Err(Delegate);
        }
        if !BASE_ENV.contains(&k) {
            used += k.len() + v.len();
            if used > ENV_BUDGET {
                return Err(Delegate);
            }
        }
        out.push((k, v));
    }
    // A name given twice: the full binary keeps the first of each
    // (`env_once`) before it decides; the front does not try.
    let mut names: Vec<&str> = out.iter().map(|(k, _)| *k).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(Delegate);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_plain_line_shapes_are_the_fronts() {
        let l = line(b"guard", &[b"-c", b"ls /"]).unwrap();
        assert_eq!((l.login, l.text.as_str(), l.rest.len()), (false, "ls /", 0));
        let l = line(b"-guard", &[b"-c", b"ls", b"name", b"a"]).unwrap();
        assert!(l.login);
        assert_eq!(l.rest, vec![b"name".to_vec(), b"a".to_vec()]);
        assert!(line(b"guard", &[b"-lc", b"true"]).unwrap().login);
        let l = line(b"guard", &[b"-c", b"-l", b"true"]).unwrap();
        assert!(l.login && l.text == "true");
        for delegated in [
            &[&b"--"[..], b"ls"][..],
            &[b"-c"],
            &[b"-ic", b"ls"],
            &[b"-e", b"-c", b"ls"],
            &[b"script.sh"],
            &[b"check", b"-c", b"ls"],
            &[],
            &[b"-c", b"\xff"],
            &[b"-c", b"-x", b"curl x | sh"],
            &[b"-c", b"+x", b"curl x | sh"],
            &[b"-c", b"--", b"-x"],
            &[b"-c", b"-o", b"pipefail", b"ls"],
        ] {
            assert_eq!(line(b"guard", delegated), Err(Delegate), "{delegated:?}");
        }
    }

    /// `trust::unvouched_fs`, for the front: a root-owned file on a
    /// pseudo filesystem (`/proc/PID/cmdline` of a setuid program says
    /// what its caller chose) is no admin file; an ordinary one is.
    #[test]
    fn only_an_ordinary_filesystem_vouches_for_an_admin_file() {
        for pseudo in [
            &b"/proc/self/cmdline"[..],
            b"/proc/self/status",
            b"/sys/kernel/uevent_seqnum",
        ] {
            assert_eq!(admin_file(pseudo), Err(Trust::Bad), "{pseudo:?}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "broker: /run/guard/broker.sock\n").expect("write");
        let got = admin_file(file.to_str().expect("utf-8").as_bytes());
        if sys::getuid() == 0 {
            assert_eq!(got, Ok(b"broker: /run/guard/broker.sock\n".to_vec()));
        } else {
            assert_eq!(got, Err(Trust::Bad));
        }
    }

    #[test]
    fn broker_keys_are_read_as_the_full_scan_reads_them() {
        let b = broker(b"# c\nbroker: /run/guard/broker.sock  # the socket\nbroker_user: svc-guard\nrules:\n  - id: x\n    broker: not-this\nexec_tree: off\nbroker_timeout: 2s\n").unwrap();
        assert_eq!(b.socket, "/run/guard/broker.sock");
        assert_eq!(b.user, "svc-guard");
        assert_eq!(b.timeout_ms, 2000);
        let b = broker(b"broker: /tmp/b.sock\n").unwrap();
        assert_eq!((b.user.as_str(), b.timeout_ms), ("guard", 5000));
        for delegated in [
            &b"shell: /bin/bash\n"[..],
            b"{broker: /tmp/b.sock}",
            b"broker: \"/tmp/b.sock\"\n",
            b"broker: relative.sock\n",
            b"broker: /tmp/b.sock\nbroker_user: 123\n",
            b"broker: /tmp/b.sock\nbroker_user: null\n",
            b"broker: /tmp/b.sock\nbroker_user:\n",
            b"broker: /tmp/b.sock\nbroker_timeout: 1m30s\n",
            b"broker: /tmp/b.sock\nexec_tree: maybe\n",
        ] {
            assert_eq!(
                broker(delegated),
                Err(Delegate),
                "{}",
                String::from_utf8_lossy(delegated)
            );
        }
    }

    #[test]
    fn a_broker_user_is_found_in_passwd_or_not_at_all() {
        let passwd = b"root:x:0:0:root:/root:/bin/bash\nguard:x:998:998::/var/lib/guard:/usr/sbin/nologin\nguardian:x:5:5::/:/bin/sh\n";
        assert_eq!(uid_in(passwd, "guard"), Some(998));
        assert_eq!(uid_in(passwd, "root"), Some(0));
        assert_eq!(uid_in(passwd, "guar"), None);
        assert_eq!(uid_in(passwd, "nobody"), None);
    }

    #[test]
    fn an_environment_the_broker_cannot_be_sent_whole_is_delegated() {
        let env = environment(&[b"HOME=/h", b"A=b=c"]).unwrap();
        assert_eq!(env, vec![("HOME", "/h"), ("A", "b=c")]);
        assert_eq!(
            environment(&[b"AWS_PROFILE=prod", b"HOME=/h", b"AWS_PROFILE=dev"]),
            Err(Delegate)
        );
        assert_eq!(environment(&[b"SSH_ORIGINAL_COMMAND=ls"]), Err(Delegate));
        assert_eq!(environment(&[b"X=\xff"]), Err(Delegate));
        let big = [b'x'; ENV_BUDGET + 10];
        let mut e = b"BIG=".to_vec();
        e.extend_from_slice(&big);
        assert_eq!(environment(&[&e]), Err(Delegate));
        let mut path = b"PATH=".to_vec();
        path.extend_from_slice(&big);
        assert!(environment(&[&path]).is_ok());
    }
}
