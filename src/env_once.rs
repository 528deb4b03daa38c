//! One value per environment variable.
//!
//! `execve` takes any list of strings, so an environment can name a
//! variable twice. Programs disagree about which one counts: glibc's
//! `getenv` and Go take the first, bash and Python's `os.environ` the
//! last. A rule that reads `AWS_PROFILE=dev` while `aws` reads the
//! `AWS_PROFILE=prod` before it would decide one command and run
//! another. So guard keeps the first entry of each name and drops the
//! rest, in its own environment before anything reads it and in every
//! exec it traces: what it decides on is all the program gets.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// Keep the first entry of each name in `entries`; say whether any was
/// dropped.
pub fn first_of_each<T>(entries: &mut Vec<T>, name: impl Fn(&T) -> &[u8]) -> bool {
    let before = entries.len();
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(before);
    entries.retain(|e| seen.insert(name(e).to_vec()));
    entries.len() != before
}

/// The name of an environment entry (`NAME=value`, or all of it).
pub fn name_of(entry: &[u8]) -> &[u8] {
    entry.split(|&b| b == b'=').next().unwrap_or(entry)
}

/// Make this process's environment one value per name. Call it first in
/// `main`, before any thread exists (changing the environment races
/// with any other thread reading it).
pub fn own() {
    let all: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let mut seen = HashSet::new();
    let repeated: Vec<&OsString> = all
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !seen.insert(k.as_bytes()))
        // `remove_var` refuses (panics on) a name that is empty or holds
        // `=`; Rust reads an entry `=A=1` as the name `=A`. Such a name is
        // left as it came: no rule reads it.
        .filter(|k| !k.is_empty() && !k.as_bytes().contains(&b'='))
        .collect();
    // A name seen three times is put back twice, to the same value.
    for name in repeated {
        if let Some((k, first)) = all.iter().find(|(k, _)| k == name) {
            // unsetenv removes every entry of the name; one is put back.
            std::env::remove_var(k);
            std::env::set_var(k, first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{first_of_each, name_of};

    #[test]
    fn the_first_of_each_name_is_kept() {
        let cases: &[(&[&str], &[&str], bool)] = &[
            (&["A=1", "B=2"], &["A=1", "B=2"], false),
            (&["A=1", "A=2"], &["A=1"], true),
            (
                &["P=prod", "X=", "P=dev", "P=", "X=y"],
                &["P=prod", "X="],
                true,
            ),
            (&["A", "A=1"], &["A"], true),
            (&["AB=1", "A=2", "A=B=3"], &["AB=1", "A=2"], true),
            (&[], &[], false),
        ];
        for (input, want, dropped) in cases {
            let mut v: Vec<String> = input.iter().map(|s| s.to_string()).collect();
            let got = first_of_each(&mut v, |e| name_of(e.as_bytes()));
            assert_eq!(v, *want, "{input:?}");
            assert_eq!(got, *dropped, "{input:?}");
        }
    }
}
