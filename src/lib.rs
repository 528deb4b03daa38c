//! guard: authorize credential use at the point of use.
//!
//! The modules follow the data flow of one command line:
//! `parse` → `unwrap` (via `analyze`) → `facts` → `rules`/`policy` (the
//! pure engine) → `gate` (session, approval, credentials, audit) →
//! `exec`. The trust split has its own places: `broker/` is the trusted
//! side (the reference monitor), `client/` the untrusted shell that asks
//! it, `wire/` what they say. `cli` only wires them together.

pub mod actor;
pub mod analyze;
pub mod approve;
pub mod approver;
pub mod audit;
pub mod boundary;
pub mod broker;
pub mod cli;
pub mod client;
pub mod command;
pub mod creds;
pub mod cwd;
pub mod detect;
pub mod env_once;
pub mod exec;
pub mod facts;
pub mod fileview;
pub mod gate;
pub mod glob;
pub mod hex;
pub mod hook;
pub mod inventory;
pub mod panic_note;
pub mod parse;
pub mod policy;
pub mod python;
pub mod report;
pub mod rules;
pub mod session;
pub mod snapshot;
pub mod state;
pub mod supervise;
pub mod trace;
pub mod transfer;
pub mod trust;
pub mod unwrap;
pub mod wire;

/// The shell front's parts (`src/front/`), compiled here as well so that
/// their unit tests run against the real client's and clippy reads them;
/// the front itself is built by `build.rs`, with no C library.
#[cfg(test)]
extern crate alloc;
#[cfg(test)]
#[path = "front"]
#[allow(dead_code)]
mod front {
    #[cfg(test)]
    mod agrees;
    pub mod conf;
    pub mod files;
    pub mod json;
    pub mod launch;
    pub mod sys;
    pub mod talk;
    pub mod verdict;
}
