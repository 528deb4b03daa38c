//! Re-walking the chain: every record's `prev` must be the SHA-256 of the
//! line before it, and `seq` must count up by one, across rotated files.
//! The first broken link is named with its line and the kind of damage.

use std::path::{Path, PathBuf};

use super::chain::{hash_line, GENESIS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    Edited,
    Deleted,
    Reordered,
    Inserted,
    Truncated,
    SequenceGap,
    Malformed,
    AnchorMissing,
}

impl Tamper {
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::Edited => "edited record",
            Tamper::Deleted => "deleted record",
            Tamper::Reordered => "reordered records",
            Tamper::Inserted => "inserted record",
            Tamper::Truncated => "truncated tail",
            Tamper::SequenceGap => "sequence gap",
            Tamper::Malformed => "malformed record",
            Tamper::AnchorMissing => "anchor not found",
        }
    }
}

/// The first broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub file: PathBuf,
    /// 1-based line within `file`.
    pub line: usize,
    pub kind: Tamper,
    pub detail: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.kind.as_str(),
            self.detail
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Broken(Broken),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A chain that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub records: u64,
    pub files: usize,
    pub head: Option<String>,
}

#[derive(serde::Deserialize)]
struct Link {
    seq: u64,
    prev: String,
}

fn link(line: &[u8]) -> Option<Link> {
    serde_json::from_slice(line).ok()
}

/// Where the walk stands: the last good record's seq and hash.
struct Walk {
    last: Option<(u64, String)>,
    records: u64,
    anchor_seen: bool,
}

/// Verify `files` as one chain, in order. With `anchor`, a hash exported
/// earlier (`guard audit anchor`) must still be one of the records.
pub fn verify(files: &[PathBuf], anchor: Option<&str>) -> Result<Report, VerifyError> {
    let mut walk = Walk {
        last: None,
        records: 0,
        anchor_seen: anchor.is_none(),
    };
    for path in files {
        let bytes = std::fs::read(path).map_err(|source| VerifyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        walk_file(path, &bytes, &mut walk, anchor).map_err(VerifyError::Broken)?;
    }
    if !walk.anchor_seen {
        return Err(VerifyError::Broken(Broken {
            file: files.last().cloned().unwrap_or_default(),
            line: 0,
            kind: Tamper::AnchorMissing,
            detail: format!(
                "no record hashes to the anchor {}: the log was rewritten or cut before it",
                anchor.unwrap_or_default()
            ),
        }));
    }
    Ok(Report {
        records: walk.records,
        files: files.len(),
        head: walk.last.map(|(_, h)| h),
    })
}

fn walk_file(
    path: &Path,
    bytes: &[u8],
    walk: &mut Walk,
    anchor: Option<&str>,
) -> Result<(), Broken> {
    let complete = bytes.is_empty() || bytes.ends_with(b"\n");
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let lines: Vec<&[u8]> = if body.is_empty() && complete {
        Vec::new()
    } else {
        body.split(|&b| b == b'\n').collect()
    };
    let broken = |line: usize, kind: Tamper, detail: String| Broken {
        file: path.to_path_buf(),
        line,
        kind,
        detail,
    };
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if !complete && n == lines.len() {
            return Err(broken(
                n,
                Tamper::Truncated,
                "the last line is cut short (no newline)".to_string(),
            ));
        }
        let Some(got) = link(line) else {
            return Err(broken(
                n,
                Tamper::Malformed,
                "not a JSON record with `seq` and `prev`".to_string(),
            ));
        };
        let (want_seq, want_prev) = match &walk.last {
            Some((seq, hash)) => (seq + 1, hash.as_str()),
            None => (1, GENESIS),
        };
        if got.seq != want_seq || got.prev != want_prev {
            let (kind, at, detail) = classify(&lines, i, &got, want_seq, want_prev);
            return Err(broken(at, kind, detail));
        }
        let hash = hash_line(line);
        if anchor == Some(hash.as_str()) {
            walk.anchor_seen = true;
        }
        walk.last = Some((got.seq, hash));
        walk.records += 1;
    }
    Ok(())
}

/// Name the damage at line `i` (0-based) from what the lines around it
/// say. Returns the kind, the 1-based line to blame, and a detail.
fn classify(
    lines: &[&[u8]],
    i: usize,
    got: &Link,
    want_seq: u64,
    want_prev: &str,
) -> (Tamper, usize, String) {
    let n = i + 1;
    // The line before this one took this one's place: same seq, same
    // `prev`, so it was written in later.
    let before = i.checked_sub(1).and_then(|k| link(lines[k]));
    if before
        .as_ref()
        .is_some_and(|b| b.seq == got.seq && b.prev == got.prev)
    {
        return (
            Tamper::Inserted,
            n - 1,
            format!(
                "a second seq {}: the record after it links past it",
                got.seq
            ),
        );
    }
    let next = lines.get(i + 1).and_then(|l| link(l));
    // Two neighbours swapped: this one links to the next, which holds the
    // seq expected here.
    if next.as_ref().is_some_and(|x| x.seq == want_seq)
        && lines.get(i + 1).is_some_and(|l| hash_line(l) == got.prev)
    {
        return (
            Tamper::Reordered,
            n,
            format!(
                "seq {} comes before seq {want_seq} (line {})",
                got.seq,
                n + 1
            ),
        );
    }
    // The line after this one carries on as if this one were not there.
    if next
        .as_ref()
        .is_some_and(|x| x.seq == want_seq && x.prev == want_prev)
    {
        return (
            Tamper::Inserted,
            n,
            format!(
                "seq {} does not belong: the next record links past it",
                got.seq
            ),
        );
    }
    if got.seq == want_seq {
        return if n > 1 {
            (
                Tamper::Edited,
                n - 1,
                format!(
                    "its hash no longer matches the `prev` of line {n} (seq {})",
                    got.seq
                ),
            )
        } else {
            (
                Tamper::Edited,
                n,
                "`prev` does not match the last record of the previous file".to_string(),
            )
        };
    }
    if got.seq > want_seq {
        let later = lines[i + 1..]
            .iter()
            .position(|l| link(l).is_some_and(|x| x.seq == want_seq));
        if let Some(k) = later {
            return (
                Tamper::Reordered,
                n,
                format!(
                    "seq {} comes before seq {want_seq} (line {})",
                    got.seq,
                    n + 1 + k
                ),
            );
        }
        if got.prev == want_prev {
            return (
                Tamper::SequenceGap,
                n,
                format!(
                    "seq jumps from {} to {} although `prev` links",
                    want_seq - 1,
                    got.seq
                ),
            );
        }
        let missing = if got.seq - want_seq == 1 {
            format!("seq {want_seq} is missing")
        } else {
            format!("seq {want_seq}..{} are missing", got.seq - 1)
        };
        let hint = if want_seq == 1 {
            " (or an earlier rotated file was not given)"
        } else {
            ""
        };
        return (
            Tamper::Deleted,
            n,
            format!("{missing} before this line{hint}"),
        );
    }
    (
        Tamper::Reordered,
        n,
        format!("seq {} comes after seq {}", got.seq, want_seq - 1),
    )
}
