//! `ktail demo`: the whole grep flow with no AWS account, on an embedded Kinesis.
//!
//! The parts, each in its own file:
//! - [`emulator`]: ferrokinesis served on 127.0.0.1 in this process, and the explicit SDK
//!   configuration for it (the only one the demo uses: it never reads `~/.aws` or `AWS_*`);
//! - [`traffic`]: web access logs put to a 4-shard source stream: plain, KPL-aggregated and as
//!   gzip'd CloudWatch Logs envelopes;
//! - [`function`]: the grep function's code, run in this process;
//! - [`poller`]: the event source mapping between the two, played locally.
//!
//! [`run`] wires them as `ktail grep` wires the real ones (filtered stream, function, mapping),
//! then tails the filtered stream with the same reader and printer as `ktail tail`. [`serve`]
//! only keeps the emulator and its traffic up for other ktail processes.
//!
//! Architecture invariant: this module sits behind the `demo` cargo feature and nothing outside
//! `commands::demo` uses it, so a build without the feature has no emulator in it.

pub mod emulator;
pub mod function;
pub mod poller;
pub mod traffic;

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use crate::attachment::{GrepPattern, names};
use crate::exit::ExitCode;
use crate::kinesis::{self, Start, Stop, StreamRef, TailConfig};
use crate::printer::{PrintOptions, Printer};
use crate::progress::Progress;
use crate::signals::{self, CancellationToken, Listen};
use emulator::Embedded;
use traffic::{AccessLog, Producer};

/// The source stream the traffic goes to.
pub const SOURCE_STREAM: &str = "access-logs";
/// Its shard count: enough to show per-shard order and the `--prefix` colours.
pub const SOURCE_SHARDS: i32 = 4;
/// Where `--serve` listens unless given `--port` (kinesalite's port, a Kinesis emulator habit).
pub const DEFAULT_PORT: u16 = 4567;
const STDOUT_BUFFER: usize = 64 * 1024;

/// `ktail demo`, resolved by the config step.
#[derive(Debug, Clone)]
pub enum DemoCommand {
    /// The grep flow, printing matches.
    Run(Demo),
    /// Only the emulator and its traffic, for other processes (`--serve`).
    Serve { port: u16 },
}

/// A resolved `ktail demo PATTERN`: no clap types, the pattern compiled.
#[derive(Debug, Clone)]
pub struct Demo {
    pub pattern: GrepPattern,
    pub until: Option<DateTime<Utc>>,
    pub max_records: Option<u64>,
    /// The stream named in `-o json` is the source, as with `ktail grep`.
    pub print: PrintOptions,
}

/// Runs the grep flow on the embedded Kinesis until `-n`, `--until` or a signal.
pub async fn run(demo: Demo, progress: Progress) -> Result<ExitCode> {
    let cancel = CancellationToken::new();
    signals::watch(cancel.clone(), Listen::InterruptAndTerminate, || {});
    let clock = Instant::now();

    let (embedded, client) = start_source(0, &progress, &cancel).await?;
    let sdk = embedded.sdk_config();

    // The names `ktail grep` would give the filtered stream and the function.
    let base = names::Identity {
        source: SOURCE_STREAM.to_owned(),
        pattern: demo.pattern.text().to_owned(),
        syntax: demo.pattern.syntax(),
        options: demo.pattern.options(),
    }
    .base_name();
    let step = progress.step(format!("output stream {base}"));
    create_stream(&client, &base, 1).await?;
    step.done("created");

    let step = progress.step(format!("function {base}"));
    let env = function::environment(demo.pattern.text(), demo.pattern.options(), &base);
    let grep = Arc::new(function::Function::new(&sdk, &env)?);
    step.done("in this process (the grep Lambda's own code)");

    let step = progress.step(format!("event source mapping {SOURCE_STREAM} → {base}"));
    let mapping = poller::Mapping::open(&client, SOURCE_STREAM).await?;
    let shards = mapping.shard_count();
    let mut mapping = mapping.start(grep, progress.clone(), cancel.clone());
    step.done(format!(
        "polled here: {shards} shards from LATEST, batch size {}, batch item failures re-delivered",
        poller::BATCH_SIZE
    ));

    let config = TailConfig {
        start: Start::TrimHorizon,
        until: demo.until,
        max_records: demo.max_records,
        ..TailConfig::new(StreamRef::Name(base.clone()))
    };
    let sink = Printer::new(
        BufWriter::with_capacity(STDOUT_BUFFER, io::stdout()),
        demo.print.clone(),
        Some(demo.pattern.matcher().clone()),
    );
    progress
        .step(format!("tailing {base}"))
        .done("matches follow; Ctrl-C to stop");
    let summary = kinesis::tail(&kinesis::client(&sdk), config, sink, cancel.clone()).await;
    cancel.cancel();
    mapping.abort_all();
    drop(embedded);
    let summary = summary?;
    progress.note(summary_line(summary.records, clock.elapsed()));
    Ok(match summary.stop {
        Stop::Cancelled => ExitCode::Interrupted,
        Stop::Done | Stop::MaxRecords => ExitCode::Success,
    })
}

