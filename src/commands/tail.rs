//! `ktail tail`: resolve the flags into a `TailConfig` and print options (no I/O), then run
//! `kinesis::tail` into stdout until a stop condition, Ctrl-C or SIGTERM.
//!
//! Exit codes: 0 when a stop condition is met (`-e`, `-n`, `--until`) or stdout closes; 1 on an
//! AWS error; 2 on bad usage; 130 when interrupted by Ctrl-C or SIGTERM (what was read is printed
//! and flushed first). A second Ctrl-C exits at once.

use std::io::{self, BufWriter};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use chrono::Utc;

use crate::cli::{ColorChoice, FilterArgs, OutputArgs, OutputFormat, TailArgs};
use crate::context::Context;
use crate::exit::{ExitCode, usage};
use crate::filter::{MatchOptions, Matcher};
use crate::kinesis::{self, ReadRate, Selection, Start, Stop, StreamRef, TailConfig};
use crate::picker;
use crate::printer::{Format, PrintOptions, Printer};
use crate::progress::{Feedback, Progress};
use crate::signals::{self, CancellationToken, Listen};

/// stdout buffer; flushed whenever the readers have nothing more waiting.
const STDOUT_BUFFER: usize = 64 * 1024;

pub async fn run(ctx: &Context, mut args: TailArgs) -> Result<ExitCode> {
    let color = use_color(ctx.global.color);
    if args.stream.is_none() {
        // The other flags are checked before the picker, so a typo is not found after picking.
        resolve(
            &TailArgs {
                stream: Some("-".into()),
                ..args.clone()
            },
            color,
        )?;
    }
    args.stream = Some(picker::resolve_stream(ctx, args.stream.take()).await?);
    let (mut config, print) = resolve(&args, color)?;
    // Setup steps (registering an --efo consumer) only on a terminal: a pipe gets data only.
    config.progress = match Progress::detect(&ctx.global) {
        p if p.feedback() == Feedback::Spinner => p,
        _ => Progress::new(Feedback::Hidden),
    };
    let client = kinesis::client(ctx.sdk().await?);
    let cancel = CancellationToken::new();
    // Ctrl-C and SIGTERM stop the tail (what was read is still printed); a second one exits now.
    signals::watch(cancel.clone(), Listen::InterruptAndTerminate, || {});
    // `ktail tail s | head -1` on a quiet stream: end (successfully) when the reader goes away.
    let stdout_closed = Arc::new(AtomicBool::new(false));
    {
        let (cancel, closed) = (cancel.clone(), stdout_closed.clone());
        crate::printer::on_stdout_closed(move || {
            closed.store(true, Ordering::SeqCst);
            cancel.cancel();
        });
    }
    let out = BufWriter::with_capacity(STDOUT_BUFFER, io::stdout());
    let sink = Printer::new(out, print, Some(config.matcher.clone()));
    let summary = kinesis::tail(&client, config, sink, cancel).await?;
    Ok(match summary.stop {
        Stop::Cancelled if stdout_closed.load(Ordering::SeqCst) => ExitCode::Success,
        Stop::Cancelled => ExitCode::Interrupted,
        Stop::Done | Stop::MaxRecords => ExitCode::Success,
    })
}

