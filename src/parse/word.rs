//! Quote removal and the expansions guard can do statically.

use brush_parser::word::{
    BraceExpressionMember, BraceExpressionOrText, Parameter, ParameterExpr, TildeExpr, WordPiece,
    WordPieceWithSource,
};

use super::ansi_c;
use super::walk::{Walker, WordRefs};
use super::ParseError;
use crate::command::Word;
use crate::glob;

/// More brace alternatives than this are not enumerated.
const MAX_BRACE_WORDS: usize = 4096;

/// Expand one source word into the words bash would produce from it:
/// brace expansion first, then quote removal of each result.
pub(super) fn expand(
    w: &mut Walker<'_>,
    raw: &str,
    via: &[String],
    refs: &mut WordRefs,
) -> Result<Vec<Word>, ParseError> {
    if !has_unquoted_brace(raw) {
        return Ok(vec![expand_one(w, raw, via, refs, true)?]);
    }
    // brush's sequence parser overflows on numbers beyond 64 bits; such a
    // range is not enumerated anyway.
    if longest_digit_run(raw) > 18 {
        let mut word = expand_one(w, raw, via, refs, true)?;
        word.dynamic = true;
        return Ok(vec![word]);
    }
    let pieces = match brush_parser::word::parse_brace_expansions(raw, w.options) {
        Ok(Some(p)) => p,
        _ => return Ok(vec![expand_one(w, raw, via, refs, true)?]),
    };
    let mut alternatives = Vec::new();
    if !brace_product(&pieces, String::new(), &mut alternatives) {
        // Too many to list: analyse the unexpanded text, marked unknown.
        let mut word = expand_one(w, raw, via, refs, true)?;
        word.dynamic = true;
        return Ok(vec![word]);
    }
    alternatives
        .iter()
        .map(|alt| expand_one(w, alt, via, refs, true))
        .collect()
}

fn longest_digit_run(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

fn brace_product(pieces: &[BraceExpressionOrText], prefix: String, out: &mut Vec<String>) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        out.push(prefix);
        return out.len() <= MAX_BRACE_WORDS;
    };
    match first {
        BraceExpressionOrText::Text(t) => brace_product(rest, prefix + t, out),
        BraceExpressionOrText::Expr(members) => {
            for member in members {
                for alt in member_alternatives(member) {
                    if !brace_product(rest, format!("{prefix}{alt}"), out) {
                        return false;
                    }
                }
            }
            true
        }
    }
}

fn member_alternatives(m: &BraceExpressionMember) -> Vec<String> {
    match m {
        BraceExpressionMember::NumberSequence {
            start,
            end,
            increment,
        } => {
            let step = increment.unsigned_abs().max(1) as usize;
            let (lo, hi) = (*start.min(end), *start.max(end));
            let mut v: Vec<String> = (lo..=hi)
                .step_by(step)
                .map(|n| n.to_string())
                .take(MAX_BRACE_WORDS + 1)
                .collect();
            if start > end {
                v.reverse();
            }
            v
        }
        BraceExpressionMember::CharSequence {
            start,
            end,
            increment,
        } => {
            let step = increment.unsigned_abs().max(1) as usize;
            let (lo, hi) = (*start.min(end), *start.max(end));
            let mut v: Vec<String> = (lo..=hi).step_by(step).map(String::from).collect();
            if start > end {
                v.reverse();
            }
            v
        }
        BraceExpressionMember::Child(children) => {
            let mut out = Vec::new();
            if !brace_product(children, String::new(), &mut out) {
                out.truncate(MAX_BRACE_WORDS + 1);
            }
            out
        }
    }
}

/// brush's brace parser does not know about quotes, so only hand it words
/// with a `{` that bash would see.
fn has_unquoted_brace(raw: &str) -> bool {
    let mut chars = raw.chars();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\\' if !single => {
                chars.next();
            }
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '{' if !single && !double => return true,
            _ => {}
        }
    }
    false
}

/// Quote removal, tilde and `$HOME` expansion, and a walk into every nested
/// command. `globbing` is false where bash does no pathname expansion.
pub(super) fn expand_one(
    w: &mut Walker<'_>,
    raw: &str,
    via: &[String],
    refs: &mut WordRefs,
    globbing: bool,
) -> Result<Word, ParseError> {
    let pieces = brush_parser::word::parse(raw, w.options)
        .map_err(|e| ParseError::at(0, 0, format!("bad word `{raw}`: {e}")))?;
    let mut out = Word {
        text: String::new(),
        dynamic: false,
        glob: false,
        pattern: Some(String::new()),
    };
    pieces_into(w, raw, &pieces, via, refs, false, &mut out)?;
    if !globbing {
        out.glob = false;
    }
    if !(out.dynamic || out.glob) {
        out.pattern = None;
    }
    Ok(out)
}

