//! Credentials a session is granted: minted by their provider on first
//! use, cached for the session up to their TTL, injected only into the
//! environment of the command an approval covers, and revoked when the
//! session ends.
//!
//! Issued values live in `sessions/ID/creds/NAME.json` (0600) so that
//! teardown can hand them to the revoke helper even after a crash. They
//! are never written to the audit log or shown in a prompt.

pub mod aws_actions;
pub mod context;
pub mod import;
pub mod provider;
pub mod usage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rules::spec::CredentialSpec;
use crate::session::store::{private_subdir, write_private};
use crate::session::Session;

/// Default lifetime of minted values when a credential sets no `ttl`.
pub const DEFAULT_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Issued {
    credential: String,
    session: String,
    issued_at: String,
    expires_at: String,
    /// What the provider printed: the revoke helper gets these.
    values: BTreeMap<String, String>,
    /// What the command gets: variables, including materialised paths.
    env: BTreeMap<String, String>,
    revoke: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub credential: String,
    /// `revoked`, `no revoke command`, or the failure.
    pub outcome: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CredError {
    #[error("credential `{0}` is not defined in any config")]
    Undefined(String),
    #[error("credential `{0}`: {1}")]
    Provider(String, provider::ProviderError),
    #[error("credential `{0}`: provider gave no `{1}`")]
    Missing(String, String),
    #[error("credential `{0}`: cannot keep it for the session: {1}")]
    State(String, std::io::Error),
    #[error("credential `{0}`: session {1} ended before it could be issued")]
    Ended(String, String),
    #[error("credential `{0}` is not for user {1}")]
    NotForUser(String, String),
    #[error(
        "credential `{0}` is minted per command, and here there is no command to revoke it after"
    )]
    NoCommand(String),
    #[error("credential `{0}`: cannot watch the command to revoke it after: {1}")]
    Watch(String, std::io::Error),
}

/// The command a line's credentials are for.
pub struct Command {
    /// What each `scope: command` provider gets on stdin, by credential
    /// (schemas/credential-context.schema.json).
    pub contexts: BTreeMap<String, serde_json::Value>,
    /// The process whose end revokes a per-command credential.
    pub holder: Option<i32>,
}

