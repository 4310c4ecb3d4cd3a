//! The command line: every flag ktail accepts lives here, and nowhere else.
//!
//! This module only parses and checks each value on its own (no I/O, no AWS) and imports nothing
//! above it (pure checks and limits from `aws` and `contract`). `config` turns these structs into
//! clap-free configurations; no clap type travels further. The stream-name candidates of TAB
//! completion are attached where completion runs (`commands::completions`), not here.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::aws::is_region_name;

const EXAMPLES: &str = "\
Examples:
  ktail tail log-stream                          follow every shard from now on
  ktail tail log-stream --since 10m -g ERROR     the last ten minutes, errors only
  ktail grep log-stream '\"status\":500'           filter server-side with a Lambda, tail the matches
  ktail attach log-stream '\"status\":500'         leave the grep Lambda running; prints the output stream
  ktail detach log-stream --all --purge          remove every grep ktail attached to log-stream
  ktail status                                   what ktail has running in this region
  ktail ls                                       streams in this region
  ktail put log-stream < lines.txt               send lines as records
  ktail completions bash > ~/.local/share/bash-completion/completions/ktail
  ktail alias >> ~/.aws/cli/alias                aws ktail ... through the AWS CLI
  ktail demo -n 5                                try it: no AWS account needed
  ktail man | man -l -                           this manual as a man page";

/// `tail -f | grep` for Amazon Kinesis Data Streams.
///
/// ktail follows every shard of a stream and de-aggregates KPL records. `ktail grep` filters a busy
/// stream on the server side with a small Lambda function, so only the matches cross the network.
#[derive(Debug, Parser)]
#[command(name = "ktail", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow every shard of a stream, like `tail -f`.
    #[command(
        after_help = "Example:\n  ktail tail log-stream --since 5m -g '\"status\":5[0-9][0-9]' --prefix"
    )]
    Tail(TailArgs),
    /// Filter a stream on the server side and tail the matches; cleans up on exit.
    #[command(after_help = "Example:\n  ktail grep log-stream '\"status\":500'")]
    Grep(GrepArgs),
    /// Deploy the grep Lambda and wire it to a stream; prints the filtered stream's name.
    #[command(after_help = "Example:\n  ktail tail $(ktail attach log-stream '\"status\":500')")]
    Attach(AttachArgs),
    /// Remove what `ktail attach` wired to a stream.
    #[command(after_help = "Example:\n  ktail detach log-stream '\"status\":500' --purge")]
    Detach(DetachArgs),
    /// List every grep ktail has attached in this region.
    #[command(after_help = "Example:\n  ktail status -o json")]
    Status(ListArgs),
    /// List the streams in this region.
    #[command(after_help = "Example:\n  ktail ls")]
    Ls(ListArgs),
    /// Send lines from stdin (or a file) to a stream as records.
    #[command(after_help = "Example:\n  seq 100 | ktail put test-stream --aggregate")]
    Put(PutArgs),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  ktail completions zsh > ~/.zfunc/_ktail")]
    Completions(CompletionsArgs),
    /// Print the AWS CLI alias line that makes `aws ktail …` work.
    #[command(after_help = "Example:\n  ktail alias >> ~/.aws/cli/alias")]
    Alias,
    /// Try ktail without AWS: the grep flow on an embedded Kinesis with live web access logs.
    ///
    /// Starts a Kinesis emulator inside ktail on 127.0.0.1 with a 4-shard stream `access-logs`
    /// of JSON access log lines (plain, KPL-aggregated, gzip'd CloudWatch Logs), and runs
    /// `ktail grep`'s flow on it: the grep Lambda's own code, invoked in this process by a local
    /// event source mapping, forwards the matches to a filtered stream, which is tailed and
    /// printed. It needs no AWS account, configuration or network, and reads none (`~/.aws`,
    /// `AWS_*`).
    #[cfg(feature = "demo")]
    #[command(
        after_help = "Example:\n  ktail demo '\"status\":404' -n 5 --prefix\n\nThen `ktail demo --serve` for `ktail ls`, `tail` and `put` from another shell."
    )]
    Demo(DemoArgs),
    /// Print the man page, or write one per subcommand into a directory.
    #[command(after_help = "Example:\n  ktail man | man -l -")]
    Man(ManArgs),
}

