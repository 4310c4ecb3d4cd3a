//! One shard's reader: GetShardIterator, then GetRecords until the shard closes or the tail stops.
//!
//! The reader paces itself so a debugging tool never starves a stream's production consumers. A
//! shard serves five GetRecords per second and 2 MiB/s to all its polling consumers together (the
//! grep Lambda's event source mapping included), and answers any call above that with
//! ProvisionedThroughputExceededException ("Quotas and limits", Kinesis Data Streams Developer
//! Guide: <https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html>; GetRecords,
//! Kinesis API Reference: <https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html>).
//! So a reader makes at most [`ReadRate`] calls per second (2 by default, `--max-read-rate`) while
//! the shard is behind, each sized so that this rate still drains the shard's 2 MiB/s, and one per
//! poll interval once it is caught up. Every call counts, retries too: the SDK's own retries are
//! off for GetRecords, so a throttled call is retried by this pacing, after a backoff that starts
//! at the one second the API reference recommends.
//!
//! The readers of one tail share a bound on the calls they have in flight ([`IN_FLIGHT`]), so a
//! wide stream never holds a connection per shard.
//!
//! It survives throttling (backoff with jitter), an expired iterator (resume after the last record
//! seen) and transient failures (retries), and ends only by returning: a fatal error travels to
//! the fan-in and ends the run, so a reader never dies silently.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::types::ShardIteratorType;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use super::caught_up::{self, Page};
use super::decoding::{ShardDecoder, Tallies};
use super::errors::{self, Failure};
use super::shards::ShardInfo;
use super::stagger::Stagger;
use super::{Start, StreamRef};
use crate::printer::Record;
use crate::retry::{Backoff, Retry};
use crate::signals::CancellationToken;

/// GetRecords' maximum record count.
const MAX_LIMIT: i32 = 10_000;
/// The first call's limit, before the shard's record size is known: one record, since a KPL
/// aggregate may be 1 MB and ten of them would already be 10 MB per shard.
const FIRST_LIMIT: i32 = 1;
/// What a shard serves to all its polling consumers per second ("Quotas and limits").
const SHARD_READ_BYTES: usize = 2 << 20;
/// The most bytes one call asks for, which bounds the memory a draining reader holds (a response,
/// parsed, then in the channel): below 1 call/s a shard drains slower than its 2 MiB/s.
const MAX_CALL_BYTES: usize = 2 << 20;
/// Transient-failure backoff: from 250 ms, doubling, to 5 s, jittered (shared with the enhanced
/// fan-out reader, for its throttling too).
pub(super) const BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(250), Duration::from_secs(5)).with_jitter();
/// GetRecords throttling backoff: from the 1 s the GetRecords reference recommends waiting after
/// ProvisionedThroughputExceededException (the shard's limits are per second, so a sooner call
/// meets the same full second), doubling, to 5 s, jittered.
const THROTTLED: Backoff =
    Backoff::exponential(Duration::from_secs(1), Duration::from_secs(5)).with_jitter();
/// Consecutive transient failures (about two minutes of backoff) after which the run fails.
const MAX_TRANSIENT: u32 = 30;

/// GetShardIterator and GetRecords calls in flight at once, all the shards of one tail together.
/// Each call holds a connection: unbounded, a 1,000-shard tail of a service that answered slower
/// than ktail asked (kinesis-mock; AWS on a bad day) held over 1,400 sockets open, past the
/// 1,024 descriptors many systems allow a process, with their buffers. Following needs about
/// shards / interval × latency (1,000 shards at 1 s and ~20 ms a call on AWS: 20), so this slows
/// no poll while the service keeps up; while it does not, calls wait here instead of in sockets.
pub const IN_FLIGHT: usize = 64;

/// GetRecords calls per second per shard, at most: the pace of a reader (`--max-read-rate`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadRate(f64);

impl ReadRate {
    /// Two of the five calls a shard serves per second, leaving three to its other consumers.
    pub const DEFAULT: ReadRate = ReadRate(2.0);
    /// GetRecords' limit per shard, shared by every consumer.
    pub const MAX: f64 = 5.0;

