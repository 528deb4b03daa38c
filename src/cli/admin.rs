//! Admin mode: `check`, `rules`, `creds`, `completions`, `man`. clap owns
//! these; every flag is defined here once and the completions and man page
//! are generated from the same definition.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::parse::Env;
use crate::policy::{self, Input};
use crate::report;
use crate::rules::load::{self, Config};

#[derive(Parser, Debug)]
#[command(
    name = "guard",
    version,
    about = "A login shell that authorizes credential use at the point of use",
    long_about = "guard is a drop-in login shell for an agent's user account. Every command line \
is parsed with a bash grammar, every command in it (inside pipelines, $(…), bash -c, sudo, xargs, \
find -exec, …) is matched against YAML rules, and only then is the real shell exec'd.\n\n\
Shell mode: guard -c STRING [NAME [ARGS…]] | guard -- PROGRAM [ARGS…] | guard (interactive, or \
a script on stdin). A refusal exits 126 with one `guard:` line on stderr.",
    after_help = "Environment: GUARD_CONFIG (one config file instead of /etc/guard and the user's), \
GUARD_STATE_DIR (audit log and state), GUARD_SESSION (session id)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Admin,
}

#[derive(Subcommand, Debug)]
enum Admin {
    /// Decide a command line without running it. Exit 0 allow, 1 review or deny, 2 error.
    Check {
        /// Print the decision as one JSON object.
        #[arg(long)]
        json: bool,
        /// The command line to check, as a shell script.
        #[arg(short = 'c', value_name = "STRING", conflicts_with = "argv")]
        command: Option<String>,
        /// An exact argv to check (after `--`).
        #[arg(last = true, value_name = "ARGV")]
        argv: Vec<String>,
    },
    /// Inspect and test the rules.
    Rules {
        #[command(subcommand)]
        command: RulesCmd,
    },
    /// Inventory the credentials this user can reach.
    Creds {
        #[command(subcommand)]
        command: CredsCmd,
    },
    /// Verify, read and anchor the audit log.
    Audit {
        /// The log's directory (default: the state dir; a broker's is
        /// /var/log/guard).
        #[arg(long, value_name = "DIR", global = true)]
        dir: Option<PathBuf>,
        #[command(subcommand)]
        command: super::audit_cmd::AuditCmd,
    },
    /// Decide an agent harness's tool call (a pre-tool hook), or install
    /// guard as one.
    Hook {
        #[command(subcommand)]
        command: HookCmd,
    },
    /// The approver service, and its reviewer CLI.
    Approver {
        /// The approver's address, for the reviewer commands.
        #[arg(long, value_name = "URL", global = true)]
        url: Option<String>,
        /// The reviewer's name; the password comes from
        /// GUARD_APPROVER_PASSWORD.
        #[arg(long, value_name = "NAME", global = true)]
        user: Option<String>,
        #[command(subcommand)]
        command: ApproverCmd,
    },
    /// Start, end and inspect sessions.
    Session {
        #[command(subcommand)]
        command: super::sessions::SessionCmd,
    },
    /// Run the broker, the reference monitor, in the foreground as this user.
    ///
    /// It owns the rules, approvals, the audit log, sessions and
    /// credentials; guard shells configured with `broker: SOCKET` ask it
    /// for every line. Run it as its own user (`guard`), never the agent.
    Broker {
        /// Where to listen (unless systemd passes a socket).
        #[arg(long, value_name = "PATH", default_value = "/run/guard/broker.sock")]
        socket: PathBuf,
        /// One config file instead of the admin layers under /etc/guard.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Sessions, minted credentials, approval memory.
        #[arg(long, value_name = "DIR", default_value = "/var/lib/guard")]
        state_dir: PathBuf,
        /// The audit log (DIR/audit.jsonl).
        #[arg(long, value_name = "DIR", default_value = "/var/log/guard")]
        audit_dir: PathBuf,
    },
    /// Say how lines are decided here: by a broker, or in-process (advisory).
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print a completion script for SHELL.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
}

