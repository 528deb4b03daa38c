//! Private keys in `~/.ssh`, and whether each is encrypted.

use base64::Engine;

use super::{read, Finding, Kind, Read, Sources};

/// Files in `~/.ssh` that are never private keys.
const NOT_KEYS: &[&str] = &[
    "config",
    "known_hosts",
    "known_hosts.old",
    "authorized_keys",
    "authorized_keys2",
    "environment",
    "rc",
];

pub(super) fn scan(src: &Sources<'_>) -> Vec<Finding> {
    let dir = src.home(".ssh");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".pub") || name.ends_with("-cert.pub") || NOT_KEYS.contains(&&*name) {
            continue;
        }
        let path = e.path();
        match read(&path) {
            Read::Missing => {}
            Read::Broken(why) => {
                out.push(Finding::new(Kind::SshKey, name, path.display().to_string()).tag(why))
            }
            Read::Text(text) => {
                if let Some(state) = encryption(&text) {
                    out.push(
                        Finding::new(Kind::SshKey, name, path.display().to_string()).tag(state),
                    );
                }
            }
        }
    }
    out
}

/// `encrypted`, `unencrypted` or `encryption-unknown` for a private key
/// file; None when the text is not one.
pub(super) fn encryption(text: &str) -> Option<&'static str> {
    if let Some(rest) = text.strip_prefix("PuTTY-User-Key-File-") {
        let none = rest.lines().any(|l| l.trim() == "Encryption: none");
        return Some(if none { "unencrypted" } else { "encrypted" });
    }
    let begin = text.find("-----BEGIN ")?;
    let header_end = begin + text[begin..].find('\n').unwrap_or(text.len() - begin);
    let header = &text[begin..header_end];
    if !header.contains("PRIVATE KEY-----") {
        return None;
    }
    if header.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return Some("encrypted");
    }
    if header.contains("BEGIN OPENSSH PRIVATE KEY") {
        return Some(
            openssh_cipher(&text[header_end..]).map_or("encryption-unknown", |c| {
                if c == b"none" {
                    "unencrypted"
                } else {
                    "encrypted"
                }
            }),
        );
    }
    // Traditional PEM: encryption is announced in the headers.
    let encrypted = text[header_end..]
        .lines()
        .take_while(|l| !l.starts_with("-----END"))
        .any(|l| l.trim() == "Proc-Type: 4,ENCRYPTED");
    Some(if encrypted {
        "encrypted"
    } else {
        "unencrypted"
    })
}

/// The cipher name of an `openssh-key-v1` body: after the magic comes a
/// big-endian u32 length and the name (`none` when unencrypted).
fn openssh_cipher(body: &str) -> Option<Vec<u8>> {
    const MAGIC: &[u8] = b"openssh-key-v1\0";
    let b64: String = body
        .lines()
        .take_while(|l| !l.starts_with("-----END"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    rest.get(4..4usize.checked_add(len)?).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::encryption;

    fn openssh(cipher: &str) -> String {
        let mut body = b"openssh-key-v1\0".to_vec();
        body.extend((cipher.len() as u32).to_be_bytes());
        body.extend(cipher.as_bytes());
        body.extend([0u8; 12]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(body);
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{b64}\n-----END OPENSSH PRIVATE KEY-----\n")
    }

    #[test]
    fn encryption_states() {
        let cases = [
            (openssh("none"), Some("unencrypted")),
            (openssh("aes256-ctr"), Some("encrypted")),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n".to_string(),
                Some("encryption-unknown"),
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n".to_string(),
                Some("encryption-unknown"),
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: x\n\nAA\n"
                    .to_string(),
                Some("encrypted"),
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
                    .to_string(),
                Some("unencrypted"),
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n".to_string(),
                Some("encrypted"),
            ),
            ("-----BEGIN PUBLIC KEY-----\n".to_string(), None),
            ("Host x\n  IdentityFile ~/.ssh/id\n".to_string(), None),
            (
                "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n".to_string(),
                Some("unencrypted"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(encryption(&text), want, "{text}");
        }
    }
}
