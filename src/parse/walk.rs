//! The AST walk: every node that can hold a command is visited.

use brush_parser::ast;

use super::{parse_script, word, Env, ParseError, Parsed};
use crate::command::{Assignment, Command, Redirect, RedirectKind, Stdin, Word};

/// Functions a script defines, with the commands of each body, for
/// callers that follow calls and carry state between lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Definitions {
    pub functions: Vec<(String, Vec<Command>)>,
}

pub(super) struct Walker<'a> {
    pub(super) env: &'a Env,
    pub(super) depth: usize,
    pub(super) options: &'a brush_parser::ParserOptions,
    commands: Vec<Command>,
    definitions: Definitions,
    /// Variables the line has set to a literal on every path to here.
    known: super::vars::Known,
}

/// Side effects of evaluating words for one command.
#[derive(Default)]
pub(super) struct WordRefs {
    pub(super) env_refs: Vec<String>,
    /// Words that become values at run time (`${x:-WORD}` defaults).
    pub(super) data: Vec<Word>,
}

impl<'a> Walker<'a> {
    pub(super) fn new(
        env: &'a Env,
        depth: usize,
        options: &'a brush_parser::ParserOptions,
    ) -> Walker<'a> {
        Walker {
            env,
            depth,
            options,
            commands: Vec::new(),
            definitions: Definitions::default(),
            known: super::vars::Known::new(env.fresh && depth == 0),
        }
    }

    /// The literal value of `$name`, where the line set it.
    pub(super) fn known(&self, name: &str) -> Option<&str> {
        self.known.get(name)
    }

    pub(super) fn finish(self) -> Parsed {
        Parsed {
            commands: self.commands,
            definitions: self.definitions,
        }
    }

    /// Parse nested script text (`$(…)`, backticks) and adopt its commands.
    pub(super) fn nested(
        &mut self,
        text: &str,
        via: &[String],
        how: &str,
    ) -> Result<(), ParseError> {
        let mut inner_via = via.to_vec();
        inner_via.push(how.to_string());
        let parsed = parse_script(text, self.env, &inner_via, self.depth + 1)
            .map_err(|e| ParseError::at(e.line, e.col, format!("in {how}: {}", e.message)))?;
        self.commands.extend(parsed.commands);
        self.definitions
            .functions
            .extend(parsed.definitions.functions);
        Ok(())
    }

    /// Take the commands of a lenient re-parse.
    pub(super) fn adopt(&mut self, parsed: Parsed) {
        self.commands.extend(parsed.commands);
    }

    pub(super) fn program(&mut self, p: &ast::Program, via: &[String]) -> Result<(), ParseError> {
        for list in &p.complete_commands {
            self.sequence(list, via)?;
        }
        Ok(())
    }

    /// The line's own list, in the order bash runs it: a literal
    /// assignment that runs on every path is followed into later words.
    fn sequence(&mut self, l: &ast::CompoundList, via: &[String]) -> Result<(), ParseError> {
        for ast::CompoundListItem(and_or, sep) in &l.0 {
            let background = matches!(sep, ast::SeparatorOperator::Async);
            let rest = and_or.additional.iter().map(|a| match a {
                ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
            });
            for (i, p) in std::iter::once(&and_or.first).chain(rest).enumerate() {
                let s = match p.seq.as_slice() {
                    [ast::Command::Simple(s)] if !background => s,
                    // A background job, the commands of a pipeline, a
                    // `( … )` and a function's definition set nothing here;
                    // inside them, what they set themselves is not followed,
                    // so nothing is assumed there.
                    [_] if background => {
                        self.unfollowed(p, via)?;
                        continue;
                    }
                    [ast::Command::Compound(ast::CompoundCommand::Subshell(_), _)]
                    | [ast::Command::Function(_)] => {
                        self.unfollowed(p, via)?;
                        continue;
                    }
                    [_, _, ..] => {
                        self.unfollowed(p, via)?;
                        continue;
                    }
                    // Any other compound command may set anything, and its
                    // body is walked as bash may or may not run it.
                    _ => {
                        self.known.stop();
                        self.pipeline(p, via)?;
                        continue;
                    }
                };
                if super::vars::may_change_variables(s) {
                    self.known.stop();
                }
                self.pipeline(p, via)?;
                if let Some(cmd) = self.commands.last() {
                    // A program only known now, a function of the line's,
                    // or a builtin that sets variables, as it will run.
                    let name = cmd.argv.first().map(|w| w.text.as_str());
                    let function = self
                        .definitions
                        .functions
                        .iter()
                        .any(|(f, _)| Some(f.as_str()) == name);
                    if cmd.dynamic.is_some() || function || super::vars::sets_variables(cmd) {
                        self.known.stop();
                    }
                    // Only the first pipeline of an `&&`/`||` list surely runs.
                    self.known.learn(cmd, i == 0);
                }
            }
        }
        Ok(())
    }

    fn compound_list(&mut self, l: &ast::CompoundList, via: &[String]) -> Result<(), ParseError> {
        for ast::CompoundListItem(and_or, _sep) in &l.0 {
            self.pipeline(&and_or.first, via)?;
            for next in &and_or.additional {
                match next {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => self.pipeline(p, via)?,
                }
            }
        }
        Ok(())
    }

    /// Walk `p` with no variable of the line's assumed.
    fn unfollowed(&mut self, p: &ast::Pipeline, via: &[String]) -> Result<(), ParseError> {
        let saved = self.known.suspend();
        let walked = self.pipeline(p, via);
        self.known.resume(saved);
        walked
    }

    fn pipeline(&mut self, p: &ast::Pipeline, via: &[String]) -> Result<(), ParseError> {
        let mut starts = Vec::with_capacity(p.seq.len() + 1);
        for (i, cmd) in p.seq.iter().enumerate() {
            let stdin = if i == 0 {
                Stdin::Inherited
            } else {
                Stdin::Pipe
            };
            starts.push(self.commands.len());
            self.command(cmd, via, stdin)?;
        }
        starts.push(self.commands.len());
        // What an element prints is read by the rest of the pipeline,
        // unless the rest only shows it: `find . -name '*.env' | head`
        // puts names on the agent's screen and in no command's hands.
        for i in 0..p.seq.len().saturating_sub(1) {
            let rest = &self.commands[starts[i + 1]..];
            let shown = rest.len() == p.seq.len() - i - 1 && rest.iter().all(shows_only);
            if !shown {
                for c in &mut self.commands[starts[i]..starts[i + 1]] {
                    c.output_read = true;
                }
            }
        }
        Ok(())
    }

    fn output_read_from(&mut self, start: usize) {
        for c in &mut self.commands[start..] {
            c.output_read = true;
        }
    }

    fn command(
        &mut self,
        c: &ast::Command,
        via: &[String],
        stdin: Stdin,
    ) -> Result<(), ParseError> {
        match c {
            ast::Command::Simple(s) => self.simple(s, via, stdin),
            ast::Command::Compound(cc, redirects) => {
                let start = self.commands.len();
                self.compound(cc, via, stdin)?;
                if redirects.is_some() {
                    self.output_read_from(start);
                }
                self.redirect_list(redirects.as_ref(), via)
            }
            ast::Command::Function(f) => {
                let name = f.fname.value.clone();
                let mut inner = via.to_vec();
                inner.push(format!("function {name}"));
                let start = self.commands.len();
                self.compound(&f.body.0, &inner, Stdin::Inherited)?;
                self.redirect_list(f.body.1.as_ref(), &inner)?;
                let body = self.commands[start..].to_vec();
                self.definitions.functions.push((name, body));
                Ok(())
            }
            ast::Command::ExtendedTest(t, redirects) => {
                self.test_expr(&t.expr, via)?;
                self.redirect_list(redirects.as_ref(), via)
            }
        }
    }

    fn compound(
        &mut self,
        cc: &ast::CompoundCommand,
        via: &[String],
        stdin: Stdin,
    ) -> Result<(), ParseError> {
        use ast::CompoundCommand as C;
        match cc {
            C::Arithmetic(a) => self.arithmetic_command(&a.expr.value, via),
            C::ArithmeticForClause(f) => {
                for e in [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                {
                    self.arithmetic(&e.value, via)?;
                }
                self.compound_list(&f.body.list, via)
            }
            C::BraceGroup(b) => self.compound_list_fed(&b.list, via, stdin),
            C::Subshell(s) => self.compound_list_fed(&s.list, via, stdin),
            C::ForClause(f) => {
                // `for f in WORDS` assigns each word to f: a later `cat "$f"`
                // reads what the list names, so the list is checked as data.
                let mut list = Command::new(Vec::new(), via.to_vec());
                let mut refs = WordRefs::default();
                for w in f.values.iter().flatten() {
                    for value in self.words(&w.value, via, &mut refs)? {
                        list.assignments.push(Assignment {
                            name: f.variable_name.clone(),
                            value,
                        });
                    }
                }
                list.env_refs = refs.env_refs;
                list.data = refs.data;
                if !list.assignments.is_empty() {
                    self.commands.push(list);
                }
                self.compound_list(&f.body.list, via)
            }
            C::CaseClause(c) => {
                self.words(&c.value.value, via, &mut WordRefs::default())?;
                for item in &c.cases {
                    for p in &item.patterns {
                        self.words(&p.value, via, &mut WordRefs::default())?;
                    }
                    if let Some(cmd) = &item.cmd {
                        self.compound_list(cmd, via)?;
                    }
                }
                Ok(())
            }
            C::IfClause(i) => {
                self.compound_list(&i.condition, via)?;
                self.compound_list(&i.then, via)?;
                for e in i.elses.iter().flatten() {
                    if let Some(cond) = &e.condition {
                        self.compound_list(cond, via)?;
                    }
                    self.compound_list(&e.body, via)?;
                }
                Ok(())
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.compound_list(&w.0, via)?;
                self.compound_list(&w.1.list, via)
            }
            C::Coprocess(c) => {
                let mut inner = via.to_vec();
                inner.push("coproc".to_string());
                self.command(&c.body, &inner, Stdin::Pipe)
            }
        }
    }

    /// A group or subshell at the receiving end of a pipe passes that pipe
    /// on to the commands inside it (`… | (sh)`).
    fn compound_list_fed(
        &mut self,
        l: &ast::CompoundList,
        via: &[String],
        stdin: Stdin,
    ) -> Result<(), ParseError> {
        let first = self.commands.len();
        self.compound_list(l, via)?;
        if stdin != Stdin::Inherited {
            for c in &mut self.commands[first..] {
                if c.stdin == Stdin::Inherited && c.via.len() == via.len() {
                    c.stdin = stdin;
                }
            }
        }
        Ok(())
    }

    /// `[[ … ]]`: its words are evaluated (and may hold arithmetic), so
    /// they are kept as the data of a command of their own.
    fn test_expr(&mut self, e: &ast::ExtendedTestExpr, via: &[String]) -> Result<(), ParseError> {
        let mut test = Command::new(Vec::new(), via.to_vec());
        let mut refs = WordRefs::default();
        self.test_words(e, via, &mut refs)?;
        test.env_refs = refs.env_refs;
        test.data = refs.data;
        if !test.data.is_empty() || !test.env_refs.is_empty() {
            self.commands.push(test);
        }
        Ok(())
    }

    fn test_words(
        &mut self,
        e: &ast::ExtendedTestExpr,
        via: &[String],
        refs: &mut WordRefs,
    ) -> Result<(), ParseError> {
        use ast::ExtendedTestExpr as T;
        match e {
            T::And(a, b) | T::Or(a, b) => {
                self.test_words(a, via, refs)?;
                self.test_words(b, via, refs)
            }
            T::Not(a) | T::Parenthesized(a) => self.test_words(a, via, refs),
            T::UnaryTest(_, w) => {
                let words = self.words(&w.value, via, refs)?;
                refs.data.extend(words);
                Ok(())
            }
            T::BinaryTest(_, a, b) => {
                for w in [a, b] {
                    let words = self.words(&w.value, via, refs)?;
                    refs.data.extend(words);
                }
                Ok(())
            }
        }
    }

    /// Arithmetic text can hold `$(…)` and backticks; their commands run.
    fn arithmetic(&mut self, text: &str, via: &[String]) -> Result<(), ParseError> {
        if text.contains("$(") || text.contains('`') {
            self.words(text, via, &mut WordRefs::default())?;
            // Quotes do not protect an array subscript from evaluation.
            let unquoted = text.replace(['\'', '"'], " ");
            if unquoted != text {
                if let Ok(parsed) = parse_script(&unquoted, self.env, via, self.depth + 1) {
                    self.commands.extend(parsed.commands);
                }
            }
        }
        Ok(())
    }

    /// brush reads `( (cmd) )` as an arithmetic command where bash runs
    /// nested subshells. Whatever of the text parses as commands is
    /// analysed too: for real arithmetic that finds only harmless words.
    fn arithmetic_command(&mut self, text: &str, via: &[String]) -> Result<(), ParseError> {
        self.arithmetic(text, via)?;
        let mut inner = via.to_vec();
        inner.push("((…))".to_string());
        match parse_script(text, self.env, &inner, self.depth + 1) {
            Ok(parsed) => self.commands.extend(parsed.commands),
            // Real arithmetic does not parse as commands; too deep a
            // nesting must still refuse.
            Err(e) if e.message.contains("nesting too deep") => return Err(e),
            Err(_) => {}
        }
        Ok(())
    }

    fn redirect_list(
        &mut self,
        list: Option<&ast::RedirectList>,
        via: &[String],
    ) -> Result<(), ParseError> {
        // Redirections on compound commands are evaluated for their nested
        // commands; the group's own commands carry no record of them.
        let mut sink = Command::new(Vec::new(), via.to_vec());
        let mut refs = WordRefs::default();
        for r in list.iter().flat_map(|l| l.0.iter()) {
            self.redirect(r, via, &mut sink, &mut refs)?;
        }
        if !sink.redirects.is_empty() {
            sink.env_refs = refs.env_refs;
            self.commands.push(sink);
        }
        Ok(())
    }

    fn redirect(
        &mut self,
        r: &ast::IoRedirect,
        via: &[String],
        cmd: &mut Command,
        refs: &mut WordRefs,
    ) -> Result<(), ParseError> {
        use ast::IoFileRedirectKind as K;
        use ast::IoFileRedirectTarget as T;
        match r {
            ast::IoRedirect::File(fd, kind, target) => {
                let to_file = matches!(kind, K::Write | K::Append | K::Clobber | K::ReadAndWrite)
                    && matches!(fd, None | Some(1));
                // The last redirection of stdin wins: a here-document
                // before `< FILE` is not what the command reads.
                if matches!(kind, K::Read | K::ReadAndWrite | K::DuplicateInput)
                    && matches!(fd, None | Some(0))
                {
                    cmd.stdin_literal = false;
                }
                let kind = match kind {
                    K::Read | K::DuplicateInput => RedirectKind::Read,
                    _ => RedirectKind::Write,
                };
                match target {
                    T::Filename(w) | T::Duplicate(w) => {
                        for target in self.words(&w.value, via, refs)? {
                            if to_file && matches!(target_kind(&target), Sink::File) {
                                cmd.stdout_to_file = true;
                            }
                            cmd.redirects.push(Redirect { kind, target });
                        }
                    }
                    T::ProcessSubstitution(k, sub) => self.process_substitution(k, sub, via)?,
                    T::Fd(_) => {}
                }
            }
            ast::IoRedirect::HereDocument(fd, doc) => {
                // A document on another descriptor (`3<<EOF`) is still
                // text the command may read as names, but not its stdin.
                cmd.stdin_text = Some(doc.doc.value.clone());
                if matches!(fd, None | Some(0)) {
                    cmd.stdin = Stdin::HereDoc;
                    cmd.stdin_literal =
                        !doc.requires_expansion || !doc.doc.value.contains(['$', '`', '\\']);
                }
                if doc.requires_expansion {
                    self.heredoc(&doc.doc.value, via, refs)?;
                }
            }
            ast::IoRedirect::HereString(fd, w) => {
                let words = self.words(&w.value, via, refs)?;
                let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
                cmd.stdin_text = Some(text.join(" "));
                if matches!(fd, None | Some(0)) {
                    cmd.stdin = Stdin::HereString;
                    cmd.stdin_literal = words.iter().all(|w| !w.dynamic && !w.glob);
                }
            }
            ast::IoRedirect::OutputAndError(w, _) => {
                for target in self.words(&w.value, via, refs)? {
                    if matches!(target_kind(&target), Sink::File) {
                        cmd.stdout_to_file = true;
                    }
                    cmd.redirects.push(Redirect {
                        kind: RedirectKind::Write,
                        target,
                    });
                }
            }
        }
        Ok(())
    }

    fn process_substitution(
        &mut self,
        kind: &ast::ProcessSubstitutionKind,
        sub: &ast::SubshellCommand,
        via: &[String],
    ) -> Result<(), ParseError> {
        let how = match kind {
            ast::ProcessSubstitutionKind::Read => "<(…)",
            ast::ProcessSubstitutionKind::Write => ">(…)",
        };
        let mut inner = via.to_vec();
        inner.push(how.to_string());
        self.compound_list(&sub.list, &inner)
    }

    fn simple(
        &mut self,
        s: &ast::SimpleCommand,
        via: &[String],
        stdin: Stdin,
    ) -> Result<(), ParseError> {
        let mut cmd = Command::new(Vec::new(), via.to_vec());
        cmd.stdin = stdin;
        let mut refs = WordRefs::default();
        for item in s.prefix.iter().flat_map(|p| p.0.iter()) {
            self.item(item, via, &mut cmd, &mut refs, true)?;
        }
        if let Some(name) = &s.word_or_name {
            let words = self.words(&name.value, via, &mut refs)?;
            cmd.argv.extend(words);
        }
        for item in s.suffix.iter().flat_map(|p| p.0.iter()) {
            self.item(item, via, &mut cmd, &mut refs, false)?;
        }
        if let Some(first) = cmd.argv.first() {
            if first.text == "{}" {
                cmd.dynamic =
                    Some("command name `{}` is filled in from input at run time".to_string());
            } else if first.dynamic {
                cmd.dynamic = Some(format!(
                    "command name `{}` is only known at run time",
                    first.text
                ));
            } else if first.glob {
                cmd.dynamic = Some(format!("command name `{}` is a glob", first.text));
            }
        }
        cmd.env_refs = refs.env_refs;
        cmd.data = refs.data;
        self.commands.push(cmd);
        Ok(())
    }

    fn item(
        &mut self,
        item: &ast::CommandPrefixOrSuffixItem,
        via: &[String],
        cmd: &mut Command,
        refs: &mut WordRefs,
        prefix: bool,
    ) -> Result<(), ParseError> {
        use ast::CommandPrefixOrSuffixItem as I;
        match item {
            I::IoRedirect(r) => self.redirect(r, via, cmd, refs),
            I::Word(w) => {
                let words = self.words(&w.value, via, refs)?;
                cmd.argv.extend(words);
                Ok(())
            }
            I::AssignmentWord(a, w) => {
                let value = self.assignment_value(a, via, refs)?;
                if prefix {
                    let name = match &a.name {
                        ast::AssignmentName::VariableName(n) => n.clone(),
                        ast::AssignmentName::ArrayElementName(n, i) => format!("{n}[{i}]"),
                    };
                    cmd.assignments.push(Assignment { name, value });
                } else {
                    // `export X=…`: an argument to a declaration builtin.
                    let mut words = self.words(&w.value, via, refs)?;
                    cmd.argv.append(&mut words);
                }
                Ok(())
            }
            I::ProcessSubstitution(kind, sub) => {
                self.process_substitution(kind, sub, via)?;
                cmd.argv.push(Word {
                    text: "/dev/fd/63".to_string(),
                    dynamic: true,
                    glob: false,
                    pattern: None,
                });
                Ok(())
            }
        }
    }

    fn assignment_value(
        &mut self,
        a: &ast::Assignment,
        via: &[String],
        refs: &mut WordRefs,
    ) -> Result<Word, ParseError> {
        if let ast::AssignmentName::ArrayElementName(_, index) = &a.name {
            self.words(index, via, refs)?;
        }
        match &a.value {
            ast::AssignmentValue::Scalar(w) => {
                // No word splitting or globbing happens in an assignment.
                let words = self.words_no_brace(&w.value, via, refs)?;
                Ok(words)
            }
            ast::AssignmentValue::Array(items) => {
                let mut texts = Vec::new();
                let mut dynamic = false;
                for (key, value) in items {
                    if let Some(k) = key {
                        self.words(&k.value, via, refs)?;
                    }
                    for w in self.words(&value.value, via, refs)? {
                        dynamic |= w.dynamic;
                        texts.push(w.text);
                    }
                }
                Ok(Word {
                    text: texts.join(" "),
                    dynamic,
                    glob: false,
                    pattern: None,
                })
            }
        }
    }

    pub(super) fn words(
        &mut self,
        raw: &str,
        via: &[String],
        refs: &mut WordRefs,
    ) -> Result<Vec<Word>, ParseError> {
        word::expand(self, raw, via, refs)
    }

    fn words_no_brace(
        &mut self,
        raw: &str,
        via: &[String],
        refs: &mut WordRefs,
    ) -> Result<Word, ParseError> {
        let mut w = word::expand_one(self, raw, via, refs, false)?;
        w.glob = false;
        Ok(w)
    }

    fn heredoc(
        &mut self,
        body: &str,
        via: &[String],
        refs: &mut WordRefs,
    ) -> Result<(), ParseError> {
        word::heredoc(self, body, via, refs)
    }
}

