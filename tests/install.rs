//! install.sh, run for real into a temp prefix and a temp root (`--root`
//! relocates /etc/shells, /etc/guard and /var/cache/guard), so that the
//! machine's own system files are never touched. The `--user` case
//! creates, changes and deletes a real user (`guardinst`) and needs root;
//! so does running the script as `nobody`. Without root, those two print
//! why on stderr and pass.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const USER: &str = "guardinst";

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temp prefix and a temp root for one install.
struct Install {
    prefix: tempfile::TempDir,
    root: tempfile::TempDir,
}

impl Install {
    fn new() -> Install {
        let install = Install {
            prefix: tempfile::tempdir().unwrap(),
            root: tempfile::tempdir().unwrap(),
        };
        // Another user may have to reach PREFIX/bin/guard as a login shell.
        fs::set_permissions(install.prefix.path(), fs::Permissions::from_mode(0o755)).unwrap();
        // A typical /etc/shells to start from.
        let etc = install.root.path().join("etc");
        fs::create_dir_all(&etc).unwrap();
        fs::write(etc.join("shells"), "# /etc/shells\n/bin/sh\n/bin/bash\n").unwrap();
        install
    }

    /// PREFIX/bin/guard: the shell front.
    fn dest(&self) -> PathBuf {
        self.prefix.path().join("bin/guard")
    }

    /// PREFIX/libexec/guard/guard: the full binary, which the units run.
    fn full(&self) -> PathBuf {
        self.prefix.path().join("libexec/guard/guard")
    }

    fn shells(&self) -> String {
        fs::read_to_string(self.root.path().join("etc/shells")).unwrap_or_default()
    }

    /// How many lines of ROOT/etc/shells are exactly PREFIX/bin/guard.
    fn shells_entries(&self) -> usize {
        let dest = self.dest().display().to_string();
        self.shells().lines().filter(|l| *l == dest).count()
    }

    /// `./install.sh --prefix PREFIX --root ROOT --binary GUARD ARGS…`
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(common::root().join("install.sh"))
            .arg("--prefix")
            .arg(self.prefix.path())
            .arg("--root")
            .arg(self.root.path())
            .arg("--binary")
            .arg(common::bin())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run install.sh");
        assert!(
            out.status.success(),
            "install.sh {args:?}: exit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }
}

/// The system files a relocated install must leave alone: whether
/// /etc/guard exists, and /etc/shells' text. (/var/cache/guard is not
/// among them: any guard run as root with a root-owned config caches there.)
fn system_files() -> (bool, String) {
    (
        Path::new("/etc/guard").exists(),
        fs::read_to_string("/etc/shells").unwrap_or_default(),
    )
}

fn login_shell(user: &str) -> Option<String> {
    let out = Command::new("getent")
        .args(["passwd", user])
        .output()
        .expect("getent");
    out.status.success().then(|| {
        text(&out.stdout)
            .trim_end()
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string()
    })
}

#[test]
fn install_into_a_prefix_and_root_is_idempotent_and_reversible() {
    let before = system_files();
    let t = Install::new();
    t.run(&[]);
    let dest = t.dest();
    let meta = fs::metadata(&dest).expect("PREFIX/bin/guard installed");
    assert!(meta.permissions().mode() & 0o111 != 0, "not executable");
    assert_eq!(
        fs::read(&dest).unwrap(),
        fs::read(common::front()).unwrap(),
        "PREFIX/bin/guard is not the shell front built beside --binary"
    );
    assert_eq!(
        fs::read(t.full()).unwrap(),
        fs::read(common::bin()).unwrap(),
        "PREFIX/libexec/guard/guard differs from --binary"
    );
    if !is_root() {
        // Without root nothing system-wide is touched, even under --root.
        assert_eq!(t.shells_entries(), 0, "{}", t.shells());
        assert!(!t.root.path().join("etc/guard").exists());
        t.run(&[]);
        t.run(&["--uninstall"]);
        assert!(!dest.exists(), "--uninstall left the binary");
        assert!(!t.full().exists(), "--uninstall left the full binary");
        return;
    }
    assert_eq!(t.shells_entries(), 1, "{}", t.shells());
    let etc = t.root.path().join("etc/guard");
    assert!(
        etc.join("config.yaml").is_file(),
        "ROOT/etc/guard/config.yaml"
    );
    assert!(etc.join("rules.d").is_dir(), "ROOT/etc/guard/rules.d");
    let units = t.root.path().join("etc/systemd/system");
    let service = std::fs::read_to_string(units.join("guard-reap@.service")).unwrap();
    assert!(
        service.contains(&format!("ExecStart={} session reap", t.full().display())),
        "{service}"
    );
    assert!(units.join("guard-reap@.timer").is_file());
    // The broker: its own user, private dirs, a socket-activated unit
    // with one capability, and a config that names its socket.
    let socket = fs::read_to_string(units.join("guard-broker.socket")).unwrap();
    assert!(
        socket.contains("ListenStream=/run/guard/broker.sock"),
        "{socket}"
    );
    assert!(socket.contains("SocketMode=0666"), "{socket}");
    let broker = fs::read_to_string(units.join("guard-broker.service")).unwrap();
    for want in [
        "User=guard".to_string(),
        "AmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH".to_string(),
        "CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH".to_string(),
        "NoNewPrivileges=yes".to_string(),
        format!("ExecStart={} broker", t.full().display()),
    ] {
        assert!(broker.contains(&want), "no {want} in {broker}");
    }
    assert!(!broker.contains("User=root"), "{broker}");
    let guard_uid = nix::unistd::User::from_name("guard")
        .unwrap()
        .expect("install.sh created the guard user")
        .uid
        .as_raw();
    for d in ["var/lib/guard", "var/log/guard"] {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(t.root.path().join(d)).unwrap();
        assert_eq!(m.uid(), guard_uid, "{d} belongs to guard");
        assert_eq!(m.mode() & 0o777, 0o700, "{d} is private");
    }
    let config = fs::read_to_string(etc.join("config.yaml")).unwrap();
    assert!(
        config.contains("\nbroker: /run/guard/broker.sock\n"),
        "{config}"
    );
    assert!(config.contains("\nbroker_user: guard\n"), "{config}");
    assert!(
        t.root.path().join("var/cache/guard").is_dir(),
        "ROOT/var/cache/guard"
    );
    // The installed guard accepts the config it was given (check decides
    // in-process, broker or not).
    let out = Command::new(&dest)
        .args(["check", "-c", "echo ok"])
        .env("GUARD_CONFIG", etc.join("config.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Again: nothing is added twice.
    t.run(&[]);
    assert_eq!(t.shells_entries(), 1, "{}", t.shells());

    t.run(&["--uninstall"]);
    assert!(!dest.exists(), "--uninstall left the binary");
    assert!(!units.join("guard-broker.service").exists());
    assert!(
        t.root.path().join("var/log/guard").is_dir(),
        "the audit log is kept"
    );
    assert_eq!(t.shells_entries(), 0, "{}", t.shells());
    assert_eq!(
        t.shells(),
        "# /etc/shells\n/bin/sh\n/bin/bash\n",
        "other shells must stay"
    );
    assert_eq!(system_files(), before, "--root must keep / untouched");
}

/// Deletes the user (and its home) however the test ends.
struct RemoveUser;

impl Drop for RemoveUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").args(["-r", USER]).output();
    }
}

#[test]
fn no_broker_leaves_embedded_mode() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let t = Install::new();
    t.run(&["--no-broker"]);
    let config = fs::read_to_string(t.root.path().join("etc/guard/config.yaml")).unwrap();
    assert!(!config.contains("broker:"), "{config}");
    assert!(!t
        .root
        .path()
        .join("etc/systemd/system/guard-broker.service")
        .exists());
    t.run(&["--uninstall"]);
}