pub(super) fn heredoc(
    w: &mut Walker<'_>,
    body: &str,
    via: &[String],
    refs: &mut WordRefs,
) -> Result<(), ParseError> {
    let pieces = brush_parser::word::parse_heredoc(body, w.options)
        .map_err(|e| ParseError::at(0, 0, format!("bad here-document: {e}")))?;
    let mut sink = Word::literal("");
    pieces_into(w, body, &pieces, via, refs, true, &mut sink)
}

/// The marker for a run-time part in `Word::pattern`.
pub const ANYTHING: char = '\u{1}';

fn push_static(out: &mut Word, text: &str) {
    out.text.push_str(text);
    if let Some(p) = &mut out.pattern {
        for c in text.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
    }
}

fn push_glob(out: &mut Word, text: &str) {
    out.text.push_str(text);
    if let Some(p) = &mut out.pattern {
        p.push_str(text);
    }
}

fn push_dynamic(out: &mut Word, source: &str) {
    out.dynamic = true;
    out.text.push_str(source);
    if let Some(p) = &mut out.pattern {
        if !p.ends_with(ANYTHING) {
            p.push(ANYTHING);
        }
    }
}

fn pieces_into(
    w: &mut Walker<'_>,
    raw: &str,
    pieces: &[WordPieceWithSource],
    via: &[String],
    refs: &mut WordRefs,
    quoted: bool,
    out: &mut Word,
) -> Result<(), ParseError> {
    for p in pieces {
        let source = raw.get(p.start_index..p.end_index).unwrap_or("");
        match &p.piece {
            WordPiece::Text(t) => {
                if !quoted && glob::has_meta(t) {
                    out.glob = true;
                    push_glob(out, t);
                } else {
                    push_static(out, t);
                }
            }
            WordPiece::SingleQuotedText(t) => push_static(out, t),
            WordPiece::AnsiCQuotedText(t) => match ansi_c::decode(t) {
                Ok(text) => push_static(out, &text),
                // Bytes that are not UTF-8: the value is not known exactly.
                Err(lossy) => push_dynamic(out, &lossy),
            },
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                pieces_into(w, raw, inner, via, refs, true, out)?;
            }
            WordPiece::EscapeSequence(s) => {
                let escaped = s.strip_prefix('\\').unwrap_or(s);
                if escaped != "\n" {
                    push_static(out, escaped);
                }
            }
            WordPiece::TildeExpansion(t) => match t {
                TildeExpr::Home => push_static(out, &w.env.home.clone()),
                TildeExpr::UserHome(user) => match user_home(user) {
                    Some(home) => push_static(out, &home),
                    None => push_static(out, source),
                },
                TildeExpr::WorkingDir if !w.env.cwd.is_empty() => {
                    push_static(out, &w.env.cwd.clone())
                }
                _ => push_dynamic(out, source),
            },
            WordPiece::ParameterExpansion(expr) => {
                if is_plain_home(expr) {
                    push_static(out, &w.env.home.clone());
                } else if let Some(value) = plain_name(expr).and_then(|n| w.known(n)) {
                    push_static(out, value);
                } else {
                    push_dynamic(out, source);
                    parameter(w, expr, via, refs)?;
                }
            }
            WordPiece::CommandSubstitution(text) => {
                push_dynamic(out, source);
                w.nested(text, via, "$(…)")?;
            }
            WordPiece::BackquotedCommandSubstitution(text) => {
                push_dynamic(out, source);
                w.nested(text, via, "`…`")?;
            }
            WordPiece::ArithmeticExpression(e) => {
                push_dynamic(out, source);
                if e.value.contains("$(") || e.value.contains('`') {
                    // Quotes do not protect an array subscript from evaluation.
                    let unquoted = e.value.replace(['\'', '"'], " ");
                    if let Ok(parsed) = super::parse_script(&unquoted, w.env, via, w.depth + 1) {
                        w.adopt(parsed);
                    }
                }
                if e.value.contains("$(") || e.value.contains('`') || e.value.contains('$') {
                    let mut sink = Word::literal("");
                    let inner = brush_parser::word::parse(&e.value, w.options).map_err(|err| {
                        ParseError::at(0, 0, format!("bad arithmetic `{}`: {err}", e.value))
                    })?;
                    pieces_into(w, &e.value, &inner, via, refs, true, &mut sink)?;
                }
            }
        }
    }
    Ok(())
}

/// `$NAME` or `${NAME}`, nothing more.
fn plain_name(expr: &ParameterExpr) -> Option<&str> {
    match expr {
        ParameterExpr::Parameter {
            parameter: Parameter::Named(name),
            indirect: false,
        } => Some(name),
        _ => None,
    }
}