/// Options that every subcommand takes. They behave like the AWS CLI's.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// AWS profile to use (default: $AWS_PROFILE, then "default").
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile's region).
    #[arg(long, global = true, value_name = "REGION", value_parser = parse_region)]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint, e.g. a local emulator.
    ///
    /// Without it, $AWS_ENDPOINT_URL and the per-service $AWS_ENDPOINT_URL_KINESIS,
    /// $AWS_ENDPOINT_URL_LAMBDA and $AWS_ENDPOINT_URL_IAM are honoured, as by the AWS CLI.
    #[arg(long, global = true, value_name = "URL", value_parser = parse_endpoint_url)]
    pub endpoint_url: Option<String>,

    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Print nothing on stderr but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log AWS SDK activity to stderr (credentials are never logged).
    #[arg(long, global = true)]
    pub debug: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and $NO_COLOR is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Where reading starts.
#[derive(Debug, Args, Clone, Default)]
pub struct StartArgs {
    /// Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time.
    #[arg(long, visible_alias = "start", value_name = "DURATION|TIME", value_parser = parse_time, conflicts_with = "oldest")]
    pub since: Option<DateTime<Utc>>,

    /// Start at the oldest record the stream still holds (TRIM_HORIZON).
    #[arg(long)]
    pub oldest: bool,
}

/// Where reading stops.
#[derive(Debug, Args, Clone, Default)]
pub struct StopArgs {
    /// Stop at records that arrived after this time (a duration from now, RFC 3339, or local).
    #[arg(long, visible_alias = "end", value_name = "DURATION|TIME", value_parser = parse_until)]
    pub until: Option<DateTime<Utc>>,

    /// Exit after this many records have been printed.
    #[arg(short = 'n', long, value_name = "N")]
    pub max_records: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Each record's data followed by a newline unless it already ends with one.
    #[default]
    Line,
    /// Each record's bytes exactly as stored.
    Raw,
    /// One JSON object per record: stream, shard, sequence, sub_sequence, partition_key, arrival, data.
    Json,
}

/// How records are printed.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Line, value_name = "FORMAT")]
    pub format: OutputFormat,

    /// Prefix each line with the record's approximate arrival time.
    #[arg(long)]
    pub timestamps: bool,

    /// Prefix each line with its shard id (coloured per shard on a terminal).
    #[arg(long)]
    pub prefix: bool,

    /// Accepted for kinesis-tailf users; line mode already ends records with a newline.
    #[arg(long, hide = true)]
    pub lf: bool,
}

/// How user records are decoded (`--decode`), after KPL de-aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DecodeMode {
    /// Recognise gzip, zlib and zstd by their first bytes, then CloudWatch Logs envelopes.
    #[default]
    Auto,
    /// The bytes as stored.
    None,
    /// Every record is gzip.
    Gzip,
    /// Every record is zlib.
    Zlib,
    /// Every record is zstd.
    Zstd,
}

/// Payload decoding: `tail`, `grep` and `attach` (the grep function decodes the same way).
#[derive(Debug, Args, Clone)]
pub struct DecodeArgs {
    /// Decompress records and split CloudWatch Logs envelopes into their log events.
    ///
    /// `auto` recognises gzip, zlib and zstd by their first bytes and, in what they decompress
    /// to, CloudWatch Logs subscription envelopes (one line per log event); anything else is
    /// printed as stored. A record that fails to decode passes through as stored, with one
    /// warning per shard.
    #[arg(long, value_enum, default_value_t = DecodeMode::Auto, value_name = "MODE")]
    pub decode: DecodeMode,

    /// The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it
    /// passes through as stored.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_decoded_size: usize,
}

impl Default for DecodeArgs {
    fn default() -> Self {
        DecodeArgs {
            decode: DecodeMode::Auto,
            max_decoded_size: 64 << 20,
        }
    }
}

