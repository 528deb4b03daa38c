//! The approver service: `guard approver serve` holds review requests
//! from guard (the webhook protocol), shows them to named reviewers on a
//! page and a JSON API, counts N-of-M approvals, and answers guard's
//! long-polls. State is in SQLite or PostgreSQL; reviewer actions go to a
//! hash-chained log `guard audit verify` checks.

pub mod auth;
pub mod client;
pub mod config;
pub mod notify;
pub mod policy;
pub mod serve;
pub mod shown;
pub mod store;
pub mod wake;
pub mod web;

use std::io::Read;

/// `guard approver user add NAME --database URL --password-stdin`.
pub fn add_user(name: &str, database: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(format!(
            "`{name}` is not a reviewer name (letters, digits, . _ - @)"
        ));
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.len() < 8 {
        return Err("the password must be at least 8 characters".to_string());
    }
    let hash = auth::hash_password(password)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let store = store::Store::open(database)
            .await
            .map_err(|e| e.to_string())?;
        store
            .add_reviewer(name, &hash)
            .await
            .map_err(|e| e.to_string())
    })
}
