//! The config step: the parsed command line becomes one clap-free configuration per subcommand,
//! plus a snapshot of the terminal. Nothing below this module sees a clap type.
//!
//! `cli` parses and checks each value on its own (syntax, ranges); this step checks what needs
//! more than one flag or the clock, compiles every pattern once and converts every start position
//! once, all before the first AWS call. Only what needs AWS or a person is left open: a STREAM
//! left out is picked on a terminal, a PATTERN left out is prompted for (see `picker`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::attachment::{
    AttachPlan, Capacity, DeployOptions, GrepPattern, Selector, artifact::Architecture, shell_quote,
};
use crate::aws::AwsOptions;
use crate::cli::{self, Cli};
use crate::context::Terminal;
use crate::decode::{self, Decode};
use crate::exit::usage;
use crate::filter::{MatchOptions, Matcher, Syntax};
use crate::kinesis::{ReadRate, Selection, Start, StreamRef, TailConfig};
use crate::pattern::FilterPattern;
use crate::picker;
use crate::printer::{Format, PrintOptions};
use crate::session::{DEFAULT_TTL, Session};

/// A run: the global options, the terminal as it was at start, and what to do.
#[derive(Debug)]
pub struct Config {
    pub aws: AwsOptions,
    pub terminal: Terminal,
    /// `--quiet`: nothing on stderr but errors.
    pub quiet: bool,
    /// `--debug`: AWS SDK logs on stderr.
    pub debug: bool,
    pub command: Command,
}

/// One subcommand, resolved.
#[derive(Debug)]
pub enum Command {
    Tail(TailCommand),
    Grep(GrepCommand),
    Attach(AttachCommand),
    Detach(DetachCommand),
    Status(Report),
    Ls(Report),
    Put(PutCommand),
    Completions(clap_complete::Shell),
    Alias,
    /// `ktail man`: print ktail(1), or write every page into this directory.
    Man(Option<PathBuf>),
    #[cfg(feature = "demo")]
    Demo(crate::demo::DemoCommand),
}

/// How `attach`, `status` and `ls` report (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Aligned columns (or, for `attach`, the filtered stream's name) for people.
    Text,
    /// JSON for scripts.
    Json,
}

/// `ktail tail`, validated; only the stream may be left to the picker.
#[derive(Debug)]
pub struct TailCommand {
    /// `None`: pick one on a terminal.
    pub stream: Option<String>,
    tail: TailConfig,
    print: PrintOptions,
}

impl TailCommand {
    /// What to read and how to print it, once the stream is known.
    pub fn for_stream(self, stream: &str) -> (TailConfig, PrintOptions) {
        let stream = StreamRef::parse(stream);
        let print = PrintOptions {
            stream: stream.name().to_owned(),
            ..self.print
        };
        (
            TailConfig {
                stream,
                ..self.tail
            },
            print,
        )
    }
}

/// What `attach` and `grep` share: what to match and how to deploy. Stream and pattern may be
/// left to the picker and the prompt.
#[derive(Debug)]
pub struct AttachRequest {
    /// `None`: pick one on a terminal.
    pub stream: Option<String>,
    /// Compiled here; `None`: prompt for one on a terminal.
    pub pattern: Option<GrepPattern>,
    /// How a prompted pattern is compiled.
    pub options: MatchOptions,
    pub start: Start,
    pub deploy: DeployOptions,
    /// The dead-client guard; always set for `grep`.
    pub ttl: Option<Duration>,
    /// `--decode`: the function's, and the tail of the filtered stream's.
    pub decode: decode::Options,
}

impl AttachRequest {
    /// The plan once the stream and the pattern are known, validated.
    pub fn plan(self, stream: String, pattern: GrepPattern) -> Result<AttachPlan> {
        let plan = self.unchecked_plan(stream, pattern);
        plan.validate()?;
        Ok(plan)
    }

    /// The plan of `grep --local`, which deploys no function: only the streams are checked.
    fn local_plan(self, stream: String, pattern: GrepPattern) -> Result<AttachPlan> {
        let plan = self.unchecked_plan(stream, pattern);
        AttachPlan::check_streams(&plan.source, plan.deploy.filtered_stream.as_deref())?;
        Ok(plan)
    }