    /// `None` unless `0 < per_second <= 5`.
    pub fn new(per_second: f64) -> Option<ReadRate> {
        (per_second > 0.0 && per_second <= Self::MAX).then_some(ReadRate(per_second))
    }

    pub fn per_second(self) -> f64 {
        self.0
    }

    /// The least time from the end of one call to the start of the next. Counted from the end,
    /// because the service counts calls as they arrive: the next call then arrives at least this
    /// long after the previous one did, however long either took on the way.
    pub fn gap(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.0)
    }

    /// Bytes to ask for per call: as many as let this rate read the shard's 2 MiB/s and no more
    /// (1 MiB at the default 2 calls/s), capped by [`MAX_CALL_BYTES`].
    fn call_bytes(self) -> usize {
        ((SHARD_READ_BYTES as f64 / self.0) as usize).min(MAX_CALL_BYTES)
    }
}

impl Default for ReadRate {
    fn default() -> Self {
        ReadRate::DEFAULT
    }
}

/// The client GetRecords goes through: `client` with the SDK's retries off. Every call counts
/// against the shard's five per second, so every retry goes through the reader's pacing and
/// backoff instead of the SDK's (which would retry a throttled call at once). Built once per
/// tail: a per-call configuration override costs CPU on every poll of every shard.
pub fn get_records_client(client: &Client) -> Client {
    let config = client
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// What every reader of one tail shares.
#[derive(Debug)]
pub struct ReaderConfig {
    pub stream: StreamRef,
    /// GetRecords' client, from [`get_records_client`].
    pub get_records: Client,
    /// The bound on calls in flight ([`IN_FLIGHT`] permits), shared by the tail's readers.
    pub in_flight: Semaphore,
    /// The turns the readers' first polls take, spread over the first interval.
    pub(super) stagger: Stagger,
    /// How often a caught-up shard is polled (never more often than `read_rate` allows).
    pub poll_interval: Duration,
    /// How far apart a quiet shard's polls get, in quarter intervals ([`quiet_stretch`]).
    pub quiet_stretch: u32,
    /// How often a shard is polled at most, behind or not.
    pub read_rate: ReadRate,
    /// Keep polling a caught-up shard (false with `-e`).
    pub follow: bool,
    /// Drop records that arrived before this (AT_TIMESTAMP is whole seconds on some emulators).
    pub since: Option<DateTime<Utc>>,
    /// End the shard at the first record that arrived after this.
    pub until: Option<DateTime<Utc>>,
    /// With `-e`: end the shard at the first record that arrived after this even when it never
    /// reports caught up ([`caught_up::cutoff`]).
    pub cutoff: Option<DateTime<Utc>>,
    pub deaggregate: bool,
    /// How user records are decoded, after de-aggregation.
    pub decode: crate::decode::Options,
    /// Where the readers count what decoding did.
    pub tallies: Tallies,
}

/// How a reader ended.
#[derive(Debug)]
pub enum End {
    /// The shard is closed and read to its end; ChildShards from the last response, if any.
    Closed(Vec<ShardInfo>),
    /// `-e`: the shard reported itself caught up, or reached the `-e` cutoff.
    CaughtUp,
    /// `--until` reached.
    Until,
    /// The fan-in stopped taking records (`-n` reached, stdout closed).
    SinkClosed,
    Cancelled,
}

/// Reads one shard into `tx`, one batch per GetRecords response.
pub async fn read_shard(
    client: Client,
    config: Arc<ReaderConfig>,
    shard: String,
    start: Start,
    closed: bool,
    tx: mpsc::Sender<Vec<Record>>,
    cancel: CancellationToken,
) -> Result<End> {
    let shard_id: Arc<str> = shard.as_str().into();
    let mut reader = Reader {
        client,
        config,
        shard,
        start,
        last_sequence: None,
        throttled: Retry::new(THROTTLED),
        transient: Retry::new(BACKOFF.max_attempts(MAX_TRANSIENT + 1)),
    };
    let mut decoder = ShardDecoder::new(reader.config.decode);
    let Some(mut iterator) = reader.iterator(&cancel).await? else {
        return Ok(End::Cancelled);
    };
    // The iterator is taken at once, so LATEST is the moment the tail started however wide the
    // stream; the first poll waits its turn (`stagger`).
    if !reader.config.stagger.turn_or_cancel(&cancel).await {
        return Ok(End::Cancelled);
    }
    let gap = reader.config.read_rate.gap();
    let call_bytes = reader.config.read_rate.call_bytes();
    // When the next GetRecords may start: `gap` or more after the end of the last one.
    let mut next_call: Option<Instant> = None;
    let mut caught_up_before = false;
    let mut quiet = Quiet::new(reader.config.quiet_stretch);
    let mut limit = FIRST_LIMIT;
    loop {
        if let Some(at) = next_call
            && sleep_or_cancel(at.saturating_duration_since(Instant::now()), &cancel).await
        {
            return Ok(End::Cancelled);
        }
        let limit_used = limit;
        let call = reader
            .config
            .get_records
            .get_records()
            .shard_iterator(&iterator)
            .limit(limit_used)
            .send();
        let response = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(End::Cancelled),
            response = bounded(&reader.config.in_flight, call) => response,
        };
        let ended = Instant::now();
        next_call = Some(ended + gap);
        let output = match response {
            Ok(output) => output,
            Err(err) => {
                match errors::get_records(err, &reader.config.stream) {
                    Failure::Fatal(err) => {
                        let err =
                            errors::name_the_key(err, &reader.client, &reader.config.stream).await;
                        return Err(err.context(format!("reading {}", reader.shard)));
                    }
                    Failure::Expired => {
                        // The iterator sat unused for five minutes (a stalled stdout): resume
                        // right after the last record we handed on.
                        tracing::debug!(shard = %reader.shard, after = ?reader.last_sequence, "iterator expired; resuming");
                        match reader.iterator(&cancel).await? {
                            Some(it) => iterator = it,
                            None => return Ok(End::Cancelled),
                        }
                    }
                    failure => {
                        let wait = reader.failed(failure)?;
                        next_call = Some(ended + wait.max(gap));
                    }
                }
                continue;
            }
        };
        reader.throttled.succeeded();
        reader.transient.succeeded();

        let returned = output.records.len();
        let page = Page {
            behind: output.millis_behind_latest,
            returned,
            full: returned >= limit_used as usize,
        };
        if returned > 0 {
            let bytes: usize = output.records.iter().map(|r| r.data.as_ref().len()).sum();
            limit = next_limit(bytes, returned, call_bytes);
        }
        let (batch, cut) = convert(
            &reader.config,
            &shard_id,
            output.records,
            &mut reader.last_sequence,
            &mut decoder,
        );
        if let Some(end) = send(&tx, &cancel, batch).await {
            return Ok(end);
        }
        if let Some(end) = cut {
            return Ok(end);
        }
        match output.next_shard_iterator {
            Some(next) => iterator = next,
            None => {
                let children = output
                    .child_shards
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| ShardInfo {
                        hash_range: c.hash_key_range.as_ref().and_then(|r| {
                            Some((
                                r.starting_hash_key.parse().ok()?,
                                r.ending_hash_key.parse().ok()?,
                            ))
                        }),
                        id: c.shard_id,
                        parents: c.parent_shards,
                        closed: false,
                    })
                    .collect();
                return Ok(End::Closed(children));
            }
        }
        // `-e` ends an open shard at its tip as it was when this response was sent, records
        // and all (see `caught_up`). A closed shard is read to its end even with `-e`: an empty
        // answer may come before the end, and its children must not be skipped.
        if !reader.config.follow && !closed && page.caught_up() {
            return Ok(End::CaughtUp);
        }
        // A full page means more is waiting even where MillisBehindLatest says 0 (it is a time,
        // and some emulators always send 0). Behind, the next call comes after `gap`.
        let behind = page.behind.unwrap_or(0);
        if behind > 0 || page.full || (closed && !reader.config.follow) {
            continue;
        }
        if returned == 0 && !closed && reader.config.until.is_some_and(|until| Utc::now() > until) {
            return Ok(End::Until);
        }
        // Caught up: poll every interval (but no more often than the read rate allows), counted
        // from the end of the last call; a shard that stayed empty a while, less often (see
        // `Quiet`). The first time, wait a random part of it more, which spreads the shards'
        // polls over the interval.
        let mut wait = quiet
            .next_wait(returned, reader.config.poll_interval)
            .max(gap);
        if !caught_up_before {
            caught_up_before = true;
            let extra = rand::rng().random_range(0..=wait.as_millis() as u64 / 2);
            wait += Duration::from_millis(extra);
        }
        next_call = Some(ended + wait);
    }
}