#[derive(Subcommand, Debug)]
enum CredsCmd {
    /// List reachable credentials, never their values. Exit 0 none, 1 some, 2 error.
    ///
    /// Looks at secret env vars, ~/.aws, ~/.kube and $KUBECONFIG, ~/.ssh
    /// keys, .env files under the cwd, ~/.netrc, ~/.pgpass, ~/.docker,
    /// ~/.git-credentials, gh and gcloud.
    Scan {
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
        /// Directory levels below the cwd searched for .env files.
        #[arg(long, value_name = "N", default_value_t = 3)]
        depth: usize,
    },
    /// For each credential: who holds it, how it was used, what it
    /// touched, and whether it was used at all (from the definitions,
    /// `creds scan` and the audit log).
    Usage {
        /// RFC 3339 time, or an age such as 30d or 12h.
        #[arg(long, value_name = "DUR")]
        since: Option<String>,
        /// Only this user's commands.
        #[arg(long, value_name = "U")]
        user: Option<String>,
        /// A list of objects, one per credential.
        #[arg(long)]
        json: bool,
        /// The audit log's directory (default: the state dir; a broker's
        /// is /var/log/guard).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Directory levels below the cwd searched for .env files.
        #[arg(long, value_name = "N", default_value_t = 3)]
        depth: usize,
    },
    /// Revoke a per-command credential once its command has ended (run
    /// by guard itself, detached, when it mints one).
    #[command(hide = true)]
    ReapCommand {
        #[arg(long)]
        pid: i32,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[arg(long, value_name = "DIR")]
        audit_dir: Option<PathBuf>,
        /// Revoke by then even if the command still runs.
        #[arg(long, value_name = "MS", default_value_t = 900_000)]
        ttl_ms: u64,
    },
    /// Move a user's credentials into the broker's store (run as root).
    ///
    /// What `creds scan` finds in the user's home (AWS profiles, kube
    /// configs, .env secrets, netrc, pgpass, docker auths, gh and git
    /// credentials) becomes credential definitions the broker issues per
    /// session, with a rule granting each; the user's copies are removed
    /// or cut. Prints, for each, what it did.
    Import {
        /// Whose credentials.
        #[arg(long)]
        user: String,
        /// Their home (default: from the passwd database).
        #[arg(long, value_name = "DIR")]
        home: Option<PathBuf>,
        /// The broker's state directory.
        #[arg(long, value_name = "DIR", default_value = "/var/lib/guard")]
        state_dir: PathBuf,
        /// The broker's user, who will own the store.
        #[arg(long, value_name = "NAME", default_value = "guard")]
        broker_user: String,
        /// Directory levels below the home searched for .env files.
        #[arg(long, value_name = "N", default_value_t = 3)]
        depth: usize,
        /// Say what would be done, and do nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The provider of an imported AWS profile: STS session credentials
    /// from the stored key, as JSON (run by the broker).
    #[command(hide = true)]
    MintAws {
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        #[arg(long)]
        profile: String,
    },
}

#[derive(Subcommand, Debug)]
enum ApproverCmd {
    /// Serve the webhook protocol, the reviewers' page and their API.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8787.
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// `sqlite:PATH` (created on first start) or `postgres://…`.
        #[arg(long, value_name = "URL")]
        database: String,
        /// The shared HMAC secret (must not be readable by others).
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        /// approvals_required, notify, trusted_header, agents.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Where reviewer actions are logged (hash-chained; default: an
        /// `audit` directory beside a SQLite database, else required).
        #[arg(long, value_name = "DIR")]
        audit_dir: Option<PathBuf>,
    },
    /// Manage reviewer accounts.
    User {
        #[command(subcommand)]
        command: ApproverUserCmd,
    },
    /// Requests waiting for review (`--all`: every request).
    List {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        all: bool,
    },
    /// One request, as stored.
    Show { id: String },
    /// Approve a request.
    Approve {
        id: String,
        #[arg(long, value_parser = ["once", "session"], default_value = "once")]
        scope: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Deny a request.
    Deny {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
enum HookCmd {
    /// Claude Code's PreToolUse hook: its JSON on stdin, its
    /// hookSpecificOutput on stdout.
    ClaudeCode {
        /// Leave allowed calls to Claude Code's own permission prompts
        /// instead of answering `allow`.
        #[arg(long)]
        defer_allow: bool,
    },
    /// Gemini CLI's BeforeTool hook.
    Gemini,
    /// The harness-neutral hook (schemas/hook-json.schema.json).
    Json,
    /// Merge guard's hook into a harness's settings file.
    Install {
        /// claude-code or gemini.
        #[arg(value_parser = ["claude-code", "gemini"])]
        harness: String,
        /// The project's settings (./.claude/settings.json), the default.
        #[arg(long, conflicts_with = "user")]
        project: bool,
        /// The user's settings (~/.claude/settings.json).
        #[arg(long)]
        user: bool,
        /// Take guard's entry out again.
        #[arg(long)]
        uninstall: bool,
        /// Another settings file (for tests and unusual layouts).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Answer `allow` outright for what guard allows, skipping Claude
        /// Code's own prompts (default: leave those calls to them).
        #[arg(long)]
        allow: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ApproverUserCmd {
    /// Add a reviewer (or set a new password); the password is read from
    /// stdin.
    Add {
        name: String,
        #[arg(long, value_name = "URL")]
        database: String,
        /// Required: the password is never taken from argv.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
enum RulesCmd {
    /// List every loaded rule.
    List,
    /// Show one rule as YAML, with where it was defined.
    Show { id: String },
    /// Check each rule's examples (match / no_match). With FILES, the
    /// embedded packs plus those files; otherwise the configured rules.
    Test { files: Vec<PathBuf> },
    /// Validate the configuration (or FILES) and compile every regex.
    Lint { files: Vec<PathBuf> },
}

pub fn command() -> clap::Command {
    Cli::command()
}

pub fn run(argv0: OsString, args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once(argv0).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let env = Env::from_process();
    match cli.command {
        Admin::Check {
            json,
            command,
            argv,
        } => check(&env, json, command, argv),
        Admin::Rules { command } => rules(&env, command),
        Admin::Session { command } => super::sessions::run(&env.home, command),
        Admin::Creds {
            command: CredsCmd::Scan { json, depth },
        } => creds_scan(&env, json, depth),
        Admin::Creds {
            command:
                CredsCmd::Import {
                    user,
                    home,
                    state_dir,
                    broker_user,
                    depth,
                    dry_run,
                },
        } => creds_import(&env, user, home, state_dir, &broker_user, depth, dry_run),
        Admin::Creds {
            command:
                CredsCmd::Usage {
                    since,
                    user,
                    json,
                    dir,
                    depth,
                },
        } => creds_usage(&env, since, user, json, dir, depth),
        Admin::Creds {
            command:
                CredsCmd::ReapCommand {
                    pid,
                    file,
                    audit_dir,
                    ttl_ms,
                },
        } => {
            if let Some(d) = audit_dir {
                crate::audit::set_dir(d);
            }
            crate::creds::reap_command(pid, &file, std::time::Duration::from_millis(ttl_ms));
            0
        }
        Admin::Creds {
            command: CredsCmd::MintAws { store, profile },
        } => match crate::creds::import::mint_aws(&store, &profile) {
            Ok(json) => {
                println!("{json}");
                0
            }
            Err(e) => {
                eprintln!("guard: {e}");
                1
            }
        },
        Admin::Audit { command, dir } => super::audit_cmd::run(command, dir),
        Admin::Hook { command } => hook(command),
        Admin::Approver { url, user, command } => approver(url, user, command),
        Admin::Broker {
            socket,
            config,
            state_dir,
            audit_dir,
        } => crate::broker::main(crate::broker::Options {
            socket,
            config,
            state_dir,
            audit_dir,
            etc: PathBuf::from(crate::rules::load::ETC),
        }),
        Admin::Status { json } => super::status::run(json),
        Admin::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "guard", &mut std::io::stdout());
            0
        }
        Admin::Man => match clap_mangen::Man::new(command()).render(&mut std::io::stdout()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("guard: {e}");
                2
            }
        },
    }
}

fn config_failure(e: &str) -> i32 {
    eprintln!("guard: config error: {e}");
    2
}

fn load_or_report(env: &Env) -> Result<Config, i32> {
    load::load(&env.home).map_err(|e| {
        eprintln!("guard: config error: {e}");
        2
    })
}

fn check(env: &Env, json: bool, command: Option<String>, argv: Vec<String>) -> i32 {
    let input = match (&command, argv.is_empty()) {
        (Some(c), true) => Input::Script(c),
        (None, false) => Input::Argv(&argv),
        _ => {
            eprintln!("guard: check needs -c STRING or -- ARGV…");
            return 2;
        }
    };
    let cfg = match load_or_report(env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let v = policy::decide(input, &cfg, env);
    if json {
        match serde_json::to_string(&report::check_json(&v)) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("guard: {e}");
                return 2;
            }
        }
    } else {
        print!("{}", report::human(&v));
    }
    match v.action {
        crate::rules::spec::Action::Allow => 0,
        _ => 1,
    }
}

fn creds_scan(env: &Env, json: bool, depth: usize) -> i32 {
    let cfg = match load_or_report(env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let src = crate::inventory::Sources::from_process(env, depth, &cfg.sessions);
    let found = crate::inventory::scan(&src);
    let out = if json {
        match crate::inventory::output::json(&found) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("guard: {e}");
                return 2;
            }
        }
    } else {
        crate::inventory::output::table(&found)
    };
    print!("{out}");
    i32::from(!found.is_empty())
}

fn creds_usage(
    env: &Env,
    since: Option<String>,
    user: Option<String>,
    json: bool,
    dir: Option<PathBuf>,
    depth: usize,
) -> i32 {
    let cfg = match load_or_report(env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let since = match since.as_deref().map(crate::audit::query::since).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("guard: --since: {e}");
            return 2;
        }
    };
    let Some(dir) = dir.or_else(crate::state::dir) else {
        eprintln!("guard: no audit directory (set --dir)");
        return 2;
    };
    let src = crate::inventory::Sources::from_process(env, depth, &cfg.sessions);
    let found = crate::inventory::scan(&src);
    let text = crate::audit::chain::read_all(&dir);
    let rows = crate::creds::usage::report(
        &cfg.sessions.credentials,
        &found,
        crate::audit::query::parse(&text),
        &crate::creds::usage::Window { since, user },
    );
    if json {
        match serde_json::to_string_pretty(&rows) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("guard: {e}");
                return 2;
            }
        }
    } else {
        print!("{}", crate::creds::usage::table(&rows));
    }
    0
}

