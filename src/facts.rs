//! What a command does, as far as rules care: program, subcommand words,
//! flags, paths it touches, variables it reads and sets, secrets in its
//! words, and the code it hands to interpreters.

use std::sync::OnceLock;

use regex::Regex;

use crate::command::{Command, RedirectKind, Word};
use crate::detect;
use crate::glob;

/// One path-like operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArg {
    pub text: String,
    /// Unquoted glob characters: the operand is a pattern.
    pub glob: bool,
    /// The word has run-time parts: a rule must be matched by what it
    /// spells out, or any `dir/$x` would match `**/.env`.
    pub runtime: bool,
    /// Only written, by a `>` or `>>` redirection: a rule's `!` exceptions
    /// apply. A read of an excepted name is still judged by the rule, as a
    /// link made later in the line (`ln -sf "$K" ~/.ssh/known_hosts`) would
    /// hand it a key; a write through one spoils the key and shows nothing.
    pub written: bool,
    /// For a pattern whose directory guard could list: the existing
    /// files it matches (absolute). A pattern is a read of what it
    /// expands to, not of every name it could match.
    pub expanded: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub program: String,
    /// Arguments, after quote removal.
    pub args: Vec<String>,
    pub args_joined: String,
    /// Non-option arguments; `true` when the previous word was an option
    /// and this one may be its value.
    pub positionals: Vec<(String, bool)>,
    pub paths: Vec<PathArg>,
    /// Names assigned for the command (`X=1 cmd`, `env X=1 cmd`).
    pub env: Vec<String>,
    /// Names of variables the command reads.
    pub env_refs: Vec<String>,
    /// Ids of the secret detectors that fired.
    pub secrets: Vec<&'static str>,
    /// What inline interpreter code mentions: `program aws`, `import boto3`.
    pub code: Vec<String>,
    /// An ssh file transfer or git transport, recognised exactly.
    pub transfer: Option<crate::transfer::Transfer>,
    /// The line turned on `dotglob` (or set GLOBIGNORE): wildcards match
    /// dotfiles.
    pub dotglob: bool,
}

/// Everything `facts` needs to know about the world outside the command.
pub struct Context<'a> {
    pub home: &'a str,
    pub cwd: &'a str,
    /// Is this a program some rule names? Used to scan inline code.
    pub known_program: &'a dyn Fn(&str) -> bool,
    pub transfers: &'a crate::transfer::Settings,
    pub dotglob: bool,
}

pub fn collect(cmd: &Command, ctx: &Context<'_>) -> Facts {
    let program = cmd.program().to_string();
    let args: Vec<String> = cmd.args().iter().map(|w| w.text.clone()).collect();
    let mut facts = Facts {
        args_joined: args.join(" "),
        dotglob: ctx.dotglob,
        positionals: positionals(&args),
        env: cmd.assignments.iter().map(|a| a.name.clone()).collect(),
        env_refs: cmd.env_refs.clone(),
        program,
        args,
        ..Facts::default()
    };
    let declares = crate::unwrap::DECLARATIONS.contains(&facts.program.as_str());
    let fetches = URL_CLIENTS.contains(&facts.program.as_str());
    // ls, stat, du and find print names and metadata, never what a file holds,
    // so where only the agent sees what they print they read nothing. A
    // name they print into a pipe, a file or a substitution may be read
    // next (`ls ~/.ssh/id_* | xargs cat`).
    let lists = (matches!(facts.program.as_str(), "ls" | "stat" | "du")
        // find only lists too, without an action that runs, deletes,
        // writes a file or reads names from one.
        || facts.program == "find"
            && !cmd.args().iter().any(|w| {
                let t = w.text.as_str();
                ["-exec", "-ok", "-delete", "-fprint", "-fls", "-files0-from"]
                    .iter()
                    .any(|a| t.starts_with(a))
            }))
        && cmd.via.is_empty()
        // `du --files0-from=F` and `-X F` read F, and print it in errors.
        && !cmd
            .args()
            .iter()
            .any(|w| w.dynamic || w.text.contains("from") || w.text.starts_with("-X"))
        && !cmd.output_read
        && cmd.redirects.iter().all(|r| {
            let t = r.target.text.as_str();
            r.kind == RedirectKind::Read
                || (!r.target.dynamic
                    && (t == "/dev/null" || t.chars().all(|c| c.is_ascii_digit() || c == '-')))
        });
    let opens_nothing = lists || opens_no_operand(cmd);
    let mut after: Option<&str> = None;
    for w in cmd.args() {
        let names_file = after.is_some_and(|o| FILE_OPTIONS.contains(&o));
        after = Some(w.text.as_str());
        if opens_nothing {
            continue;
        }
        if fetches && !names_file {
            match url_operand(&w.text) {
                Some(Url::Remote) => continue,
                Some(Url::Local(path)) => {
                    push_path(&path, w.glob, ctx, &mut facts.paths);
                    continue;
                }
                None => {}
            }
        }
        match declared_value(w).filter(|_| declares) {
            Some(value) => push_value_path(&value, ctx, &mut facts.paths),
            None => path_operands(w, ctx, &mut facts.paths),
        }
    }
    for r in &cmd.redirects {
        let first = facts.paths.len();
        push_word_path(&r.target, ctx, &mut facts.paths);
        for p in &mut facts.paths[first..] {
            p.written = r.kind == RedirectKind::Write;
        }
    }
    // Values that later become arguments: `f=~/.aws/credentials; cat "$f"`,
    // `for f in …`, `${x:-…}` defaults, here-strings fed to xargs.
    for a in &cmd.assignments {
        push_value_path(&a.value, ctx, &mut facts.paths);
    }
    for w in &cmd.data {
        push_word_path(w, ctx, &mut facts.paths);
    }
    // What `cat > FILE <<'EOF'` copies into a file is data no command of
    // the line reads as names.
    let copies_to_file = cmd.stdout_to_file && facts.program == "cat" && cmd.args().is_empty();
    if let Some(text) = &cmd.stdin_text {
        // Code copied into a file is mostly not names (`self.env`,
        // `'component.key'`); a path in it may still be fed to a reader
        // later (`xargs cat < FILE`), so what looks like one is judged.
        let looks_like_path =
            |t: &str| t.contains('/') || t.starts_with(['~', '$']) || t.starts_with(".env");
        for token in text
            .split_whitespace()
            .filter(|t| !copies_to_file || looks_like_path(t))
        {
            let token = token
                .strip_prefix("$HOME")
                .or_else(|| token.strip_prefix("${HOME}"))
                .map_or_else(|| token.to_string(), |rest| format!("{}{rest}", ctx.home));
            push_path(&token, glob::has_meta(&token), ctx, &mut facts.paths);
        }
    }
    // `printenv NAME` and `declare -p NAME` print a variable's value.
    let prints_vars = facts.program == "printenv"
        || (matches!(facts.program.as_str(), "declare" | "typeset" | "export")
            && facts
                .args
                .iter()
                .any(|a| a.starts_with('-') && a.contains('p')));
    if prints_vars {
        facts
            .env_refs
            .extend(facts.args.iter().filter(|a| !a.starts_with('-')).cloned());
    }
    indirect_env_reads(cmd, &mut facts);
    secrets(cmd, &mut facts);
    facts.transfer = crate::transfer::recognise(cmd, ctx.transfers, ctx.home, ctx.cwd);
    if let Some(code) = inline_code(&facts.program, cmd.args(), cmd.stdin_text.as_deref()) {
        scan_code(&code, ctx, &mut facts);
    }
    facts
}

