//! `ktail put STREAM`: lines from stdin (or `--file`) become records, sent with PutRecords in
//! batches within the API limits, optionally KPL-aggregated.
//!
//! Each line is one record without its line ending (`\n` or `\r\n`). Empty lines are skipped:
//! they carry nothing a reader could tell apart, and an empty line between log lines is almost
//! always noise. A line over Kinesis' 1 MiB record limit (data plus partition key) cannot be put
//! at all; it is reported and counted, never split. Entries that PutRecords reports as failed
//! (throttling, internal errors) are resent with backoff a bounded number of times (so they land
//! after the entries that went through with them: PutRecords keeps no order across a partial
//! failure); whole requests are retried by the SDK. Any line not put makes the exit code 1, with
//! a count.
//!
//! Lines are sent as soon as input pauses (after [`LINGER`]), so `tail -f app.log | ktail put`
//! streams instead of waiting for a full batch. Ctrl-C stops reading, sends what was read, and
//! exits 130; a second Ctrl-C exits at once.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use crate::config::PutCommand;
use crate::context::Context;
use crate::contract::MAX_RECORD_BYTES;
use crate::exit::{ExitCode, usage};
use crate::kpl::{AggregatedRecord, Aggregator};
use crate::progress::Feedback;
use crate::put_records::{Batch, Failure, Record, RequestRetry, Writer};
use crate::retry::Backoff;
use crate::signals::{self, CancellationToken, Listen};

/// How long a partial batch waits for more input before it is sent (the KPL's default is 100 ms).
const LINGER: Duration = Duration::from_millis(100);
/// Rounds of resending failed entries, and the first pause between them (doubled each round,
/// capped): about 6 s in all, enough for a throttled shard's one-second window to pass a few times.
const ENTRY_ATTEMPTS: u32 = 7;
const ENTRY_BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2))
        .max_attempts(ENTRY_ATTEMPTS);
/// Lines read ahead of the sender.
const READ_AHEAD: usize = 4096;
/// Oversized lines named one by one on stderr before only the total is given.
const NAMED_OVERSIZED: usize = 5;

pub async fn run(ctx: &Context, command: PutCommand) -> Result<ExitCode> {
    let input: Box<dyn BufRead + Send> = match &command.file {
        Some(path) => {
            Box::new(BufReader::new(File::open(path).map_err(|e| {
                usage(format!("cannot read {}: {e}", path.display()))
            })?))
        }
        None => Box::new(BufReader::new(io::stdin())),
    };
    let stream = command.stream;
    let client = crate::aws::kinesis(ctx.sdk().await?);

    // Listening before anything is shown, so a Ctrl-C is never the default (lines lost) one.
    let interrupt = CancellationToken::new();
    signals::watch(interrupt.clone(), Listen::InterruptAndTerminate, || {});
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let reader = tokio::task::spawn_blocking(move || read_lines(input, tx));
    let progress = Meter::new(ctx.feedback());
    let mut put = Putter {
        writer: Writer::new(client, stream, ENTRY_BACKOFF, RequestRetry::Never),
        stats: Stats::default(),
        progress,
        interrupted: false,
    };
    let outcome = put
        .run(
            rx,
            command.aggregate,
            command.partition_key.as_deref(),
            interrupt,
        )
        .await;
    put.progress.finish();
    outcome?;
    if !put.interrupted {
        reader
            .await
            .context("the input reader failed")?
            .context("cannot read the input")?;
    }

    let stats = &put.stats;
    put.progress.summary(stats, put.writer.stream().name());
    match stats.not_put() {
        0 if put.interrupted => Ok(ExitCode::Interrupted),
        0 => Ok(ExitCode::Success),
        n => Err(anyhow!(
            "{n} of {} lines were not put to {}: {}",
            stats.lines,
            put.writer.stream().name(),
            stats.why_not_put()
        )),
    }
}

/// Reads lines without their ending until EOF; stops early when the sender is gone.
fn read_lines(mut input: Box<dyn BufRead + Send>, tx: mpsc::Sender<Vec<u8>>) -> io::Result<()> {
    loop {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        if tx.blocking_send(line).is_err() {
            return Ok(());
        }
    }
}

/// What happened to the input, counted in lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Stats {
    /// Non-empty lines read.
    lines: u64,
    /// Empty lines skipped.
    empty: u64,
    /// Lines acknowledged by Kinesis.
    put: u64,
    /// Kinesis records those lines made (fewer than `put` with `--aggregate`).
    records: u64,
    /// Lines over the record limit.
    oversized: u64,
    /// Lines whose entries still failed after every retry, and the last error code seen.
    failed: u64,
    last_error: Option<String>,
}

impl Stats {
    fn not_put(&self) -> u64 {
        self.oversized + self.failed
    }