/// Flags → what to read and how to print it. Validates everything before any AWS call.
pub fn resolve(args: &TailArgs, color: bool) -> Result<(TailConfig, PrintOptions)> {
    let Some(stream) = args.stream.as_deref() else {
        // `run` picks a stream first on a terminal; library callers must name one.
        return Err(usage(
            "no stream given: run `ktail tail STREAM` (`ktail ls` lists the streams)",
        ));
    };
    if stream.trim().is_empty() {
        return Err(usage("the stream name is empty"));
    }
    let stream = StreamRef::parse(stream);
    let start = match (args.start.since, args.start.oldest) {
        (Some(at), _) => Start::AtTimestamp(at),
        (None, true) => Start::TrimHorizon,
        (None, false) => Start::Latest,
    };
    if let Some(since) = args.start.since {
        if since > Utc::now() {
            return Err(usage(
                "--since is in the future; give a past time or a duration ago",
            ));
        }
        if args.stop.until.is_some_and(|until| until < since) {
            return Err(usage("--until is before --since; nothing could be printed"));
        }
    }
    let selection = if !args.shards.is_empty() {
        Selection::Ids(args.shards.clone())
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
    let config = TailConfig {
        start,
        until: args.stop.until,
        follow: !args.no_follow,
        max_records: args.stop.max_records,
        selection,
        matcher: matcher(&args.filter)?,
        deaggregate: !args.no_deaggregate,
        poll_interval: args.poll_interval,
        read_rate,
        efo: args.efo,
        ..TailConfig::new(stream.clone())
    };
    Ok((config, print_options(&args.output, &stream, color)))
}

/// The client-side filter; a bad pattern is a usage error naming it.
pub fn matcher(filter: &FilterArgs) -> Result<Matcher> {
    Matcher::new(
        &filter.patterns,
        MatchOptions {
            invert: filter.invert_match,
            ignore_case: filter.ignore_case,
        },
    )
    .map_err(|e| usage(e.to_string()))
}

/// Whether to colour stdout.
pub fn use_color(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    }
}

pub fn print_options(output: &OutputArgs, stream: &StreamRef, color: bool) -> PrintOptions {
    PrintOptions {
        format: match output.format {
            OutputFormat::Line => Format::Line,
            OutputFormat::Raw => Format::Raw,
            OutputFormat::Json => Format::Json,
        },
        timestamps: output.timestamps,
        prefix: output.prefix,
        color,
        stream: stream.name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::exit;
    use clap::Parser;

    fn resolve_args(line: &[&str]) -> Result<(TailConfig, PrintOptions)> {
        let cli = Cli::try_parse_from(line).unwrap();
        let Command::Tail(args) = cli.command else {
            panic!("not tail")
        };
        resolve(&args, false)
    }

    #[test]
    fn defaults_follow_every_shard_from_now() {
        let (c, p) = resolve_args(&["ktail", "tail", "logs"]).unwrap();
        assert_eq!(c.start, Start::Latest);
        assert!(c.follow && c.deaggregate && c.until.is_none());
        assert_eq!(c.selection, Selection::All);
        assert_eq!(c.read_rate, ReadRate::DEFAULT);
        assert_eq!(p.stream, "logs");
    }

    #[test]
    fn starts_stops_and_shards() {
        let (c, _) = resolve_args(&["ktail", "tail", "logs", "--oldest", "-e", "-n", "5"]).unwrap();
        assert_eq!(c.start, Start::TrimHorizon);
        assert!(!c.follow);
        assert_eq!(c.max_records, Some(5));
        let (c, _) = resolve_args(&["ktail", "tail", "logs", "--since", "5m"]).unwrap();
        assert!(matches!(c.start, Start::AtTimestamp(_)));
        let (c, _) =
            resolve_args(&["ktail", "tail", "logs", "--shard", "a", "--shard", "b"]).unwrap();
        assert_eq!(c.selection, Selection::Ids(vec!["a".into(), "b".into()]));
        let (c, _) = resolve_args(&["ktail", "tail", "logs", "--shard-key", "k"]).unwrap();
        assert_eq!(c.selection, Selection::for_key("k"));
        let (c, p) = resolve_args(&[
            "ktail",
            "tail",
            "arn:aws:kinesis:us-east-1:1:stream/logs",
            "--no-deaggregate",
        ])
        .unwrap();
        assert!(!c.deaggregate);
        assert_eq!(p.stream, "logs");
        let (c, _) = resolve_args(&["ktail", "tail", "logs", "--max-read-rate", "4.5"]).unwrap();
        assert_eq!(c.read_rate.per_second(), 4.5);
    }

    #[test]
    fn usage_errors() {
        for line in [
            &["ktail", "tail"][..],
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
        ] {
            let err = resolve_args(line).unwrap_err();
            assert_eq!(
                exit::code_for(&err),
                Some(ExitCode::Usage),
                "{line:?}: {err}"
            );
        }
    }
}
