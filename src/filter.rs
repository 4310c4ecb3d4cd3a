//! The matcher shared by `ktail tail -g` and the grep Lambda, so both halves agree on what matches.
//!
//! Patterns are regular expressions over bytes: records need not be UTF-8. Several patterns match
//! when any of them does; `invert` keeps what matches none; `ignore_case` folds case.
//!
//! A matcher may also hold a CloudWatch Logs filter pattern (`--filter-pattern`, see
//! [`crate::pattern`]): a record must then pass the regexes (if any) and the filter pattern. This
//! is the one place both kinds of pattern are applied, by `tail`, `grep --local` and the function.

use std::fmt;
use std::ops::Range;

use regex::bytes::{Regex, RegexBuilder};

use crate::pattern::FilterPattern;

/// The language a grep's pattern is written in. Part of an attachment's identity: the same text
/// as a regex and as a filter pattern are two different greps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// A regular expression (the `PATTERN` argument, `-g`).
    #[default]
    Regex,
    /// A CloudWatch Logs filter pattern (`--filter-pattern`).
    FilterPattern,
}

impl Syntax {
    /// `regex` or `filter-pattern`, as `ktail status` shows it.
    pub fn label(self) -> &'static str {
        match self {
            Syntax::Regex => "regex",
            Syntax::FilterPattern => "filter-pattern",
        }
    }
}

/// How patterns are applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// Keep records that match none of the patterns.
    pub invert: bool,
    /// Match letters regardless of case.
    pub ignore_case: bool,
}

/// A pattern that failed to compile, with the compiler's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pattern {:?}: {}", self.pattern, self.reason)
    }
}

impl std::error::Error for PatternError {}

/// A compiled filter. With no patterns every record matches (and with `invert`, none does).
#[derive(Debug, Clone)]
pub struct Matcher {
    regex: Option<Regex>,
    invert: bool,
    patterns: Vec<String>,
    /// A filter pattern the record must pass too; `true`: must not match it instead.
    /// Boxed: a compiled pattern is large, and most matchers have none.
    filter_pattern: Option<Box<(FilterPattern, bool)>>,
}

impl Matcher {
    /// Compiles `patterns` (any of which may match). Each pattern is checked on its own first so
    /// that an error names the pattern the user typed, not the combined expression.
    pub fn new<S: AsRef<str>>(patterns: &[S], options: MatchOptions) -> Result<Self, PatternError> {
        let patterns: Vec<String> = patterns.iter().map(|p| p.as_ref().to_owned()).collect();
        for pattern in &patterns {
            build(pattern, options.ignore_case).map_err(|e| PatternError {
                pattern: pattern.clone(),
                reason: one_line(&e.to_string()),
            })?;
        }
        let regex = match patterns.as_slice() {
            [] => None,
            [one] => Some(build(one, options.ignore_case)),
            many => {
                let joined = many
                    .iter()
                    .map(|p| format!("(?:{p})"))
                    .collect::<Vec<_>>()
                    .join("|");
                Some(build(&joined, options.ignore_case))
            }
        };
        let regex = regex.transpose().map_err(|e| PatternError {
            pattern: patterns.join(" | "),
            reason: one_line(&e.to_string()),
        })?;
        Ok(Matcher {
            regex,
            invert: options.invert,
            patterns,
            filter_pattern: None,
        })
    }

    /// A matcher that keeps every record.
    pub fn all() -> Self {
        Matcher {
            regex: None,
            invert: false,
            patterns: Vec::new(),
            filter_pattern: None,
        }
    }

    /// A matcher of one filter pattern alone (`grep --filter-pattern`); `invert` (`-v`) keeps
    /// the records it does not match.
    pub fn for_filter_pattern(pattern: FilterPattern, invert: bool) -> Self {
        Matcher {
            filter_pattern: Some(Box::new((pattern, invert))),
            ..Matcher::all()
        }
    }

    /// This matcher and a filter pattern: a record must pass both (`tail -g R --filter-pattern
    /// P`). `-v` and `-i` stay with the regexes.
    pub fn and_filter_pattern(self, pattern: FilterPattern) -> Self {
        Matcher {
            filter_pattern: Some(Box::new((pattern, false))),
            ..self
        }
    }

    /// The filter pattern, if there is one.
    pub fn filter_pattern(&self) -> Option<&FilterPattern> {
        self.filter_pattern.as_deref().map(|(p, _)| p)
    }

    /// Whether `data` passes the filter.
    pub fn is_match(&self, data: &[u8]) -> bool {
        let hit = self.regex.as_ref().is_none_or(|r| r.is_match(data));
        hit != self.invert
            && self
                .filter_pattern
                .as_deref()
                .is_none_or(|(p, invert)| p.matches(data) != *invert)
    }

