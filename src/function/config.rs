//! The function's configuration: read from its environment once, at init, and validated there so a
//! bad deployment fails with one clear line instead of on every invocation.

use std::fmt;

use crate::contract::{StreamRef, env};
use crate::decode::{self, Decode};
use crate::filter::{MatchOptions, Matcher};
use crate::pattern::FilterPattern;

/// Everything an invocation needs to know, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub matcher: Matcher,
    /// How user records are decoded before matching, as `ktail tail --decode` does.
    pub decode: decode::Options,
    pub output: StreamRef,
    /// Unix seconds after which the attachment is abandoned (the client that made it is gone).
    pub expires_at: Option<u64>,
    /// The function's own name, to find its event source mappings when it expires.
    pub function_name: Option<String>,
}

/// A configuration the function cannot run with; the message names the variable to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // Exactly one of the two: the regex or the CloudWatch Logs filter pattern.
        let regex = lookup(env::MATCH);
        let filter_pattern = lookup(env::FILTER_PATTERN);
        let output = lookup(env::STREAM_NAME)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                ConfigError(format!(
                    "{} is not set: set it to the output stream's name or ARN",
                    env::STREAM_NAME
                ))
            })?;
        let options = MatchOptions {
            invert: flag(&lookup, env::MATCH_INVERT)?,
            ignore_case: flag(&lookup, env::MATCH_IGNORE_CASE)?,
        };
        let matcher = match (regex, filter_pattern) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(format!(
                    "{} and {} are both set: set only one, the regex or the filter pattern",
                    env::MATCH,
                    env::FILTER_PATTERN
                )));
            }
            (None, None) => {
                return Err(ConfigError(format!(
                    "{} is not set: set it to the regular expression to forward \
                     (or {} to a CloudWatch Logs filter pattern)",
                    env::MATCH,
                    env::FILTER_PATTERN
                )));
            }
            (Some(regex), None) => Matcher::new(&[regex], options)
                .map_err(|e| ConfigError(format!("{} is not a valid pattern: {e}", env::MATCH)))?,
            (None, Some(pattern)) => {
                if options.ignore_case {
                    return Err(ConfigError(format!(
                        "{} does not apply to {} (filter patterns are case-sensitive): unset it",
                        env::MATCH_IGNORE_CASE,
                        env::FILTER_PATTERN
                    )));
                }
                let pattern = FilterPattern::parse(&pattern).map_err(|e| {
                    ConfigError(format!(
                        "{} is not a valid filter pattern: {e}",
                        env::FILTER_PATTERN
                    ))
                })?;
                Matcher::for_filter_pattern(pattern, options.invert)
            }
        };
        let expires_at = match lookup(env::EXPIRES_AT).filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                ConfigError(format!(
                    "{} must be unix seconds, not {v:?}",
                    env::EXPIRES_AT
                ))
            })?),
        };
        let mode = match lookup(env::DECODE).filter(|s| !s.trim().is_empty()) {
            None => Decode::Auto,
            Some(v) => v
                .trim()
                .parse::<Decode>()
                .map_err(|e| ConfigError(format!("{}: {e}", env::DECODE)))?,
        };
        let max_decoded_size = match lookup(env::DECODE_MAX_SIZE).filter(|s| !s.trim().is_empty()) {
            None => decode::DEFAULT_MAX_DECODED_SIZE,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{} must be a number of bytes above 0, not {v:?}",
                        env::DECODE_MAX_SIZE
                    ))
                })?,
        };
        Ok(Config {
            matcher,
            decode: decode::Options {
                mode,
                max_decoded_size,
            },
            output: StreamRef::parse(output.trim()),
            expires_at,
            function_name: lookup("AWS_LAMBDA_FUNCTION_NAME").filter(|s| !s.is_empty()),
        })
    }
}