static REMOTE_FILES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// In the broker, credential files are not written where the broker
/// keeps them (the agent cannot read there): their content goes to the
/// client, which writes them for the command.
pub fn set_remote_files() {
    REMOTE_FILES.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn remote_files() -> bool {
    REMOTE_FILES.load(std::sync::atomic::Ordering::SeqCst)
}

/// What a line is given.
#[derive(Debug, Default)]
pub struct Granted {
    pub env: Vec<(String, String)>,
    pub files: Vec<crate::wire::FileGrant>,
    pub warnings: Vec<String>,
}

/// The variables (and, in the broker, files) the named credentials give
/// a command of `session`, minting what is not cached or has expired.
pub fn grant(
    session: &Session,
    names: &[String],
    defs: &crate::session::settings::Settings,
    command: &Command,
) -> Result<Granted, CredError> {
    let mut out = Granted::default();
    let user = crate::actor::current().user.clone();
    for name in names {
        let def = defs
            .credential(name)
            .ok_or_else(|| CredError::Undefined(name.clone()))?;
        if !def.users.is_empty() && !def.users.contains(&user) {
            return Err(CredError::NotForUser(name.clone(), user));
        }
        let (issued, warning) = if def.scope.as_deref() == Some("command") {
            issued_for_command(session, def, command)?
        } else {
            issued(session, def)?
        };
        out.warnings.extend(warning);
        out.env.extend(issued.env.clone());
        if remote_files() {
            for f in &def.files {
                let content = issued
                    .values
                    .get(&f.from)
                    .ok_or_else(|| CredError::Missing(def.name.clone(), f.from.clone()))?;
                out.files.push(crate::wire::FileGrant {
                    credential: def.name.clone(),
                    env: f.env.clone(),
                    name: f.name.clone().unwrap_or_else(|| f.env.clone()),
                    dir: f.dir,
                    content: content.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Whether the session is still on: an approval can take minutes, and
/// the session may have ended meanwhile.
fn live(session: &Session) -> bool {
    crate::session::store::load(&session.id)
        .ok()
        .flatten()
        .is_some_and(|s| s.over().is_none())
}

/// A live session's state dir and its private `creds` dir.
fn creds_dir(session: &Session, def: &CredentialSpec) -> Result<(PathBuf, PathBuf), CredError> {
    let dir = crate::session::store::live_dir(&session.id).ok_or_else(|| {
        CredError::State(
            def.name.clone(),
            std::io::Error::other("no state directory"),
        )
    })?;
    let ended = || CredError::Ended(def.name.clone(), session.id.clone());
    if !live(session) {
        return Err(ended());
    }
    let creds = dir.join("creds");
    private_subdir(&creds).map_err(|_| ended())?;
    Ok((dir, creds))
}

/// How long an issue lives: its `ttl`, else `DEFAULT_TTL`.
fn ttl(def: &CredentialSpec) -> std::time::Duration {
    def.ttl
        .as_deref()
        .and_then(|t| crate::approve::settings::duration(t).ok())
        .unwrap_or(DEFAULT_TTL)
}

impl Issued {
    fn new(
        session: &Session,
        def: &CredentialSpec,
        values: BTreeMap<String, String>,
        now: jiff::Timestamp,
    ) -> Issued {
        Issued {
            credential: def.name.clone(),
            session: session.id.clone(),
            issued_at: now.to_string(),
            expires_at: now.to_string(),
            values,
            env: BTreeMap::new(),
            revoke: def.revoke.as_ref().map(|r| r.command.clone()),
        }
    }
}

/// Record a mint that could not be kept, and how revoking it went.
fn abandoned(session: &Session, def: &CredentialSpec, e: &CredError, outcome: &str) {
    crate::audit::event(
        "credential-revoked",
        &session.id,
        &format!(
            "credential {} could not be issued ({e}); {outcome}",
            def.name
        ),
    );
}

fn issued(session: &Session, def: &CredentialSpec) -> Result<(Issued, Option<String>), CredError> {
    let state = |e| CredError::State(def.name.clone(), e);
    let (dir, creds) = creds_dir(session, def)?;
    // Two commands of one session must not both mint.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(creds.join(format!(".{}.lock", def.name)))
        .map_err(state)?;
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| state(std::io::Error::from(e)))?;
    if !live(session) {
        return Err(CredError::Ended(def.name.clone(), session.id.clone()));
    }
    let path = creds.join(format!("{}.json", def.name));
    let now = jiff::Timestamp::now();
    if let Some(old) = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Issued>(&b).ok())
    {
        let fresh = old
            .expires_at
            .parse::<jiff::Timestamp>()
            .is_ok_and(|t| t > now);
        if fresh {
            return Ok((old, None));
        }
        let outcome = revoke(&old);
        crate::audit::event(
            "credential-expired",
            &session.id,
            &format!("credential {} expired; {outcome}", def.name),
        );
        let _ = std::fs::remove_file(&path);
    }
    let (values, warning) = provider::fetch(&def.name, &def.provider)
        .map_err(|e| CredError::Provider(def.name.clone(), e))?;
    let mut issued = Issued::new(session, def, values, now);
    // From here on something was minted: a failure revokes it at once.
    if let Err(e) = keep(&mut issued, def, &dir, &path, now, &def.name) {
        abandoned(session, def, &e, &revoke(&issued));
        return Err(e);
    }
    crate::audit::event(
        "credential-issued",
        &session.id,
        &format!("credential {} issued until {}", def.name, issued.expires_at),
    );
    Ok((issued, warning))
}

/// Mint a `scope: command` credential for one command: the provider gets
/// the command's context on stdin, nothing is cached for the session, and
/// a watcher revokes it when `command.holder` ends. The issue record sits
/// in the session's creds dir under a name of its own, so the session's
/// end revokes it too if the watcher never could.
fn issued_for_command(
    session: &Session,
    def: &CredentialSpec,
    command: &Command,
) -> Result<(Issued, Option<String>), CredError> {
    let holder = command
        .holder
        .ok_or_else(|| CredError::NoCommand(def.name.clone()))?;
    let (dir, creds) = creds_dir(session, def)?;
    let now = jiff::Timestamp::now();
    let slot = format!("{}@cmd-{holder}-{}", def.name, now.as_nanosecond());
    let path = creds.join(format!("{slot}.json"));
    let mut context = command
        .contexts
        .get(&def.name)
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    if let Some(o) = context.as_object_mut() {
        o.insert("credential".to_string(), serde_json::json!(def.name));
    }
    let input = serde_json::to_vec(&context).unwrap_or_default();
    let (values, warning) = provider::fetch_with(&def.name, &def.provider, Some(&input))
        .map_err(|e| CredError::Provider(def.name.clone(), e))?;
    let mut issued = Issued::new(session, def, values, now);
    let kept = keep(&mut issued, def, &dir, &path, now, &slot).and_then(|()| {
        watch(holder, &path, ttl(def)).map_err(|e| CredError::Watch(def.name.clone(), e))
    });
    if let Err(e) = kept {
        let outcome = match revoke_file(&path) {
            Some(r) => r.outcome,
            None => revoke(&issued),
        };
        abandoned(session, def, &e, &outcome);
        return Err(e);
    }
    crate::audit::event(
        "credential-issued",
        &session.id,
        &format!(
            "credential {} issued for one command (process {holder})",
            def.name
        ),
    );
    Ok((issued, warning))
}

/// Start the watcher that revokes the issue at `path` once `pid` ends:
/// `guard creds reap-command`, detached, so it outlives this process.
fn watch(pid: i32, path: &Path, ttl: std::time::Duration) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let mut c = std::process::Command::new(exe);
    c.args(["creds", "reap-command", "--pid", &pid.to_string(), "--file"])
        .arg(path)
        .args(["--ttl-ms", &ttl.as_millis().to_string()]);
    // The revoke is recorded where this process records (the broker's
    // audit dir is not the state dir).
    if let Some(dir) = crate::audit::dir() {
        c.arg("--audit-dir").arg(dir);
    }
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = c.spawn()?;
    // Reaped when it ends, so a long-lived broker gathers no zombies.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// `guard creds reap-command`: wait for `pid` to end, then revoke the
/// issue at `path` (unless the session's end already did).
/// `ttl` bounds the wait: a command that runs longer than its
/// credential's ttl loses it then.
pub fn reap_command(pid: i32, path: &Path, ttl: std::time::Duration) -> Option<Revocation> {
    // No pidfd: the process is already gone (or the kernel has none);
    // revoke now.
    if let Some(fd) = crate::broker::peer::pidfd_open(pid) {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&fd),
            nix::poll::PollFlags::POLLIN,
        )];
        let deadline = std::time::Instant::now() + ttl;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ms = u16::try_from(left.as_millis().min(60_000)).unwrap_or(60_000);
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
                Ok(0) if !left.is_zero() => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                _ => break,
            }
        }
    }
    let r = revoke_file(path)?;
    let session = path
        .parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::audit::event(
        "credential-revoked",
        &session,
        &format!(
            "credential {} revoked as its command ended; {}",
            r.credential, r.outcome
        ),
    );
    // Its materialised files, which the session's end would otherwise
    // be left to remove.
    if let (Some(live), Some(stem)) = (path.parent().and_then(Path::parent), path.file_stem()) {
        let _ = std::fs::remove_dir_all(live.join("files").join(stem));
    }
    Some(r)
}