    fn unchecked_plan(self, source: String, pattern: GrepPattern) -> AttachPlan {
        AttachPlan {
            source,
            pattern,
            start: self.start,
            deploy: self.deploy,
            ttl: self.ttl,
            decode: self.decode,
        }
    }

    /// When the command line named both the stream and the pattern, validates the plan now, before
    /// the picker, the prompt and any AWS call: what the streams allow is checked as soon as the
    /// stream is known, but the function's environment fitting Lambda's 4 KB needs both. Only
    /// when a function is to be deployed (`deploys`; not `grep --local`).
    fn check(&self, deploys: bool) -> Result<()> {
        match (&self.stream, &self.pattern) {
            (Some(stream), Some(pattern)) if deploys => {
                let plan = AttachRequest {
                    stream: None,
                    pattern: None,
                    options: self.options,
                    start: self.start,
                    deploy: self.deploy.clone(),
                    ttl: self.ttl,
                    decode: self.decode,
                }
                .unchecked_plan(stream.clone(), pattern.clone());
                plan.validate()
            }
            _ => Ok(()),
        }
    }
}

/// `ktail attach`, validated.
#[derive(Debug)]
pub struct AttachCommand {
    pub request: AttachRequest,
    pub report: Report,
}

/// `ktail grep`, validated.
#[derive(Debug)]
pub struct GrepCommand {
    pub request: AttachRequest,
    pub keep: bool,
    pub local: bool,
    /// Tail the filtered stream (with `--local`, the source) with enhanced fan-out.
    pub efo_tail: bool,
    pub until: Option<DateTime<Utc>>,
    pub max_records: Option<u64>,
    /// The stream name is filled in by [`GrepCommand::session`].
    pub print: PrintOptions,
    /// The global AWS flags given, shell-quoted, for the `ktail detach` hint.
    pub aws_flags: String,
}

impl GrepCommand {
    /// The session once the stream and the pattern are known, validated.
    pub fn session(self, stream: String, pattern: GrepPattern) -> Result<Session> {
        let print = PrintOptions {
            stream: StreamRef::parse(&stream).name().to_owned(),
            ..self.print
        };
        let plan = if self.local {
            self.request.local_plan(stream, pattern)?
        } else {
            self.request.plan(stream, pattern)?
        };
        Ok(Session {
            plan,
            keep: self.keep,
            local: self.local,
            efo_tail: self.efo_tail,
            until: self.until,
            max_records: self.max_records,
            print,
            aws_flags: self.aws_flags,
        })
    }
}

/// `ktail detach`, validated.
#[derive(Debug)]
pub struct DetachCommand {
    pub stream: String,
    pub selector: Selector,
    pub purge: bool,
}

/// `ktail put`, validated (the input is opened by the command).
#[derive(Debug)]
pub struct PutCommand {
    pub stream: StreamRef,
    pub file: Option<PathBuf>,
    pub aggregate: bool,
    pub partition_key: Option<String>,
    /// `--compress`: each record (each aggregate) compressed with this codec.
    pub compress: Option<decode::Codec>,
}

impl Config {
    /// Resolves the parsed command line against the terminal (and the clock, for `--since`).
    pub fn new(cli: Cli, terminal: Terminal) -> Result<Config> {
        let global = cli.global;
        let aws = AwsOptions {
            profile: global.profile,
            region: global.region,
            endpoint_url: global.endpoint_url,
        };
        let color = use_color(global.color, &terminal);
        let now = Utc::now();
        let command = match cli.command {
            cli::Command::Tail(args) => Command::Tail(tail(args, &terminal, color, now)?),
            cli::Command::Grep(args) => Command::Grep(grep(args, &aws, &terminal, color, now)?),
            cli::Command::Attach(args) => {
                let request = attach_request(args.attachment, &terminal)?;
                request.check(true)?;
                Command::Attach(AttachCommand {
                    request,
                    report: report(args.format),
                })
            }
            cli::Command::Detach(args) => Command::Detach(detach(args)),
            cli::Command::Status(args) => Command::Status(report(args.format)),
            cli::Command::Ls(args) => Command::Ls(report(args.format)),
            cli::Command::Put(args) => Command::Put(put(args)?),
            cli::Command::Completions(args) => Command::Completions(args.shell),
            cli::Command::Alias => Command::Alias,
            cli::Command::Man(args) => Command::Man(args.dir),
            #[cfg(feature = "demo")]
            cli::Command::Demo(args) => Command::Demo(demo(args, &aws, color)?),
        };
        Ok(Config {
            aws,
            terminal,
            quiet: global.quiet,
            debug: global.debug,
            command,
        })
    }
}

