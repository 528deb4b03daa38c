//! One compiled layer of configuration, decoded lazily: a rule or wrapper
//! is decoded the first time a command names its program.

use std::sync::OnceLock;

use super::compiled::{self, Compiled, PackedRule};
use super::spec::{Action, WrapperSpec};
use super::{Origin, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Shipped in the binary, owned by root, or named by GUARD_CONFIG.
    Admin,
    /// Writable by the guarded user: may only tighten.
    User,
}

#[derive(Debug)]
pub struct Layer {
    pub name: String,
    pub trust: Trust,
    pub compiled: Compiled<'static>,
    home: String,
    /// `None` once decoded means the rule does not apply here (an allow
    /// rule from a user-writable file).
    rules: Vec<OnceLock<Result<Option<Rule>, String>>>,
    wrappers: Vec<OnceLock<Result<WrapperSpec, String>>>,
}

impl Layer {
    /// Decode a compiled blob that lives for the rest of the process.
    pub fn new(
        name: String,
        trust: Trust,
        blob: &'static [u8],
        home: &str,
    ) -> Result<Layer, String> {
        let compiled: Compiled<'static> = postcard::from_bytes(blob).map_err(|e| e.to_string())?;
        if compiled.format != compiled::FORMAT {
            return Err(format!(
                "compiled format {} is not {}",
                compiled.format,
                compiled::FORMAT
            ));
        }
        let rules = (0..compiled.rules.len()).map(|_| OnceLock::new()).collect();
        let wrappers = (0..compiled.wrappers.len())
            .map(|_| OnceLock::new())
            .collect();
        Ok(Layer {
            name,
            trust,
            compiled,
            home: home.to_string(),
            rules,
            wrappers,
        })
    }

    pub fn rule(&self, n: u32) -> Result<Option<&Rule>, String> {
        let n = n as usize;
        let (Some(cell), Some(blob)) = (self.rules.get(n), self.compiled.rules.get(n)) else {
            return Err(format!("{}: no rule #{n}", self.name));
        };
        cell.get_or_init(|| {
            let packed: PackedRule =
                postcard::from_bytes(blob).map_err(|e| format!("{}: {e}", self.name))?;
            if self.trust == Trust::User && packed.spec.action == Action::Allow {
                return Ok(None);
            }
            let origin = Origin {
                file: packed.file,
                line: packed.line,
                col: packed.col,
            };
            Ok(Some(Rule::new(packed.spec, origin, &self.home)))
        })
        .as_ref()
        .map(Option::as_ref)
        .map_err(Clone::clone)
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Rule numbers that may match a command running `program`.
    pub fn candidates(&self, program: &str) -> Vec<u32> {
        let mut v: Vec<u32> = compiled::lookup(&self.compiled.programs, program)
            .iter()
            .map(|(_, n)| *n)
            .chain(self.compiled.any_program.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn flags_whole_program(&self, program: &str) -> bool {
        self.compiled.code_programs.binary_search(&program).is_ok()
    }

    pub fn wrappers_for(&self, program: &str) -> Result<Vec<&WrapperSpec>, String> {
        compiled::lookup(&self.compiled.wrapper_programs, program)
            .iter()
            .map(|(_, n)| {
                let n = *n as usize;
                let (Some(cell), Some(blob)) =
                    (self.wrappers.get(n), self.compiled.wrappers.get(n))
                else {
                    return Err(format!("{}: no wrapper #{n}", self.name));
                };
                cell.get_or_init(|| {
                    postcard::from_bytes(blob).map_err(|e| format!("{}: {e}", self.name))
                })
                .as_ref()
                .map_err(Clone::clone)
            })
            .collect()
    }

    pub fn is_wrapper(&self, program: &str) -> bool {
        !compiled::lookup(&self.compiled.wrapper_programs, program).is_empty()
    }
}