/// Empty polls in a row after which a caught-up shard is polled less often.
const QUIET_POLLS: u32 = 30;
/// How far apart a quiet shard's polls get, in poll intervals, on a stream of up to
/// [`QUIET_BUDGET`] × 2 shards (at a 1 s interval).
const QUIET_STRETCH: u32 = 2;
/// Polls per second that the quiet shards of one tail make together, at most, on wider streams.
/// A poll costs 0.37-0.43 ms of CPU, nearly all of it in the SDK: 1,000 quiet shards polled every
/// 2 s took a fifth of a core, at 250 polls a second 10.7 % (BENCHMARKS.md); 200 stay under 10 %.
const QUIET_BUDGET: f64 = 200.0;
/// The most a quiet shard's polls are stretched however wide the stream, in poll intervals.
const QUIET_STRETCH_MAX: u32 = 10;

/// How far apart the polls of a quiet shard get on a tail of `shards` shards, in quarter poll
/// intervals: [`QUIET_STRETCH`] intervals, or as many more as keep the quiet shards within
/// [`QUIET_BUDGET`] polls per second (1,000 shards at 1 s: every 5 s), up to
/// [`QUIET_STRETCH_MAX`].
pub fn quiet_stretch(shards: usize, poll_interval: Duration) -> u32 {
    let seconds = poll_interval.as_secs_f64();
    let budget = if seconds > 0.0 {
        (4.0 * shards as f64 / (QUIET_BUDGET * seconds)).ceil()
    } else {
        0.0
    };
    (budget.min(f64::from(4 * QUIET_STRETCH_MAX)) as u32).max(4 * QUIET_STRETCH)
}