/// Whether to colour stdout: `--color`, then `NO_COLOR`, then whether stdout is a terminal.
fn use_color(choice: cli::ColorChoice, terminal: &Terminal) -> bool {
    match choice {
        cli::ColorChoice::Always => true,
        cli::ColorChoice::Never => false,
        cli::ColorChoice::Auto => !terminal.no_color && terminal.stdout,
    }
}

fn report(format: cli::ReportFormat) -> Report {
    match format {
        cli::ReportFormat::Text => Report::Text,
        cli::ReportFormat::Json => Report::Json,
    }
}

/// A stream named on the command line; `None` leaves it to the picker, on a terminal.
fn stream_arg(stream: Option<String>, terminal: &Terminal) -> Result<Option<String>> {
    picker::require_stream(terminal, stream.as_deref())?;
    match stream {
        Some(s) if s.trim().is_empty() => Err(usage("the stream name is empty")),
        other => Ok(other),
    }
}

/// The one conversion of `--since`/`--oldest` into where reading (or the mapping) starts.
fn start(args: &cli::StartArgs) -> Start {
    match (args.since, args.oldest) {
        (Some(at), _) => Start::AtTimestamp(at),
        (None, true) => Start::TrimHorizon,
        (None, false) => Start::Latest,
    }
}

/// `--since` must be past, and `--until` after it.
fn check_window(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(since) = since {
        if since > now {
            return Err(usage(
                "--since is in the future; give a past time or a duration ago",
            ));
        }
        if until.is_some_and(|until| until < since) {
            return Err(usage("--until is before --since; nothing could be printed"));
        }
    }
    Ok(())
}

fn print_options(output: &cli::OutputArgs, color: bool) -> PrintOptions {
    PrintOptions {
        format: match output.format {
            cli::OutputFormat::Line => Format::Line,
            cli::OutputFormat::Raw => Format::Raw,
            cli::OutputFormat::Json => Format::Json,
        },
        timestamps: output.timestamps,
        prefix: output.prefix,
        color,
        stream: String::new(),
    }
}

/// The client-side filter of `tail -g` and `--filter-pattern` (both must match); a bad pattern
/// is a usage error naming it.
fn tail_matcher(filter: &cli::FilterArgs) -> Result<Matcher> {
    let matcher = Matcher::new(
        &filter.patterns,
        MatchOptions {
            invert: filter.invert_match,
            ignore_case: filter.ignore_case,
        },
    )
    .map_err(|e| usage(e.to_string()))?;
    Ok(match &filter.filter_pattern {
        Some(pattern) => matcher.and_filter_pattern(filter_pattern(pattern)?),
        None => matcher,
    })
}

/// `--filter-pattern`, parsed once; an invalid one is a usage error that says where and what was
/// expected there.
fn filter_pattern(pattern: &str) -> Result<FilterPattern> {
    FilterPattern::parse(pattern).map_err(invalid_filter_pattern)
}

fn invalid_filter_pattern(err: crate::pattern::PatternError) -> anyhow::Error {
    usage(format!("invalid --filter-pattern: {err}"))
}