/// `mkdir -p ~/.ssh`, `rmdir d` and a `chmod` that grants group and other
/// nothing (`chmod 700 ~/.ssh`, `chmod go-rwx key`) open none of their
/// operands and expose nothing in them. A chmod that may widen access
/// (`chmod 644 ~/.ssh/id_rsa`, `+r`, `--reference`) is judged as a read: it
/// hands the file to every local user.
fn opens_no_operand(cmd: &Command) -> bool {
    let args = cmd.args();
    if !cmd.via.is_empty() || args.iter().any(|w| w.dynamic) {
        return false;
    }
    match cmd.program() {
        "mkdir" | "rmdir" => true,
        "chmod" => {
            let mut words = args.iter().map(|w| w.text.as_str());
            // Options first (-R, -v, -f, -c); a long one may take RFILE.
            let mode = words.find(|t| !(t.starts_with('-') && t.len() > 1 && !is_mode(t)));
            mode.is_some_and(grants_no_one_else)
        }
        _ => false,
    }
}

/// `-w`, `-rwx`: a removal mode, not an option.
fn is_mode(t: &str) -> bool {
    t.len() > 1 && t[1..].chars().all(|c| "rwxXst".contains(c))
}

fn grants_no_one_else(mode: &str) -> bool {
    if !mode.is_empty() && mode.len() <= 4 && mode.chars().all(|c| ('0'..='7').contains(&c)) {
        return u32::from_str_radix(mode, 8).is_ok_and(|m| m & 0o077 == 0);
    }
    mode.split(',').all(|clause| {
        let who_end = clause.find(['+', '-', '=']).unwrap_or(clause.len());
        let (who, ops) = clause.split_at(who_end);
        if ops.is_empty() || !who.chars().all(|c| "ugoa".contains(c)) {
            return false;
        }
        // Each operator with the permissions after it: `u+x-w`.
        let mut only_takes = true;
        let mut rest = ops;
        while let Some(op) = rest.chars().next() {
            let tail = &rest[1..];
            let end = tail.find(['+', '-', '=']).unwrap_or(tail.len());
            let perms = &tail[..end];
            if !perms.chars().all(|c| "rwxXst".contains(c)) {
                return false;
            }
            only_takes &= op == '-' || (op == '=' && perms.is_empty());
            rest = &tail[end..];
        }
        only_takes || (!who.is_empty() && who.chars().all(|c| c == 'u'))
    })
}

fn positionals(args: &[String]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut after_option = false;
    for a in args {
        if a.len() > 1 && a.starts_with('-') {
            after_option = !a.contains('=');
            continue;
        }
        out.push((a.clone(), after_option));
        after_option = false;
    }
    out
}

/// A word as a path: its text, or for a word with run-time parts the
/// pattern of what it may be, when enough of it is known to mean anything
/// (`~/.a${x}ws/credentials`, `$DIR/.aws/credentials`; not `"$f"`).
fn push_word_path(w: &Word, ctx: &Context<'_>, out: &mut Vec<PathArg>) {
    match (&w.pattern, w.dynamic) {
        (Some(p), true) => {
            let path_like = p.contains('/') || p.starts_with(['.', '~']);
            let known = p.chars().filter(|c| c.is_alphanumeric()).count();
            if path_like && known >= 3 {
                let first = out.len();
                push_path(p, true, ctx, out);
                for arg in &mut out[first..] {
                    arg.runtime = true;
                }
            }
        }
        _ => push_path(&w.text, w.glob, ctx, out),
    }
}

/// Programs whose `scheme://` operands are URLs by their own syntax,
/// never names in the current directory: `curl https://x/k.key` fetches
/// a key, it reads no file `https:/x/k.key`.
const URL_CLIENTS: &[&str] = &["curl", "wget", "aria2c", "http", "https", "xh", "apt-key"];

/// Network schemes those programs fetch. Any other `x://…` is a path to
/// them through a directory named `x:`.
const URL_SCHEMES: &[&str] = &[
    "http", "https", "ftp", "ftps", "sftp", "scp", "tftp", "hkp", "hkps", "ws", "wss",
];