fn is_plain_home(expr: &ParameterExpr) -> bool {
    matches!(
        expr,
        ParameterExpr::Parameter {
            parameter: Parameter::Named(name),
            indirect: false,
        } if name == "HOME"
    )
}

fn user_home(user: &str) -> Option<String> {
    nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .map(|u| u.dir.to_string_lossy().into_owned())
}

/// Record the variables a parameter expansion reads, and follow the words
/// nested inside it (`${x:-$(cmd)}`).
fn parameter(
    w: &mut Walker<'_>,
    expr: &ParameterExpr,
    via: &[String],
    refs: &mut WordRefs,
) -> Result<(), ParseError> {
    use ParameterExpr as P;
    let (param, indirect, nested): (&Parameter, bool, Vec<&String>) = match expr {
        P::Parameter {
            parameter,
            indirect,
        }
        | P::ParameterLength {
            parameter,
            indirect,
        } => (parameter, *indirect, vec![]),
        P::UseDefaultValues {
            parameter,
            indirect,
            default_value: v,
            ..
        }
        | P::AssignDefaultValues {
            parameter,
            indirect,
            default_value: v,
            ..
        }
        | P::IndicateErrorIfNullOrUnset {
            parameter,
            indirect,
            error_message: v,
            ..
        }
        | P::UseAlternativeValue {
            parameter,
            indirect,
            alternative_value: v,
            ..
        }
        | P::RemoveSmallestSuffixPattern {
            parameter,
            indirect,
            pattern: v,
        }
        | P::RemoveLargestSuffixPattern {
            parameter,
            indirect,
            pattern: v,
        }
        | P::RemoveSmallestPrefixPattern {
            parameter,
            indirect,
            pattern: v,
        }
        | P::RemoveLargestPrefixPattern {
            parameter,
            indirect,
            pattern: v,
        } => (parameter, *indirect, v.iter().collect()),
        P::UppercaseFirstChar {
            parameter,
            indirect,
            pattern: v,
        }
        | P::UppercasePattern {
            parameter,
            indirect,
            pattern: v,
        }
        | P::LowercaseFirstChar {
            parameter,
            indirect,
            pattern: v,
        }
        | P::LowercasePattern {
            parameter,
            indirect,
            pattern: v,
        } => (parameter, *indirect, v.iter().collect()),
        P::ReplaceSubstring {
            parameter,
            indirect,
            pattern,
            replacement,
            ..
        } => (
            parameter,
            *indirect,
            std::iter::once(pattern).chain(replacement).collect(),
        ),
        P::Substring {
            parameter,
            indirect,
            offset,
            length,
        } => (
            parameter,
            *indirect,
            std::iter::once(&offset.value)
                .chain(length.iter().map(|l| &l.value))
                .collect(),
        ),
        P::Transform {
            parameter,
            indirect,
            ..
        } => (parameter, *indirect, vec![]),
        P::VariableNames { prefix, .. } => {
            refs.env_refs.push(format!("{prefix}*"));
            return Ok(());
        }
        P::MemberKeys { variable_name, .. } => {
            refs.env_refs.push(variable_name.clone());
            return Ok(());
        }
    };
    name_of(param, indirect, refs);
    if let Parameter::NamedWithIndex { index, .. } = param {
        nested_word(w, index, via, refs)?;
    }
    for text in nested {
        nested_word(w, text, via, refs)?;
    }
    Ok(())
}

fn name_of(param: &Parameter, indirect: bool, refs: &mut WordRefs) {
    let name = match param {
        Parameter::Named(n) => n,
        Parameter::NamedWithIndex { name, .. } => name,
        Parameter::NamedWithAllIndices { name, .. } => name,
        _ => return,
    };
    refs.env_refs.push(name.clone());
    if indirect {
        // `${!x}` reads a variable whose name is only known at run time.
        refs.env_refs.push("*".to_string());
    }
}

/// A word inside a parameter expansion (`${x:-WORD}`): its commands run,
/// and its value may become the expansion's, so it is kept as data.
fn nested_word(
    w: &mut Walker<'_>,
    text: &str,
    via: &[String],
    refs: &mut WordRefs,
) -> Result<(), ParseError> {
    let pieces = brush_parser::word::parse(text, w.options)
        .map_err(|e| ParseError::at(0, 0, format!("bad word `{text}`: {e}")))?;
    let mut value = Word::literal("");
    value.pattern = Some(String::new());
    pieces_into(w, text, &pieces, via, refs, true, &mut value)?;
    if !value.dynamic {
        value.pattern = None;
    }
    refs.data.push(value);
    Ok(())
}
