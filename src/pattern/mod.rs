//! CloudWatch Logs filter patterns, the language of `aws logs tail --filter-pattern`, metric
//! filters and subscription filters, for `ktail tail`, `ktail grep` and the grep function.
//!
//! The specification is the AWS page "Filter pattern syntax for metric filters, subscription
//! filters, filter log events, and Live Tail" (FilterAndPatternSyntax.html, with its sections on
//! regular expressions, unstructured, JSON and space-delimited log events) and, for details the
//! current page dropped, the archived "Filter and Pattern Syntax" page of
//! awsdocs/amazon-cloudwatch-logs-user-guide. `tests.rs` checks every example of both.
//!
//! ```text
//! ERROR                             records containing ERROR (case-sensitive, anywhere)
//! ERROR Exception                   both terms          ?ERROR ?WARN        either term
//! ERROR -timeout                    ERROR, not timeout  "payment failed"    the phrase
//! %ERROR [0-9]+%                    a regular expression (the AWS subset, see below)
//! { $.status = 500 && $.user.id EXISTS }            JSON: a record that is a JSON object
//! { $.items[0].sku = "A-*" || $.latency > 1e3 }
//! [ip, user, ts, request, status = 5*, bytes]       space-delimited fields
//! ```
//!
//! The pattern is parsed once ([`FilterPattern::parse`], which also checks the AWS quotas) and
//! then decides records ([`FilterPattern::matches`]) without allocating in the common cases:
//! terms are `memmem` searches, a JSON pattern is one serde_json pass that borrows from the
//! record. [`FilterPattern`]'s `Display` is a canonical form that parses back to the same pattern.
//!
//! Records are bytes. Terms, regular expressions and space-delimited fields match bytes, so a
//! record that is not UTF-8 is searched as it is; a JSON pattern never matches one (it is not
//! JSON). Nothing a record or a pattern holds makes these functions panic.
//!
//! Where ktail goes beyond or guesses at the AWS pages (each also said where it is decided):
//! - `EXISTS` is accepted (the opposite of `NOT EXISTS`); the AWS page says it "currently isn't
//!   supported". `IS NOT` is rejected, as AWS does.
//! - Unquoted terms may hold any character but space and `"` (AWS asks for quotes around terms
//!   with characters other than letters, digits and `_`); they match literally.
//! - A `%regex%` in an unstructured pattern must be the whole pattern (the page calls them
//!   "standalone filter patterns"); in JSON and space-delimited patterns it is a value.
//! - A JSON comparison is false on a missing field, `null`, `true`, `false`, an object or an
//!   array, whatever the operator; a number compares with a JSON number or a string holding one.
//! - `*` is a wildcard at the start or the end of text; elsewhere it is a literal star.
//! - `.*` and `[*]` both select any member of an object and any element of an array.
//! - Limits of ktail's own: 128 conditions in a JSON pattern, 64 positions in `[ ]`.

mod ast;
mod delimited;
mod eval;
mod json;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use ast::{Expr, Pattern, Segment, Slot, Value};

/// A parsed and compiled CloudWatch Logs filter pattern.
#[derive(Clone)]
pub struct FilterPattern {
    pattern: Pattern,
    matcher: Matcher,
}

/// Which of the documented forms a pattern has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind {
    /// Terms and quoted phrases (the empty pattern too).
    Terms,
    /// A `%regex%` on its own.
    Regex,
    /// `{ ... }`
    Json,
    /// `[ ... ]`
    SpaceDelimited,
}

#[derive(Debug, Clone)]
enum Matcher {
    All,
    Terms(eval::Terms),
    Regex(regex::bytes::Regex),
    Json(json::JsonMatcher),
    Delimited(delimited::DelimitedMatcher),
}

/// An invalid pattern: where (a byte offset and a 1-based column in characters) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    offset: usize,
    column: usize,
    message: String,
}

impl PatternError {
    fn new(pattern: &str, offset: usize, message: String) -> Self {
        let offset = offset.min(pattern.len());
        let column = pattern
            .char_indices()
            .take_while(|(i, _)| *i < offset)
            .count()
            + 1;
        PatternError {
            offset,
            column,
            message,
        }
    }