/// Their options whose value is a local file, whatever it looks like.
const FILE_OPTIONS: &[&str] = &[
    "-o",
    "--output",
    "-O",
    "--output-document",
    "-P",
    "--directory-prefix",
    "-T",
    "--upload-file",
    "-K",
    "--config",
    "-a",
    "--append-output",
    "-i",
    "--input-file",
    "--post-file",
    "--body-file",
    "--load-cookies",
    "--save-cookies",
    "--certificate",
    "--private-key",
    "--ca-certificate",
    "--ca-directory",
    "--crl-file",
    "--cacert",
    "--capath",
    "--cert",
    "-E",
    "--key",
    "-b",
    "--cookie",
    "-c",
    "--cookie-jar",
    "-D",
    "--dump-header",
    "--netrc-file",
    "--trace",
    "--trace-ascii",
    "--stderr",
    "-w",
    "--write-out",
    "--keyring",
    "--secret-keyring",
    "--homedir",
    "--input",
    "-f",
    "--data-binary",
    "-d",
    "--data",
    "--data-raw",
    "--data-urlencode",
    "-F",
    "--form",
    "--json",
    "--url-query",
    "-r",
    "--rc-file",
    "--referer",
    "-e",
    "--proxy-cacert",
    "--proxy-cert",
    "--proxy-key",
];

enum Url {
    Remote,
    /// `file:///home/u/.ssh/id_rsa`: a URL that names a local file.
    Local(String),
}

/// An operand or `--opt=VALUE` that is a URL.
fn url_operand(word: &str) -> Option<Url> {
    let text = match word.split_once('=') {
        Some((opt, _)) if FILE_OPTIONS.contains(&opt) => return None,
        Some((opt, value)) if opt.starts_with('-') => value,
        _ => word,
    };
    let (scheme, rest) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    if !valid {
        return None;
    }
    if scheme.eq_ignore_ascii_case("file") {
        // `file://HOST/PATH`: the host part (often empty) is not the path,
        // and `%2e` is a `.` to curl.
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        return Some(Url::Local(percent_decoded(path)));
    }
    URL_SCHEMES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
        .then_some(Url::Remote)
}

/// `%XX` escapes decoded, as curl decodes a `file://` path.
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The VALUE of a declaration's `NAME=VALUE` argument (`export
/// PATH=$PATH:/x`), as a word of its own.
fn declared_value(w: &Word) -> Option<Word> {
    let (name, value) = w.text.split_once('=')?;
    if !crate::unwrap::is_name(name) {
        return None;
    }
    let pattern = match &w.pattern {
        Some(p) => Some(p.strip_prefix(&format!("{name}="))?.to_string()),
        None => None,
    };
    Some(Word {
        text: value.to_string(),
        pattern,
        ..w.clone()
    })
}

/// An assigned value names files as each of its colon-separated parts
/// too: a search list (`PATH=$PATH:/usr/local/go/bin`, `KUBECONFIG=a:b`)
/// names each entry, and a part that is all run-time (`$PATH`) is only
/// what some variable already held. Judged whole, the unknown part could
/// be any path, so every search list being extended would look like a
/// read under `~/.ssh`.
fn push_value_path(w: &Word, ctx: &Context<'_>, out: &mut Vec<PathArg>) {
    match w.pattern.as_deref().filter(|_| w.dynamic) {
        None => {
            push_word_path(w, ctx, out);
            if w.text.contains(':') {
                for part in w.text.split(':').filter(|p| !p.is_empty()) {
                    let part = Word {
                        text: part.to_string(),
                        ..w.clone()
                    };
                    push_word_path(&part, ctx, out);
                }
            }
        }
        Some(pattern) => {
            for part in pattern.split(':').filter(|p| !p.is_empty()) {
                if part.contains(crate::parse::ANYTHING) {
                    let part = Word {
                        text: part.to_string(),
                        dynamic: true,
                        glob: true,
                        pattern: Some(part.to_string()),
                    };
                    push_word_path(&part, ctx, out);
                } else {
                    // A static part of a pattern is escaped pattern text.
                    push_path(part, true, ctx, out);
                }
            }
        }
    }
}

/// Operands that may name files: plain words, `--opt=VALUE` values, and
/// `-fVALUE` forms are all offered; path rules decide.
fn path_operands(w: &Word, ctx: &Context<'_>, out: &mut Vec<PathArg>) {
    if w.dynamic {
        return push_word_path(w, ctx, out);
    }
    let text = w.text.as_str();
    if text.is_empty() {
        return;
    }
    if let Some(stripped) = text.strip_prefix('-') {
        if let Some((_, value)) = text.split_once('=') {
            push_path(value, w.glob, ctx, out);
        } else if !stripped.starts_with('-') {
            let mut chars = stripped.chars();
            chars.next();
            let rest = chars.as_str();
            if !rest.is_empty() {
                push_path(rest, w.glob, ctx, out);
            }
        }
        return;
    }
    push_path(text, w.glob, ctx, out);
    // `scp host:~/.aws/credentials .`, `user@host:path`
    if let Some((_, remote)) = text.split_once(':') {
        if !remote.is_empty() && !text.contains("://") {
            push_path(remote, w.glob, ctx, out);
        }
    }
}

/// An operand as bash and the kernel resolve it: `~` is the home, and a
/// relative path is below `cwd`. The normalised text, and the absolute
/// path where the directory is known.
fn resolve(text: &str, cwd: &str, home: &str) -> (String, Option<String>) {
    let expanded = match text.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
        _ => text.to_string(),
    };
    let normal = normalize(&expanded);
    let absolute = if normal.starts_with('/') {
        Some(normal.clone())
    } else if !cwd.is_empty() {
        Some(normalize(&format!("{cwd}/{normal}")))
    } else {
        None // after `cd "$x"`: only the relative text is known
    };
    (normal, absolute)
}

