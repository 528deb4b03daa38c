//! Wiring: shell mode (what sshd, su and harnesses call) or admin mode.

mod admin;
pub mod flags;
mod shell;

use std::ffi::OsString;

/// Words that select admin mode when they are the first argument.
const ADMIN: &[&str] = &[
    "check",
    "rules",
    "completions",
    "man",
    "help",
    "--help",
    "-h",
    "--version",
    "-V",
];

pub fn main() -> i32 {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = if args.is_empty() {
        OsString::from("guard")
    } else {
        args.remove(0)
    };
    let admin = args
        .first()
        .and_then(|a| a.to_str())
        .is_some_and(|a| ADMIN.contains(&a));
    if admin {
        admin::run(argv0, args)
    } else {
        shell::run(&argv0, &args)
    }
}

pub use admin::command as clap_command;
