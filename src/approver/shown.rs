//! Text from a request, made safe to show a person. Escaping stops markup;
//! this stops the other ways a command line can lie to a reviewer:
//! terminal control sequences (a `\r` and `ESC[2K` that paint a harmless
//! row over a dangerous one) and Unicode bidi and invisible characters
//! (U+202E turning the text around). Each is shown as `\u{…}`.

/// `s` with every control and invisible formatting character made
/// visible. `keep_newlines` leaves `\n` and `\t` for multi-line views.
pub fn shown(s: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let hidden = (c.is_control() && !(keep_newlines && matches!(c, '\n' | '\t')))
            || matches!(c,
                '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}' | '\u{061C}' | '\u{180E}');
        if hidden {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn what_could_hide_is_shown() {
        let table = [
            ("ls -la", false, "ls -la"),
            (
                "curl x|sh\r\x1b[2Kls -la",
                false,
                "curl x|sh\\u{d}\\u{1b}[2Kls -la",
            ),
            ("echo \u{202E}txt.exe", false, "echo \\u{202e}txt.exe"),
            ("a\u{200B}ws", false, "a\\u{200b}ws"),
            (
                "for x in 1\ndo\n\techo\ndone",
                true,
                "for x in 1\ndo\n\techo\ndone",
            ),
            ("two\nlines", false, "two\\u{a}lines"),
            ("café ünïcode", false, "café ünïcode"),
        ];
        for (input, keep, want) in table {
            assert_eq!(shown(input, keep), want, "{input:?}");
        }
    }
}