fn push_path(text: &str, glob: bool, ctx: &Context<'_>, out: &mut Vec<PathArg>) {
    let (normal, absolute) = resolve(text, ctx.cwd, ctx.home);
    let mut matches = match (&absolute, glob) {
        (Some(at), true) => expand(at, ctx.dotglob),
        _ => None,
    };
    // A file is judged as named and as what it is: a link planted by an
    // earlier line or program (`innocent.txt -> ~/.aws/credentials`) opens
    // its target.
    if let Some(files) = matches.as_mut() {
        let real: Vec<String> = files.iter().filter_map(|f| real_path(f)).collect();
        files.extend(real);
    }
    if let Some(real) = absolute.as_deref().filter(|_| !glob).and_then(real_path) {
        out.push(PathArg {
            text: real,
            glob: false,
            runtime: false,
            written: false,
            expanded: None,
        });
    }
    if let Some(at) = absolute.as_ref().filter(|a| **a != normal) {
        out.push(PathArg {
            text: at.clone(),
            glob,
            runtime: false,
            written: false,
            expanded: matches.clone(),
        });
    }
    out.push(PathArg {
        text: normal,
        glob,
        runtime: false,
        written: false,
        expanded: matches,
    });
}

/// Where an existing path really leads, when that is somewhere else.
fn real_path(path: &str) -> Option<String> {
    let real = match opened_path(path) {
        Opened::At(real) => real,
        Opened::Unsaid => std::fs::canonicalize(path).ok()?,
        Opened::Nothing => return None,
    };
    let real = real.to_str()?;
    (real != path).then(|| real.to_string())
}

/// Where `path` leads, as the kernel names the file it opens: one open
/// (`O_PATH`, which never blocks and reads nothing) and one readlink,
/// where `canonicalize` asks about every component in turn. A decided
/// exec's arguments are looked at this way each time, and a compiler's
/// run a dozen of them.
fn opened_path(path: &str) -> Opened {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_PATH)
        .open(path);
    let Ok(f) = f else {
        return Opened::Nothing;
    };
    match std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())) {
        Ok(real) if real.is_absolute() => Opened::At(real),
        _ => Opened::Unsaid,
    }
}

enum Opened {
    At(std::path::PathBuf),
    /// Nothing there can be opened.
    Nothing,
    /// Opened, but the kernel would not name it (no /proc): the slow way
    /// must answer.
    Unsaid,
}

/// Directories listed for a pattern are capped: past this, the pattern is
/// judged by what it could match.
const LIST_MAX: usize = 4096;

/// The files an absolute pattern matches now, as bash would expand it:
/// only when the wildcards are in its last component and the directory
/// can be listed. `None` leaves the pattern to be judged by what it could
/// match.
fn expand(pattern: &str, dotglob: bool) -> Option<Vec<String>> {
    let (dir, name) = pattern.rsplit_once('/')?;
    if glob::has_meta(dir) || name.is_empty() || !glob::has_meta(name) {
        return None;
    }
    let g = if dotglob {
        glob::Glob::new(name)
    } else {
        glob::Glob::bash(name)
    };
    let dir = if dir.is_empty() { "/" } else { dir };
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        // No such directory: bash leaves the word as it is.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Vec::new()),
        Err(_) => return None,
    };
    for (n, entry) in entries.enumerate() {
        if n >= LIST_MAX {
            return None;
        }
        let entry = entry.ok()?;
        let file = entry.file_name();
        let file = file.to_str()?;
        if g.matches(file) {
            out.push(format!("{}/{file}", dir.trim_end_matches('/')));
        }
    }
    Some(out)
}