/// How often a caught-up shard is polled. Following an idle stream costs one GetRecords per shard
/// per interval, nearly all of it SDK work on answers that hold nothing; so a shard that stayed
/// empty for [`QUIET_POLLS`] polls in a row is polled a quarter interval later each time, up to
/// `stretch` quarters apart ([`quiet_stretch`]: 2 intervals unless the stream is wide), and back
/// at the interval with its first record. A shard with traffic keeps its lag; the first record
/// after a long silence waits at most `stretch` quarter intervals.
#[derive(Debug)]
struct Quiet {
    empty: u32,
    /// The longest wait, in quarter intervals.
    stretch: u32,
}

impl Quiet {
    fn new(stretch: u32) -> Quiet {
        Quiet { empty: 0, stretch }
    }

    /// The wait before the next poll, after a caught-up poll that returned `returned` records.
    fn next_wait(&mut self, returned: usize, poll_interval: Duration) -> Duration {
        self.empty = if returned > 0 {
            0
        } else {
            self.empty.saturating_add(1)
        };
        let quarters = 4 + self.empty.saturating_sub(QUIET_POLLS);
        poll_interval * quarters.min(self.stretch.max(4)) / 4
    }
}

struct Reader {
    client: Client,
    config: Arc<ReaderConfig>,
    shard: String,
    start: Start,
    /// The last record handed on, where an expired iterator resumes.
    last_sequence: Option<String>,
    /// Throttled calls in a row: waited out for as long as it takes.
    throttled: Retry,
    /// Transient failures in a row: the run fails after [`MAX_TRANSIENT`] of them.
    transient: Retry,
}

