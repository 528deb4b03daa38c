//! The message of the last panic, kept so that a caught panic can still be
//! reported in guard's one refusal line instead of the default multi-line
//! dump on stderr.

use std::sync::Mutex;

static LAST: Mutex<String> = Mutex::new(String::new());

pub fn record(message: &str) {
    if let Ok(mut last) = LAST.lock() {
        *last = message.replace(['\n', '\r'], " ");
    }
}

pub fn last() -> String {
    LAST.lock().map(|l| l.clone()).unwrap_or_default()
}