/// Client-side filtering.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Print only records matching this regex (repeatable: any may match).
    #[arg(short = 'g', long = "grep", value_name = "REGEX")]
    pub patterns: Vec<String>,

    /// Print only records that match none of the patterns (needs -g).
    #[arg(short = 'v', long, requires = "patterns")]
    pub invert_match: bool,

    /// Match regardless of case.
    #[arg(short = 'i', long)]
    pub ignore_case: bool,

    /// Print only records matching this CloudWatch Logs filter pattern (with -g: both must match).
    ///
    /// The syntax of `aws logs tail --filter-pattern`: terms (`ERROR -timeout`, `?ERROR ?WARN`),
    /// JSON (`{ $.status = 500 }`), space-delimited (`[ip, user, ..., status = 5*, bytes]`) and
    /// `%regex%`. Case-sensitive, as on AWS; -v and -i apply to -g only.
    #[arg(long, value_name = "FILTER", allow_hyphen_values = true)]
    pub filter_pattern: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct TailArgs {
    /// Stream name or ARN (omit on a terminal to pick one).
    pub stream: Option<String>,

    #[command(flatten)]
    pub start: StartArgs,

    #[command(flatten)]
    pub stop: StopArgs,

    /// Exit once every shard is caught up instead of following.
    #[arg(short = 'e', long)]
    pub no_follow: bool,

    /// Read only this shard (repeatable).
    #[arg(long = "shard", value_name = "SHARD_ID")]
    pub shards: Vec<String>,

    /// Read only the shard that holds this partition key (and its children after a reshard).
    #[arg(long, value_name = "KEY", conflicts_with = "shards", value_parser = parse_partition_key)]
    pub shard_key: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub filter: FilterArgs,

    /// Show KPL-aggregated records as stored instead of de-aggregating them.
    #[arg(long)]
    pub no_deaggregate: bool,

    #[command(flatten)]
    pub decode: DecodeArgs,

    /// How often a caught-up shard is polled (at least 200ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_poll_interval)]
    pub poll_interval: Duration,

    /// GetRecords calls per second per shard, at most (more than 0, at most 5).
    ///
    /// A shard serves 5 GetRecords per second to all its polling consumers together; ktail takes
    /// at most this many of them, also while catching up, and reads up to 2 MiB/s at any rate
    /// from 1 up. A --poll-interval shorter than 1/N waits 1/N.
    #[arg(long, value_name = "N", default_value = "2", value_parser = parse_read_rate)]
    pub max_read_rate: f64,

    /// Read with enhanced fan-out (a registered consumer, pushed records, ~70 ms lag).
    #[arg(long)]
    pub efo: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Arch {
    /// Graviton: about 20% cheaper per GB-second.
    #[default]
    Arm64,
    #[value(name = "x86_64")]
    X86_64,
}

/// What the grep Lambda matches.
#[derive(Debug, Args, Clone, Default)]
pub struct PatternArgs {
    /// Forward records that do NOT match.
    #[arg(short = 'v', long)]
    pub invert_match: bool,

    /// Match regardless of case.
    #[arg(short = 'i', long)]
    pub ignore_case: bool,
}

/// How the grep Lambda is deployed.
#[derive(Debug, Args, Clone)]
pub struct DeployArgs {
    /// Use this IAM role for the function instead of one ktail creates.
    #[arg(long, value_name = "ARN")]
    pub role: Option<String>,

    /// CPU architecture of the function.
    #[arg(long, value_enum, default_value_t = Arch::Arm64)]
    pub arch: Arch,

    /// Function memory in MB.
    #[arg(long, value_name = "MB", default_value_t = 128, value_parser = clap::value_parser!(u32).range(128..=10240))]
    pub memory: u32,

    /// Concurrent batches per shard (the mapping's ParallelizationFactor).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub parallel: u32,

    /// Name of the filtered output stream (default: derived from the stream and pattern).
    #[arg(long, value_name = "NAME")]
    pub output_stream: Option<String>,

    /// Shards of a newly created output stream.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        conflicts_with = "on_demand"
    )]
    pub output_shards: u32,

    /// Create the output stream in on-demand mode.
    #[arg(long)]
    pub on_demand: bool,

    /// Dead-client guard: the function stops forwarding and disables its own mapping this long
    /// after the last renewal. `grep` defaults to 1h and renews it while the session lives;
    /// `attach` sets no expiry unless given one.
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub ttl: Option<Duration>,

    /// The mapping reads through an enhanced fan-out consumer of its own (pushed records, ~70 ms
    /// instead of ~1 s, none of the 5 reads per second each shard shares); billed per
    /// consumer-shard-hour and GB. See the README.
    #[arg(long)]
    pub efo: bool,
}