impl Reader {
    /// A new iterator: after the last record seen, else at the start. `None` when cancelled.
    async fn iterator(&mut self, cancel: &CancellationToken) -> Result<Option<String>> {
        loop {
            let mut request = self
                .config
                .stream
                .apply_iterator(self.client.get_shard_iterator())
                .shard_id(&self.shard);
            request = match (&self.last_sequence, &self.start) {
                (Some(seq), _) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .starting_sequence_number(seq),
                (None, Start::Latest) => request.shard_iterator_type(ShardIteratorType::Latest),
                (None, Start::TrimHorizon) => {
                    request.shard_iterator_type(ShardIteratorType::TrimHorizon)
                }
                (None, Start::AtTimestamp(at)) => request
                    .shard_iterator_type(ShardIteratorType::AtTimestamp)
                    .timestamp(aws_smithy_types::DateTime::from_millis(
                        at.timestamp_millis(),
                    )),
            };
            let response = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(None),
                response = bounded(&self.config.in_flight, request.send()) => response,
            };
            match response {
                Ok(output) => match output.shard_iterator {
                    Some(it) => return Ok(Some(it)),
                    None => {
                        return Err(anyhow!(
                            "GetShardIterator returned no iterator for {} of {}",
                            self.shard,
                            self.config.stream
                        ));
                    }
                },
                Err(err) => match errors::get_shard_iterator(err, &self.config.stream) {
                    Failure::Fatal(err) => {
                        return Err(err.context(format!("reading {}", self.shard)));
                    }
                    failure => {
                        if self.back_off(failure, cancel).await? {
                            return Ok(None);
                        }
                    }
                },
            }
        }
    }

    /// Waits before a retry; true when cancelled meanwhile. Fails after too many transient errors.
    async fn back_off(&mut self, failure: Failure, cancel: &CancellationToken) -> Result<bool> {
        let wait = self.failed(failure)?;
        Ok(sleep_or_cancel(wait, cancel).await)
    }

    /// Counts a failed call and says how long to wait before the next; fails after too many
    /// transient errors.
    fn failed(&mut self, failure: Failure) -> Result<Duration> {
        Ok(match failure {
            Failure::Transient(err) => {
                let Some(wait) = self.transient.failed() else {
                    return Err(err.context(format!(
                        "reading {} of {} keeps failing; check the network and the endpoint",
                        self.shard, self.config.stream
                    )));
                };
                tracing::debug!(shard = %self.shard, error = %format!("{err:#}"), "retrying");
                wait
            }
            _ => {
                // Unbounded: never `None`.
                let wait = self.throttled.failed().unwrap_or_default();
                tracing::debug!(shard = %self.shard, ?wait, "throttled; backing off");
                wait
            }
        })
    }
}

/// Hands a non-empty batch to the printer; `Some(end)` when the reader must stop instead
/// (cancelled while waiting for room, or the printer is gone).
pub(super) async fn send(
    tx: &mpsc::Sender<Vec<Record>>,
    cancel: &CancellationToken,
    batch: Vec<Record>,
) -> Option<End> {
    if batch.is_empty() {
        return None;
    }
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Some(End::Cancelled),
        sent = tx.send(batch) => sent.is_err().then_some(End::SinkClosed),
    }
}

/// Kinesis records → user records → decoded lines, cut at `--until` or the `-e` cutoff;
/// `last_sequence` follows the last record handed on. Returns how the shard ends when a cut
/// happened. Shared with the enhanced fan-out reader.
pub(super) fn convert(
    config: &ReaderConfig,
    shard: &Arc<str>,
    records: Vec<aws_sdk_kinesis::types::Record>,
    last_sequence: &mut Option<String>,
    decoder: &mut ShardDecoder,
) -> (Vec<Record>, Option<End>) {
    let (batch, end) = user_records(config, shard, records, last_sequence, decoder);
    config.tallies.add(shard, &decoder.take());
    (batch, end)
}