/// Lexical normalisation: `//`, `/./` and `dir/..` are what bash and the
/// kernel would resolve them to, and are how a rule would be dodged.
pub fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Variables read without a shell expansion guard could see: `env -S
/// '${X}'`, `envsubst`, `jq env.X`, awk's `ENVIRON["X"]`, `declare -n r=X`.
fn indirect_env_reads(cmd: &Command, facts: &mut Facts) {
    static NAMES: OnceLock<Option<Regex>> = OnceLock::new();
    let program = facts.program.as_str();
    let interesting = matches!(
        program,
        "envsubst" | "jq" | "gojq" | "yq" | "awk" | "gawk" | "mawk" | "nawk"
    ) || cmd
        .args()
        .iter()
        .any(|w| w.dynamic && w.text.contains("${"));
    let nameref = matches!(program, "declare" | "typeset" | "local")
        && facts
            .args
            .iter()
            .any(|a| a.starts_with('-') && a.contains('n'));
    if nameref {
        for a in &facts.args {
            if let Some((_, target)) = a.split_once('=') {
                facts.env_refs.push(target.to_string());
            }
        }
    }
    if !interesting {
        return;
    }
    let Some(re) = NAMES
        .get_or_init(|| {
            Regex::new(r#"\$\{?([A-Za-z_][A-Za-z0-9_]*)|\benv\.([A-Za-z_][A-Za-z0-9_]*)|\$ENV\.([A-Za-z_][A-Za-z0-9_]*)|ENVIRON\[\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\]"#).ok()
        })
        .as_ref()
    else {
        return;
    };
    let texts = cmd
        .args()
        .iter()
        .map(|w| w.text.as_str())
        .chain(cmd.stdin_text.as_deref());
    let mut found = Vec::new();
    for t in texts {
        for c in re.captures_iter(t) {
            if let Some(m) = c.iter().skip(1).flatten().next() {
                found.push(m.as_str().to_string());
            }
        }
    }
    facts.env_refs.extend(found);
}

fn secrets(cmd: &Command, facts: &mut Facts) {
    let mut found: Vec<&'static str> = Vec::new();
    for w in cmd.args() {
        found.extend(detect::scan(&w.text));
        if detect::mysql_password(&facts.program, &w.text).is_some() {
            found.push("mysql-password");
        }
    }
    for w in &cmd.data {
        found.extend(detect::scan(&w.text));
    }
    for a in &cmd.assignments {
        found.extend(detect::scan(&a.value.text));
        if detect::PASSWORD_ENV.contains(&a.name.as_str()) && !a.value.text.is_empty() {
            found.push("password-env");
        }
    }
    found.sort_unstable();
    found.dedup();
    facts.secrets = found;
}

/// The code string an interpreter is told to run inline, if any: after a
/// code option, or as its program on stdin (`python3 - <<EOF`).
fn inline_code(program: &str, args: &[Word], stdin_text: Option<&str>) -> Option<String> {
    let family = interpreter(program)?;
    let texts: Vec<&str> = args.iter().map(|w| w.text.as_str()).collect();
    match family {
        Interp::Flag(_) if texts.windows(2).any(|w| w == ["-m", "timeit"]) => {
            // `python -m timeit STMT…`: the statements are code.
            let at = texts.iter().position(|t| *t == "timeit").unwrap_or(0);
            let code: Vec<&str> = texts[at + 1..]
                .iter()
                .copied()
                .filter(|t| !t.starts_with('-'))
                .collect();
            (!code.is_empty()).then(|| code.join("\n"))
        }
        Interp::Flag(flags) => {
            let script_operand = texts.iter().any(|t| !t.starts_with('-'));
            let stdin_dash = texts
                .iter()
                .any(|t| matches!(*t, "-" | "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"));
            if let Some(text) = stdin_text.filter(|_| stdin_dash || !script_operand) {
                if !texts.iter().any(|t| code_flag(t, flags).is_some()) {
                    return Some(text.to_string());
                }
            }
            let mut code = Vec::new();
            let mut i = 0;
            while i < texts.len() {
                let t = texts[i];
                if let Some(attached) = code_flag(t, flags) {
                    match attached {
                        Some(c) => code.push(c.to_string()),
                        None => code.extend(texts.get(i + 1).map(|s| s.to_string())),
                    }
                }
                i += 1;
            }
            (!code.is_empty()).then(|| code.join("\n"))
        }
        Interp::Awk => {
            let mut i = 0;
            while i < texts.len() {
                match texts[i] {
                    "-f" | "--file" => return None,
                    "-F" | "-v" | "--assign" | "--field-separator" => i += 2,
                    "--" => return texts.get(i + 1).map(|s| s.to_string()),
                    t if t.starts_with('-') && t.len() > 1 => i += 1,
                    // Only `system()`, pipes and `getline` from a command run
                    // anything; a pattern that merely names a program does not.
                    t => return awk_runs_commands(t).then(|| t.to_string()),
                }
            }
            None
        }
        Interp::Sed => {
            let mut scripts = Vec::new();
            let mut explicit = false;
            let mut i = 0;
            let mut first_operand = None;
            while i < texts.len() {
                match texts[i] {
                    "-e" | "--expression" => {
                        explicit = true;
                        scripts.extend(texts.get(i + 1).map(|s| s.to_string()));
                        i += 2;
                    }
                    "-f" | "--file" | "-l" | "--line-length" => i += 2,
                    t if t.starts_with("--expression=") => {
                        explicit = true;
                        scripts.push(t["--expression=".len()..].to_string());
                        i += 1;
                    }
                    t if t.starts_with('-') && t.len() > 1 => i += 1,
                    t => {
                        first_operand.get_or_insert(t.to_string());
                        i += 1;
                    }
                }
            }
            if !explicit {
                scripts.extend(first_operand);
            }
            let code = scripts.join("\n");
            sed_runs_commands(&code).then_some(code)
        }
    }
}

enum Interp {
    /// The code follows one of these options (`python -c`, `node -e`).
    Flag(&'static [&'static str]),
    /// The first operand is the program.
    Awk,
    /// Only the `e` command and `s///e` run anything.
    Sed,
}

/// Commands that run the words after them as a command line: in
/// `'nohup aws s3 ls'` the word after them is a program, not English.
const PREFIX_COMMANDS: &[&str] = &[
    "nohup", "env", "nice", "ionice", "timeout", "stdbuf", "setsid", "taskset", "chrt", "exec",
    "command", "builtin", "time", "xargs", "sudo", "doas", "run0", "pkexec", "watch", "flock",
    "unbuffer", "script", "strace", "ltrace", "chroot", "nsenter", "unshare", "firejail", "sh",
    "bash", "dash", "zsh", "ksh", "busybox", "then", "else", "do",
];

/// A string with no shell syntax in it: no operator, substitution or
/// option word, so nothing marks it as a command line.
fn reads_as_prose(text: &str) -> bool {
    !text.contains([';', '|', '&', '$', '`', '>', '<'])
        && !text
            .split_whitespace()
            .any(|w| w.starts_with('-') && w.len() > 1)
}

/// Python's process-starting functions and modules, as a string would
/// name them to `getattr` or `__import__`.
const SPAWN_NAMES: &[&str] = &[
    "system",
    "popen",
    "Popen",
    "subprocess",
    "run",
    "call",
    "check_call",
    "check_output",
    "getoutput",
    "getstatusoutput",
    "spawnl",
    "spawnlp",
    "spawnv",
    "spawnvp",
    "spawnve",
    "spawnvpe",
    "spawnle",
    "spawnlpe",
    "execl",
    "execlp",
    "execv",
    "execvp",
    "execve",
    "execvpe",
    "execle",
    "execlpe",
    "posix_spawn",
    "posix_spawnp",
    "pty",
    "os",
    "commands",
    "sh",
    "plumbum",
    "pexpect",
    "create_subprocess_exec",
    "create_subprocess_shell",
];

