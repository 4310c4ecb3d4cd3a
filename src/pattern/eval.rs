//! Comparisons shared by the JSON and space-delimited matchers, and the term matcher.

use memchr::memmem::Finder;
use regex::bytes::{Regex, RegexBuilder};

use super::ast::{self, Glob, Op, Term, TermKind};

/// A compiled right-hand side.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Number(f64),
    Text(Glob),
    Regex(Regex),
}

impl Value {
    pub fn compile(value: &ast::Value) -> Result<Self, (usize, String)> {
        Ok(match value {
            ast::Value::Number(n) => Value::Number(n.value),
            ast::Value::Text(glob) => Value::Text(glob.clone()),
            ast::Value::Regex(regex) => Value::Regex(compile_regex(regex)?),
        })
    }

    /// `op self` against text: a JSON string or a space-delimited field. A number compares with
    /// text that is a number; a number against other text is false whatever the operator.
    pub fn holds_for_text(&self, op: Op, text: &[u8]) -> bool {
        match self {
            Value::Number(want) => parse_number(text).is_some_and(|have| compare(op, have, *want)),
            Value::Text(glob) => glob.matches(text) == (op == Op::Eq),
            Value::Regex(regex) => regex.is_match(text) == (op == Op::Eq),
        }
    }

    /// `op self` against a JSON number, given as written (`raw`) and as a value.
    pub fn holds_for_number(&self, op: Op, raw: &[u8], have: f64) -> bool {
        match self {
            Value::Number(want) => compare(op, have, *want),
            Value::Text(_) | Value::Regex(_) => self.holds_for_text(op, raw),
        }
    }
}

fn compare(op: Op, have: f64, want: f64) -> bool {
    have.partial_cmp(&want).is_some_and(|o| op.holds(o))
}

/// Text in one of the documented number forms, as a number.
pub(crate) fn parse_number(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    if !ast::is_number(text) {
        return None;
    }
    text.parse().ok()
}

/// Regular expressions run over bytes with ASCII classes: the AWS page defines `\w` as
/// `[a-zA-Z_0-9]` and `\d` as `[0-9]`, and forbids multi-byte characters in the expression.
/// `.` matches any byte but `\n` (a guess: AWS does not say).
pub(crate) fn compile_regex(regex: &ast::Regex) -> Result<Regex, (usize, String)> {
    RegexBuilder::new(&regex.source)
        .unicode(false)
        .build()
        .map_err(|e| {
            // The regex crate's message quotes the expression and marks the spot over several
            // lines; its last line says what is wrong.
            let message = e.to_string();
            let reason = message
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            (regex.at.0, format!("invalid regular expression: {reason}"))
        })
}

/// Words and phrases: every required term, no excluded term, and one optional term when the
/// pattern has nothing but optional terms.
#[derive(Debug, Clone, Default)]
pub(crate) struct Terms {
    required: Vec<Finder<'static>>,
    excluded: Vec<Finder<'static>>,
    optional: Vec<Finder<'static>>,
}

impl Terms {
    pub fn compile(terms: &[Term]) -> Self {
        let mut compiled = Terms::default();
        for term in terms.iter().filter(|t| !t.is_blank()) {
            let finder = Finder::new(term.text.as_bytes()).into_owned();
            match term.kind {
                TermKind::Required => compiled.required.push(finder),
                TermKind::Excluded => compiled.excluded.push(finder),
                TermKind::Optional => compiled.optional.push(finder),
            }
        }
        // "If you combine "?" with other filter patterns, all question mark terms will be
        // ignored." (the AWS page, unstructured log events)
        if !compiled.required.is_empty() || !compiled.excluded.is_empty() {
            compiled.optional.clear();
        }
        compiled
    }

    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.excluded.is_empty() && self.optional.is_empty()
    }

    pub fn matches(&self, record: &[u8]) -> bool {
        self.required.iter().all(|f| f.find(record).is_some())
            && !self.excluded.iter().any(|f| f.find(record).is_some())
            && (self.optional.is_empty() || self.optional.iter().any(|f| f.find(record).is_some()))
    }
}
