//! The compiled form of rule files: what the binary embeds and the cache
//! stores. It is read without copying: indexes map program names to rule
//! and wrapper numbers, and each rule stays an encoded blob until a command
//! names its program, so start-up cost does not grow with the number of
//! rules. (This file is also compiled into build.rs.)

use serde::{Deserialize, Serialize};

use super::spec::{
    Action, ApprovalSpec, AuditSpec, BoundarySpec, CredentialSpec, FileSpec, RuleSpec,
    TransferSpec, WrapperSpec,
};

/// Bumped whenever the encoding changes.
pub const FORMAT: u32 = 6;

#[derive(Debug, Serialize, Deserialize)]
pub struct Compiled<'a> {
    pub format: u32,
    #[serde(borrow)]
    pub shell: Option<&'a str>,
    pub default: Option<Action>,
    pub dynamic: Option<Action>,
    #[serde(borrow)]
    pub rule_dirs: Vec<&'a str>,
    /// `(program, rule number)`, sorted by program.
    #[serde(borrow)]
    pub programs: Vec<(&'a str, u32)>,
    /// Rules that name no literal program: checked for every command.
    pub any_program: Vec<u32>,
    /// Each rule, encoded as a `PackedRule`.
    #[serde(borrow)]
    pub rules: Vec<&'a [u8]>,
    /// `(program, wrapper number)`, sorted by program.
    #[serde(borrow)]
    pub wrapper_programs: Vec<(&'a str, u32)>,
    /// Each wrapper, encoded as a `WrapperSpec`.
    #[serde(borrow)]
    pub wrappers: Vec<&'a [u8]>,
    #[serde(borrow)]
    pub command_env: Vec<&'a str>,
    /// Programs a rule flags whatever their arguments, sorted: naming one
    /// in inline interpreter code is what `code: true` looks for.
    #[serde(borrow)]
    pub code_programs: Vec<&'a str>,
    pub approval: Option<ApprovalSpec>,
    pub transfers: Option<TransferSpec>,
    pub startup_files: Option<bool>,
    pub credentials: Vec<CredentialSpec>,
    pub boundaries: std::collections::BTreeMap<String, BoundarySpec>,
    pub scrub_env: Option<Vec<String>>,
    pub cross_boundary: Option<Action>,
    pub session_ttl: Option<String>,
    pub audit: Option<AuditSpec>,
    pub broker: Option<String>,
    pub broker_user: Option<String>,
    pub broker_timeout: Option<String>,
    pub exec_tree: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackedRule {
    pub spec: RuleSpec,
    pub file: String,
    pub line: usize,
    pub col: usize,
}

/// One parsed file with where each of its rules was written.
pub struct Parsed {
    pub name: String,
    pub spec: FileSpec,
    pub origins: Vec<(usize, usize)>,
}

fn is_literal(name: &str) -> bool {
    !name.contains(['*', '?', '['])
}

/// Compile parsed files into one layer. Files later in the list override
/// earlier settings, as layering does.
pub fn compile(files: Vec<Parsed>) -> Result<Vec<u8>, String> {
    let mut shell = None;
    let (mut default, mut dynamic) = (None, None);
    let mut approval = None;
    let mut transfers = None;
    let mut startup_files = None;
    let mut credentials = Vec::new();
    let mut boundaries = std::collections::BTreeMap::new();
    let (mut scrub_env, mut cross_boundary, mut session_ttl, mut audit) = (None, None, None, None);
    let (mut broker, mut broker_user, mut broker_timeout, mut exec_tree) = (None, None, None, None);
    let mut rule_dirs = Vec::new();
    let mut rule_blobs: Vec<Vec<u8>> = Vec::new();
    let mut programs: Vec<(String, u32)> = Vec::new();
    let mut any_program = Vec::new();
    let mut wrapper_blobs: Vec<Vec<u8>> = Vec::new();
    let mut wrapper_programs: Vec<(String, u32)> = Vec::new();
    let mut command_env = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut code_programs: Vec<String> = Vec::new();
    for file in files {
        let spec = file.spec;
        shell = spec.shell.or(shell);
        default = spec.default.or(default);
        dynamic = spec.dynamic.or(dynamic);
        approval = spec.approval.or(approval);
        transfers = spec.transfers.or(transfers);
        startup_files = spec.startup_files.or(startup_files);
        credentials.extend(spec.credentials);
        boundaries.extend(spec.boundaries);
        scrub_env = spec.scrub_env.or(scrub_env);
        cross_boundary = spec.cross_boundary.or(cross_boundary);
        session_ttl = spec.session_ttl.or(session_ttl);
        audit = spec.audit.or(audit);
        broker = spec.broker.or(broker);
        broker_user = spec.broker_user.or(broker_user);
        broker_timeout = spec.broker_timeout.or(broker_timeout);
        exec_tree = spec.exec_tree.or(exec_tree);
        rule_dirs.extend(spec.rule_dirs);
        command_env.extend(spec.command_env);
        for (rule, (line, col)) in spec.rules.into_iter().zip(file.origins) {
            if !ids.insert(rule.id.clone()) {
                return Err(format!(
                    "{}:{line}:{col}: duplicate rule id `{}`",
                    file.name, rule.id
                ));
            }
            let n = u32::try_from(rule_blobs.len()).map_err(|e| e.to_string())?;
            let names = &rule.matches.program;
            let whole_program = super::spec::MatchSpec {
                program: Vec::new(),
                ..rule.matches.clone()
            }
            .is_empty();
            if whole_program && rule.action != Action::Allow {
                code_programs.extend(names.iter().filter(|p| is_literal(p)).cloned());
            }
            if !names.is_empty() && names.iter().all(|p| is_literal(p)) {
                programs.extend(names.iter().map(|p| (p.clone(), n)));
            } else {
                any_program.push(n);
            }
            let packed = PackedRule {
                spec: rule,
                file: file.name.clone(),
                line,
                col,
            };
            rule_blobs.push(postcard::to_stdvec(&packed).map_err(|e| e.to_string())?);
        }
        for w in spec.wrappers {
            let n = u32::try_from(wrapper_blobs.len()).map_err(|e| e.to_string())?;
            wrapper_programs.extend(w.programs.iter().map(|p| (p.clone(), n)));
            wrapper_blobs.push(postcard::to_stdvec::<WrapperSpec>(&w).map_err(|e| e.to_string())?);
        }
    }
    programs.sort();
    wrapper_programs.sort();
    code_programs.sort();
    code_programs.dedup();
    let compiled = Compiled {
        format: FORMAT,
        shell: shell.as_deref(),
        default,
        dynamic,
        rule_dirs: rule_dirs.iter().map(String::as_str).collect(),
        programs: programs.iter().map(|(p, n)| (p.as_str(), *n)).collect(),
        any_program,
        rules: rule_blobs.iter().map(Vec::as_slice).collect(),
        wrapper_programs: wrapper_programs
            .iter()
            .map(|(p, n)| (p.as_str(), *n))
            .collect(),
        wrappers: wrapper_blobs.iter().map(Vec::as_slice).collect(),
        command_env: command_env.iter().map(String::as_str).collect(),
        code_programs: code_programs.iter().map(String::as_str).collect(),
        approval,
        transfers,
        startup_files,
        credentials,
        boundaries,
        scrub_env,
        cross_boundary,
        session_ttl,
        audit,
        broker,
        broker_user,
        broker_timeout,
        exec_tree,
    };
    postcard::to_stdvec(&compiled).map_err(|e| e.to_string())
}

/// The entries for `name` in a sorted `(name, number)` index.
pub fn lookup<'i>(index: &'i [(&'i str, u32)], name: &str) -> &'i [(&'i str, u32)] {
    let start = index.partition_point(|(p, _)| *p < name);
    let len = index[start..].partition_point(|(p, _)| *p == name);
    &index[start..start + len]
}
