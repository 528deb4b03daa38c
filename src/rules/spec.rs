//! The YAML shapes: what a config or rules file may say.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Allow,
    Review,
    Deny,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Review => "review",
            Action::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

/// One config or rules file. Every key is optional so that a pack may hold
/// only rules and a config only settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub shell: Option<String>,
    pub default: Option<Action>,
    pub dynamic: Option<Action>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    #[serde(default)]
    pub rule_dirs: Vec<String>,
    #[serde(default)]
    pub wrappers: Vec<WrapperSpec>,
    /// Variables whose value is a command line some program will run
    /// (`GIT_SSH_COMMAND`, `PAGER`).
    #[serde(default)]
    pub command_env: Vec<String>,
    pub approval: Option<ApprovalSpec>,
    pub transfers: Option<TransferSpec>,
    /// Let the real shell read its startup files (`~/.bashrc`, profiles).
    /// Off by default: the agent can write them.
    pub startup_files: Option<bool>,
    /// Credentials a session may be granted (see `session`, `creds`).
    #[serde(default)]
    pub credentials: Vec<CredentialSpec>,
    /// Named boundaries (`staging`, `prod`) and the signals that identify
    /// them.
    #[serde(default)]
    pub boundaries: std::collections::BTreeMap<String, BoundarySpec>,
    /// Patterns of variable names removed from every child's environment.
    pub scrub_env: Option<Vec<String>>,
    /// What a command that targets another boundary than its session's
    /// gets (default deny).
    pub cross_boundary: Option<Action>,
    /// How long an implicit session lives at most (`12h`).
    pub session_ttl: Option<String>,
    pub audit: Option<AuditSpec>,
    /// The broker's socket: every line is decided there, never in-process.
    pub broker: Option<String>,
    /// The user the broker must run as (default `guard`).
    pub broker_user: Option<String>,
    /// How long the client waits for the broker to answer its hello.
    pub broker_timeout: Option<String>,
    /// `on` (default) or `off`: decide every exec below a line.
    #[serde(default, deserialize_with = "on_off")]
    pub exec_tree: Option<String>,
}

/// `on`/`off` as written, or a YAML boolean, kept as text and checked at
/// load (where the error gets its file:line:col).
fn on_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Bool(bool),
        Text(String),
    }
    Ok(Option::<Either>::deserialize(d)?.map(|e| match e {
        Either::Bool(true) => "on".to_string(),
        Either::Bool(false) => "off".to_string(),
        Either::Text(t) => t,
    }))
}

/// One credential: where its values come from and how long they live.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    pub name: String,
    pub provider: ProviderSpec,
    /// The variables it provides: `NAME` takes the provider's `NAME`,
    /// `NAME=key.path` takes a (dotted) key of the provider's JSON.
    #[serde(default)]
    pub env: Vec<String>,
    /// Values written to a 0600 file whose path goes into a variable.
    #[serde(default)]
    pub files: Vec<MaterialSpec>,
    pub ttl: Option<String>,
    pub boundary: Option<String>,
    pub revoke: Option<RevokeSpec>,
    /// Only these users' commands may be given it (default: anyone's).
    #[serde(default)]
    pub users: Vec<String>,
    /// `session` (default: minted once, cached for the session) or
    /// `command`: minted for each approved command from its context (on
    /// the provider's stdin), never cached, revoked when it ends.
    #[serde(default)]
    pub scope: Option<String>,
}

/// Exactly one of these.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    /// argv of a helper that prints `KEY=VALUE` lines or a JSON object.
    pub command: Option<Vec<String>>,
    /// A 0600 `KEY=VALUE` file owned by root or the guard user.
    pub env_file: Option<String>,
    /// Values in the config itself: for tests only.
    #[serde(rename = "static")]
    pub static_values: Option<std::collections::BTreeMap<String, String>>,
    /// A JSON object of values in a 0600 file owned by root or guard's
    /// user (what `guard creds import` writes).
    pub store: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MaterialSpec {
    /// The variable that receives the file's path (`KUBECONFIG`).
    pub env: String,
    /// The provider key (dotted for JSON) whose value is the content.
    pub from: String,
    /// The file's name (default: the variable's name).
    pub name: Option<String>,
    /// The variable receives the file's directory instead (`DOCKER_CONFIG`).
    #[serde(default)]
    pub dir: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RevokeSpec {
    /// argv of a helper that reads the issued values, as JSON, on stdin.
    pub command: Vec<String>,
}

/// The signals that say a command targets this boundary. Each is a glob.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BoundarySpec {
    #[serde(default)]
    pub aws_profiles: Vec<String>,
    #[serde(default)]
    pub aws_accounts: Vec<String>,
    #[serde(default)]
    pub kube_contexts: Vec<String>,
    #[serde(default)]
    pub kube_namespaces: Vec<String>,
    /// ssh, database and URL hosts.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Variable values: `AWS_PROFILE: ["prod*"]`.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, Vec<String>>,
}

/// Where and how decisions are recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuditSpec {
    /// `syslog` also sends every record to the local syslog/journald.
    pub forward: Option<String>,
    /// `allow` lets commands run when the log cannot be written (an
    /// escape hatch that is itself reported on stderr). Default `deny`.
    pub on_unwritable: Option<Action>,
    /// Rotate the log when it grows past this many bytes.
    pub rotate_bytes: Option<u64>,
    /// fsync each decision record before the command runs (default true
    /// in embedded mode; see `flush` for the broker).
    pub fsync: Option<bool>,
    /// `sync` (fdatasync each decision before answering), `interval`
    /// (write it before answering, fdatasync within 10 ms: auditd's
    /// incremental_async; the broker's default) or `none`.
    pub flush: Option<String>,
    /// Stay the parent of the command to record how it ended (default
    /// false: it costs more start-up time than the budget allows).
    pub supervise: Option<bool>,
    /// Where `forward: syslog` sends records: an absolute path to a unix
    /// datagram socket, or `udp:HOST:PORT`. Default `/dev/log` (which
    /// journald serves where it runs).
    pub syslog_socket: Option<String>,
}