fn is_python(program: &str) -> bool {
    let base = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    matches!(base, "python" | "pypy" | "ipython")
}

fn interpreter(program: &str) -> Option<Interp> {
    let base = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match base {
        "python" | "pypy" | "ipython" => Interp::Flag(&["-c"]),
        "node" | "nodejs" | "bun" => Interp::Flag(&["-e", "--eval", "-p", "--print"]),
        "deno" => Interp::Flag(&["eval"]),
        "perl" => Interp::Flag(&["-e", "-E", "-M", "-m"]),
        "ruby" => Interp::Flag(&["-e", "-E"]),
        "php" => Interp::Flag(&["-r", "--run"]),
        "lua" | "luajit" => Interp::Flag(&["-e"]),
        "Rscript" => Interp::Flag(&["-e"]),
        "osascript" => Interp::Flag(&["-e"]),
        "pwsh" | "powershell" => Interp::Flag(&["-c", "-Command", "-command"]),
        "awk" | "gawk" | "mawk" | "nawk" | "busybox awk" => Interp::Awk,
        "sed" | "gsed" => Interp::Sed,
        _ => return None,
    })
}

/// Does this word carry inline code? `-c`, `-cCODE`, `--eval=CODE`, and
/// clusters such as perl's `-ne` or python's `-Bc` (the code is the next
/// word).
fn code_flag<'a>(word: &'a str, flags: &[&str]) -> Option<Option<&'a str>> {
    for f in flags {
        if word == *f {
            return Some(None);
        }
        if f.starts_with("--") {
            if let Some(v) = word.strip_prefix(f).and_then(|r| r.strip_prefix('=')) {
                return Some(Some(v));
            }
            continue;
        }
        if f.len() == 2 && f.starts_with('-') && word.starts_with('-') && !word.starts_with("--") {
            let letter = f.as_bytes()[1] as char;
            let cluster = &word[1..];
            if let Some(pos) = cluster.find(letter) {
                let rest = &cluster[pos + 1..];
                // Letters before it must be plain switches (`-ne`, `-Bc`).
                if cluster[..pos].chars().all(|c| c.is_ascii_alphabetic()) {
                    return Some(if rest.is_empty() { None } else { Some(rest) });
                }
            }
        }
    }
    None
}

/// Does a sed command line (`sed [-e] SCRIPT …`) use the `e` command?
/// The scripts of a sed command line that run anything.
pub fn sed_scripts(args: &[Word]) -> Option<String> {
    inline_code("sed", args, None)
}

fn awk_runs_commands(program: &str) -> bool {
    program.contains("system") || program.contains('|') || program.contains("getline")
}

/// Does a sed script run anything: the `e` command, or `s///` with the
/// `e` flag? The script is parsed command by command, as GNU sed reads
/// it, so the text of `a`, `i` and `c` and the parts of `s` and `y` are
/// never taken for commands or flags. A script that does not parse is
/// taken to run something.
fn sed_runs_commands(script: &str) -> bool {
    sed_commands(script).is_none_or(|c| !c.is_empty())
}

/// The command lines a sed script runs: those of its `e COMMAND`s, or
/// `None` when what runs comes from the input (a bare `e`, `s///e`) or the
/// script does not parse.
pub fn sed_commands(script: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = script.chars().collect();
    let mut commands = Vec::new();
    sed_script(&chars, &mut commands)?.then_some(())?;
    Some(commands)
}

/// `Some(false)` if what the script runs comes from its input, `None` if
/// it does not parse; the text of each `e COMMAND` goes to `commands`.
fn sed_script(c: &[char], commands: &mut Vec<String>) -> Option<bool> {
    let mut i = 0;
    let to_eol = |mut i: usize| {
        while i < c.len() && c[i] != '\n' {
            i += 1;
        }
        i
    };
    while i < c.len() {
        while i < c.len() && (c[i].is_whitespace() || c[i] == ';') {
            i += 1;
        }
        if i >= c.len() {
            break;
        }
        i = sed_address(c, i)?;
        if c.get(i) == Some(&',') {
            i = sed_address(c, i + 1)?;
        }
        while i < c.len() && (c[i] == ' ' || c[i] == '\t' || c[i] == '!') {
            i += 1;
        }
        let Some(&cmd) = c.get(i) else { break };
        i += 1;
        match cmd {
            '{' | '}' | '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x'
            | 'z' | 'F' | 'l' | 'q' | 'Q' | 'L' => {
                // `q`/`Q`/`l`/`L` may take a number.
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
            }
            'e' => {
                while i < c.len() && (c[i] == ' ' || c[i] == '\t') {
                    i += 1;
                }
                let end = to_eol(i);
                let text: String = c[i..end].iter().collect();
                // A bare `e` runs the pattern space, a line of input; GNU
                // sed decodes `\xHH`, `\dNNN` and `\cX` in the command
                // text, so one with a backslash is not what it reads as.
                if text.trim().is_empty() || text.contains('\\') {
                    return Some(false);
                }
                commands.push(text);
                i = end;
            }
            '#' | 'r' | 'R' | 'w' | 'W' => i = to_eol(i),
            // A label ends at a newline or, in GNU sed, a semicolon.
            ':' | 'b' | 't' | 'T' | 'v' => {
                while i < c.len() && c[i] != '\n' && c[i] != ';' {
                    i += 1;
                }
            }
            'a' | 'i' | 'c' => {
                // Text to the end of the line, and on while lines end in `\`.
                loop {
                    let end = to_eol(i);
                    let continued = end > i && c[end - 1] == '\\';
                    i = end + 1;
                    if !continued || i >= c.len() {
                        break;
                    }
                }
            }
            's' | 'y' => {
                let &delim = c.get(i)?;
                if delim == '\n' || delim == '\\' {
                    return None;
                }
                i = sed_part(c, i + 1, delim, cmd == 's')?;
                i = sed_part(c, i, delim, false)?;
                if cmd == 's' {
                    let flags: String = c[i..]
                        .iter()
                        .take_while(|ch| ch.is_ascii_alphanumeric())
                        .collect();
                    i += flags.len();
                    if flags.contains('e') {
                        return Some(false);
                    }
                    if flags.contains('w') {
                        i = to_eol(i);
                    }
                }
            }
            _ => return None,
        }
    }
    Some(true)
}