fn tail(
    args: cli::TailArgs,
    terminal: &Terminal,
    color: bool,
    now: DateTime<Utc>,
) -> Result<TailCommand> {
    let stream = stream_arg(args.stream, terminal)?;
    check_window(args.start.since, args.stop.until, now)?;
    let selection = if !args.shards.is_empty() {
        Selection::Ids(args.shards)
    } else if let Some(key) = &args.shard_key {
        Selection::for_key(key)
    } else {
        Selection::All
    };
    let Some(read_rate) = ReadRate::new(args.max_read_rate) else {
        return Err(usage(
            "--max-read-rate must be above 0 and at most 5 (GetRecords calls per second per shard)",
        ));
    };
    let tail = TailConfig {
        start: start(&args.start),
        until: args.stop.until,
        follow: !args.no_follow,
        max_records: args.stop.max_records,
        selection,
        matcher: tail_matcher(&args.filter)?,
        deaggregate: !args.no_deaggregate,
        decode: decode_options(&args.decode),
        poll_interval: args.poll_interval,
        read_rate,
        efo: args.efo,
        // Set by `for_stream`.
        ..TailConfig::new(StreamRef::Name(String::new()))
    };
    Ok(TailCommand {
        stream,
        tail,
        print: print_options(&args.output, color),
    })
}

/// `--decode` and `--max-decoded-size`, for `tail` and for the grep function alike.
fn decode_options(args: &cli::DecodeArgs) -> decode::Options {
    decode::Options {
        mode: match args.decode {
            cli::DecodeMode::Auto => Decode::Auto,
            cli::DecodeMode::None => Decode::None,
            cli::DecodeMode::Gzip => Decode::Gzip,
            cli::DecodeMode::Zlib => Decode::Zlib,
            cli::DecodeMode::Zstd => Decode::Zstd,
        },
        max_decoded_size: args.max_decoded_size,
    }
}

fn match_options(args: &cli::PatternArgs) -> MatchOptions {
    MatchOptions {
        invert: args.invert_match,
        ignore_case: args.ignore_case,
    }
}

/// The flags `attach` and `grep` share. The pattern (a regex, or `--filter-pattern`) is compiled
/// here, once, with the function's own matcher: a bad one is a usage error before the picker or
/// any AWS call.
fn attach_request(args: cli::AttachmentArgs, terminal: &Terminal) -> Result<AttachRequest> {
    let options = match_options(&args.pattern_args);
    let pattern = match (args.pattern, args.filter_pattern) {
        (_, Some(filter)) => Some(
            GrepPattern::filter_pattern(filter, options.invert).map_err(invalid_filter_pattern)?,
        ),
        (Some(regex), None) => {
            Some(GrepPattern::new(regex, options).map_err(|e| usage(e.to_string()))?)
        }
        (None, None) => None,
    };
    let stream = stream_arg(args.stream, terminal)?;
    picker::require_pattern(terminal, pattern.is_some())?;
    let deploy = &args.deploy;
    let deploy_options = DeployOptions {
        role: deploy.role.clone(),
        arch: match deploy.arch {
            cli::Arch::Arm64 => Architecture::Arm64,
            cli::Arch::X86_64 => Architecture::X86_64,
        },
        memory_mb: deploy.memory,
        parallel: deploy.parallel,
        filtered_stream: deploy.output_stream.clone(),
        filtered_capacity: if deploy.on_demand {
            Capacity::OnDemand
        } else {
            Capacity::Provisioned(deploy.output_shards)
        },
        efo: deploy.efo,
    };
    if let Some(stream) = &stream {
        AttachPlan::check_streams(stream, deploy_options.filtered_stream.as_deref())?;
    }
    Ok(AttachRequest {
        stream,
        pattern,
        options,
        start: start(&args.start),
        deploy: deploy_options,
        ttl: deploy.ttl,
        decode: decode_options(&args.decode),
    })
}

fn grep(
    args: cli::GrepArgs,
    aws: &AwsOptions,
    terminal: &Terminal,
    color: bool,
    now: DateTime<Utc>,
) -> Result<GrepCommand> {
    let mut request = attach_request(args.attachment, terminal)?;
    // The whole path pushed unless told otherwise: the mapping's reads and the tail's.
    let efo_tail = request.deploy.efo && !args.tail_polling;
    let since = match request.start {
        Start::AtTimestamp(at) => Some(at),
        _ => None,
    };
    check_window(since, args.stop.until, now)?;
    // A session always has a deadline, renewed while it lives.
    request.ttl = Some(request.ttl.unwrap_or(DEFAULT_TTL));
    request.check(!args.local)?;
    Ok(GrepCommand {
        request,
        keep: args.keep,
        local: args.local,
        efo_tail,
        until: args.stop.until,
        max_records: args.stop.max_records,
        print: print_options(&args.output, color),
        aws_flags: aws_flags(aws),
    })
}