/// File transfer and git over ssh.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TransferSpec {
    /// Where git transfers and `rsync --server` may go without review.
    pub paths: Option<Vec<String>>,
    /// The exact command sshd runs for the sftp subsystem through the shell.
    pub sftp_server: Option<String>,
}

/// Who may approve a `review`, tried in order: session memory, the
/// terminal, a webhook; then deny.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// Prompt on /dev/tty when there is one.
    pub tty: Option<bool>,
    /// How long the terminal prompt waits (`120s`, `2m`).
    pub timeout: Option<String>,
    pub webhook: Option<WebhookSpec>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: String,
    /// The HMAC key; the file must not be readable by others.
    pub secret_file: String,
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "match")]
    pub matches: MatchSpec,
    pub unless: Option<MatchSpec>,
    pub action: Action,
    #[serde(default)]
    pub risk: Risk,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub grants: Vec<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub examples: Examples,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default, rename = "match")]
    pub matches: Vec<String>,
    #[serde(default)]
    pub no_match: Vec<String>,
}

/// Conditions on one command. All given fields must hold; a list field
/// holds when any of its entries does.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    #[serde(default)]
    pub program: Vec<String>,
    #[serde(default)]
    pub subcommand: Vec<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub args_regex: Option<String>,
    /// A regex that some single argument matches: unlike `args_regex`, a
    /// space inside one word (`X=$(dirname $(which java))`) does not start
    /// another.
    #[serde(default)]
    pub arg_regex: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub env_refs: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub code: Option<bool>,
    /// The command is an ssh file transfer or git transport of these kinds:
    /// git, rsync, scp, sftp.
    #[serde(default)]
    pub transfer: Vec<String>,
    /// Every path of the transfer lies within `transfers.paths`.
    #[serde(default)]
    pub transfer_allowed: Option<bool>,
}

impl MatchSpec {
    pub fn is_empty(&self) -> bool {
        *self == MatchSpec::default()
    }
}

/// How to find the command a wrapper program runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapperSpec {
    pub programs: Vec<String>,
    #[serde(default)]
    pub inner: InnerKind,
    /// Only wrap when the first positional is one of these (`docker exec`).
    #[serde(default)]
    pub subcommands: Vec<String>,
    /// Options that consume the next word.
    #[serde(default)]
    pub options_with_value: Vec<String>,
    /// Positionals between the options and the inner command (`timeout 5`).
    #[serde(default)]
    pub skip: usize,
    /// `NAME=VALUE` words before the inner command are settings (`env`).
    #[serde(default)]
    pub assignments: bool,
    /// The inner command starts after this word when it is present (`--`).
    pub separator: Option<String>,
    /// The inner argv ends at any of these words (`parallel … ::: …`).
    #[serde(default)]
    pub terminators: Vec<String>,
    /// Options that start an inner argv running to one of the listed
    /// terminators (`find -exec … ;`).
    #[serde(default)]
    pub exec_options: Vec<ExecOption>,
    /// Options whose value is a shell script (`su -c`, `flock -c`).
    #[serde(default)]
    pub script_options: Vec<String>,
    /// Options whose value is split into more words of this wrapper's
    /// own command line (`env -S`).
    #[serde(default)]
    pub split_options: Vec<String>,
    /// With any of these the wrapper does not run its command
    /// (`command -v`).
    #[serde(default)]
    pub inert_options: Vec<String>,
    /// Options whose value is a command line (`git --upload-pack=`).
    #[serde(default)]
    pub command_options: Vec<String>,
    /// `-c key=value` settings whose value is a command line (git).
    pub config_option: Option<ConfigOption>,
    /// `git config KEY VALUE`: with this first positional, a KEY from
    /// `config_option.keys` makes VALUE a command line.
    pub setting_subcommand: Option<String>,
    /// Options may follow the skipped positionals (GNU getopt permutes;
    /// OpenSSH parses options again after the host).
    #[serde(default)]
    pub permute: bool,
    /// With no inner command, the program runs commands read from its
    /// stdin (`ssh host <<EOF`).
    #[serde(default)]
    pub stdin_script: bool,
    /// Options naming a program file, which may be stdin (`awk -f -`,
    /// `make -f /dev/stdin`).
    #[serde(default)]
    pub program_file_options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InnerKind {
    /// The rest of the words are the inner argv.
    #[default]
    Argv,
    /// The rest of the words, joined by spaces, are a shell script
    /// (`eval`, `ssh host cmd`, `watch`).
    Script,
    /// bash-style arguments: `-c STRING`, a script file, or stdin.
    Shell,
    /// `NAME=VALUE` arguments whose values are commands (`alias`).
    Alias,
    /// No inner command of its own; only options may run one (git).
    None,
    /// `source FILE`: the file's code runs in this shell.
    Source,
    /// An interpreter: inline code (`script_options`), a script file, or
    /// its program on stdin.
    Interpreter,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecOption {
    pub option: String,
    pub terminators: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigOption {
    pub flag: String,
    /// Key globs (`alias.*`, `core.pager`).
    pub keys: Vec<String>,
}
