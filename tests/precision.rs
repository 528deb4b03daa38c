//! Precision on what agents really type: a pattern is a read of the files
//! it expands to, resolved where bash resolves it (after the line's own
//! `cd`), and a directory guard cannot know is unknown, not guard's own.
//!
//! Each row runs against a real project tree in a temp dir, through the
//! library entry point with that tree as the cwd.

mod common;

use guard::parse::Env;
use guard::rules::load;
use guard::rules::spec::Action;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Allow,
    /// Reviewed as a credential-file read.
    Read,
}

const READ: &str = "creds.file-read";

/// The shipped packs, deciding as the tree's home with the project as cwd.
/// The tree's home and project directories.
fn home_and_project(dir: &tempfile::TempDir) -> (String, String) {
    let at = |d: &str| dir.path().join(d).display().to_string();
    (at("home"), at("project"))
}

fn in_tree(home: &str, project: &str) -> (guard::rules::load::Config, Env) {
    let cfg = load::load_with(&[], home, true).expect("shipped packs load");
    let env = Env {
        home: home.to_string(),
        cwd: project.to_string(),
        path: guard::parse::DEFAULT_PATH.to_string(),
        fresh: true,
    };
    (cfg, env)
}

/// The rows whose decision is not the wanted one.
fn action_failures(
    cfg: &guard::rules::load::Config,
    env: &Env,
    rows: &[(&str, Action)],
) -> Vec<String> {
    rows.iter()
        .filter_map(|&(line, want)| {
            let v = common::decide(cfg, env, line);
            (v.action != want).then(|| {
                format!(
                    "  {line:?}: want {}, got {} ({})",
                    want.as_str(),
                    v.action.as_str(),
                    v.reason
                )
            })
        })
        .collect()
}

/// The rows whose line is not judged as wanted: a read is a review by
/// creds.file-read, anything else but allow is a failure of its own.
fn read_failures(
    cfg: &guard::rules::load::Config,
    env: &Env,
    rows: &[(&str, Want)],
) -> Vec<String> {
    let mut failures = Vec::new();
    for &(line, want) in rows {
        let v = common::decide(cfg, env, line);
        let read = v.matches.iter().any(|(_, h)| h.rule == READ);
        let got = if read && v.action >= Action::Review {
            Want::Read
        } else if v.action == Action::Allow {
            Want::Allow
        } else {
            failures.push(format!("  {line:?}: {} ({})", v.action.as_str(), v.reason));
            continue;
        };
        if got != want {
            failures.push(format!(
                "  {line:?}: want {want:?}, got {} ({})",
                v.action.as_str(),
                v.reason
            ));
        }
    }
    failures
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for f in [
        "project/node_modules/react/index.js",
        "project/node_modules/react-dom/index.js",
        "project/karma.conf.js",
        "project/src/x.rs",
        "project/src/x.ts",
        "project/keys/server.pem",
        "project/keys/README",
        "project/docs/a.md",
        "home/.aws/credentials",
        "home/.aws/cli/alias",
    ] {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, "x").expect("write");
    }
    dir
}