    fn why_not_put(&self) -> String {
        let mut parts = Vec::new();
        if self.oversized > 0 {
            parts.push(format!(
                "{} over the 1 MiB record limit (data plus partition key)",
                self.oversized
            ));
        }
        if self.failed > 0 {
            parts.push(format!(
                "{} still failing after {ENTRY_ATTEMPTS} attempts ({}); try again later or \
                 reshard the stream",
                self.failed,
                self.last_error.as_deref().unwrap_or("no error code")
            ));
        }
        parts.join(", ")
    }
}

/// One PutRecords entry and how many input lines it carries.
#[derive(Debug, Clone)]
struct Entry {
    entry: PutRecordsRequestEntry,
    /// Data plus partition key, as the 5 MiB request limit counts them.
    size: usize,
    lines: u64,
}

impl Entry {
    fn new(
        data: Vec<u8>,
        key: String,
        explicit_hash_key: Option<String>,
        lines: u64,
    ) -> Result<Self> {
        let size = data.len() + key.len();
        let entry = PutRecordsRequestEntry::builder()
            .data(Blob::new(data))
            .partition_key(key)
            .set_explicit_hash_key(explicit_hash_key)
            .build()
            .context("cannot build a PutRecords entry")?;
        Ok(Entry { entry, size, lines })
    }

    fn from_aggregate(record: AggregatedRecord) -> Result<Self> {
        Entry::new(
            record.data,
            record.partition_key,
            record.explicit_hash_key,
            record.user_records as u64,
        )
    }
}

impl Record for Entry {
    fn size(&self) -> usize {
        self.size
    }

    fn request_entry(&self) -> Option<PutRecordsRequestEntry> {
        Some(self.entry.clone())
    }
}

struct Putter {
    writer: Writer,
    stats: Stats,
    progress: Meter,
    /// Ctrl-C ended the input early.
    interrupted: bool,
}

impl Putter {
    async fn run(
        &mut self,
        mut lines: mpsc::Receiver<Vec<u8>>,
        aggregate: bool,
        partition_key: Option<&str>,
        interrupt: CancellationToken,
    ) -> Result<()> {
        let mut aggregator = aggregate.then(Aggregator::new);
        let mut batch = Batch::default();
        loop {
            let idle = batch.is_empty() && aggregator.as_ref().is_none_or(Aggregator::is_empty);
            let next = tokio::select! {
                // Ctrl-C stops reading; what was already read is still sent.
                _ = interrupt.cancelled() => {
                    self.interrupted = true;
                    lines.close();
                    while let Ok(line) = lines.try_recv() {
                        self.accept(line, &mut batch, aggregator.as_mut(), partition_key)
                            .await?;
                    }
                    break;
                }
                next = next_line(&mut lines, idle) => next,
            };
            match next {
                Next::Line(line) => {
                    self.accept(line, &mut batch, aggregator.as_mut(), partition_key)
                        .await?
                }
                Next::End => break,
                Next::Pause => self.flush(&mut batch, aggregator.as_mut()).await?,
            }
        }
        self.flush(&mut batch, aggregator.as_mut()).await
    }

    /// One input line into the batch (through the aggregator with `--aggregate`), sending the
    /// batch first when the line's entry would not fit.
    async fn accept(
        &mut self,
        line: Vec<u8>,
        batch: &mut Batch<Entry>,
        aggregator: Option<&mut Aggregator>,
        partition_key: Option<&str>,
    ) -> Result<()> {
        if line.is_empty() {
            self.stats.empty += 1;
            return Ok(());
        }
        self.stats.lines += 1;
        let key = partition_key.map_or_else(random_key, str::to_owned);
        if line.len() + key.len() > MAX_RECORD_BYTES {
            self.oversized(line.len());
            return Ok(());
        }
        let entry = match aggregator {
            Some(aggregator) => match aggregator.add(&line, &key, None) {
                Some(full) => Entry::from_aggregate(full)?,
                None => return Ok(()),
            },
            None => Entry::new(line, key, None, 1)?,
        };
        if !batch.fits(&entry) {
            self.send(batch.take()).await?;
        }
        batch.push(entry);
        Ok(())
    }

    /// Sends everything pending, including a partly filled aggregate.
    async fn flush(
        &mut self,
        batch: &mut Batch<Entry>,
        aggregator: Option<&mut Aggregator>,
    ) -> Result<()> {
        if let Some(record) = aggregator.and_then(Aggregator::flush) {
            let entry = Entry::from_aggregate(record)?;
            if !batch.fits(&entry) {
                self.send(batch.take()).await?;
            }
            batch.push(entry);
        }
        if !batch.is_empty() {
            self.send(batch.take()).await?;
        }
        Ok(())
    }

    fn oversized(&mut self, bytes: usize) {
        self.stats.oversized += 1;
        let n = self.stats.lines + self.stats.empty;
        if self.stats.oversized as usize <= NAMED_OVERSIZED {
            self.progress.println(&format!(
                "ktail: line {n} is {bytes} bytes, over the 1 MiB record limit: not put"
            ));
        }
    }

