//! Tailing a stream: shard discovery and lineage (`shards`), one reader task per shard (`reader`),
//! and the fan-in here, which starts readers as their parents drain and hands every record to one
//! printer thread that owns the output.
//!
//! [`tail`] is the library entry point: `ktail tail` calls it, `ktail grep` calls it on the filtered
//! output stream (and with a client-side filter for `--local`). With `efo` set, `efo` readers
//! replace `reader` behind a consumer from `consumer`, registered for the run and deregistered at
//! its end.

mod caught_up;
pub mod consumer;
mod decoding;
pub mod efo;
mod errors;
pub mod reader;
pub mod shards;
mod stagger;
pub mod streams;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::operation::get_shard_iterator::builders::GetShardIteratorFluentBuilder;
use aws_sdk_kinesis::operation::list_shards::builders::ListShardsFluentBuilder;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::filter::Matcher;
use crate::printer::{Record, Sink};
use crate::progress::{Feedback, Progress};
use crate::signals::CancellationToken;
pub use decoding::Tallies;
pub use reader::ReadRate;
use reader::{End, ReaderConfig};
use shards::Lineage;
pub use shards::Selection;

/// Batches in flight between the readers and the printer. Small: it bounds memory (a batch is up
/// to 10,000 records) and makes readers wait for a slow stdout instead of reading ahead.
const CHANNEL_BATCHES: usize = 2;
/// A GetRecords answer holds at most 10 MB; one that takes longer than this is a dead connection.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the shard list is refreshed while following (new shards, resharding).
const RELIST_EVERY: Duration = Duration::from_secs(10);
/// How soon to list again when a shard closed and its children are not known yet.
const RELIST_SOON: Duration = Duration::from_millis(500);
/// How many quick re-listings to try before concluding a drained shard has no child in sight.
const RELIST_SOON_TRIES: u32 = 20;

/// A Kinesis client for tailing: the run's configuration plus a per-attempt timeout, so a
/// connection that hangs mid-GetRecords is retried instead of stalling its shard forever.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let timeouts = aws_sdk_kinesis::config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let config = aws_sdk_kinesis::config::Builder::from(sdk)
        .timeout_config(timeouts)
        .interceptor(crate::aws::NameTheEndpoint)
        .build();
    Client::from_conf(config)
}

pub use crate::contract::StreamRef;

/// The stream on the Kinesis requests that name one, as [`StreamRef`] says.
impl StreamRef {
    pub fn apply_list(&self, request: ListShardsFluentBuilder) -> ListShardsFluentBuilder {
        match self {
            StreamRef::Name(name) => request.stream_name(name),
            StreamRef::Arn { arn, .. } => request.stream_arn(arn),
        }
    }

    pub fn apply_iterator(
        &self,
        request: GetShardIteratorFluentBuilder,
    ) -> GetShardIteratorFluentBuilder {
        match self {
            StreamRef::Name(name) => request.stream_name(name),
            StreamRef::Arn { arn, .. } => request.stream_arn(arn),
        }
    }
}

/// Where the first shards start reading (and where a grep's mapping starts). Shards born while
/// tailing always start at their beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Only records that arrive from now on.
    Latest,
    /// The oldest record the stream holds.
    TrimHorizon,
    /// Records that arrived at or after this time.
    AtTimestamp(DateTime<Utc>),
}

/// A resolved tail: everything `kinesis::tail` needs (built by the config step for `ktail tail`).
#[derive(Debug, Clone)]
pub struct TailConfig {
    pub stream: StreamRef,
    pub start: Start,
    /// Records that arrived after this end the tail.
    pub until: Option<DateTime<Utc>>,
    /// Keep following once caught up (false: `-e`).
    pub follow: bool,
    /// Stop after this many printed records (`-n`).
    pub max_records: Option<u64>,
    pub selection: Selection,
    /// Client-side filter; only matching records reach the sink.
    pub matcher: Matcher,
    pub deaggregate: bool,
    /// How user records are decoded (`--decode`, `--max-decoded-size`); filters see the result.
    pub decode: crate::decode::Options,
    /// Print the one warning per shard about records that could not be decoded (stderr is a
    /// terminal and not `--quiet`); `--debug` logs it anyway.
    pub warn: bool,
    /// How often a caught-up shard is polled.
    pub poll_interval: Duration,
    /// GetRecords calls per second per shard at most, behind or caught up (polling only).
    pub read_rate: ReadRate,
    /// Read with enhanced fan-out: a consumer registered for this run, records pushed.
    pub efo: bool,
    /// Where setup steps (registering the consumer) are shown.
    pub progress: Progress,
}

