//! What an attachment is to be: the source, the pattern and its options, where the mapping starts,
//! how the function and the filtered stream are deployed. Resolved from the command line, checked
//! before any AWS call, and turned into the function's environment.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;

use super::artifact::Architecture;
use super::filtered_stream::Capacity;
use super::names::{self, Identity};
use super::remove::{EfoConsumer, Target};
use crate::contract::env;
use crate::exit::usage;
use crate::filter::{MatchOptions, Matcher, PatternError, Syntax};
use crate::kinesis::Start;
use crate::pattern::FilterPattern;

/// How the function and the filtered stream are deployed. Changing these updates an attachment in
/// place; they are not part of its identity.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Use this role instead of creating one.
    pub role: Option<String>,
    pub arch: Architecture,
    pub memory_mb: u32,
    /// The mapping's ParallelizationFactor (1-10).
    pub parallel: u32,
    /// Use (or create) this filtered stream instead of the derived one (`--output-stream`).
    pub filtered_stream: Option<String>,
    /// How a newly created filtered stream is provisioned.
    pub filtered_capacity: Capacity,
    /// The mapping reads through an enhanced fan-out consumer of its own instead of polling.
    pub efo: bool,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            role: None,
            arch: Architecture::Arm64,
            memory_mb: 128,
            parallel: 1,
            filtered_stream: None,
            filtered_capacity: Capacity::Provisioned(1),
            efo: false,
        }
    }
}

/// The pattern of an attachment, compiled once with the function's own matcher: holding one is
/// proof that the function will accept it.
#[derive(Debug, Clone)]
pub struct GrepPattern {
    text: String,
    syntax: Syntax,
    options: MatchOptions,
    matcher: Matcher,
}

impl GrepPattern {
    /// A regex (the PATTERN argument).
    pub fn new(text: impl Into<String>, options: MatchOptions) -> Result<Self, PatternError> {
        let text = text.into();
        let matcher = Matcher::new(&[&text], options)?;
        Ok(GrepPattern {
            text,
            syntax: Syntax::Regex,
            options,
            matcher,
        })
    }

    /// A CloudWatch Logs filter pattern (`--filter-pattern`); `invert` is `-v`. Filter patterns
    /// are case-sensitive, so there is no `-i`.
    pub fn filter_pattern(
        text: impl Into<String>,
        invert: bool,
    ) -> Result<Self, crate::pattern::PatternError> {
        let text = text.into();
        let pattern = FilterPattern::parse(&text)?;
        Ok(GrepPattern {
            text,
            syntax: Syntax::FilterPattern,
            options: MatchOptions {
                invert,
                ignore_case: false,
            },
            matcher: Matcher::for_filter_pattern(pattern, invert),
        })
    }

    /// The pattern as the user typed it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Regex or filter pattern.
    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    pub fn options(&self) -> MatchOptions {
        self.options
    }

    /// The compiled matcher (for `--local` and for highlighting matches).
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }
}

/// Everything `attach` needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct AttachPlan {
    /// Source stream name or ARN.
    pub source: String,
    pub pattern: GrepPattern,
    pub start: Start,
    pub deploy: DeployOptions,
    /// Dead-client guard: the function disables its own mapping this long from now.
    pub ttl: Option<Duration>,
    /// How the function decodes records before matching (`--decode`), as `tail` does.
    pub decode: crate::decode::Options,
}

impl AttachPlan {
    /// Checks the plan before any AWS call (the pattern was checked when it was compiled).
    pub fn validate(&self) -> Result<()> {
        Self::check_streams(&self.source, self.deploy.filtered_stream.as_deref())?;
        self.check_env_size()
    }

    /// The function's environment must fit Lambda's 4 KB; a long pattern is what overflows it.
    /// Measured on the environment `attach` would set, with the longest deadline it writes.
    fn check_env_size(&self) -> Result<()> {
        // The filtered stream's name is the same in every region.
        let filtered_stream = self.names("").filtered_stream;
        let expires_at = self.ttl.map(|_| LONGEST_DEADLINE);
        let size = env_bytes(&self.function_env(&filtered_stream, expires_at));
        if size > env::MAX_BYTES {
            return Err(usage(format!(
                "the pattern is too long for the function: Lambda allows {} bytes \
                 of environment variables and this grep needs {size}; shorten the pattern",
                env::MAX_BYTES
            )));
        }
        Ok(())
    }

    /// The source must be named, and the filtered stream must not be the source.
    pub fn check_streams(source: &str, filtered_stream: Option<&str>) -> Result<()> {
        if source.trim().is_empty() {
            return Err(usage("the stream name is empty"));
        }
        // The function would read its own output: every match would be matched again, forever.
        if filtered_stream == Some(names::stream_name(source)) {
            return Err(usage(
                "--output-stream must differ from the source stream; omit it to use a derived name",
            ));
        }
        Ok(())
    }