fn creds_import(
    env: &Env,
    user: String,
    home: Option<PathBuf>,
    state_dir: PathBuf,
    broker_user: &str,
    depth: usize,
    dry_run: bool,
) -> i32 {
    let Some(account) = nix::unistd::User::from_name(&user).ok().flatten() else {
        eprintln!("guard: no user `{user}`");
        return 2;
    };
    let owner = match nix::unistd::User::from_name(broker_user).ok().flatten() {
        Some(u) => (u.uid.as_raw(), u.gid.as_raw()),
        None if dry_run => (0, 0),
        None => {
            eprintln!("guard: no broker user `{broker_user}` (create it, or pass --broker-user)");
            return 2;
        }
    };
    if !dry_run && !nix::unistd::geteuid().is_root() {
        eprintln!("guard: creds import moves files between accounts: run it as root");
        return 2;
    }
    let cfg = match load_or_report(env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let opts = crate::creds::import::Options {
        user,
        uid: account.uid.as_raw(),
        home: home.unwrap_or(account.dir),
        state_dir,
        owner,
        dry_run,
        guard_bin: std::env::current_exe()
            .unwrap_or_else(|_| PathBuf::from("/usr/local/bin/guard")),
        depth,
    };
    match crate::creds::import::run(&opts, &cfg.sessions) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            0
        }
        Err(e) => {
            eprintln!("guard: creds import: {e}");
            1
        }
    }
}