impl TailConfig {
    /// Follow every shard from now, print everything: the base that commands adjust.
    pub fn new(stream: StreamRef) -> Self {
        TailConfig {
            stream,
            start: Start::Latest,
            until: None,
            follow: true,
            max_records: None,
            selection: Selection::All,
            matcher: Matcher::all(),
            deaggregate: true,
            decode: crate::decode::Options::default(),
            warn: false,
            poll_interval: Duration::from_secs(1),
            read_rate: ReadRate::DEFAULT,
            efo: false,
            progress: Progress::new(Feedback::Hidden),
        }
    }
}

/// Why a tail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every shard caught up (`-e`), reached `--until`, or (with `--shard`) was read to its end.
    Done,
    /// `-n` records printed.
    MaxRecords,
    /// The cancel token fired (Ctrl-C, SIGTERM, or the caller).
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailSummary {
    /// Records handed to the sink (after the filter).
    pub records: u64,
    pub stop: Stop,
}

/// Tails `config.stream` into `sink` until a stop condition or `cancel`. Records reach the sink in
/// order per shard and, across a reshard, per partition key. With `config.efo`, the consumer it
/// registers is deregistered on every way out (a stop condition, `cancel`, an error).
pub async fn tail<S: Sink>(
    client: &Client,
    config: TailConfig,
    sink: S,
    cancel: CancellationToken,
) -> Result<TailSummary> {
    if !config.efo {
        return follow(client, config, sink, cancel, None).await;
    }
    let cancelled = TailSummary {
        records: 0,
        stop: Stop::Cancelled,
    };
    let Some(consumer) =
        consumer::acquire(client, &config.stream, &config.progress, &cancel).await?
    else {
        return Ok(cancelled);
    };
    let arn: Arc<str> = consumer.arn.as_str().into();
    let result = follow(client, config, sink, cancel, Some(arn)).await;
    consumer.release(client).await;
    result
}

