use std::panic::{catch_unwind, AssertUnwindSafe};

/// A panic is a bug, never a pass: whatever was being decided is refused
/// with one `guard:` line, and nothing runs.
fn main() {
    // Before anything reads the environment, and before any thread.
    guard::env_once::own();
    std::panic::set_hook(Box::new(|info| {
        guard::panic_note::record(&info.to_string())
    }));
    let code = match catch_unwind(AssertUnwindSafe(guard::cli::main)) {
        Ok(code) => code,
        Err(_) => {
            eprintln!(
                "guard: denied: internal error: {}",
                guard::panic_note::last()
            );
            126
        }
    };
    std::process::exit(code);
}