fn rules(env: &Env, cmd: RulesCmd) -> i32 {
    match cmd {
        RulesCmd::List => {
            let Ok(cfg) = load_or_report(env) else {
                return 2;
            };
            let rules = match cfg.rules.all() {
                Ok(r) => r,
                Err(e) => return config_failure(&e),
            };
            for r in rules {
                println!(
                    "{:<28} {:<7} {:<8} {}",
                    r.spec.id,
                    r.spec.action.as_str(),
                    format!("{:?}", r.spec.risk).to_lowercase(),
                    r.spec.description
                );
            }
            0
        }
        RulesCmd::Show { id } => {
            let Ok(cfg) = load_or_report(env) else {
                return 2;
            };
            let rule = match cfg.rules.get(&id) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    eprintln!("guard: no rule `{id}`");
                    return 1;
                }
                Err(e) => return config_failure(&e),
            };
            println!("# {}", rule.origin);
            match report::rule_yaml(&rule.spec) {
                Ok(y) => print!("{y}"),
                Err(e) => {
                    eprintln!("guard: {e}");
                    return 2;
                }
            }
            0
        }
        RulesCmd::Test { files } => {
            let cfg = if files.is_empty() {
                load::load(&env.home)
            } else {
                load::load_with(&files, &env.home, true)
            };
            let cfg = match cfg {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("guard: config error: {e}");
                    return 2;
                }
            };
            let only: Option<Vec<String>> = (!files.is_empty())
                .then(|| files.iter().map(|f| f.display().to_string()).collect());
            let report = match crate::rules::examples::run(&cfg, env, only.as_deref()) {
                Ok(r) => r,
                Err(e) => return config_failure(&e),
            };
            for failure in &report.failures {
                println!("FAIL {failure}");
            }
            println!(
                "{} rules, {} examples: {} passed, {} failed",
                report.rules,
                report.examples,
                report.examples - report.failures.len(),
                report.failures.len()
            );
            i32::from(!report.failures.is_empty())
        }
        RulesCmd::Lint { files } => {
            let cfg = if files.is_empty() {
                load::load(&env.home)
            } else {
                load::load_with(&files, &env.home, true)
            };
            match cfg {
                Ok(cfg) => {
                    let rules = match cfg.rules.all() {
                        Ok(r) => r,
                        Err(e) => return config_failure(&e),
                    };
                    let mut bad = 0;
                    let mut seen = std::collections::HashMap::new();
                    for r in &rules {
                        for re in r.regexes() {
                            if let Err(e) = re.get() {
                                println!("{}: invalid regex: {e}", r.origin);
                                bad += 1;
                            }
                        }
                        if let Err(e) = load::validate(&r.spec, &|_| r.origin.clone()) {
                            println!("{e}");
                            bad += 1;
                        }
                        if let Some(first) = seen.insert(r.spec.id.clone(), r.origin.clone()) {
                            println!(
                                "{}: duplicate rule id `{}` (first at {first})",
                                r.origin, r.spec.id
                            );
                            bad += 1;
                        }
                    }
                    for n in &cfg.notes {
                        println!("note: {n}");
                    }
                    if bad > 0 {
                        return 2;
                    }
                    println!(
                        "ok: {} rules in {} layers ({})",
                        rules.len(),
                        cfg.files.len(),
                        cfg.files.join(", ")
                    );
                    0
                }
                Err(e) => {
                    println!("guard: config error: {e}");
                    eprintln!("guard: config error: {e}");
                    2
                }
            }
        }
    }
}

