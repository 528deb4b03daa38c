//! Waking long-polls: a request's waiters are woken when it is decided,
//! in this process or (PostgreSQL) in another one sharing the database.
//! Pages listening for changes get every event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, Notify};

pub struct Hub {
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    /// `new:ID` and `decided:ID`, for the live page.
    pub events: broadcast::Sender<String>,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            waiters: Mutex::new(HashMap::new()),
            events: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
    /// The handle to wait on for `id`. Register before reading the
    /// request's state, so a decision between the two is not missed.
    pub fn register(&self, id: &str) -> Arc<Notify> {
        let mut w = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(w.entry(id.to_string()).or_default())
    }

    pub fn decided(&self, id: &str) {
        let n = {
            let mut w = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            w.remove(id)
        };
        if let Some(n) = n {
            n.notify_waiters();
        }
        let _ = self.events.send(format!("decided:{id}"));
    }

    pub fn arrived(&self, id: &str) {
        let _ = self.events.send(format!("new:{id}"));
    }

    /// An event from another process.
    pub fn heard(&self, payload: &str) {
        match payload.split_once(':') {
            Some(("decided", id)) => self.decided(id),
            Some(("new", id)) => self.arrived(id),
            _ => {}
        }
    }
}

/// Relay PostgreSQL notices to this process's waiters, for as long as the
/// process lives. sqlx's listener reconnects by itself; a poll re-checks
/// the database every few seconds anyway, so a gap only delays.
pub async fn listen(url: String, hub: Arc<Hub>) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut l) => {
                if let Err(e) = l.listen("guard_approver").await {
                    eprintln!("guard approver: LISTEN failed: {e}");
                } else {
                    loop {
                        match l.recv().await {
                            Ok(n) => hub.heard(n.payload()),
                            Err(e) => {
                                eprintln!("guard approver: lost the notice channel: {e}");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => eprintln!("guard approver: cannot listen for notices: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