/// The global AWS flags the user gave, for the `ktail detach` hint.
pub(crate) fn aws_flags(aws: &AwsOptions) -> String {
    let mut flags = String::new();
    for (flag, value) in [
        ("--profile", &aws.profile),
        ("--region", &aws.region),
        ("--endpoint-url", &aws.endpoint_url),
    ] {
        if let Some(value) = value {
            flags.push_str(&format!(" {flag} {}", shell_quote(value)));
        }
    }
    flags
}

fn detach(args: cli::DetachArgs) -> DetachCommand {
    let options = match_options(&args.pattern_args);
    let selector = match (args.pattern, args.filter_pattern) {
        _ if args.all => Selector::All,
        (_, Some(filter)) => Selector::Pattern(filter, Syntax::FilterPattern, options),
        (Some(regex), None) => Selector::Pattern(regex, Syntax::Regex, options),
        (None, None) => Selector::All,
    };
    DetachCommand {
        stream: args.stream,
        selector,
        purge: args.purge,
    }
}

fn put(args: cli::PutArgs) -> Result<PutCommand> {
    if args.stream.trim().is_empty() {
        return Err(usage("the stream name is empty"));
    }
    Ok(PutCommand {
        stream: StreamRef::parse(&args.stream),
        file: args.file,
        aggregate: args.aggregate,
        partition_key: args.partition_key,
        compress: args.compress.map(|c| match c {
            cli::Compression::Gzip => decode::Codec::Gzip,
            cli::Compression::Zlib => decode::Codec::Zlib,
            cli::Compression::Zstd => decode::Codec::Zstd,
        }),
    })
}