fn user_records(
    config: &ReaderConfig,
    shard: &Arc<str>,
    records: Vec<aws_sdk_kinesis::types::Record>,
    last_sequence: &mut Option<String>,
    decoder: &mut ShardDecoder,
) -> (Vec<Record>, Option<End>) {
    let mut batch = Vec::with_capacity(records.len());
    let cut = caught_up::earliest(config.until, config.cutoff);
    for record in records {
        let arrival = record
            .approximate_arrival_timestamp
            .and_then(|t| DateTime::<Utc>::from_timestamp_millis(t.to_millis().ok()?));
        if let (Some(cut), Some(at)) = (cut, arrival)
            && at > cut
        {
            let end = if config.until.is_some_and(|until| at > until) {
                End::Until
            } else {
                tracing::debug!(%shard, "never caught up; ending at the -e cutoff");
                End::CaughtUp
            };
            return (batch, Some(end));
        }
        let sequence: Arc<str> = record.sequence_number.as_str().into();
        *last_sequence = Some(record.sequence_number);
        if let (Some(since), Some(at)) = (config.since, arrival)
            && at < since
        {
            continue;
        }
        let data = Bytes::from(record.data.into_inner());
        let partition_key = record.partition_key.unwrap_or_default();
        if config.deaggregate && crate::kpl::looks_aggregated(&data) {
            for user in crate::kpl::deaggregate(data, &partition_key, None) {
                let partition_key: Arc<str> = user.partition_key.into();
                for (data, log) in decoder.lines(user.data) {
                    batch.push(Record {
                        shard: shard.clone(),
                        sequence: sequence.clone(),
                        sub_sequence: user.sub_sequence,
                        partition_key: partition_key.clone(),
                        arrival,
                        data,
                        log,
                    });
                }
            }
        } else {
            let partition_key: Arc<str> = partition_key.into();
            for (data, log) in decoder.lines(data) {
                batch.push(Record {
                    shard: shard.clone(),
                    sequence: sequence.clone(),
                    sub_sequence: None,
                    partition_key: partition_key.clone(),
                    arrival,
                    data,
                    log,
                });
            }
        }
    }
    (batch, None)
}

/// The record count that asks for about `call_bytes`, from the last response's record sizes.
fn next_limit(bytes: usize, records: usize, call_bytes: usize) -> i32 {
    let average = (bytes / records.max(1)).max(1);
    (call_bytes / average).clamp(1, MAX_LIMIT as usize) as i32
}

/// Makes a call once fewer than [`IN_FLIGHT`] are in flight.
async fn bounded<T>(in_flight: &Semaphore, call: impl Future<Output = T>) -> T {
    // The semaphore is never closed: an error only means no permit, which never happens.
    let _permit = in_flight.acquire().await;
    call.await
}