/// Past an optional address at `i`: a line number, `$`, `first~step`,
/// `/re/` or `\%re%`, with GNU's `I`/`M` modifiers.
fn sed_address(c: &[char], mut i: usize) -> Option<usize> {
    match c.get(i) {
        Some(d) if d.is_ascii_digit() => {
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '~') {
                i += 1;
            }
        }
        Some('$') => i += 1,
        Some('+') | Some('~') => {
            i += 1;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
        }
        Some('/') => i = sed_part(c, i + 1, '/', true)?,
        Some('\\') => {
            let &delim = c.get(i + 1)?;
            i = sed_part(c, i + 2, delim, true)?;
        }
        _ => return Some(i),
    }
    while i < c.len() && (c[i] == 'I' || c[i] == 'M') {
        i += 1;
    }
    Some(i)
}

/// The index just past the closing delimiter of a part starting at `from`.
/// A backslash escapes anything; in a pattern, a bracket expression may
/// hold the delimiter (`s/[/]/x/`).
fn sed_part(chars: &[char], from: usize, delim: char, pattern: bool) -> Option<usize> {
    let mut j = from;
    while j < chars.len() {
        let c = chars[j];
        if c == '\\' {
            j += 2;
            continue;
        }
        if c == delim {
            return Some(j + 1);
        }
        if pattern && c == '[' {
            // `[]…]` and `[^]…]` hold a literal `]` first.
            let mut k = j + 1;
            if chars.get(k) == Some(&'^') {
                k += 1;
            }
            if chars.get(k) == Some(&']') {
                k += 1;
            }
            while k < chars.len() && chars[k] != ']' {
                k += 1;
            }
            j = k + 1;
            continue;
        }
        j += 1;
    }
    None
}

/// Scan code for what it reaches: programs rules care about, paths (added
/// to the command's paths), variable names (added to its reads) and cloud
/// SDK imports.
/// `import MySQLdb; print(MySQLdb.__version__)`: Python code that imports
/// a module only to show that it is installed, or which version, opens no
/// connection and uses no credential. In the code, every mention of the
/// module must be its plain `import` statement or a version attribute; in
/// a string, words of a message (`'MySQLdb not installed'`), never an
/// f-string field that uses it. Nothing may reach a module without naming
/// it (`sys.modules`, `getattr`, `__import__`, `exec`).
fn only_probed(code: &str, split: &crate::python::Split, module: &str) -> bool {
    const REFLECTION: &[&str] = &[
        "__import__",
        "importlib",
        "sys.modules",
        "getattr",
        "globals",
        "locals",
        "vars",
        "__dict__",
        "__builtins__",
        "exec",
        "eval",
        "compile",
        "pickle",
        "runpy",
    ];
    if REFLECTION.iter().any(|r| code.contains(r)) {
        return false;
    }
    let (mut imported, mut shown) = (false, false);
    for (before, after) in mentions(&split.code, module) {
        // The statement it is in: from the last `;` or newline.
        let stmt = before
            .rfind([';', '\n'])
            .map_or(before, |j| &before[j + 1..])
            .trim_start();
        let rest = after.split([';', '\n']).next().unwrap_or("").trim();
        if stmt.starts_with("import") || stmt.starts_with("from") {
            if stmt != "import " || !rest.is_empty() {
                return false;
            }
            imported = true;
        } else if probed(after) {
            shown = true;
        } else {
            return false;
        }
    }
    for text in &split.strings {
        for (before, after) in mentions(text, module) {
            // Words of a message: at the start, or after a word. An
            // f-string field (`{MySQLdb.connect()}`, `{(x := MySQLdb)}`)
            // has an operator or a bracket before it.
            let opens = text.contains(":=")
                || before
                    .trim_end()
                    .chars()
                    .next_back()
                    .is_some_and(|c| !c.is_alphanumeric());
            let ends = after.chars().next().is_none_or(|c| " :,!?".contains(c));
            if opens || !(ends || probed(after)) {
                return false;
            }
            shown = true;
        }
    }
    // A bare `import boto3` says nothing: it stays what it looks like,
    // the start of code that uses the SDK.
    imported && shown
}

/// `.__version__` and the like, as the whole attribute.
fn probed(after: &str) -> bool {
    const PROBES: &[&str] = &[
        ".__version__",
        ".version_info",
        ".version",
        ".VERSION",
        ".__file__",
    ];
    PROBES.iter().any(|p| {
        after.strip_prefix(p).is_some_and(|t| {
            t.chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || "_(.[".contains(c)))
        })
    })
}

/// Each whole-word mention of `word` in `text`: what is before and after.
fn mentions<'a>(text: &'a str, word: &str) -> Vec<(&'a str, &'a str)> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find(word).map(|i| at + i) {
        at = i + word.len();
        let (before, after) = (&text[..i], &text[at..]);
        if before
            .chars()
            .next_back()
            .is_none_or(|c| !(ident(c) || c == '.'))
            && after.chars().next().is_none_or(|c| !ident(c))
        {
            out.push((before, after));
        }
    }
    out
}