/// Pick the variables, materialise the files and cache the issue in the
/// session.
fn keep(
    issued: &mut Issued,
    def: &CredentialSpec,
    dir: &Path,
    path: &Path,
    now: jiff::Timestamp,
    slot: &str,
) -> Result<(), CredError> {
    let state = |e| CredError::State(def.name.clone(), e);
    for entry in &def.env {
        let (var, key) = entry.split_once('=').unwrap_or((entry, entry));
        let value = issued
            .values
            .get(key)
            .ok_or_else(|| CredError::Missing(def.name.clone(), key.to_string()))?;
        issued.env.insert(var.to_string(), value.clone());
    }
    if !def.files.is_empty() && !remote_files() {
        let files = dir.join("files").join(slot);
        private_subdir(&dir.join("files")).map_err(state)?;
        private_subdir(&files).map_err(state)?;
        for f in &def.files {
            let content = issued
                .values
                .get(&f.from)
                .ok_or_else(|| CredError::Missing(def.name.clone(), f.from.clone()))?;
            let file = files.join(f.name.as_deref().unwrap_or(&f.env));
            write_private(&file, content.as_bytes()).map_err(state)?;
            let path = if f.dir { &files } else { &file };
            issued.env.insert(f.env.clone(), path.display().to_string());
        }
    }
    let expires = jiff::SignedDuration::try_from(ttl(def))
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(now);
    issued.expires_at = expires.to_string();
    let json = serde_json::to_vec(&*issued).map_err(|e| state(std::io::Error::other(e)))?;
    write_private(path, &json).map_err(state)
}

/// Run the revoke helper with the issued values as JSON on stdin.
fn revoke(issued: &Issued) -> String {
    let Some(argv) = &issued.revoke else {
        return "no revoke command".to_string();
    };
    let input = serde_json::json!({
        "credential": issued.credential,
        "session": issued.session,
        "issued_at": issued.issued_at,
        "expires_at": issued.expires_at,
        "values": issued.values,
    });
    let bytes = serde_json::to_vec(&input).unwrap_or_default();
    match provider::run(argv, Some(&bytes)) {
        Ok(_) => "revoked".to_string(),
        // Recorded in the session-end event and `ended/ID.json`, and
        // printed by `session end`; a reap must not put it on the stderr
        // of whatever unrelated command started guard.
        Err(e) => format!("revoke failed: {e}"),
    }
}

/// Revoke every credential issued into `dir`. Each file is claimed by a
/// rename first, so a credential is revoked once even if two teardowns
/// race.
pub fn revoke_all(dir: &Path) -> Vec<Revocation> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|name| revoke_file(&dir.join(name)))
        .collect()
}

/// Revoke the one issue recorded at `from`, claiming it by a rename
/// first; `None` if another teardown got there first.
pub fn revoke_file(from: &Path) -> Option<Revocation> {
    let dir = from.parent()?;
    let name = from.file_name()?.to_string_lossy().into_owned();
    let claimed = dir.join(format!(".{name}.revoking-{}", std::process::id()));
    std::fs::rename(from, &claimed).ok()?;
    let issued: Option<Issued> = std::fs::read(&claimed)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let credential = issued.as_ref().map_or_else(
        || name.trim_end_matches(".json").to_string(),
        |i| i.credential.clone(),
    );
    let outcome = match issued {
        Some(i) => revoke(&i),
        None => "unreadable issue record".to_string(),
    };
    if outcome.starts_with("revoke failed") {
        // Put it back: the session's end tries again.
        let _ = std::fs::rename(&claimed, from);
    } else {
        let _ = std::fs::remove_file(&claimed);
    }
    Some(Revocation {
        credential,
        outcome,
    })
}