impl Default for DeployArgs {
    fn default() -> Self {
        DeployArgs {
            role: None,
            arch: Arch::Arm64,
            memory: 128,
            parallel: 1,
            output_stream: None,
            output_shards: 1,
            on_demand: false,
            ttl: None,
            efo: false,
        }
    }
}

/// What `attach` and `grep` share: the source, what to match, where to start, how to deploy.
#[derive(Debug, Args, Clone, Default)]
pub struct AttachmentArgs {
    /// Source stream name or ARN (omit on a terminal to pick one).
    pub stream: Option<String>,

    /// Regex the records must match (prompted for on a terminal when neither it nor
    /// --filter-pattern is given).
    pub pattern: Option<String>,

    #[command(flatten)]
    pub pattern_args: PatternArgs,

    /// Match with this CloudWatch Logs filter pattern instead of a regex PATTERN.
    ///
    /// The syntax of `aws logs tail --filter-pattern`: terms (`ERROR -timeout`, `?ERROR ?WARN`),
    /// JSON (`{ $.status = 500 }`), space-delimited (`[ip, user, ..., status = 5*, bytes]`) and
    /// `%regex%`; the function evaluates it on every record. Case-sensitive, as on AWS.
    #[arg(
        long,
        value_name = "FILTER",
        allow_hyphen_values = true,
        conflicts_with_all = ["pattern", "ignore_case"]
    )]
    pub filter_pattern: Option<String>,

    #[command(flatten)]
    pub start: StartArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub deploy: DeployArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GrepArgs {
    #[command(flatten)]
    pub attachment: AttachmentArgs,

    #[command(flatten)]
    pub stop: StopArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Keep the output stream (and function) on exit for a quick re-run; the mapping is always removed.
    #[arg(long)]
    pub keep: bool,

    /// No Lambda: tail the source stream and filter on this machine.
    #[arg(long)]
    pub local: bool,

    /// With --efo: tail the output stream by polling (GetRecords) instead of through a second
    /// enhanced fan-out consumer.
    #[arg(long, requires = "efo")]
    pub tail_polling: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    /// Aligned columns for people.
    #[default]
    Text,
    /// JSON for scripts.
    Json,
}

#[derive(Debug, Args, Clone, Default)]
pub struct AttachArgs {
    #[command(flatten)]
    pub attachment: AttachmentArgs,

    /// Report format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Text, value_name = "FORMAT")]
    pub format: ReportFormat,
}

#[derive(Debug, Args, Clone, Default)]
pub struct DetachArgs {
    /// Source stream name or ARN.
    pub stream: String,

    /// The pattern given to `attach` (omit with --all or --filter-pattern).
    #[arg(required_unless_present_any = ["all", "filter_pattern"])]
    pub pattern: Option<String>,

    #[command(flatten)]
    pub pattern_args: PatternArgs,

    /// The filter pattern given to `attach --filter-pattern`.
    #[arg(
        long,
        value_name = "FILTER",
        allow_hyphen_values = true,
        conflicts_with_all = ["pattern", "ignore_case"]
    )]
    pub filter_pattern: Option<String>,

    /// Remove every grep ktail attached to the stream.
    #[arg(long, conflicts_with_all = ["pattern", "filter_pattern"])]
    pub all: bool,

    /// Also delete the function, output stream and role that ktail created.
    #[arg(long)]
    pub purge: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ListArgs {
    /// Report format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Text, value_name = "FORMAT")]
    pub format: ReportFormat,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PutArgs {
    /// Stream name or ARN.
    pub stream: String,

    /// Read lines from this file instead of stdin.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Pack lines into KPL-aggregated records.
    #[arg(long)]
    pub aggregate: bool,

    /// Partition key for every record (default: a random key per record).
    #[arg(long, value_name = "KEY", value_parser = parse_partition_key)]
    pub partition_key: Option<String>,

    /// Compress each record (each aggregate with --aggregate), as many producers do.
    #[arg(long, value_enum, value_name = "CODEC")]
    pub compress: Option<Compression>,
}

/// `put --compress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    Gzip,
    Zlib,
    Zstd,
}