fn approver(url: Option<String>, user: Option<String>, command: ApproverCmd) -> i32 {
    use crate::approver;
    let fail = |e: String| {
        eprintln!("guard: {e}");
        1
    };
    let remote = || approver::client::Remote::new(url.clone(), user.clone());
    let print = |v: serde_json::Value| {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        0
    };
    match command {
        ApproverCmd::Serve {
            listen,
            database,
            secret_file,
            config,
            audit_dir,
        } => {
            let audit_dir = match audit_dir {
                Some(d) => d,
                None => match database.strip_prefix("sqlite:") {
                    Some(path) => std::path::Path::new(path)
                        .parent()
                        .map_or_else(|| PathBuf::from("audit"), |p| p.join("audit")),
                    None => return fail("a postgres:// database needs --audit-dir".to_string()),
                },
            };
            match approver::serve::main(approver::serve::Options {
                listen,
                database,
                secret_file,
                config,
                audit_dir,
            }) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("guard: {e}");
                    2
                }
            }
        }
        ApproverCmd::User {
            command: ApproverUserCmd::Add { name, database, .. },
        } => match approver::add_user(&name, &database) {
            Ok(()) => {
                println!("reviewer {name} added");
                0
            }
            Err(e) => fail(e),
        },
        ApproverCmd::List { json, all } => match remote().and_then(|r| r.list(all)) {
            Ok(v) if json => print(v),
            Ok(v) => {
                print!("{}", approver::client::table(&v));
                0
            }
            Err(e) => fail(e),
        },
        ApproverCmd::Show { id } => match remote().and_then(|r| r.show(&id)) {
            Ok(v) => print(v),
            Err(e) => fail(e),
        },
        ApproverCmd::Approve { id, scope, reason } => {
            match remote().and_then(|r| r.decide(&id, "allow", &scope, reason.as_deref())) {
                Ok(v) => {
                    println!(
                        "{id}: {} ({}/{} approvals)",
                        v["state"].as_str().unwrap_or("?"),
                        v["approvals"],
                        v["required"]
                    );
                    0
                }
                Err(e) => fail(e),
            }
        }
        ApproverCmd::Deny { id, reason } => {
            match remote().and_then(|r| r.decide(&id, "deny", "once", Some(&reason))) {
                Ok(v) => {
                    println!("{id}: {}", v["state"].as_str().unwrap_or("?"));
                    0
                }
                Err(e) => fail(e),
            }
        }
    }
}