fn scan_code(code: &str, ctx: &Context<'_>, facts: &mut Facts) {
    // Python's own syntax says which words are only code: keywords and
    // upper-case names outside strings are its own (`pass`, a
    // `SECRET_KEY = …` setting), and comments run nothing.
    let python = is_python(&facts.program).then(|| crate::python::split(code));
    static IMPORTS: OnceLock<Option<Regex>> = OnceLock::new();
    let imports = IMPORTS.get_or_init(|| {
        Regex::new(
            r"\b(boto3|botocore|google\.cloud|googleapiclient|google\.auth|azure\.[a-z]+|@azure/[a-z-]+|kubernetes|psycopg2?|pymysql|MySQLdb|mysql\.connector|pymongo|redis|paramiko|fabric|@aws-sdk/[a-z-]+|aws-sdk|@google-cloud/[a-z-]+|mongodb|mysql2|Net::SSH|Net::OpenSSH|Aws::[A-Za-z]+|DBI->connect|child_process|subprocess|os\.system|os\.popen|Kernel\.system)\b",
        )
        .ok()
    });
    if let Some(re) = imports {
        for m in re.find_iter(code) {
            let what = m.as_str();
            // Process spawning alone is not a credential; what it runs is.
            let spawns = matches!(
                what,
                "child_process" | "subprocess" | "os.system" | "os.popen" | "Kernel.system"
            );
            let probed = python.as_ref().is_some_and(|p| only_probed(code, p, what));
            if !spawns && !probed {
                facts.code.push(format!("import {what}"));
            }
        }
    }
    let (plain, quoted): (&str, Vec<&str>) = match &python {
        Some(p) => (&p.code, p.strings.iter().map(String::as_str).collect()),
        None => (code, Vec::new()),
    };
    let texts = std::iter::once((plain, python.is_none())).chain(quoted.iter().map(|q| (*q, true)));
    for (text, quoted) in texts {
        let prose = python.is_some() && quoted && reads_as_prose(text);
        let mut previous = "";
        for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || "_-./~$".contains(c))) {
            if token.is_empty() {
                continue;
            }
            let keyword = !quoted && crate::python::KEYWORDS.contains(&token);
            // In a sentence (`'all tests pass'`, `'starts at line'`) a word
            // after an ordinary word is English, not a command.
            let in_sentence = prose
                && previous.len() >= 3
                && previous.chars().all(|c| c.is_ascii_lowercase())
                && !(ctx.known_program)(previous)
                && !PREFIX_COMMANDS.contains(&previous);
            previous = token;
            // `s/x/aws s3 ls/e` and paths hide program names behind
            // slashes; Python's `sh` library runs `sh.kubectl(…)`.
            let token = token.strip_prefix("sh.").unwrap_or(token);
            for part in token.split('/') {
                if !keyword && !in_sentence && (ctx.known_program)(part) {
                    facts.code.push(format!("program {part}"));
                }
            }
            if token.contains('/') || token.starts_with(".env") {
                push_path(token, glob::has_meta(token), ctx, &mut facts.paths);
            }
            let name = token.trim_start_matches('$');
            if quoted
                && name.len() > 2
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && name.contains('_')
            {
                facts.env_refs.push(name.to_string());
            }
        }
    }
    // Code that starts processes can assemble the command at run time
    // (`system("a"."ws")`), which no scan of its text can follow.
    static SPAWN: OnceLock<Option<Regex>> = OnceLock::new();
    if let Some(re) = SPAWN
        .get_or_init(|| {
            Regex::new(r"\b(system|exec[lv]?p?e?|popen|spawn(Sync)?|execSync|execFile(Sync)?|subprocess|child_process|shell_exec|proc_open|passthru|Open3|getRuntime)\s*[\(\.]|(create_subprocess_(exec|shell)|posix_spawnp?|spawn[lv]p?e?)\s*\(|`[^`]+`|\bqx[\(\{/]")
                .ok()
        })
        .as_ref()
    {
        // In Python a backtick is no shell, in its code or its strings;
        // a string naming a spawning function (`getattr(os, "system")`,
        // `__import__("subprocess")`) is a call by name.
        let spawns = match &python {
            Some(p) => {
                re.find_iter(&p.code).any(|m| !m.as_str().starts_with('`'))
                    || p.strings.iter().any(|t| SPAWN_NAMES.contains(&t.trim()))
            }
            None => re.is_match(code),
        };
        if spawns {
            facts.code.push("starts processes".to_string());
        }
    }
    for id in detect::scan(code) {
        if !facts.secrets.contains(&id) {
            facts.secrets.push(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::real_path;

    /// Where a path leads, as the kernel opens it: every kind of link on
    /// the way is seen through, and a path that leads nowhere else, or
    /// nowhere, has no other name.
    #[test]
    fn a_path_is_judged_where_it_leads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        let d = root.to_str().expect("utf-8");
        std::fs::create_dir(root.join("real")).expect("mkdir");
        std::fs::write(root.join("real/secret"), "k").expect("write");
        std::os::unix::fs::symlink("real/secret", root.join("innocent.txt")).expect("link");
        std::os::unix::fs::symlink(format!("{d}/real"), root.join("dir")).expect("link");
        std::os::unix::fs::symlink("innocent.txt", root.join("chain")).expect("link");
        std::os::unix::fs::symlink("nowhere", root.join("dangling")).expect("link");
        nix::unistd::mkfifo(
            &root.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .expect("fifo");
        let secret = format!("{d}/real/secret");
        let cases: &[(String, Option<&str>)] = &[
            (format!("{d}/innocent.txt"), Some(&secret)),
            (format!("{d}/dir/secret"), Some(&secret)),
            (format!("{d}/chain"), Some(&secret)),
            (format!("{d}/real/../innocent.txt"), Some(&secret)),
            (secret.clone(), None),
            (format!("{d}/dangling"), None),
            (format!("{d}/missing"), None),
            // Never opened for reading: a FIFO cannot hold the judge up.
            (format!("{d}/fifo"), None),
        ];
        for (path, want) in cases {
            assert_eq!(real_path(path).as_deref(), *want, "{path}");
        }
    }
}