#[test]
fn install_for_a_user_sets_and_resets_the_login_shell() {
    if !is_root() {
        eprintln!("skipped: needs root (creates the user {USER})");
        return;
    }
    // A leftover from an interrupted run.
    drop(RemoveUser);
    let _cleanup = RemoveUser;
    let before = system_files();
    let t = Install::new();
    let dest = t.dest().display().to_string();

    t.run(&["--user", USER, "--create-user"]);
    assert_eq!(login_shell(USER).as_deref(), Some(dest.as_str()));
    assert_eq!(t.shells_entries(), 1, "{}", t.shells());

    t.run(&["--user", USER, "--create-user"]);
    assert_eq!(login_shell(USER).as_deref(), Some(dest.as_str()));
    assert_eq!(t.shells_entries(), 1, "{}", t.shells());

    // The installed shell works as the user's login shell.
    if Path::new("/usr/bin/su").exists() || Path::new("/bin/su").exists() {
        let out = Command::new("su")
            .args(["-", USER, "-c", "echo installed-ok"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(text(&out.stdout), "installed-ok\n", "{}", text(&out.stderr));
    }

    t.run(&["--uninstall", "--user", USER]);
    assert_eq!(login_shell(USER).as_deref(), Some("/bin/bash"));
    assert!(!t.dest().exists());
    assert_eq!(t.shells_entries(), 0, "{}", t.shells());
    assert_eq!(system_files(), before, "--root must keep / untouched");
}

#[test]
fn refuses_without_root_unless_the_prefix_is_writable() {
    if !is_root() || !Path::new("/usr/sbin/runuser").exists() {
        eprintln!("skipped: needs root and runuser to run install.sh as nobody");
        return;
    }
    // Root-owned, so nobody cannot write it; the script is copied there
    // in case nobody cannot reach the checkout.
    let locked = tempfile::tempdir().unwrap();
    fs::set_permissions(locked.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let script = locked.path().join("install.sh");
    fs::copy(common::root().join("install.sh"), &script).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let cases: [(&str, Vec<String>); 2] = [
        ("no --prefix", vec![]),
        (
            "a prefix nobody cannot write",
            vec!["--prefix".into(), locked.path().display().to_string()],
        ),
    ];
    for (case, args) in cases {
        let out = Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&script)
            .args(&args)
            .arg("--binary")
            .arg(common::bin())
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{case}: install.sh succeeded: {err}");
        assert!(
            err.starts_with("install.sh: ") && (err.contains("root") || err.contains("writable")),
            "{case}: unclear refusal: {err:?}"
        );
        assert!(
            !locked.path().join("bin").exists(),
            "{case}: wrote into the prefix"
        );
    }
}