enum Sink {
    File,
    /// A descriptor or device another command may read: `/dev/stdout`,
    /// `/dev/fd/N`, `&1`, a name only known at run time.
    Shared,
}

/// Where a redirection of standard output sends it.
fn target_kind(target: &Word) -> Sink {
    let t = target.text.as_str();
    let shared = target.dynamic
        || t.is_empty()
        || t.chars().all(|c| c.is_ascii_digit() || c == '-')
        || t.starts_with("/dev/")
        || t.starts_with("/proc/");
    if shared {
        Sink::Shared
    } else {
        Sink::File
    }
}

/// A pipeline stage that only passes text on for display: a filter that
/// reads nothing but its input (no operands, no option naming a file), run
/// as it is written, its output going to the screen or the next such
/// stage. Each filter's flags are the few that name no file: `sort -o F`,
/// `xargs`, `tee` and `grep -f` are not stages of this kind.
fn shows_only(c: &Command) -> bool {
    // (program, flags that may be clustered, flags that take a value)
    const FILTERS: &[(&str, &str, &str)] = &[
        ("head", "qvz", "nc"),
        ("tail", "qvzf", "nc"),
        ("sort", "bdfghinrsuzMRV", "kt"),
        ("uniq", "cdiuz", "fsw"),
        ("wc", "clmwL", ""),
        ("cat", "AbeEnstTuv", ""),
        ("nl", "", ""),
    ];
    let Some(&(_, flags, takes)) = FILTERS.iter().find(|(p, _, _)| *p == c.program()) else {
        return false;
    };
    let static_word = |w: &crate::command::Word| !w.dynamic && !w.glob;
    if !(c.via.is_empty()
        && c.assignments.is_empty()
        && c.data.is_empty()
        && c.argv.iter().all(static_word)
        && c.redirects.iter().all(|r| {
            let t = r.target.text.as_str();
            !r.target.dynamic
                && (t == "/dev/null" || t.chars().all(|ch| ch.is_ascii_digit() || ch == '-'))
        }))
    {
        return false;
    }
    let value_ok = |v: &str| {
        !v.is_empty()
            && v.len() <= 16
            && v.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ",.+".contains(ch))
    };
    let mut args = c.args().iter().map(|w| w.text.as_str());
    while let Some(a) = args.next() {
        let Some(cluster) = a
            .strip_prefix('-')
            .filter(|t| !t.is_empty() && !t.starts_with('-'))
        else {
            return false;
        };
        // `head -20`
        if cluster.chars().all(|ch| ch.is_ascii_digit()) && takes.contains('n') {
            continue;
        }
        for (at, ch) in cluster.char_indices() {
            if flags.contains(ch) {
                continue;
            }
            if !takes.contains(ch) {
                return false;
            }
            let attached = &cluster[at + ch.len_utf8()..];
            let ok = if attached.is_empty() {
                args.next().is_some_and(value_ok)
            } else {
                value_ok(attached)
            };
            if !ok {
                return false;
            }
            break;
        }
    }
    true
}