/// `ktail demo`'s flags. The defaults match `crate::demo` (a unit test there checks they agree).
#[cfg(feature = "demo")]
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Regex the access log lines must match (default: the server errors).
    #[arg(default_value = r#""status":5[0-9][0-9]"#)]
    pub pattern: String,

    #[command(flatten)]
    pub pattern_args: PatternArgs,

    #[command(flatten)]
    pub stop: StopArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Only keep the embedded Kinesis and its traffic running, for other ktail commands.
    ///
    /// Prints on stdout the `export` lines that point the AWS SDK (and so `ktail ls`, `tail`,
    /// `put` and `grep --local`) at it, e.g. for `eval`; Ctrl-C stops it.
    #[arg(long, conflicts_with_all = [
        "pattern", "invert_match", "ignore_case", "until", "max_records", "format", "timestamps",
        "prefix",
    ])]
    pub serve: bool,

    /// Port of the embedded Kinesis on 127.0.0.1 (with --serve).
    #[arg(long, value_name = "N", default_value_t = 4567, requires = "serve")]
    pub port: u16,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ManArgs {
    /// Write ktail.1 and ktail-SUBCOMMAND.1 into this directory instead of printing ktail.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `--region`: a name such as `eu-west-1`, checked as the SDK checks it (dot-separated host
/// labels: letters, digits and `-`), so a typo is a usage error instead of an SDK internal.
fn parse_region(s: &str) -> Result<String, String> {
    if is_region_name(s) {
        Ok(s.to_owned())
    } else if s.is_empty() {
        Err("the region is empty; give one such as us-east-1, or leave --region out".into())
    } else {
        Err(format!(
            "{s:?} is not a region name; give one such as us-east-1 (letters, digits and -)"
        ))
    }
}

/// `--endpoint-url`: `http://` or `https://` and a host (an optional port and path after it).
fn parse_endpoint_url(s: &str) -> Result<String, String> {
    let example = "e.g. http://localhost:4566";
    if s.is_empty() {
        return Err(format!(
            "the endpoint is empty; give a URL ({example}), or leave --endpoint-url out"
        ));
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!(
            "{s:?} is not a URL; give one with its scheme, {example}"
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!(
            "{s:?} is not an http:// or https:// URL ({example})"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        // A port, unless the colon is inside an IPv6 literal.
        Some((host, port)) if !port.contains(']') => {
            if port.is_empty()
                || !port.bytes().all(|b| b.is_ascii_digit())
                || port.parse::<u16>().is_err()
            {
                return Err(format!("{s:?} has no valid port ({example})"));
            }
            host
        }
        _ => authority,
    };
    if host.is_empty() || s.chars().any(char::is_whitespace) || authority.contains('@') {
        return Err(format!("{s:?} is not a URL with a host ({example})"));
    }
    Ok(s.to_owned())
}

/// The longest duration any flag takes (a time ago or from now, `--ttl`, `--poll-interval`): far
/// beyond any retention or session, and well inside what clocks, timestamps and timers can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);
/// [`MAX_DURATION`] as humantime writes (and reads) it.
const MAX_DURATION_TEXT: &str = "100y";

/// Parses a duration such as `30s`, `5m`, `1h30m` or `250ms`, up to [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|_| not_a_duration(s))?;
    if d > MAX_DURATION {
        return Err(format!(
            "{s} is out of range: a duration may be at most {MAX_DURATION_TEXT}"
        ));
    }
    Ok(d)
}

fn not_a_duration(s: &str) -> String {
    format!("{s:?} is not a duration; use e.g. 30s, 5m, 1h30m or 250ms")
}

/// `--max-decoded-size`: bytes, or a number with a unit (B, KiB, MiB, GiB; K, M, G, KB, MB and GB
/// mean the same powers of 1024). At least 1 KiB, so a typo cannot turn every record into a
/// failure.
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "{s:?} is not a size; use e.g. 64MiB, 512KiB or 1000000"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size; use e.g. 64MiB, 512KiB or 1000000"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("{s} is too large"))?;
    if bytes < 1024 {
        return Err(format!("{s} is below the minimum of 1KiB"));
    }
    Ok(bytes)
}

fn parse_poll_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(200) {
        return Err(format!(
            "{s} is below the minimum of 200ms, which keeps a shard's 5 reads/s for its consumers"
        ));
    }
    Ok(d)
}