#[test]
fn patterns_are_reads_of_what_they_expand_to() {
    let dir = tree();
    let (home, project) = home_and_project(&dir);
    let (cfg, env) = in_tree(&home, &project);
    use Want::{Allow, Read};
    let rows: &[(&str, Want)] = &[
        // --- globs that match nothing protected here
        ("ls node_modules/react*", Allow),
        ("cat karma*", Allow),
        ("mv src/x.* /tmp/", Allow),
        ("ls docs/*", Allow),
        ("cat keys/READ*", Allow),
        ("ls nosuchdir/*.js", Allow),
        ("cd node_modules && ls react*", Allow),
        ("cd keys && cat READ*", Allow),
        ("cd src; wc -l ../karma*", Allow),
        // --- globs that do, or could
        ("cat keys/*", Read),
        ("cat keys/s*", Read),
        ("cat *.pem", Read), // nothing matches here, but only a key could
        ("cat keys/*.pem", Read),
        ("cd keys && cat s*", Read),
        ("cd keys; cat *", Read),
        ("cat ~/.aws/cred*", Read),
        ("cd ~/.aws && cat c*", Read),
        ("cd && cat .aws/cred*", Read),
        // a cd that may not run leaves the first directory a candidate
        ("false && cd docs; cat keys/*", Read),
        // an unknown directory is unknown: the pattern is judged by what
        // it could match, not against guard's own cwd
        (r#"cd "$x" && cat s*"#, Read),
        ("cd - && cat s*", Read),
        // a cd inside a subshell does not move the line
        ("(cd docs); cat keys/s*", Read),
    ];
    let failures = read_failures(&cfg, &env, rows);
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// A shell builtin's name exec'd by a program (`xargs command`, `env
/// eval`) is whatever file of that name PATH holds: with none the exec
/// fails and nothing runs; with one (Fedora's `/usr/bin/command`, or a
/// script the agent wrote) it is the wrapper it names.
#[test]
fn an_exec_of_a_builtin_name_is_what_path_holds() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = dir.path().join("bare");
    let fedora = dir.path().join("fedora");
    std::fs::create_dir_all(&bare).expect("mkdir");
    std::fs::create_dir_all(&fedora).expect("mkdir");
    for name in ["command", "eval"] {
        let p = fedora.join(name);
        std::fs::write(&p, format!("#!/bin/sh\nbuiltin {name} \"$@\"\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let (cfg, base) = common::shipped();
    // (line, decision with no such file on PATH, decision with one)
    let rows: &[(&str, Action, Action)] = &[
        (
            "echo aws s3 ls | xargs command",
            Action::Allow,
            Action::Review,
        ),
        ("xargs -a list -n 1 command", Action::Allow, Action::Review),
        (
            "echo 'aws s3 ls' | xargs eval",
            Action::Allow,
            Action::Review,
        ),
        ("env command aws s3 ls", Action::Allow, Action::Review),
        (
            "find . -name x -exec command aws s3 ls \\;",
            Action::Allow,
            Action::Review,
        ),
        // bash's own `command` and `exec` are builtins wherever PATH points
        ("command aws s3 ls", Action::Review, Action::Review),
        ("exec command aws s3 ls", Action::Allow, Action::Review),
        // a real program keeps its meaning with no file found
        ("echo aws s3 ls | xargs env", Action::Review, Action::Review),
        (
            "echo x | xargs sh -c 'aws s3 ls'",
            Action::Review,
            Action::Review,
        ),
        // found in review: parallel runs a shell; a PATH the line sets, a
        // name with a slash, or a file the line writes may be the builtin
        (
            "parallel command aws ::: s3",
            Action::Review,
            Action::Review,
        ),
        (
            "env PATH=/tmp/e:/usr/bin command aws s3 ls",
            Action::Review,
            Action::Review,
        ),
        (
            "bash -c 'echo aws | xargs command; PATH=/tmp/e'",
            Action::Review,
            Action::Review,
        ),
        (
            "while true; do echo aws | xargs command; PATH=/tmp/e; done",
            Action::Review,
            Action::Review,
        ),
        (
            "export PATH=/tmp/e:$PATH; echo aws | xargs command",
            Action::Review,
            Action::Review,
        ),
        (
            "ln -s /usr/bin/env ./eval && env ./eval aws s3 ls",
            Action::Review,
            Action::Review,
        ),
        (
            "cp /usr/bin/env ~/bin/command; echo aws | xargs command",
            Action::Review,
            Action::Review,
        ),
    ];
    let mut failures = Vec::new();
    for &(line, without, with) in rows {
        for (path, want) in [(&bare, without), (&fedora, with)] {
            let env = guard::parse::Env {
                path: path.display().to_string(),
                ..base.clone()
            };
            let v = common::decide(&cfg, &env, line);
            if v.action != want {
                failures.push(format!(
                    "  {line:?} with PATH={}: want {}, got {} ({})",
                    path.display(),
                    want.as_str(),
                    v.action.as_str(),
                    v.reason
                ));
            }
        }
    }
    // A PATH entry guard cannot look into (here a symlink loop) may hold
    // the file: it is not taken for missing.
    let looped = dir.path().join("loop");
    std::os::unix::fs::symlink(&looped, &looped).expect("symlink");
    let env = guard::parse::Env {
        path: looped.display().to_string(),
        ..base.clone()
    };
    let v = common::decide(&cfg, &env, "echo aws s3 ls | xargs command");
    if v.action != Action::Review {
        failures.push(format!(
            "  with an unreadable PATH entry: got {}",
            v.action.as_str()
        ));
    }
    // Nor is a sourced file guard cannot look at: what it sets is unknown.
    let line = format!("X=/usr/bin/true; . {}/env.sh; $X", looped.display());
    let v = common::decide(&cfg, &base, &line);
    if v.action != Action::Review {
        failures.push(format!("  {line:?}: got {}", v.action.as_str()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An assigned value names files as each colon-separated part: extending a
/// search list is not a read, while a credential path anywhere in the
/// value still is.
#[test]
fn search_lists_are_judged_part_by_part() {
    let (cfg, env) = common::shipped();
    let rows: &[(&str, Action)] = &[
        ("export PATH=$PATH:/usr/local/go/bin", Action::Allow),
        (
            "export PATH=/usr/local/go/bin:$PATH && go version",
            Action::Allow,
        ),
        (
            "PKG_CONFIG_PATH=/usr/lib/pkgconfig:$PKG_CONFIG_PATH cmake ..",
            Action::Allow,
        ),
        (
            "export GOPATH=$HOME/go && export PATH=$PATH:$GOPATH/bin",
            Action::Allow,
        ),
        ("export PATH=\"$HOME/.local/bin:$PATH\"", Action::Allow),
        // still reads, wherever in the value the path is
        ("export F=$HOME/.ssh/id_rsa", Action::Review),
        ("f=$X:$HOME/.aws/credentials; cat \"$f\"", Action::Review),
        (
            "export KUBECONFIG=/tmp/a:$HOME/.kube/config",
            Action::Review,
        ),
        ("KUBECONFIG=$K:~/.kube/config helm ls", Action::Review),
        ("F=/tmp/a:/home/agent/.ssh/id_rsa", Action::Review),
        ("export X=$D/.aws/credentials", Action::Review),
        (
            "declare -x P=$PATH:/home/agent/.ssh/id_ed25519",
            Action::Review,
        ),
    ];
    let failures = action_failures(&cfg, &env, rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A word with a run-time part may be anything there, so it names a
/// protected file only through what it spells out: four characters of the
/// rule's literal text must be the word's own, in the place the match puts
/// them. `config` in `/boot/config-$(uname -r)` is not the `config` of
/// `~/.kube/config`, and the `-key` of `kitware-archive-keyring.gpg` is not
/// that of `~/.gnupg/private-keys-v1.d`.
#[test]
fn run_time_parts_do_not_supply_the_protected_name() {
    let (cfg, env) = common::shipped();
    let rows: &[(&str, Action)] = &[
        ("grep CONFIG_IO_URING /boot/config-$(uname -r)", Action::Allow),
        ("cat /boot/config-$(uname -r)", Action::Allow),
        (
            r#"echo "deb [signed-by=/usr/share/keyrings/kitware-archive-keyring.gpg] https://apt.kitware.com/ubuntu/ $(lsb_release -cs) main" | tee /etc/apt/sources.list.d/kitware.list"#,
            Action::Allow,
        ),
        (
            "export PATH=$(pwd)/clang+llvm-3.9.1/bin:$PATH && export LLVM_CONFIG=$(pwd)/clang+llvm-3.9.1/bin/llvm-config",
            Action::Allow,
        ),
        ("ls /usr/lib/modules/$(uname -r)/kernel", Action::Allow),
        // what the word does spell out still names the file
        ("cat ~/.a${x}ws/credentials", Action::Review),
        ("cat $(pwd)/.env", Action::Review),
        ("cat $D/.aws/credentials", Action::Review),
        ("cat \"$HOME/.kube/$(echo config)\"", Action::Review),
        ("cat /tmp/$(date +%s).pem", Action::Review),
        ("cp ~/.ssh/id_$(echo rsa) /tmp/k", Action::Review),
        ("base64 \"$HOME/.config/gcloud/$f\"", Action::Review),
    ];
    let failures = action_failures(&cfg, &env, rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A file is what it is, not what it is called: a link planted by an
/// earlier line or a program the agent ran (`innocent.txt ->
/// ~/.aws/credentials`) is a read of its target, named directly, through a
/// linked directory or by a pattern that expands to it. And commands that
/// open none of their operands are not reads of them: `mkdir -p ~/.ssh`,
/// a `chmod` that grants group and other nothing, an append to the public
/// host keys in `~/.ssh/known_hosts` (reading it is still judged: a link
/// could be made there first); a chmod that may widen access still is one.
#[test]
fn links_and_metadata_are_judged_by_what_they_reach() {
    let dir = tree();
    let (home, project) = home_and_project(&dir);
    std::fs::create_dir_all(format!("{home}/.ssh")).expect("mkdir .ssh");
    std::fs::write(format!("{home}/.ssh/id_ed25519"), "k").expect("key");
    let link = |target: &str, at: &str| {
        std::os::unix::fs::symlink(target, format!("{project}/{at}")).expect("symlink")
    };
    link(&format!("{home}/.aws/credentials"), "innocent.txt");
    link(&format!("{home}/.aws"), "cfg");
    link("docs/a.md", "notes.md");
    std::os::unix::fs::symlink("id_ed25519", format!("{home}/.ssh/known_hosts.old"))
        .expect("symlink");
    let (cfg, env) = in_tree(&home, &project);
    use Want::{Allow, Read};
    let rows: &[(&str, Want)] = &[
        ("cat innocent.txt", Read),
        ("cat cfg/credentials", Read),
        ("base64 < innocent.txt", Read),
        ("cat innoc*", Read),
        ("cd cfg && cat credentials", Read),
        ("cat notes.md", Allow),
        ("cat ./notes.*", Allow),
        // known_hosts is left out of ~/.ssh for writes, not for reads: a
        // link made there later in the line could hand the read a key
        ("ssh-keyscan -t ed25519 github.com >> ~/.ssh/known_hosts", Allow),
        ("ssh-keyscan github.com > ~/.ssh/known_hosts", Allow),
        ("cat ~/.ssh/known_hosts", Read),
        (
            "ssh-keyscan h >> ~/.ssh/known_hosts; ln -sf \"$K\" ~/.ssh/known_hosts; cat ~/.ssh/known_hosts",
            Read,
        ),
        ("cp ~/.ssh/known_hosts /tmp/k", Read),
        ("cat ~/.ssh/known_hosts.old", Read),
        ("cp ~/.ssh/id_ed25519 ~/.ssh/known_hosts", Read),
        // operands opened by no one
        ("mkdir -p ~/.ssh && chmod 700 ~/.ssh", Allow),
        ("rmdir ~/.ssh/sockets", Allow),
        ("chmod 600 ~/.ssh/id_ed25519", Allow),
        ("chmod 0400 ~/.ssh/id_ed25519", Allow),
        ("chmod -R go-rwx ~/.ssh", Allow),
        ("chmod u+rw,go= ~/.ssh/id_ed25519", Allow),
        ("chmod -w ~/.ssh/id_ed25519", Allow),
        ("chmod 644 ~/.ssh/id_ed25519", Read),
        ("chmod 7 ~/.ssh/id_ed25519", Read),
        ("chmod +r ~/.ssh/id_ed25519", Read),
        ("chmod a+r ~/.ssh/id_ed25519", Read),
        ("chmod u+r,o+r ~/.ssh/id_ed25519", Read),
        ("chmod --reference=/tmp ~/.ssh/id_ed25519", Read),
        ("chmod $m ~/.ssh/id_ed25519", Read),
        ("sudo chmod 600 ~/.ssh/id_ed25519", Read),
        ("mkdir -p ~/.ssh && cat ~/.ssh/id_ed25519", Read),
    ];
    let failures = read_failures(&cfg, &env, rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A file the line writes before it reads it is still judged by its name.
/// Exempting a fresh file (`wget -O kitware.key URL && gpg --dearmor <
/// kitware.key`) looked safe while it did not exist at decision time, but
/// another command of the same line, a background job or a script it runs,
/// can swap it for a link to a key between the write and the read, and the
/// read is approved by then: a line's connectors (`&&`, `&`, `|`) are not
/// known here, so no order can be trusted.
#[test]
fn files_the_line_writes_first_are_judged_by_name() {
    let dir = tree();
    let (home, project) = home_and_project(&dir);
    let (cfg, env) = in_tree(&home, &project);
    use Want::Read;
    let rows: &[(&str, Want)] = &[
        (
            "wget -O kitware.key https://apt.kitware.com/keys/kitware-archive-latest.asc && gpg --dearmor < kitware.key > kitware.gpg",
            Read,
        ),
        // the swap, in the line itself: a job in the background, a link
        // whose target is only known at run time, a script
        (
            "(sleep 0.1; ln -sf \"$K\" new.pem) & echo x > new.pem && cat new.pem",
            Read,
        ),
        ("echo x > new.pem; ln -sf \"$K\" new.pem; cat new.pem", Read),
        ("echo x > new.pem; python3 swap.py; cat new.pem", Read),
        ("echo x > new.pem; cat new.pem & ln -sf \"$K\" new.pem", Read),
    ];
    let failures = read_failures(&cfg, &env, rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