    /// One batch: PutRecords, then the entries it reports as failed again, with backoff, until
    /// they go through or the attempts run out. A request that fails as a whole (after the SDK's
    /// own retries) ends the run.
    async fn send(&mut self, entries: Vec<Entry>) -> Result<()> {
        let (stats, progress) = (&mut self.stats, &self.progress);
        let outcome = self
            .writer
            .put(&entries, None, |accepted| {
                for &i in accepted {
                    stats.put += entries[i].lines;
                    stats.records += 1;
                }
                progress.update(stats);
            })
            .await;
        let failed = outcome
            .failed
            .iter()
            .map(|&i| entries[i].lines)
            .sum::<u64>();
        match outcome.failure {
            None => {}
            Some(Failure::Request(err)) => return Err(self.request_failed(*err, failed)),
            Some(Failure::Entries { code, .. }) => {
                if code.is_some() {
                    self.stats.last_error = code;
                }
                self.stats.failed += failed;
            }
        }
        Ok(())
    }

    fn request_failed(
        &self,
        err: aws_sdk_kinesis::error::SdkError<
            aws_sdk_kinesis::operation::put_records::PutRecordsError,
        >,
        lost: u64,
    ) -> anyhow::Error {
        let name = self.writer.stream().name();
        let so_far = format!(
            "{} lines were put before this, {lost} in the failed request were not, the rest of the \
             input was not read",
            self.stats.put
        );
        if err
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception())
        {
            return anyhow!(
                "stream {name} does not exist in this region (`ktail ls` lists them); {so_far}"
            );
        }
        anyhow::Error::new(err).context(format!("cannot put records to {name}; {so_far}"))
    }
}

enum Next {
    Line(Vec<u8>),
    /// Input paused for [`LINGER`] with a batch pending.
    Pause,
    End,
}

/// The next line; with a batch pending (`idle` false), waits at most [`LINGER`] for it.
async fn next_line(lines: &mut mpsc::Receiver<Vec<u8>>, idle: bool) -> Next {
    let next = if idle {
        lines.recv().await
    } else {
        match tokio::time::timeout(LINGER, lines.recv()).await {
            Ok(next) => next,
            Err(_) => return Next::Pause,
        }
    };
    next.map_or(Next::End, Next::Line)
}

/// A partition key that spreads records over every shard.
fn random_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Rate and totals on stderr while a terminal watches; nothing otherwise.
struct Meter {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Meter {
    fn new(feedback: Feedback) -> Self {
        let bar = (feedback == Feedback::Spinner).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {msg}") {
                bar.set_style(style);
            }
            bar.set_message("waiting for input…");
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Meter {
            bar,
            started: Instant::now(),
        }
    }

    fn update(&self, stats: &Stats) {
        if let Some(bar) = &self.bar {
            bar.set_message(progress_line(stats, self.started.elapsed()));
        }
    }

    /// An error line: above the spinner on a terminal, plain otherwise (errors are always shown).
    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let _ = writeln!(io::stderr(), "{line}");
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn summary(&self, stats: &Stats, stream: &str) {
        if self.bar.is_some() && io::stderr().is_terminal() {
            let _ = writeln!(
                io::stderr(),
                "{} to {stream}",
                progress_line(stats, self.started.elapsed())
            );
        }
    }
}

/// "1200 lines put as 3 records in 1.2s (1000 lines/s)", plus what was skipped or lost.
fn progress_line(stats: &Stats, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let mut line = format!(
        "{} lines put as {} records in {:.1}s ({:.0} lines/s)",
        stats.put,
        stats.records,
        secs,
        stats.put as f64 / secs
    );
    if stats.empty > 0 {
        let _ = write!(line, ", {} empty skipped", stats.empty);
    }
    if stats.not_put() > 0 {
        let _ = write!(line, ", {} not put", stats.not_put());
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_their_endings_only() {
        let (tx, mut rx) = mpsc::channel(16);
        let input: Box<dyn BufRead + Send> =
            Box::new(io::Cursor::new(b"a\r\n\nb\r\rc\n  d ".to_vec()));
        read_lines(input, tx).unwrap();
        let mut got = Vec::new();
        while let Ok(line) = rx.try_recv() {
            got.push(String::from_utf8(line).unwrap());
        }
        assert_eq!(got, ["a", "", "b\r\rc", "  d "]);
    }

    #[test]
    fn random_keys_differ() {
        let (a, b) = (random_key(), random_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn the_failure_says_why() {
        let stats = Stats {
            lines: 10,
            oversized: 1,
            failed: 2,
            last_error: Some("ProvisionedThroughputExceededException".into()),
            ..Stats::default()
        };
        assert_eq!(stats.not_put(), 3);
        let why = stats.why_not_put();
        assert!(why.starts_with("1 over the 1 MiB record limit"), "{why}");
        assert!(
            why.contains("2 still failing after 7 attempts (ProvisionedThroughput"),
            "{why}"
        );
    }
}