    /// What identifies the attachment this plan makes (and so every name in it).
    pub fn identity(&self) -> Identity {
        Identity {
            source: names::stream_name(&self.source).to_owned(),
            pattern: self.pattern.text().to_owned(),
            syntax: self.pattern.syntax(),
            options: self.pattern.options(),
        }
    }

    /// The names the attachment's resources will have in `region`, known before any AWS call.
    pub fn names(&self, region: &str) -> PlannedNames {
        let identity = self.identity();
        let base = identity.base_name();
        PlannedNames {
            filtered_stream: self
                .deploy
                .filtered_stream
                .clone()
                .unwrap_or_else(|| base.clone()),
            role: self
                .deploy
                .role
                .is_none()
                .then(|| identity.role_name(region)),
            // Named after the attachment, like the function: one consumer per attachment, which
            // every session sharing it reads through.
            efo_consumer: self.deploy.efo.then(|| EfoConsumer {
                stream: identity.source.clone(),
                name: base.clone(),
            }),
            function: base,
        }
    }

    /// The `ktail detach` command that removes this plan's attachment (`purge`: and what ktail
    /// created for it), with `aws_flags` (already quoted, e.g. ` --region eu-west-1`) appended.
    pub fn detach_command(&self, purge: bool, aws_flags: &str) -> String {
        let mut cmd = format!(
            "ktail detach {} {}{}",
            shell_quote(names::stream_name(&self.source)),
            match self.pattern.syntax() {
                Syntax::Regex => "",
                Syntax::FilterPattern => "--filter-pattern=",
            },
            shell_quote(self.pattern.text())
        );
        let options = self.pattern.options();
        if options.invert {
            cmd.push_str(" -v");
        }
        if options.ignore_case {
            cmd.push_str(" -i");
        }
        if purge {
            cmd.push_str(" --purge");
        }
        cmd.push_str(aws_flags);
        cmd
    }

    /// The function's environment: the contract with the grep function.
    pub(crate) fn function_env(
        &self,
        filtered_stream: &str,
        expires_at: Option<i64>,
    ) -> HashMap<String, String> {
        let pattern_var = match self.pattern.syntax() {
            Syntax::Regex => env::MATCH,
            Syntax::FilterPattern => env::FILTER_PATTERN,
        };
        let mut env = HashMap::from([
            (pattern_var.to_owned(), self.pattern.text().to_owned()),
            (env::STREAM_NAME.to_owned(), filtered_stream.to_owned()),
        ]);
        let options = self.pattern.options();
        if options.invert {
            env.insert(env::MATCH_INVERT.to_owned(), env::TRUE.to_owned());
        }
        if options.ignore_case {
            env.insert(env::MATCH_IGNORE_CASE.to_owned(), env::TRUE.to_owned());
        }
        if let Some(at) = expires_at {
            env.insert(env::EXPIRES_AT.to_owned(), at.to_string());
        }
        if self.decode.mode != crate::decode::Decode::Auto {
            env.insert(env::DECODE.to_owned(), self.decode.mode.name().to_owned());
        }
        if self.decode.max_decoded_size != crate::decode::DEFAULT_MAX_DECODED_SIZE {
            env.insert(
                env::DECODE_MAX_SIZE.to_owned(),
                self.decode.max_decoded_size.to_string(),
            );
        }
        env
    }
}

/// A deadline with as many digits as any `--ttl` gives (unix seconds 100 years from now have 10
/// or 11), for measuring the environment before the deadline is known.
const LONGEST_DEADLINE: i64 = 99_999_999_999;

/// The size of an environment as Lambda counts it against [`env::MAX_BYTES`]: every name and value.
fn env_bytes(env: &HashMap<String, String>) -> usize {
    env.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Single-quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The names of a plan's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedNames {
    pub function: String,
    pub filtered_stream: String,
    /// `None` when the user gave `--role`.
    pub role: Option<String>,
    /// With `--efo`: the source's consumer the mapping reads through.
    pub efo_consumer: Option<EfoConsumer>,
}