    /// Byte ranges to highlight in a record that passed. Inverted filters have nothing to show.
    pub fn highlights<'a>(&'a self, data: &'a [u8]) -> impl Iterator<Item = Range<usize>> + 'a {
        self.regex
            .as_ref()
            .filter(|_| !self.invert)
            .into_iter()
            .flat_map(move |r| r.find_iter(data).map(|m| m.range()))
            .filter(|r| !r.is_empty())
    }

    /// True when the filter keeps every record, e.g. `.*`, `.` on non-empty data, or no pattern:
    /// worth a warning before deploying a grep that forwards the whole stream.
    pub fn matches_everything(&self) -> bool {
        if self.invert {
            return false;
        }
        let pattern_keeps_all = match self.filter_pattern.as_deref() {
            None => true,
            Some((pattern, invert)) => !invert && pattern.matches_everything(),
        };
        pattern_keeps_all
            && match &self.regex {
                None => true,
                Some(_) => self
                    .patterns
                    .iter()
                    .any(|p| matches!(p.trim(), "" | "." | ".*" | ".+" | "^" | "$" | "(?s).*")),
            }
    }

    /// The patterns as given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn is_inverted(&self) -> bool {
        self.invert
    }
}

fn build(pattern: &str, ignore_case: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .build()
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str], invert: bool, ignore_case: bool) -> Matcher {
        Matcher::new(
            patterns,
            MatchOptions {
                invert,
                ignore_case,
            },
        )
        .unwrap()
    }

    #[test]
    fn any_pattern_matches() {
        let f = m(&["status\":500", "panic"], false, false);
        assert!(f.is_match(br#"{"status":500}"#));
        assert!(f.is_match(b"thread panicked"));
        assert!(!f.is_match(br#"{"status":200}"#));
    }

    #[test]
    fn invert_and_ignore_case() {
        assert!(m(&["error"], false, true).is_match(b"ERROR here"));
        assert!(!m(&["error"], false, false).is_match(b"ERROR here"));
        assert!(m(&["error"], true, false).is_match(b"all good"));
        assert!(!m(&["error"], true, false).is_match(b"an error"));
    }

    #[test]
    fn non_utf8_data_is_searched() {
        let f = m(&["abc"], false, false);
        assert!(f.is_match(b"\xff\xfeabc\x00"));
        assert!(!f.is_match(b"\xff\xfe\x00"));
    }

    #[test]
    fn no_pattern_keeps_everything() {
        assert!(Matcher::all().is_match(b""));
        assert!(Matcher::all().matches_everything());
        assert!(m(&[".*"], false, false).matches_everything());
        assert!(!m(&["x"], false, false).matches_everything());
    }

    #[test]
    fn invalid_pattern_names_itself() {
        let err = Matcher::new(&["ok", "(unclosed"], MatchOptions::default()).unwrap_err();
        assert_eq!(err.pattern, "(unclosed");
        assert!(!err.to_string().contains('\n'));
    }

    #[test]
    fn a_filter_pattern_alone_and_with_regexes() {
        let json = FilterPattern::parse("{ $.status = 500 }").unwrap();
        let only = Matcher::for_filter_pattern(json.clone(), false);
        assert!(only.is_match(br#"{"status": 500}"#));
        assert!(!only.is_match(br#"{"status": 200}"#));
        assert!(!only.is_match(b"status 500"));
        assert!(!only.matches_everything());
        let inverted = Matcher::for_filter_pattern(json.clone(), true);
        assert!(!inverted.is_match(br#"{"status": 500}"#));
        assert!(inverted.is_match(b"status 500"));
        // Both must match; -v stays with the regex.
        let both = m(&["GET"], false, false).and_filter_pattern(json.clone());
        assert!(both.is_match(br#"{"method": "GET", "status": 500}"#));
        assert!(!both.is_match(br#"{"method": "PUT", "status": 500}"#));
        assert!(!both.is_match(br#"{"method": "GET", "status": 200}"#));
        let not_get = m(&["GET"], true, false).and_filter_pattern(json);
        assert!(not_get.is_match(br#"{"method": "PUT", "status": 500}"#));
        assert!(!not_get.is_match(br#"{"method": "PUT", "status": 200}"#));
        let empty = FilterPattern::parse("").unwrap();
        assert!(Matcher::for_filter_pattern(empty.clone(), false).matches_everything());
        assert!(!Matcher::for_filter_pattern(empty, true).matches_everything());
        // Highlights come from the regexes only.
        assert_eq!(
            Matcher::for_filter_pattern(FilterPattern::parse("err").unwrap(), false)
                .highlights(b"err")
                .count(),
            0
        );
    }

    #[test]
    fn highlights_cover_every_match() {
        let f = m(&["ab"], false, false);
        let spans: Vec<_> = f.highlights(b"ab-ab").collect();
        assert_eq!(spans, vec![0..2, 3..5]);
        assert_eq!(m(&["ab"], true, false).highlights(b"ab").count(), 0);
    }
}