/// Keeps the embedded Kinesis and its traffic up on 127.0.0.1:`port` for other processes; prints
/// the environment that points them at it. Ends on a signal (exit 130).
pub async fn serve(port: u16, progress: Progress) -> Result<ExitCode> {
    let cancel = CancellationToken::new();
    signals::watch(cancel.clone(), Listen::InterruptAndTerminate, || {});
    let (embedded, _client) = start_source(port, &progress, &cancel).await?;
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(exports(&embedded.endpoint).as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    drop(stdout);
    progress.note(format!(
        "serving {SOURCE_STREAM} on {endpoint}; in another shell, with the lines above or \
         `--endpoint-url {endpoint} --region {region}` and those credentials:\n  \
         ktail ls\n  ktail tail {SOURCE_STREAM} --prefix\n  \
         ktail grep {SOURCE_STREAM} '\"status\":5[0-9][0-9]' --local\n  \
         echo hello | ktail put {SOURCE_STREAM}\n\
         Ctrl-C stops it (and forgets every record)",
        endpoint = embedded.endpoint,
        region = emulator::REGION,
    ));
    cancel.cancelled().await;
    drop(embedded);
    Ok(ExitCode::Interrupted)
}

/// Starts the emulator, creates the source stream and starts the traffic into it.
async fn start_source(
    port: u16,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<(Embedded, aws_sdk_kinesis::Client)> {
    let step = progress.step("embedded Kinesis");
    let embedded = Embedded::start(port).await?;
    step.done(format!("listening on {}", embedded.endpoint));

    let client = aws_sdk_kinesis::Client::new(&embedded.sdk_config());
    let step = progress.step(format!("source stream {SOURCE_STREAM}"));
    create_stream(&client, SOURCE_STREAM, SOURCE_SHARDS).await?;
    tokio::spawn(
        Producer {
            client: client.clone(),
            stream: SOURCE_STREAM.to_owned(),
            log: AccessLog::new(),
            progress: progress.clone(),
        }
        .run(cancel.clone()),
    );
    step.done(format!(
        "{SOURCE_SHARDS} shards, {} web access log lines/s (JSON; plain, KPL-aggregated, \
         gzip'd CloudWatch Logs)",
        traffic::LINES_PER_TICK as u128 * 1000 / traffic::TICK.as_millis()
    ));
    Ok((embedded, client))
}

/// Creates a stream in the (empty, fresh) emulator and waits until it is ACTIVE.
async fn create_stream(client: &aws_sdk_kinesis::Client, name: &str, shards: i32) -> Result<()> {
    use aws_sdk_kinesis::client::Waiters as _;
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .with_context(|| format!("cannot create stream {name}"))?;
    client
        .wait_until_stream_exists()
        .stream_name(name)
        .wait(Duration::from_secs(30))
        .await
        .with_context(|| format!("stream {name} did not become active"))?;
    Ok(())
}

/// What `--serve` prints on stdout: shell lines that point the AWS SDK (and so ktail) at the
/// embedded Kinesis. A per-service Kinesis endpoint or a session token from the caller's shell
/// would beat or spoil them, so they are unset.
pub fn exports(endpoint: &str) -> String {
    let mut out = String::new();
    for (name, value) in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", emulator::REGION),
        ("AWS_ACCESS_KEY_ID", emulator::ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", emulator::SECRET_ACCESS_KEY),
    ] {
        let _ = writeln!(out, "export {name}={value}");
    }
    out.push_str("unset AWS_ENDPOINT_URL_KINESIS AWS_SESSION_TOKEN\n");
    out
}

/// `5 matches in 3s`, as `ktail grep` ends.
fn summary_line(matches: u64, elapsed: Duration) -> String {
    format!(
        "{matches} {} in {}",
        if matches == 1 { "match" } else { "matches" },
        humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_shell_lines() {
        let text = exports("http://127.0.0.1:4567");
        assert_eq!(
            text,
            "export AWS_ENDPOINT_URL=http://127.0.0.1:4567\n\
             export AWS_REGION=us-east-1\n\
             export AWS_ACCESS_KEY_ID=demo\n\
             export AWS_SECRET_ACCESS_KEY=demo\n\
             unset AWS_ENDPOINT_URL_KINESIS AWS_SESSION_TOKEN\n"
        );
    }

    #[test]
    fn summary_counts_matches() {
        assert_eq!(
            summary_line(1, Duration::from_millis(3400)),
            "1 match in 3s"
        );
        assert_eq!(summary_line(5, Duration::ZERO), "5 matches in 0s");
    }
}