impl PlannedNames {
    /// What [`remove`](super::remove()) works on, for a deploy that may not have finished.
    pub fn target(&self) -> Target {
        Target {
            function_name: self.function.clone(),
            filtered_stream: Some(self.filtered_stream.clone()),
            role_name: self.role.clone(),
            efo_consumer: self.efo_consumer.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(pattern: &str) -> AttachPlan {
        plan_with(pattern, MatchOptions::default())
    }

    fn plan_with(pattern: &str, options: MatchOptions) -> AttachPlan {
        AttachPlan {
            source: "logs".into(),
            pattern: GrepPattern::new(pattern, options).unwrap(),
            start: Start::Latest,
            deploy: DeployOptions::default(),
            ttl: None,
            decode: crate::decode::Options::default(),
        }
    }

    #[test]
    fn plans_are_validated_before_any_aws_call() {
        assert!(plan("\"status\":500").validate().is_ok());
        // A bad regex never becomes a plan: it fails where it is compiled.
        let err = GrepPattern::new("(", MatchOptions::default()).unwrap_err();
        assert_eq!(err.pattern, "(");
        let mut looped = plan("x");
        looped.source = "arn:aws:kinesis:us-east-1:1:stream/logs".into();
        looped.deploy.filtered_stream = Some("logs".into());
        let err = looped.validate().unwrap_err();
        assert_eq!(
            crate::exit::code_for(&err),
            Some(crate::exit::ExitCode::Usage)
        );
    }

    #[test]
    fn function_env_follows_the_contract() {
        let p = plan_with(
            "a.b",
            MatchOptions {
                invert: true,
                ignore_case: false,
            },
        );
        let env = p.function_env("out", Some(1_700_000_000));
        assert_eq!(env[env::MATCH], "a.b");
        assert_eq!(env[env::STREAM_NAME], "out");
        assert_eq!(env[env::MATCH_INVERT], "true");
        assert!(!env.contains_key(env::MATCH_IGNORE_CASE));
        assert_eq!(env[env::EXPIRES_AT], "1700000000");
        assert!(
            !plan("x")
                .function_env("out", None)
                .contains_key(env::EXPIRES_AT)
        );
        let mut filter = plan("x");
        filter.pattern = GrepPattern::filter_pattern("{ $.status = 500 }", true).unwrap();
        let env = filter.function_env("out", None);
        assert_eq!(env[env::FILTER_PATTERN], "{ $.status = 500 }");
        assert!(!env.contains_key(env::MATCH));
        assert_eq!(env[env::MATCH_INVERT], "true");
        assert!(!env.contains_key(env::MATCH_IGNORE_CASE));
    }

    #[test]
    fn the_environment_must_fit_lambdas_4_kb() {
        let mut p = plan("x");
        p.ttl = Some(Duration::from_secs(3600));
        // What is left for the pattern: 4096 bytes less the other names and values.
        let others =
            env_bytes(&p.function_env(&p.names("").filtered_stream, Some(LONGEST_DEADLINE)))
                - "x".len()
                + env::FILTER_PATTERN.len()
                - env::MATCH.len();
        let fits = "a".repeat(env::MAX_BYTES - others);
        p.pattern = GrepPattern::filter_pattern(fits.clone(), false).unwrap();
        assert!(p.validate().is_ok());
        p.pattern = GrepPattern::filter_pattern(format!("{fits}a"), false).unwrap();
        let err = p.validate().unwrap_err();
        assert_eq!(
            crate::exit::code_for(&err),
            Some(crate::exit::ExitCode::Usage)
        );
        assert!(err.to_string().contains("allows 4096 bytes"), "{err}");
        assert!(err.to_string().contains("needs 4097"), "{err}");
    }

    #[test]
    fn quoting_survives_a_shell() {
        assert_eq!(shell_quote("logs"), "logs");
        assert_eq!(shell_quote("\"status\":500"), "'\"status\":500'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_detach_command_names_the_pattern_and_its_options() {
        let p = plan_with(
            "it's",
            MatchOptions {
                invert: true,
                ignore_case: true,
            },
        );
        assert_eq!(
            p.detach_command(false, ""),
            "ktail detach logs 'it'\\''s' -v -i"
        );
        assert_eq!(
            p.detach_command(true, " --region eu-west-1"),
            "ktail detach logs 'it'\\''s' -v -i --purge --region eu-west-1"
        );
    }

    #[test]
    fn planned_names_follow_the_identity_and_the_flags() {
        let mut p = plan("x");
        let names = p.names("eu-west-1");
        assert_eq!(names.function, p.identity().base_name());
        assert_eq!(names.filtered_stream, names.function);
        assert_eq!(
            names.role.as_deref(),
            Some(p.identity().role_name("eu-west-1").as_str())
        );
        p.deploy.role = Some("arn:aws:iam::1:role/mine".into());
        p.deploy.filtered_stream = Some("out".into());
        let names = p.names("eu-west-1");
        assert_eq!(names.filtered_stream, "out");
        assert_eq!(names.role, None);
    }
}