/// `--ttl`, for `attach` and `grep` alike: a deadline already past (or within the second) would
/// deploy a function that forwards nothing.
fn parse_ttl(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|_| not_a_duration(s))?;
    if d < Duration::from_secs(1) || d > MAX_DURATION {
        return Err(format!(
            "{s} is out of range: the deadline must be 1s to {MAX_DURATION_TEXT} away"
        ));
    }
    Ok(d)
}

/// A partition key is 1 to 256 Unicode characters (Kinesis' rule); `--shard-key` names one too.
const MAX_PARTITION_KEY_CHARS: usize = *crate::contract::PARTITION_KEY_CHARS.end();

/// `--partition-key` and `--shard-key`: one rule for both.
fn parse_partition_key(s: &str) -> Result<String, String> {
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_PARTITION_KEY_CHARS {
        return Err(format!(
            "a partition key is 1 to {MAX_PARTITION_KEY_CHARS} characters (this one has {chars})"
        ));
    }
    Ok(s.to_owned())
}

/// GetRecords calls per second per shard: a number above 0 and at most 5 (the shard's limit).
fn parse_read_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number; give calls per second, e.g. 1 or 2.5"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(format!(
            "{s} is not above 0; give calls per second, e.g. 1 or 2.5"
        ));
    }
    if rate > 5.0 {
        return Err(format!(
            "{s} is above 5, the GetRecords calls per second a shard serves to all its consumers"
        ));
    }
    Ok(rate)
}

/// A point in the past: a duration ago, RFC 3339, or a local date-time.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    parse_point(s, Utc::now(), -1)
}

/// A point to stop at: a duration from now, RFC 3339, or a local date-time.
pub fn parse_until(s: &str) -> Result<DateTime<Utc>, String> {
    parse_point(s, Utc::now(), 1)
}

