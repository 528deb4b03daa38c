//! Wiring: shell mode (what sshd, su and harnesses call) or admin mode.

mod admin;
mod audit_cmd;
pub mod flags;
mod interactive;
mod remote;
mod run;
pub mod sessions;
mod shell;
mod status;

use std::ffi::OsString;

/// Flags that select admin mode; any other first word that is not a
/// subcommand of the clap definition is shell mode.
const ADMIN_FLAGS: &[&str] = &["--help", "-h", "--version", "-V"];

fn is_admin(first: &str) -> bool {
    if first.starts_with('-') {
        return ADMIN_FLAGS.contains(&first);
    }
    // Building the clap tree costs start-up time, so only when the first
    // word could be a subcommand at all.
    first == "help"
        || admin::command()
            .get_subcommands()
            .any(|c| c.get_name() == first)
}

pub fn main() -> i32 {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = if args.is_empty() {
        OsString::from("guard")
    } else {
        args.remove(0)
    };
    let admin = args.first().and_then(|a| a.to_str()).is_some_and(is_admin);
    if admin {
        admin::run(argv0, args)
    } else {
        shell::run(&argv0, &args)
    }
}

pub use admin::command as clap_command;
pub use status::ADVISORY;