fn flag(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Result<bool, ConfigError> {
    match lookup(name) {
        None => Ok(false),
        Some(v) => env::parse_flag(&v).ok_or_else(|| {
            ConfigError(format!(
                "{name} must be true, false, 1 or 0, not {:?}",
                v.trim()
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_mode_and_cap() {
        let base = [("MATCH", "x"), ("STREAM_NAME", "out")];
        let c = config(&base).unwrap();
        assert_eq!(c.decode, decode::Options::default());
        let c = config(&[
            base[0],
            base[1],
            ("DECODE", "zstd"),
            ("DECODE_MAX_SIZE", "1024"),
        ])
        .unwrap();
        assert_eq!(
            (c.decode.mode, c.decode.max_decoded_size),
            (Decode::Zstd, 1024)
        );
        let e = config(&[base[0], base[1], ("DECODE", "brotli")]).unwrap_err();
        assert!(e.0.starts_with("DECODE: unknown decode mode"), "{e}");
        let e = config(&[base[0], base[1], ("DECODE_MAX_SIZE", "64MiB")]).unwrap_err();
        assert!(e.0.contains("DECODE_MAX_SIZE must be"), "{e}");
    }

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn minimal_configuration() {
        let c = config(&[("MATCH", "err"), ("STREAM_NAME", "out")]).unwrap();
        assert_eq!(c.output, StreamRef::Name("out".into()));
        assert!(c.matcher.is_match(b"an err"));
        assert!(!c.matcher.is_match(b"an ERR"));
        assert_eq!(c.expires_at, None);
    }

    #[test]
    fn flags_and_arn() {
        let c = config(&[
            ("MATCH", "err"),
            (
                "STREAM_NAME",
                "arn:aws:kinesis:us-east-1:123456789012:stream/out",
            ),
            ("MATCH_INVERT", "true"),
            ("MATCH_IGNORE_CASE", "1"),
            ("KTAIL_EXPIRES_AT", "1700000000"),
            ("AWS_LAMBDA_FUNCTION_NAME", "ktail-grep-x"),
        ])
        .unwrap();
        assert!(matches!(c.output, StreamRef::Arn { .. }));
        assert!(!c.matcher.is_match(b"ERR"));
        assert!(c.matcher.is_match(b"fine"));
        assert_eq!(c.expires_at, Some(1_700_000_000));
        assert_eq!(c.function_name.as_deref(), Some("ktail-grep-x"));
    }

    #[test]
    fn a_filter_pattern_instead_of_a_regex() {
        let c = config(&[
            ("FILTER_PATTERN", "{ $.status = 500 }"),
            ("STREAM_NAME", "out"),
        ])
        .unwrap();
        assert!(c.matcher.is_match(br#"{"status": 500}"#));
        assert!(!c.matcher.is_match(br#"{"status":"500x"}"#));
        assert!(!c.matcher.is_match(b"status 500"));
        let c = config(&[
            ("FILTER_PATTERN", "[ip, user, status = 5*]"),
            ("STREAM_NAME", "out"),
            ("MATCH_INVERT", "true"),
        ])
        .unwrap();
        assert!(!c.matcher.is_match(b"1.2.3.4 bob 503"));
        assert!(c.matcher.is_match(b"1.2.3.4 bob 200"));
        // Terms are case-sensitive, as on AWS.
        let c = config(&[("FILTER_PATTERN", "ERROR -timeout"), ("STREAM_NAME", "o")]).unwrap();
        assert!(c.matcher.is_match(b"ERROR disk full"));
        assert!(!c.matcher.is_match(b"error disk full"));
        assert!(!c.matcher.is_match(b"ERROR timeout"));
    }

    #[test]
    fn a_bad_filter_pattern_fails_init_and_says_where() {
        let e = config(&[("FILTER_PATTERN", "{ $.status = }"), ("STREAM_NAME", "o")]).unwrap_err();
        assert!(
            e.0.starts_with("FILTER_PATTERN is not a valid filter pattern: at column 14: expected"),
            "{e}"
        );
        let e = config(&[
            ("FILTER_PATTERN", "x"),
            ("MATCH", "x"),
            ("STREAM_NAME", "o"),
        ])
        .unwrap_err();
        assert!(
            e.0.starts_with("MATCH and FILTER_PATTERN are both set"),
            "{e}"
        );
        let e = config(&[
            ("FILTER_PATTERN", "x"),
            ("MATCH_IGNORE_CASE", "true"),
            ("STREAM_NAME", "o"),
        ])
        .unwrap_err();
        assert!(e.0.starts_with("MATCH_IGNORE_CASE"), "{e}");
    }

    #[test]
    fn errors_name_the_variable() {
        let e = config(&[("STREAM_NAME", "out")]).unwrap_err();
        assert!(e.0.starts_with("MATCH"), "{e}");
        let e = config(&[("MATCH", "x")]).unwrap_err();
        assert!(e.0.starts_with("STREAM_NAME"), "{e}");
        let e = config(&[("MATCH", "(x"), ("STREAM_NAME", "o")]).unwrap_err();
        assert!(e.0.starts_with("MATCH is not a valid pattern"), "{e}");
        assert!(!e.0.contains('\n'));
        let e = config(&[
            ("MATCH", "x"),
            ("STREAM_NAME", "o"),
            ("MATCH_INVERT", "yes"),
        ])
        .unwrap_err();
        assert!(e.0.starts_with("MATCH_INVERT"), "{e}");
        let e = config(&[
            ("MATCH", "x"),
            ("STREAM_NAME", "o"),
            ("KTAIL_EXPIRES_AT", "soon"),
        ])
        .unwrap_err();
        assert!(e.0.starts_with("KTAIL_EXPIRES_AT"), "{e}");
    }
}