fn hook(command: HookCmd) -> i32 {
    use crate::hook;
    // A hook that cannot decide blocks the call: exit 2 is "block" to
    // both harnesses, with stderr as the reason.
    let block = |e: String| {
        eprintln!("guard: {e}");
        2
    };
    let (harness, defer_allow) = match command {
        HookCmd::Install {
            harness,
            user,
            uninstall,
            settings,
            allow,
            ..
        } => {
            let Some(h) = hook::install::harness(&harness) else {
                return block(format!("unknown harness {harness}"));
            };
            let path = match settings {
                Some(p) => p,
                None => {
                    let cwd = std::env::current_dir().unwrap_or_default();
                    match hook::install::settings_path(h, user, &cwd) {
                        Ok(p) => p,
                        Err(e) => return block(e),
                    }
                }
            };
            let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("guard"));
            let command = hook::install::command_for(h, &exe, !allow);
            return match hook::install::run(&path, h, &command, uninstall) {
                Ok(changed) => {
                    let what = match (uninstall, changed) {
                        (false, true) => "installed in",
                        (false, false) => "already in",
                        (true, true) => "removed from",
                        (true, false) => "was not in",
                    };
                    println!("guard hook {what} {}", path.display());
                    0
                }
                Err(e) => block(e),
            };
        }
        HookCmd::ClaudeCode { defer_allow } => ("claude-code", defer_allow),
        HookCmd::Gemini => ("gemini", false),
        HookCmd::Json => ("json", false),
    };
    let text = match hook::read_stdin() {
        Ok(t) => t,
        Err(e) => return block(e),
    };
    let input: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return block(format!(
                "hook input is not JSON: {}:{}: {e}",
                e.line(),
                e.column()
            ))
        }
    };
    let call = match harness {
        "claude-code" => hook::claude::call(&input),
        "gemini" => hook::gemini::call(&input),
        _ => hook::generic::call(&input),
    };
    let call = match call {
        Ok(c) => c,
        Err(e) => return block(e),
    };
    let mode = format!("hook:{harness}");
    let outcome = match hook::decide(&call, input["cwd"].as_str(), &mode) {
        Ok(o) => o,
        Err(e) => return block(e),
    };
    let out = match harness {
        "claude-code" => hook::claude::output(&outcome, defer_allow),
        "gemini" => hook::gemini::output(&outcome),
        _ => hook::generic::output(&outcome),
    };
    println!("{out}");
    0
}
