//! guard: authorize credential use at the point of use.
//!
//! The modules follow the data flow of one command line:
//! `parse` → `unwrap` (via `analyze`) → `facts` → `rules`/`policy` →
//! `audit` → `exec`. `cli` only wires them together.

pub mod analyze;
pub mod approve;
pub mod approver;
pub mod audit;
pub mod boundary;
pub mod cli;
pub mod command;
pub mod creds;
pub mod detect;
pub mod exec;
pub mod facts;
pub mod glob;
pub mod hex;
pub mod inventory;
pub mod panic_note;
pub mod parse;
pub mod policy;
pub mod report;
pub mod rules;
pub mod session;
pub mod snapshot;
pub mod state;
pub mod supervise;
pub mod transfer;
pub mod unwrap;