/// The tail itself: polling readers, or enhanced fan-out readers through `consumer_arn`.
async fn follow<S: Sink>(
    client: &Client,
    config: TailConfig,
    sink: S,
    cancel: CancellationToken,
    consumer_arn: Option<Arc<str>>,
) -> Result<TailSummary> {
    let started = Utc::now();
    let Some(listing) = shards::first_listing(client, &config.stream, &cancel).await? else {
        return Ok(TailSummary {
            records: 0,
            stop: Stop::Cancelled,
        });
    };
    // The shards that will be polled together once the first ones are read to their ends.
    let open = listing.iter().filter(|s| !s.closed).count();
    let mut lineage = Lineage::new(config.selection.clone(), config.start);
    let first = lineage.initial(listing).map_err(|id| {
        anyhow!(
            "stream {} has no shard {id}; `ktail ls -o json` shows its shards",
            config.stream
        )
    })?;

    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    let matcher = config.matcher.clone();
    let max = config.max_records;
    let mut printer = Some(tokio::task::spawn_blocking(move || {
        fan_in(rx, sink, &matcher, max)
    }));

    let tallies = Tallies::default();
    let reader_config = Arc::new(ReaderConfig {
        stream: config.stream.clone(),
        get_records: reader::get_records_client(client),
        in_flight: tokio::sync::Semaphore::new(reader::IN_FLIGHT),
        // Sized on the first shards: later ones come a few at a time, as parents drain.
        stagger: stagger::Stagger::new(first.len(), config.poll_interval),
        poll_interval: config.poll_interval,
        quiet_stretch: reader::quiet_stretch(open.max(first.len()), config.poll_interval),
        read_rate: config.read_rate,
        follow: config.follow,
        since: match config.start {
            Start::AtTimestamp(at) => Some(at),
            _ => None,
        },
        until: config.until,
        cutoff: if config.follow {
            None
        } else {
            caught_up::cutoff(started)
        },
        deaggregate: config.deaggregate,
        decode: config.decode,
        tallies: tallies.clone(),
    });
    // Readers stop on this; it fires on `cancel` and when the printer is done.
    let stop = CancellationToken::new();
    let listed_closed = efo::ClosedShards::default();
    let mut readers: JoinSet<(String, Result<End>)> = JoinSet::new();
    let spawn = |readers: &mut JoinSet<_>, ready: Vec<(String, Start, bool)>| {
        for (shard, start, closed) in ready {
            tracing::debug!(%shard, ?start, closed, "starting reader");
            let (client, config, id) = (client.clone(), reader_config.clone(), shard.clone());
            let (tx, stop) = (tx.clone(), stop.clone());
            match &consumer_arn {
                Some(arn) => {
                    let listed = listed_closed.clone();
                    let task = efo::read_shard(
                        client,
                        config,
                        arn.clone(),
                        id,
                        start,
                        closed,
                        listed,
                        tx,
                        stop,
                    );
                    readers.spawn(async move { (shard, task.await) });
                }
                None => {
                    let task = reader::read_shard(client, config, id, start, closed, tx, stop);
                    readers.spawn(async move { (shard, task.await) });
                }
            }
        }
    };
    spawn(&mut readers, first);

    let finite =
        !config.follow || config.until.is_some() || matches!(config.selection, Selection::Ids(_));
    let mut next_listing = Instant::now() + RELIST_EVERY;
    let mut quick_listings = 0;
    let mut printed: Option<io::Result<(u64, bool)>> = None;
    let mut stopped = Stop::Done;
    let outcome: Result<()> = loop {
        let waiting_for_children = lineage.missing_children() && quick_listings < RELIST_SOON_TRIES;
        if readers.is_empty() && finite && !waiting_for_children {
            break Ok(());
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                stopped = Stop::Cancelled;
                break Ok(());
            }
            done = async {
                match printer.as_mut() {
                    Some(handle) => handle.await,
                    None => std::future::pending().await,
                }
            }, if printer.is_some() => {
                printer = None;
                match done {
                    Ok(result) => printed = Some(result),
                    Err(panic) => break Err(anyhow!("the printer crashed: {panic}")),
                }
                break Ok(());
            }
            Some(joined) = readers.join_next() => {
                let (shard, ended) = match joined {
                    Ok(joined) => joined,
                    Err(panic) => break Err(anyhow!("a shard reader crashed: {panic}")),
                };
                match ended {
                    Err(err) => break Err(err),
                    Ok(End::Closed(children)) => {
                        tracing::debug!(%shard, children = children.len(), "shard closed");
                        let mut ready = lineage.discovered(children);
                        ready.extend(lineage.drained(&shard));
                        spawn(&mut readers, ready);
                        if lineage.missing_children() {
                            next_listing = next_listing.min(Instant::now() + RELIST_SOON);
                        }
                    }
                    Ok(End::CaughtUp | End::Until) => lineage.stopped(&shard),
                    Ok(End::SinkClosed | End::Cancelled) => {}
                }
            }
            _ = tokio::time::sleep_until(next_listing) => {
                match shards::list_shards(client, &config.stream).await {
                    Ok(listing) => {
                        if let Ok(mut closed) = listed_closed.lock() {
                            closed.extend(listing.iter().filter(|s| s.closed).map(|s| s.id.clone()));
                        }
                        let ready = lineage.discovered(listing);
                        spawn(&mut readers, ready);
                    }
                    // A deleted stream or lost permission also shows in the readers, with a
                    // clear message; anything else (throttling too) only delays finding new
                    // shards until the next listing.
                    Err(failure) => {
                        let err = shards::listing_failed(failure, &config.stream);
                        tracing::debug!(error = %format!("{err:#}"), "listing shards failed");
                    }
                }
                let soon = lineage.missing_children();
                quick_listings = if soon { quick_listings + 1 } else { 0 };
                next_listing = Instant::now() + if soon { RELIST_SOON } else { RELIST_EVERY };
            }
        }
    };

    // Stop the readers, then let the printer print what they already sent and flush.
    stop.cancel();
    readers.shutdown().await;
    drop(tx);
    tallies.log();
    for warning in tallies.warnings() {
        if config.warn {
            eprintln!("warning: {warning}");
        } else {
            tracing::warn!("{warning}");
        }
    }
    if let Some(handle) = printer {
        match handle.await {
            Ok(result) => printed = Some(result),
            Err(panic) => return Err(anyhow!("the printer crashed: {panic}")),
        }
    }
    outcome?;
    let (records, max_reached) = match printed {
        Some(result) => result.context("cannot write the output")?,
        None => (0, false),
    };
    if max_reached {
        stopped = Stop::MaxRecords;
    }
    Ok(TailSummary {
        records,
        stop: stopped,
    })
}