fn parse_point(s: &str, now: DateTime<Utc>, sign: i32) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(d) = humantime::parse_duration(s) {
        let out_of_range = || {
            format!(
                "{s} is out of range: a duration {} may be at most {MAX_DURATION_TEXT} \
                 (or give an RFC 3339 or local date-time)",
                if sign < 0 { "ago" } else { "from now" }
            )
        };
        if d > MAX_DURATION {
            return Err(out_of_range());
        }
        let d = chrono::Duration::from_std(d).map_err(|_| out_of_range())?;
        let at = if sign < 0 {
            now.checked_sub_signed(d)
        } else {
            now.checked_add_signed(d)
        };
        return at.ok_or_else(out_of_range);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    const LOCAL_FORMATS: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ];
    let naive = LOCAL_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
    match naive.map(|n| Local.from_local_datetime(&n).earliest()) {
        Some(Some(t)) => Ok(t.with_timezone(&Utc)),
        _ => Err(format!(
            "{s:?} is not a time; use a duration (30s, 5m, 1h30m), RFC 3339 \
             (2024-05-01T12:00:00Z) or a local date-time (2024-05-01 12:00)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("100000"), Ok(100_000));
        for bad in [
            "",
            "MiB",
            "12 parsecs",
            "-1",
            "1.5MiB",
            "1000",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_and_times() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        assert_eq!(
            parse_point("1h30m", now, -1).unwrap(),
            Utc.with_ymd_and_hms(2024, 5, 1, 10, 30, 0).unwrap()
        );
        assert_eq!(
            parse_point("30s", now, 1).unwrap(),
            Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 30).unwrap()
        );
        assert_eq!(
            parse_point("2024-05-01T11:00:00.250+01:00", now, -1).unwrap(),
            Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap()
                + chrono::Duration::milliseconds(250)
        );
        assert!(parse_point("2024-05-01 11:00", now, -1).is_ok());
        assert!(parse_point("yesterday-ish", now, -1).is_err());
    }

    #[test]
    fn durations_beyond_the_maximum_are_refused_not_overflowed() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        for s in ["9999999999h", "300000y", "101y"] {
            for sign in [-1, 1] {
                let err = parse_point(s, now, sign).unwrap_err();
                assert!(err.contains("at most 100y"), "{s}: {err}");
            }
            assert!(parse_duration(s).unwrap_err().contains("at most 100y"));
            assert!(parse_ttl(s).unwrap_err().contains("1s to 100y away"));
            assert!(parse_poll_interval(s).is_err());
        }
        assert_eq!(parse_duration("100y").unwrap(), MAX_DURATION);
        assert!(parse_point("100y", now, -1).is_ok() && parse_point("100y", now, 1).is_ok());
    }

    #[test]
    fn ttl_is_one_second_to_a_hundred_years() {
        for s in ["0s", "500ms", "999ms"] {
            assert!(parse_ttl(s).unwrap_err().contains("1s to 100y away"), "{s}");
        }
        assert_eq!(parse_ttl("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_ttl("1500ms").unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn partition_and_shard_keys_share_one_rule() {
        for flag in [
            ["tail", "s", "--shard-key"],
            ["put", "s", "--partition-key"],
        ] {
            for (key, ok) in [("", false), ("k", true), (&*"é".repeat(256), true)] {
                let parsed = Cli::try_parse_from(["ktail"].iter().chain(&flag).chain([&key]));
                assert_eq!(parsed.is_ok(), ok, "{flag:?} {key:?}");
            }
            let long = "k".repeat(257);
            let err = Cli::try_parse_from(["ktail"].iter().chain(&flag).chain([&&*long]))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("1 to 256 characters (this one has 257)"),
                "{err}"
            );
        }
    }

    #[test]
    fn regions_are_checked_as_the_sdk_checks_them() {
        for ok in [
            "us-east-1",
            "eu-west-1",
            "cn-north-1",
            "us-gov-west-1",
            "local",
            "a.b",
        ] {
            assert_eq!(parse_region(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "",
            "us east 1",
            "-us-east-1",
            "us_east_1",
            "a..b",
            "é",
            &"a".repeat(64),
        ] {
            assert!(parse_region(bad).is_err(), "{bad:?}");
        }
        assert!(parse_region("").unwrap_err().contains("empty"));
    }

    #[test]
    fn endpoints_need_a_scheme_and_a_host() {
        for ok in [
            "http://localhost:4566",
            "https://kinesis.eu-west-1.amazonaws.com",
            "http://127.0.0.1:9/",
            "http://[::1]:4566",
            "HTTP://emulator",
        ] {
            assert_eq!(parse_endpoint_url(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "",
            "localhost:4566",
            "not a url",
            "ftp://host",
            "http://",
            "http://:4566",
            "http://host:port",
            "http://host:99999",
            "http://a b",
        ] {
            assert!(parse_endpoint_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn poll_interval_has_a_floor() {
        assert!(parse_poll_interval("100ms").is_err());
        assert_eq!(
            parse_poll_interval("200ms").unwrap(),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn read_rate_is_above_0_and_at_most_5() {
        for bad in ["0", "-1", "5.5", "6", "nan", "inf", "two", ""] {
            assert!(parse_read_rate(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_read_rate("5"), Ok(5.0));
        assert_eq!(parse_read_rate("0.5"), Ok(0.5));
        let cli = Cli::try_parse_from(["ktail", "tail", "s"]).unwrap();
        let Command::Tail(t) = cli.command else {
            panic!("not tail")
        };
        assert_eq!(t.max_read_rate, 2.0);
    }

    #[test]
    fn kinesis_tailf_aliases() {
        let cli =
            Cli::try_parse_from(["ktail", "tail", "s", "--start", "5m", "--end", "1m", "--lf"])
                .unwrap();
        let Command::Tail(t) = cli.command else {
            panic!("not tail")
        };
        assert!(t.start.since.is_some() && t.stop.until.is_some() && t.output.lf);
    }
}