    /// The byte offset in the pattern where the problem starts.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The same place as a 1-based character column.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong there, e.g. `expected a comparison operator (=, !=, <, <=, >, >=)`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for PatternError {}

/// "There is a limit of 2 regex for each filter pattern when creating a delimited or JSON filter
/// pattern" (the AWS page, quotas).
const MAX_REGEX: usize = 2;
/// "You can only use up to one wildcard selector in a property selector, and up to three
/// wildcard selectors in a filter pattern with compound expressions."
const MAX_WILDCARDS_PER_SELECTOR: usize = 1;
const MAX_WILDCARDS: usize = 3;

impl FilterPattern {
    /// Parses `pattern`, checks the AWS quotas and compiles it.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let parsed = parse::parse(pattern)
            .map_err(|(offset, message)| PatternError::new(pattern, offset, message))?;
        Self::compile(parsed)
            .map_err(|(offset, message)| PatternError::new(pattern, offset, message))
    }

    fn compile(pattern: Pattern) -> Result<Self, (usize, String)> {
        check_quotas(&pattern)?;
        let matcher = match &pattern {
            Pattern::Terms(terms) => {
                let terms = eval::Terms::compile(terms);
                if terms.is_empty() {
                    Matcher::All
                } else {
                    Matcher::Terms(terms)
                }
            }
            Pattern::Regex(regex) => Matcher::Regex(eval::compile_regex(regex)?),
            Pattern::Json(expr) => Matcher::Json(json::JsonMatcher::compile(expr)?),
            Pattern::Delimited(slots) => {
                Matcher::Delimited(delimited::DelimitedMatcher::compile(slots)?)
            }
        };
        Ok(FilterPattern { pattern, matcher })
    }

    /// Whether `record` (one log line or one CloudWatch Logs event message) passes the filter.
    pub fn matches(&self, record: &[u8]) -> bool {
        match &self.matcher {
            Matcher::All => true,
            Matcher::Terms(terms) => terms.matches(record),
            Matcher::Regex(regex) => regex.is_match(record),
            Matcher::Json(json) => json.matches(record),
            Matcher::Delimited(delimited) => delimited.matches(record),
        }
    }

    /// True for the empty pattern and for patterns of blank phrases (`" "`): worth a warning
    /// before deploying a grep that forwards the whole stream.
    pub fn matches_everything(&self) -> bool {
        matches!(self.matcher, Matcher::All)
    }

    pub fn kind(&self) -> PatternKind {
        match self.pattern {
            Pattern::Terms(_) => PatternKind::Terms,
            Pattern::Regex(_) => PatternKind::Regex,
            Pattern::Json(_) => PatternKind::Json,
            Pattern::Delimited(_) => PatternKind::SpaceDelimited,
        }
    }
}

fn check_quotas(pattern: &Pattern) -> Result<(), (usize, String)> {
    let values: Vec<&Value> = match pattern {
        Pattern::Json(expr) => {
            let mut wildcards = 0;
            for cond in expr.leaves() {
                let here = cond
                    .selector
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Wildcard { .. }))
                    .count();
                wildcards += here;
                let at = cond.selector.at.0;
                if here > MAX_WILDCARDS_PER_SELECTOR {
                    return Err((
                        at,
                        "at most one * in a property selector (a CloudWatch Logs quota)".into(),
                    ));
                }
                if wildcards > MAX_WILDCARDS {
                    return Err((
                        at,
                        "at most three * selectors in a pattern (a CloudWatch Logs quota)".into(),
                    ));
                }
            }
            expr.leaves()
                .into_iter()
                .filter_map(|c| match &c.test {
                    ast::Test::Compare(_, value) => Some(value),
                    _ => None,
                })
                .collect()
        }
        Pattern::Delimited(slots) => slots
            .iter()
            .filter_map(|s| match s {
                Slot::Field(f) => f.cond.as_ref(),
                _ => None,
            })
            .flat_map(Expr::leaves)
            .map(|cmp| &cmp.value)
            .collect(),
        Pattern::Terms(_) | Pattern::Regex(_) => Vec::new(),
    };
    let third = values
        .iter()
        .filter_map(|v| match v {
            Value::Regex(regex) => Some(regex),
            _ => None,
        })
        .nth(MAX_REGEX);
    match third {
        Some(regex) => Err((
            regex.at.0,
            "at most 2 regular expressions in a JSON or space-delimited pattern (a CloudWatch Logs quota)".into(),
        )),
        None => Ok(()),
    }
}

impl FromStr for FilterPattern {
    type Err = PatternError;

    fn from_str(pattern: &str) -> Result<Self, PatternError> {
        Self::parse(pattern)
    }
}

/// The canonical form: `FilterPattern::parse` of it gives an equal pattern.
impl fmt::Display for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pattern.fmt(f)
    }
}

impl fmt::Debug for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FilterPattern")
            .field(&self.pattern.to_string())
            .finish()
    }
}

/// Two patterns are equal when they parse to the same tree (spacing, quoting and redundant
/// parentheses aside).
impl PartialEq for FilterPattern {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}
