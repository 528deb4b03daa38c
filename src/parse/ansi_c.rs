//! Decoding of bash's `$'…'` strings. brush-parser hands them over raw.

/// Decode the body of a `$'…'` string the way bash does in a UTF-8 locale,
/// including the truncation at an embedded NUL. bash builds bytes; when
/// those bytes are not UTF-8 the value cannot be held exactly, and the
/// lossy text comes back as `Err`.
pub fn decode(body: &str) -> Result<String, String> {
    let chars: Vec<char> = body.chars().collect();
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut i = 0;
    let push_char = |out: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' || i >= chars.len() {
            push_char(&mut out, c);
            continue;
        }
        let e = chars[i];
        i += 1;
        let byte: Option<u8> = match e {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'e' | 'E' => Some(0x1b),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '\'' => Some(b'\''),
            '"' => Some(b'"'),
            '?' => Some(b'?'),
            '0'..='7' => {
                let (v, used) = number(&chars[i - 1..], 8, 3);
                i += used - 1;
                Some((v & 0xff) as u8)
            }
            'x' if chars.get(i) == Some(&'{') => {
                let close = chars[i..].iter().position(|&c| c == '}');
                match close {
                    Some(end) if end > 1 => {
                        let (v, used) = number(&chars[i + 1..i + end], 16, usize::MAX);
                        if used + 1 == end {
                            i += end + 1;
                            // bash keeps only the low byte.
                            Some((v & 0xff) as u8)
                        } else {
                            out.extend_from_slice(b"\\x");
                            None
                        }
                    }
                    _ => {
                        out.extend_from_slice(b"\\x");
                        None
                    }
                }
            }
            'x' => match number(&chars[i..], 16, 2) {
                (_, 0) => {
                    out.extend_from_slice(b"\\x");
                    None
                }
                (v, used) => {
                    i += used;
                    Some(v as u8)
                }
            },
            'u' | 'U' => {
                let max = if e == 'u' { 4 } else { 8 };
                match number(&chars[i..], 16, max) {
                    (_, 0) => {
                        out.push(b'\\');
                        push_char(&mut out, e);
                        None
                    }
                    (v, used) => {
                        i += used;
                        match char::from_u32(v) {
                            Some('\0') => Some(0),
                            Some(ch) => {
                                push_char(&mut out, ch);
                                None
                            }
                            None => return Err(String::from_utf8_lossy(&out).into_owned()),
                        }
                    }
                }
            }
            'c' if i < chars.len() => {
                let ctl = chars[i];
                i += 1;
                if ctl == '\\' && chars.get(i) == Some(&'\\') {
                    i += 1;
                }
                if ctl == '?' {
                    Some(0x7f)
                } else {
                    Some((ctl.to_ascii_uppercase() as u32 & 0x1f) as u8)
                }
            }
            other => {
                out.push(b'\\');
                push_char(&mut out, other);
                None
            }
        };
        match byte {
            Some(0) => break,
            Some(b) => out.push(b),
            None => {}
        }
    }
    String::from_utf8(out).map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn number(chars: &[char], radix: u32, max: usize) -> (u32, usize) {
    let mut v = 0u32;
    let mut used = 0;
    for c in chars.iter().take(max) {
        match c.to_digit(radix) {
            Some(d) => {
                v = v.saturating_mul(radix).saturating_add(d);
                used += 1;
            }
            None => break,
        }
    }
    (v, used)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_like_bash() {
        let cases = [
            (r"a\x77s", "aws"),
            (r"\141\167\163", "aws"),
            (r"\u0061ws", "aws"),
            (r"\x{61}ws", "aws"),
            (r"tab\there", "tab\there"),
            (r"it\'s", "it's"),
            (r"cut\0here", "cut"),
            (r"\q", r"\q"),
            (r"\cA", "\x01"),
            (r"\c?", "\x7f"),
            (r"\c\\x", "\x1cx"),
            (r"\xc3\xa9", "é"),
            (r"\303\251", "é"),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input).as_deref(), Ok(want), "{input}");
        }
        assert!(decode(r"\xff").is_err());
    }
}
