//! bash-compatible shell flags, parsed by hand: sshd, su, tmux and agent
//! harnesses pass bash's conventions (`-lc`, `-c -l`, `+o`, `NAME ARGS`
//! after the string), which no option parser models.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ShellArgs {
    /// argv[0] began with `-`, or `-l`/`--login` was given.
    pub login: bool,
    pub interactive: bool,
    /// `-c STRING`.
    pub command: Option<OsString>,
    /// `guard -- PROGRAM ARGS…`: an exact argv.
    pub argv: Option<Vec<OsString>>,
    /// A script file to run (`guard script.sh args`).
    pub script_file: Option<OsString>,
    /// `$0 $1 …` after the command string or script file.
    pub rest: Vec<OsString>,
    /// Options guard does not act on, handed to the real shell.
    pub passthrough: Vec<OsString>,
    /// `-s`: read the script from stdin even with arguments.
    pub stdin: bool,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("-c: option requires an argument")]
    MissingCommand,
    #[error("{0}: option requires an argument")]
    MissingValue(String),
    #[error("--: a program to run is required")]
    MissingProgram,
}

/// Long options that take the next word as their value.
const LONG_WITH_VALUE: &[&str] = &["--rcfile", "--init-file"];
/// Long options guard honours itself or makes moot.
const LONG_CONSUMED: &[&str] = &[
    "--login",
    "--noprofile",
    "--norc",
    "--rcfile",
    "--init-file",
];

pub fn parse(argv0: &OsStr, args: &[OsString]) -> Result<ShellArgs, FlagError> {
    let mut out = ShellArgs {
        login: argv0.as_bytes().first() == Some(&b'-'),
        ..ShellArgs::default()
    };
    let mut command_flag = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            if !command_flag {
                let rest = args[i..].to_vec();
                if rest.is_empty() {
                    return Err(FlagError::MissingProgram);
                }
                out.argv = Some(rest);
                return Ok(out);
            }
            break;
        }
        if a == b"-" {
            i += 1;
            break;
        }
        if a.starts_with(b"--") {
            let name = String::from_utf8_lossy(a).into_owned();
            if name == "--login" {
                out.login = true;
            }
            if LONG_WITH_VALUE.contains(&name.as_str()) {
                if i + 1 >= args.len() {
                    return Err(FlagError::MissingValue(name));
                }
                i += 1;
            } else if !LONG_CONSUMED.contains(&name.as_str()) {
                out.passthrough.push(args[i].clone());
            }
            i += 1;
            continue;
        }
        // A lone `+` is an empty set of options to bash: skipped, as bash
        // skips it, so the word after it is the script.
        if a == b"+" {
            i += 1;
            continue;
        }
        if (a[0] == b'-' || a[0] == b'+') && a.len() > 1 {
            let sign = a[0] as char;
            let mut extra = 0;
            for &ch in &a[1..] {
                match ch {
                    b'c' => command_flag = true,
                    b'l' => out.login = true,
                    b'i' => out.interactive = true,
                    b's' => out.stdin = true,
                    b'o' | b'O' => {
                        extra += 1;
                        let value = args.get(i + extra).ok_or_else(|| {
                            FlagError::MissingValue(format!("{sign}{}", ch as char))
                        })?;
                        out.passthrough
                            .push(OsString::from(format!("{sign}{}", ch as char)));
                        out.passthrough.push(value.clone());
                    }
                    other => out
                        .passthrough
                        .push(OsString::from(format!("{sign}{}", other as char))),
                }
            }
            i += 1 + extra;
            continue;
        }
        break;
    }
    let remaining = &args[i.min(args.len())..];
    if command_flag {
        let (cmd, rest) = remaining.split_first().ok_or(FlagError::MissingCommand)?;
        out.command = Some(cmd.clone());
        out.rest = rest.to_vec();
    } else if !out.stdin {
        if let Some((file, rest)) = remaining.split_first() {
            out.script_file = Some(file.clone());
            out.rest = rest.to_vec();
        }
    } else {
        out.rest = remaining.to_vec();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn bash_shapes() {
        let p = parse(OsStr::new("-guard"), &os(&["-c", "echo hi"])).unwrap();
        assert!(p.login);
        assert_eq!(p.command, Some(OsString::from("echo hi")));

        let p = parse(OsStr::new("guard"), &os(&["-lc", "ls", "name", "a"])).unwrap();
        assert!(p.login);
        assert_eq!(p.command, Some(OsString::from("ls")));
        assert_eq!(p.rest, os(&["name", "a"]));

        let p = parse(OsStr::new("guard"), &os(&["-c", "-l", "ls"])).unwrap();
        assert!(p.login);
        assert_eq!(p.command, Some(OsString::from("ls")));

        // As bash reads them: a lone `+` is no option and no script;
        // `-` and `--` end the options.
        for args in [
            &["-c", "+", "ls", "n"][..],
            &["+", "-c", "ls", "n"],
            &["-c", "-", "ls", "n"],
        ] {
            let p = parse(OsStr::new("guard"), &os(args)).unwrap();
            assert_eq!(p.command, Some(OsString::from("ls")), "{args:?}");
            assert_eq!(p.rest, os(&["n"]), "{args:?}");
        }

        let p = parse(
            OsStr::new("guard"),
            &os(&["-e", "-o", "pipefail", "-c", "ls"]),
        )
        .unwrap();
        assert_eq!(p.passthrough, os(&["-e", "-o", "pipefail"]));

        let p = parse(OsStr::new("guard"), &os(&["--", "printf", "%s\n", "a b"])).unwrap();
        assert_eq!(p.argv, Some(os(&["printf", "%s\n", "a b"])));

        assert_eq!(
            parse(OsStr::new("guard"), &os(&["-c"])),
            Err(FlagError::MissingCommand)
        );
        assert_eq!(
            parse(OsStr::new("guard"), &os(&["--"])),
            Err(FlagError::MissingProgram)
        );

        let p = parse(OsStr::new("guard"), &os(&["--login", "--noprofile", "-i"])).unwrap();
        assert!(p.login && p.interactive && p.command.is_none());
    }
}