/// `ktail demo` brings its own endpoint, region and credentials: AWS flags would be ignored, so
/// they are refused.
#[cfg(feature = "demo")]
fn demo(args: cli::DemoArgs, aws: &AwsOptions, color: bool) -> Result<crate::demo::DemoCommand> {
    use crate::demo::{Demo, DemoCommand, SOURCE_STREAM};
    for (flag, given) in [
        ("--profile", aws.profile.is_some()),
        ("--region", aws.region.is_some()),
        ("--endpoint-url", aws.endpoint_url.is_some()),
    ] {
        if given {
            return Err(usage(format!(
                "`ktail demo` runs on its own embedded Kinesis and takes no {flag}; drop it"
            )));
        }
    }
    if args.serve {
        return Ok(DemoCommand::Serve { port: args.port });
    }
    let pattern = GrepPattern::new(args.pattern, match_options(&args.pattern_args))
        .map_err(|e| usage(e.to_string()))?;
    Ok(DemoCommand::Run(Demo {
        pattern,
        until: args.stop.until,
        max_records: args.stop.max_records,
        print: PrintOptions {
            stream: SOURCE_STREAM.to_owned(),
            ..print_options(&args.output, color)
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{self, ExitCode};
    use clap::Parser;

    /// The configuration of a command line, run without a terminal; a line clap refuses is a
    /// usage error, as it is for the binary (exit 2).
    fn config(line: &[&str]) -> Result<Config> {
        let cli = Cli::try_parse_from(line).map_err(|e| usage(e.to_string()))?;
        Config::new(cli, Terminal::default())
    }

    fn is_usage(err: &anyhow::Error) -> bool {
        exit::code_for(err) == Some(ExitCode::Usage)
    }

    // ---- tail ----------------------------------------------------------------------------

    fn resolve_tail(line: &[&str]) -> Result<(TailConfig, PrintOptions)> {
        let Command::Tail(tail) = config(line)?.command else {
            panic!("not tail")
        };
        let stream = tail.stream.clone().expect("a stream on the line");
        Ok(tail.for_stream(&stream))
    }

    #[test]
    fn defaults_follow_every_shard_from_now() {
        let (c, p) = resolve_tail(&["ktail", "tail", "logs"]).unwrap();
        assert_eq!(c.start, Start::Latest);
        assert!(c.follow && c.deaggregate && c.until.is_none());
        assert_eq!(c.selection, Selection::All);
        assert_eq!(c.stream, StreamRef::Name("logs".into()));
        assert_eq!(c.read_rate, ReadRate::DEFAULT);
        assert_eq!(p.stream, "logs");
    }

    #[test]
    fn starts_stops_and_shards() {
        let (c, _) = resolve_tail(&["ktail", "tail", "logs", "--oldest", "-e", "-n", "5"]).unwrap();
        assert_eq!(c.start, Start::TrimHorizon);
        assert!(!c.follow);
        assert_eq!(c.max_records, Some(5));
        let (c, _) = resolve_tail(&["ktail", "tail", "logs", "--since", "5m"]).unwrap();
        assert!(matches!(c.start, Start::AtTimestamp(_)));
        let (c, _) =
            resolve_tail(&["ktail", "tail", "logs", "--shard", "a", "--shard", "b"]).unwrap();
        assert_eq!(c.selection, Selection::Ids(vec!["a".into(), "b".into()]));
        let (c, _) = resolve_tail(&["ktail", "tail", "logs", "--shard-key", "k"]).unwrap();
        assert_eq!(c.selection, Selection::for_key("k"));
        let (c, p) = resolve_tail(&[
            "ktail",
            "tail",
            "arn:aws:kinesis:us-east-1:1:stream/logs",
            "--no-deaggregate",
        ])
        .unwrap();
        assert!(!c.deaggregate);
        assert_eq!(p.stream, "logs");
        let (c, _) = resolve_tail(&["ktail", "tail", "logs", "--max-read-rate", "4.5"]).unwrap();
        assert_eq!(c.read_rate.per_second(), 4.5);
    }

    #[test]
    fn tail_usage_errors() {
        for line in [
            &["ktail", "tail"][..],
            &["ktail", "tail", ""],
            &["ktail", "tail", "logs", "-g", "(unclosed"],
            &[
                "ktail",
                "tail",
                "logs",
                "--since",
                "1m",
                "--until",
                "2024-01-01T00:00:00Z",
            ],
            &["ktail", "tail", "logs", "--max-read-rate", "0"],
            &["ktail", "tail", "logs", "--max-read-rate", "5.5"],
        ] {
            let err = config(line).unwrap_err();
            assert!(is_usage(&err), "{line:?}: {err}");
        }
    }

    #[test]
    fn a_filter_pattern_is_parsed_once_here_and_combines_with_g() {
        let (c, _) =
            resolve_tail(&["ktail", "tail", "logs", "--filter-pattern", "{ $.a = 1 }"]).unwrap();
        assert!(c.matcher.is_match(br#"{"a": 1}"#));
        assert!(!c.matcher.is_match(br#"{"a": 2}"#));
        let (c, _) = resolve_tail(&[
            "ktail",
            "tail",
            "logs",
            "--filter-pattern",
            "ERROR",
            "-g",
            "disk",
            "-i",
        ])
        .unwrap();
        assert!(c.matcher.is_match(b"ERROR DISK full"));
        assert!(!c.matcher.is_match(b"error disk full"), "-i is for -g only");
        assert!(!c.matcher.is_match(b"ERROR cpu"));
    }

    #[test]
    fn an_invalid_filter_pattern_says_where_and_what_was_expected() {
        for sub in ["tail", "grep", "attach"] {
            let err =
                config(&["ktail", sub, "logs", "--filter-pattern", "{ $.status = }"]).unwrap_err();
            assert!(is_usage(&err), "{sub}: {err}");
            let text = err.to_string();
            assert!(
                text.starts_with("invalid --filter-pattern: at column 14: expected"),
                "{sub}: {text}"
            );
        }
    }

    #[test]
    fn grep_takes_a_regex_or_a_filter_pattern() {
        let s = session(&["ktail", "grep", "logs", "--filter-pattern", "ERROR", "-v"]).unwrap();
        assert_eq!(s.plan.pattern.syntax(), Syntax::FilterPattern);
        assert!(s.plan.pattern.options().invert);
        let s = session(&["ktail", "grep", "logs", "ERROR"]).unwrap();
        assert_eq!(s.plan.pattern.syntax(), Syntax::Regex);
        for line in [
            &[
                "ktail",
                "grep",
                "logs",
                "ERROR",
                "--filter-pattern",
                "ERROR",
            ][..],
            &["ktail", "attach", "logs", "--filter-pattern", "ERROR", "-i"],
            &["ktail", "detach", "logs", "x", "--filter-pattern", "x"],
            &["ktail", "detach", "logs", "--all", "--filter-pattern", "x"],
        ] {
            let err = config(line).unwrap_err();
            assert!(is_usage(&err), "{line:?}: {err}");
        }
        let Command::Detach(d) = config(&["ktail", "detach", "logs", "--filter-pattern", "x"])
            .unwrap()
            .command
        else {
            panic!("not detach")
        };
        assert!(
            matches!(d.selector, Selector::Pattern(ref p, Syntax::FilterPattern, _) if p == "x")
        );
    }

    #[test]
    fn a_function_environment_over_4_kb_is_refused_here_unless_local() {
        let long = "a".repeat(crate::contract::env::MAX_BYTES);
        for line in [
            &["ktail", "grep", "logs", "--filter-pattern", &long][..],
            &["ktail", "attach", "logs", "--filter-pattern", &long],
            &["ktail", "grep", "logs", &long],
        ] {
            let err = config(line).unwrap_err();
            assert!(is_usage(&err), "{err}");
            assert!(
                err.to_string().contains("Lambda allows 4096 bytes"),
                "{err}"
            );
        }
        // grep --local deploys nothing, so the limit does not apply.
        let s = session(&[
            "ktail",
            "grep",
            "logs",
            "--local",
            "--filter-pattern",
            &long,
        ])
        .unwrap();
        assert!(s.local);
    }

    #[test]
    fn the_detach_hint_names_a_filter_pattern() {
        use crate::attachment::{Removal, Target};
        let s = session(&["ktail", "grep", "logs", "--filter-pattern", "-x ERROR"]).unwrap();
        let target = Target {
            function_name: "f".into(),
            filtered_stream: None,
            role_name: None,
            efo_consumer: None,
        };
        assert!(
            crate::session::leftover_message(&s, &target, Removal::MAPPING)
                .ends_with("remove with: ktail detach logs --filter-pattern='-x ERROR'")
        );
    }

    #[test]
    fn a_missing_stream_is_left_to_the_picker_on_a_terminal() {
        let cli = Cli::try_parse_from(["ktail", "tail", "-g", "x"]).unwrap();
        let terminal = Terminal {
            stdin: true,
            stderr: true,
            ..Terminal::default()
        };
        let Command::Tail(tail) = Config::new(cli, terminal).unwrap().command else {
            panic!("not tail")
        };
        assert_eq!(tail.stream, None);
    }

    #[test]
    fn colour_follows_the_flag_then_no_color_then_the_terminal() {
        let tty = Terminal {
            stdout: true,
            ..Terminal::default()
        };
        let no_color = Terminal {
            no_color: true,
            ..tty
        };
        assert!(use_color(cli::ColorChoice::Auto, &tty));
        assert!(!use_color(cli::ColorChoice::Auto, &no_color));
        assert!(!use_color(cli::ColorChoice::Auto, &Terminal::default()));
        assert!(use_color(cli::ColorChoice::Always, &no_color));
        assert!(!use_color(cli::ColorChoice::Never, &tty));
    }

    // ---- grep and attach -----------------------------------------------------------------

    fn session(line: &[&str]) -> Result<Session> {
        let Command::Grep(grep) = config(line)?.command else {
            panic!("not grep")
        };
        let stream = grep.request.stream.clone().expect("a stream on the line");
        let pattern = grep.request.pattern.clone().expect("a pattern on the line");
        grep.session(stream, pattern)
    }

    #[test]
    fn a_session_always_has_a_deadline() {
        let s = session(&["ktail", "grep", "logs", "x"]).unwrap();
        assert_eq!(s.plan.ttl, Some(DEFAULT_TTL));
        assert!(!s.keep && !s.local);
        let s = session(&[
            "ktail", "grep", "logs", "x", "--ttl", "5m", "--keep", "-n", "3",
        ])
        .unwrap();
        assert_eq!(s.plan.ttl, Some(Duration::from_secs(300)));
        assert!(s.keep);
        assert_eq!(s.max_records, Some(3));
    }

    #[test]
    fn usage_errors_come_before_any_aws_call() {
        for line in [
            &["ktail", "grep", "logs", "(unclosed"][..],
            &["ktail", "grep", "logs", "x", "--tail-polling"],
            &["ktail", "grep", "logs", "x", "--ttl", "0s"],
            &["ktail", "grep", "logs", "x", "--output-stream", "logs"],
        ] {
            let err = session(line).unwrap_err();
            assert!(is_usage(&err), "{line:?}: {err}");
        }
    }

    #[test]
    fn grep_efo_pushes_the_whole_path_unless_told_to_poll_the_tail() {
        let s = session(&["ktail", "grep", "logs", "x", "--efo"]).unwrap();
        assert!(s.plan.deploy.efo && s.efo_tail);
        let s = session(&["ktail", "grep", "logs", "x", "--efo", "--tail-polling"]).unwrap();
        assert!(s.plan.deploy.efo && !s.efo_tail);
        let s = session(&["ktail", "grep", "logs", "x"]).unwrap();
        assert!(!s.plan.deploy.efo && !s.efo_tail);
        assert!(
            s.plan.names("us-east-1").efo_consumer.is_none(),
            "polling registers no consumer"
        );
        let s = session(&["ktail", "grep", "logs", "x", "--efo"]).unwrap();
        let consumer = s.plan.names("us-east-1").efo_consumer.unwrap();
        assert_eq!(consumer.stream, "logs");
        assert_eq!(consumer.name, s.plan.names("us-east-1").function);
    }

    #[test]
    fn attach_and_grep_share_the_ttl_rule() {
        for sub in ["attach", "grep"] {
            for ttl in ["0s", "500ms", "9999999999h"] {
                let err = config(&["ktail", sub, "logs", "x", "--ttl", ttl]).unwrap_err();
                assert!(is_usage(&err), "{sub} --ttl {ttl}: {err}");
            }
            assert!(config(&["ktail", sub, "logs", "x", "--ttl", "1s"]).is_ok());
        }
    }

    #[test]
    fn the_start_position_is_converted_once_for_the_mapping_and_the_tail() {
        let s = session(&["ktail", "grep", "logs", "x", "--oldest"]).unwrap();
        assert_eq!(s.plan.start, Start::TrimHorizon);
        let Command::Attach(attach) = config(&["ktail", "attach", "logs", "x"]).unwrap().command
        else {
            panic!("not attach")
        };
        assert_eq!(attach.request.start, Start::Latest);
        assert_eq!(attach.request.ttl, None);
        assert_eq!(attach.report, Report::Text);
    }

    #[test]
    fn a_second_signal_names_what_is_left_and_how_to_remove_it() {
        use crate::attachment::{Removal, Target};
        let s = session(&[
            "ktail",
            "--region",
            "eu-west-1",
            "grep",
            "logs",
            "it's",
            "-i",
        ])
        .unwrap();
        let target = Target {
            function_name: "ktail-logs-1".into(),
            filtered_stream: Some("ktail-logs-1".into()),
            role_name: Some("ktail-logs-1".into()),
            efo_consumer: None,
        };
        let all = Removal {
            role: false,
            ..Removal::PURGE
        };
        assert_eq!(
            crate::session::leftover_message(&s, &target, all),
            "ktail: stopped before cleaning up; may be left: the event source mapping of \
             ktail-logs-1, function ktail-logs-1, output stream ktail-logs-1; remove with: \
             ktail detach logs 'it'\\''s' -i --purge --region eu-west-1"
        );
        assert!(
            crate::session::leftover_message(&s, &target, Removal::MAPPING)
                .ends_with("remove with: ktail detach logs 'it'\\''s' -i --region eu-west-1")
        );
    }

    #[test]
    fn the_detach_hint_carries_the_aws_flags() {
        let config = config(&[
            "ktail",
            "--region",
            "eu-west-1",
            "--profile",
            "my prof",
            "grep",
            "logs",
            "x",
        ])
        .unwrap();
        assert_eq!(
            aws_flags(&config.aws),
            " --profile 'my prof' --region eu-west-1"
        );
    }
}