/// The printer thread: filters, counts and prints every batch, flushing whenever the channel is
/// momentarily empty (low lag) instead of after every record (low CPU). Returns the records
/// printed and whether `max` was reached.
fn fan_in<S: Sink>(
    mut rx: mpsc::Receiver<Vec<Record>>,
    mut sink: S,
    matcher: &Matcher,
    max: Option<u64>,
) -> io::Result<(u64, bool)> {
    let mut printed = 0u64;
    if max == Some(0) {
        return Ok((0, true));
    }
    loop {
        let batch = match rx.try_recv() {
            Ok(batch) => batch,
            Err(mpsc::error::TryRecvError::Empty) => {
                sink.flush()?;
                match rx.blocking_recv() {
                    Some(batch) => batch,
                    None => break,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        for record in &batch {
            if !matcher.is_match(&record.data) {
                continue;
            }
            sink.record(record)?;
            printed += 1;
            if max.is_some_and(|max| printed >= max) {
                sink.flush()?;
                return Ok((printed, true));
            }
        }
    }
    sink.flush()?;
    Ok((printed, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::MatchOptions;
    use bytes::Bytes;

    #[derive(Default)]
    struct Collect {
        lines: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
        flushes: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Sink for Collect {
        fn record(&mut self, record: &Record) -> io::Result<()> {
            self.lines.lock().unwrap().push(record.data.to_vec());
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    }

    fn rec(data: &'static str) -> Record {
        Record {
            shard: "s".into(),
            sequence: "1".into(),
            sub_sequence: None,
            partition_key: "k".into(),
            arrival: None,
            data: Bytes::from_static(data.as_bytes()),
            log: None,
        }
    }

    #[test]
    fn fan_in_filters_counts_and_flushes() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(vec![rec("a1"), rec("b1"), rec("a2")]).unwrap();
        tx.try_send(vec![rec("a3")]).unwrap();
        drop(tx);
        let sink = Collect::default();
        let lines = sink.lines.clone();
        let flushes = sink.flushes.clone();
        let matcher = Matcher::new(&["^a"], MatchOptions::default()).unwrap();
        assert_eq!(fan_in(rx, sink, &matcher, None).unwrap(), (3, false));
        assert_eq!(lines.lock().unwrap().len(), 3);
        assert!(flushes.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    }

    #[test]
    fn fan_in_stops_at_max() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(vec![rec("a"), rec("b"), rec("c")]).unwrap();
        let sink = Collect::default();
        let lines = sink.lines.clone();
        assert_eq!(
            fan_in(rx, sink, &Matcher::all(), Some(2)).unwrap(),
            (2, true)
        );
        assert_eq!(*lines.lock().unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
    }
}
