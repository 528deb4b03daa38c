//! Where each rule starts in its file. serde keeps no spans for values, so
//! one pass over the text finds every `id:` line; errors and listings then
//! point at `file:line:col`.

/// `(id, line, col)` of every `id:` key, in file order (1-based).
pub fn rule_origins(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let item = trimmed
            .strip_prefix("- ")
            .map(str::trim_start)
            .unwrap_or(trimmed);
        if let Some(value) = item.strip_prefix("id:") {
            let id = value
                .split(" #")
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(|c| c == '"' || c == '\'');
            let col = line.len() - item.len() + 1;
            out.push((id.to_string(), n + 1, col));
        }
    }
    out
}

/// Line and column of `key:` inside the block that starts at `from`
/// (1-based), up to the next rule; `None` if the key is not there.
pub fn key_in_block(text: &str, from: usize, key: &str) -> Option<(usize, usize)> {
    let needle = format!("{key}:");
    for (n, line) in text.lines().enumerate().skip(from.saturating_sub(1)) {
        if n + 1 > from && line.trim_start().starts_with("- id:") {
            return None;
        }
        if let Some(col) = line.find(&needle) {
            return Some((n + 1, col + 1));
        }
    }
    None
}
