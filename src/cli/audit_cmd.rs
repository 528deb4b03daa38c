//! `guard audit verify | tail | show | anchor`: reading the log in the
//! state directory (`$GUARD_STATE_DIR`).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::audit::{chain, query, verify};

#[derive(Subcommand, Debug)]
pub(super) enum AuditCmd {
    /// Re-walk the hash chain. Names the first broken link with its line
    /// and reason. Exit 0 only when everything checks out.
    Verify {
        /// Files in chain order (default: the rotated logs, oldest first,
        /// then audit.jsonl).
        files: Vec<PathBuf>,
        /// A head exported earlier (`guard audit anchor`) that must still
        /// be one of the records.
        #[arg(long, value_name = "HASH")]
        anchor: Option<String>,
    },
    /// Print the newest records; with -f keep printing new ones.
    Tail {
        /// Follow the log as it grows (and rotates).
        #[arg(short = 'f', long)]
        follow: bool,
        /// How many records to print first.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
        /// Raw JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the records that match every filter given.
    Show {
        #[arg(long, value_name = "ID")]
        session: Option<String>,
        /// RFC 3339 time, or an age such as 10m or 2h.
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// allow, deny, event or exit.
        #[arg(long, value_name = "D")]
        decision: Option<String>,
        /// Raw JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// Each session's purpose, its lines, and the programs each line
        /// started and how each was decided.
        #[arg(long)]
        tree: bool,
    },
    /// Print the chain head (SHA-256 of the newest record) for an
    /// external store.
    Anchor,
}

pub(super) fn run(cmd: AuditCmd, dir: Option<PathBuf>) -> i32 {
    let Some(dir) = dir.or_else(crate::state::dir) else {
        eprintln!("guard: no state directory (set GUARD_STATE_DIR)");
        return 2;
    };
    match cmd {
        AuditCmd::Verify { files, anchor } => verify_cmd(&dir, files, anchor.as_deref()),
        AuditCmd::Tail {
            follow,
            lines,
            json,
        } => tail(&dir, follow, lines, json),
        AuditCmd::Show {
            session,
            tree: true,
            json,
            ..
        } => {
            let text = all_text(&dir);
            let sessions = query::tree(query::parse(&text), session.as_deref());
            let text = if json {
                match serde_json::to_string(&sessions) {
                    Ok(j) => j + "\n",
                    Err(e) => {
                        eprintln!("guard: {e}");
                        return 2;
                    }
                }
            } else {
                query::render_tree(&sessions)
            };
            // A closed pipe (`| head`) ends the listing quietly.
            use std::io::Write as _;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            0
        }
        AuditCmd::Show {
            session,
            since,
            decision,
            json,
            tree: false,
        } => {
            let since = match since.as_deref().map(query::since).transpose() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("guard: {e}");
                    return 2;
                }
            };
            let filter = query::Filter {
                session,
                since,
                decision,
            };
            show(&dir, &filter, json)
        }
        AuditCmd::Anchor => match chain::head_in(&dir) {
            Some(h) => {
                println!("{h}");
                0
            }
            None => {
                eprintln!("guard: no audit records in {}", dir.display());
                1
            }
        },
    }
}

fn verify_cmd(dir: &Path, files: Vec<PathBuf>, anchor: Option<&str>) -> i32 {
    let files = if files.is_empty() {
        chain::files(dir)
    } else {
        files
    };
    if files.is_empty() {
        eprintln!("guard: no audit log in {}", dir.display());
        return 2;
    }
    match verify::verify(&files, anchor) {
        Ok(r) => {
            println!(
                "ok: {} records in {} file{}, head {}",
                r.records,
                r.files,
                if r.files == 1 { "" } else { "s" },
                r.head.as_deref().unwrap_or("(empty)")
            );
            0
        }
        Err(verify::VerifyError::Broken(b)) => {
            println!("broken: {b}");
            1
        }
        Err(e) => {
            eprintln!("guard: {e}");
            2
        }
    }
}

/// Every record of every file of the chain, oldest first.
fn all_text(dir: &Path) -> String {
    chain::read_all(dir)
}

/// A closed pipe (`| head`) ends the listing quietly: hence the result.
fn print_record(line: &str, json: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{line}")
    } else if let Ok(v) = serde_json::from_str(line) {
        writeln!(out, "{}", query::row(&v))
    } else {
        Ok(())
    }
}

fn header(json: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    if json {
        return Ok(());
    }
    writeln!(std::io::stdout().lock(), "{}", query::HEADER)
}

fn show(dir: &Path, filter: &query::Filter, json: bool) -> i32 {
    let text = all_text(dir);
    if header(json).is_err() {
        return 0;
    }
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if filter.keeps(&v) && print_record(line, json).is_err() {
            return 0;
        }
    }
    0
}

fn tail(dir: &Path, follow: bool, n: usize, json: bool) -> i32 {
    let live = dir.join(crate::audit::LOG);
    let text = std::fs::read_to_string(&live).unwrap_or_default();
    if header(json).is_err() {
        return 0;
    }
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(n)..] {
        if print_record(line, json).is_err() {
            return 0;
        }
    }
    if !follow {
        return 0;
    }
    let mut offset = text.len() as u64;
    let mut pending = String::new();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let Ok(mut f) = std::fs::File::open(&live) else {
            continue;
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        // Rotated: the live file started again from empty.
        if len < offset {
            offset = 0;
            pending.clear();
        }
        if len == offset || f.seek(SeekFrom::Start(offset)).is_err() {
            continue;
        }
        let mut more = String::new();
        if f.read_to_string(&mut more).is_err() {
            continue;
        }
        offset += more.len() as u64;
        pending.push_str(&more);
        while let Some(i) = pending.find('\n') {
            let line: String = pending.drain(..=i).collect();
            if print_record(line.trim_end(), json).is_err() {
                return 0;
            }
        }
    }
}