/// Sleeps; true when cancelled first.
pub(super) async fn sleep_or_cancel(duration: Duration, cancel: &CancellationToken) -> bool {
    if duration.is_zero() {
        return cancel.is_cancelled();
    }
    tokio::select! {
        biased;
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(duration) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_shard_is_polled_less_often_until_its_next_record() {
        let second = Duration::from_secs(1);
        let mut quiet = Quiet::new(quiet_stretch(100, second));
        let waits: Vec<Duration> = (0..45).map(|_| quiet.next_wait(0, second)).collect();
        assert!(waits[..QUIET_POLLS as usize].iter().all(|&w| w == second));
        assert_eq!(waits[QUIET_POLLS as usize], Duration::from_millis(1250));
        assert_eq!(waits[QUIET_POLLS as usize + 1], Duration::from_millis(1500));
        assert_eq!(waits[44], 2 * second);
        // The first record snaps it back, and a record never lets it stretch.
        assert_eq!(quiet.next_wait(1, second), second);
        assert_eq!(quiet.next_wait(0, second), second);
        let mut busy = Quiet::new(quiet_stretch(100, second));
        for i in 0..200 {
            assert_eq!(busy.next_wait(i % 29, second), second);
        }
        // A longer interval stretches in proportion.
        let mut slow = Quiet {
            empty: 1000,
            stretch: quiet_stretch(100, 5 * second),
        };
        assert_eq!(slow.next_wait(0, 5 * second), 10 * second);
    }

    #[test]
    fn wide_streams_stretch_quiet_polls_to_a_budget() {
        let second = Duration::from_secs(1);
        // Up to 400 shards: 2 intervals, 200 polls a second or fewer.
        assert_eq!(quiet_stretch(1, second), 8);
        assert_eq!(quiet_stretch(400, second), 8);
        assert_eq!(quiet_stretch(4, Duration::ZERO), 8);
        // 1,000 shards: every 5 s; at a 200 ms interval, every 25 intervals would be needed,
        // capped at 10.
        assert_eq!(quiet_stretch(1000, second), 20);
        assert_eq!(quiet_stretch(1000, 5 * second), 8);
        assert_eq!(quiet_stretch(1000, Duration::from_millis(200)), 40);
        let mut wide = Quiet::new(quiet_stretch(1000, second));
        let waits: Vec<Duration> = (0..70).map(|_| wide.next_wait(0, second)).collect();
        assert_eq!(waits[QUIET_POLLS as usize + 15], 5 * second);
        assert_eq!(waits[69], 5 * second);
        assert_eq!(wide.next_wait(1, second), second);
    }

    #[test]
    fn limit_follows_record_size() {
        let call_bytes = ReadRate::DEFAULT.call_bytes();
        assert_eq!(next_limit(200 * 100, 100, call_bytes), 5242);
        assert_eq!(next_limit(10 * 100, 100, call_bytes), MAX_LIMIT);
        assert_eq!(
            next_limit(3 << 20, 3, call_bytes),
            1,
            "KPL aggregates of 1 MB: one per call"
        );
        assert_eq!(next_limit(0, 5, call_bytes), MAX_LIMIT);
    }

    #[test]
    fn read_rates_are_checked() {
        for bad in [0.0, -1.0, 5.01, 6.0, f64::NAN, f64::INFINITY] {
            assert_eq!(ReadRate::new(bad), None, "{bad}");
        }
        assert_eq!(ReadRate::new(5.0), Some(ReadRate(5.0)));
        assert_eq!(
            ReadRate::new(0.5).map(ReadRate::gap),
            Some(Duration::from_secs(2))
        );
        assert_eq!(ReadRate::DEFAULT.gap(), Duration::from_millis(500));
    }

    #[test]
    fn every_rate_drains_the_shard_but_no_more() {
        // The default asks for 1 MiB a call, as before pacing: the memory bound is unchanged.
        assert_eq!(ReadRate::DEFAULT.call_bytes(), 1 << 20);
        for rate in [1.0, 2.0, 2.5, 4.0, 5.0] {
            let rate = ReadRate::new(rate).unwrap();
            let per_second = rate.call_bytes() as f64 * rate.per_second();
            assert!(
                (per_second - SHARD_READ_BYTES as f64).abs() <= rate.per_second(),
                "{rate:?}: {per_second} B/s"
            );
        }
        // Below one call a second, the memory bound wins over draining at 2 MiB/s.
        assert_eq!(ReadRate::new(0.5).unwrap().call_bytes(), MAX_CALL_BYTES);
    }

    #[test]
    fn throttling_waits_about_a_second_first() {
        let second = Duration::from_secs(1);
        for _ in 0..20 {
            let first = THROTTLED.delay(1);
            assert!(first >= second / 2 && first <= second, "{first:?}");
        }
        assert!(THROTTLED.delay(3) >= 2 * second);
        assert!(THROTTLED.delay(30) <= Duration::from_secs(5));
    }

    #[test]
    fn backoff_grows_to_a_cap() {
        let (base, max) = (Duration::from_millis(250), Duration::from_secs(5));
        for attempt in 1..40 {
            let d = BACKOFF.delay(attempt);
            assert!(d <= max, "{attempt}: {d:?}");
            assert!(d >= base / 2);
        }
        assert!(BACKOFF.delay(1) <= base);
    }
}
