//! File transfer and git over ssh, recognised exactly.
//!
//! sshd hands the shell what the client asked for: `scp -t PATH`,
//! `rsync --server … . PATH`, `git-upload-pack 'PATH'`, or the sftp
//! subsystem's server binary. Each is recognised from the parsed argv, never
//! by substring, and becomes a fact that rules decide on like any other.

use crate::command::Command;
use crate::facts::normalize;
use crate::glob::Glob;
use crate::rules::spec::TransferSpec;

pub const DEFAULT_SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Globs, `~` already expanded.
    pub paths: Vec<String>,
    pub sftp_server: String,
}

impl Settings {
    pub fn new(spec: Option<&TransferSpec>, home: &str) -> Settings {
        let paths = spec
            .and_then(|s| s.paths.clone())
            .unwrap_or_else(|| vec!["~/**".to_string()]);
        Settings {
            paths: paths
                .iter()
                .map(|p| match p.strip_prefix('~') {
                    Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                        format!("{home}{rest}")
                    }
                    _ => p.clone(),
                })
                .collect(),
            sftp_server: spec
                .and_then(|s| s.sftp_server.clone())
                .unwrap_or_else(|| DEFAULT_SFTP_SERVER.to_string()),
        }
    }

    fn allows(&self, path: &str) -> bool {
        self.paths.iter().any(|p| {
            let g = Glob::new(p);
            // `dir/**` covers `dir` itself too.
            g.matches(path) || g.matches(&format!("{path}/"))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `git`, `rsync`, `scp` or `sftp`.
    pub kind: &'static str,
    pub paths: Vec<String>,
    pub allowed: bool,
}

/// What transfer, if any, this command is.
pub fn recognise(cmd: &Command, settings: &Settings, home: &str, cwd: &str) -> Option<Transfer> {
    let argv: Vec<&str> = cmd.argv.iter().map(|w| w.text.as_str()).collect();
    let first = *argv.first()?;
    let program = cmd.program();
    let (kind, raw_paths): (&'static str, Vec<&str>) = if first == settings.sftp_server {
        ("sftp", Vec::new())
    } else if matches!(
        program,
        "git-upload-pack" | "git-receive-pack" | "git-upload-archive"
    ) {
        ("git", operands(&argv[1..]))
    } else if program == "git"
        && matches!(
            argv.get(1),
            Some(&("upload-pack" | "receive-pack" | "upload-archive"))
        )
    {
        ("git", operands(&argv[2..]))
    } else if program == "rsync" && argv.get(1) == Some(&"--server") {
        // `rsync --server [--sender] OPTIONS . PATH…`: paths follow the `.`.
        let dot = argv.iter().position(|a| *a == ".")?;
        ("rsync", argv[dot + 1..].to_vec())
    } else if program == "scp" && argv[1..].iter().any(|a| is_scp_server_flag(a)) {
        ("scp", operands(&argv[1..]))
    } else {
        return None;
    };
    let paths: Vec<String> = raw_paths
        .iter()
        .map(|p| {
            let p = match p.strip_prefix('~') {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
                _ => p.to_string(),
            };
            if p.starts_with('/') {
                normalize(&p)
            } else {
                normalize(&format!("{cwd}/{p}"))
            }
        })
        .collect();
    let allowed = !paths.is_empty()
        && !cmd.argv.iter().any(|w| w.dynamic || w.glob)
        && paths.iter().all(|p| settings.allows(p));
    Some(Transfer {
        kind,
        paths,
        allowed,
    })
}

fn operands<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter()
        .copied()
        .filter(|a| !a.starts_with('-'))
        .collect()
}

/// scp's undocumented server side: `-t` (sink) and `-f` (source), alone or
/// clustered with its other one-letter switches.
fn is_scp_server_flag(arg: &str) -> bool {
    arg.strip_prefix('-')
        .filter(|f| !f.starts_with('-'))
        .is_some_and(|f| {
            f.chars().all(|c| c.is_ascii_alphanumeric()) && (f.contains('t') || f.contains('f'))
        })
}
