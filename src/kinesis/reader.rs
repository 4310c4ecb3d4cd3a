//! One shard's reader: GetShardIterator, then GetRecords until the shard closes or the tail stops.
//!
//! The reader paces itself so a debugging tool never starves a stream's production consumers: at
//! once while the shard is behind (but never more than 5 calls/s, the shard's limit), otherwise
//! every poll interval. It survives throttling (backoff with jitter), an expired iterator (resume
//! after the last record seen) and transient failures (retries), and ends only by returning:
//! a fatal error travels to the fan-in and ends the run, so a reader never dies silently.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::ShardIteratorType;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::caught_up::{self, Page};
use super::errors::{self, Failure};
use super::shards::ShardInfo;
use super::{Start, StreamRef};
use crate::printer::Record;
use crate::retry::{Backoff, Retry};
use crate::signals::CancellationToken;

/// GetRecords' maximum record count.
const MAX_LIMIT: i32 = 10_000;
/// The first call's limit, before the shard's record size is known: one record, since a KPL
/// aggregate may be 1 MB and ten of them would already be 10 MB per shard.
const FIRST_LIMIT: i32 = 1;
/// Bytes to ask for per call: at 5 calls/s this still exceeds a shard's 2 MB/s read limit, while
/// it bounds the memory a draining reader holds (a response, parsed, then in the channel).
const CALL_BYTES: usize = 1 << 20;
/// A shard allows 5 GetRecords per second, shared by every consumer.
const MIN_GAP: Duration = Duration::from_millis(200);
/// Throttling and transient backoff: from 250 ms, doubling, to 5 s, jittered (shared with the
/// enhanced fan-out reader).
pub(super) const BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(250), Duration::from_secs(5)).with_jitter();
/// Consecutive transient failures (about two minutes of backoff) after which the run fails.
const MAX_TRANSIENT: u32 = 30;

/// What every reader of one tail shares.
#[derive(Debug)]
pub struct ReaderConfig {
    pub stream: StreamRef,
    pub poll_interval: Duration,
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
        throttled: Retry::new(BACKOFF),
        transient: Retry::new(BACKOFF.max_attempts(MAX_TRANSIENT + 1)),
    };
    // Jitter the first call a little so shards do not all hit the service in the same instant,
    // without delaying startup noticeably.
    let jitter = rand::rng().random_range(0..50);
    if sleep_or_cancel(Duration::from_millis(jitter), &cancel).await {
        return Ok(End::Cancelled);
    }
    let Some(mut iterator) = reader.iterator(&cancel).await? else {
        return Ok(End::Cancelled);
    };
    let mut last_call: Option<Instant> = None;
    let mut caught_up_before = false;
    let mut limit = FIRST_LIMIT;
    loop {
        if let Some(at) = last_call
            && sleep_or_cancel(MIN_GAP.saturating_sub(at.elapsed()), &cancel).await
        {
            return Ok(End::Cancelled);
        }
        last_call = Some(Instant::now());
        let limit_used = limit;
        let call = reader
            .client
            .get_records()
            .shard_iterator(&iterator)
            .limit(limit_used)
            .send();
        let response = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(End::Cancelled),
            response = call => response,
        };
        let output = match response {
            Ok(output) => output,
            Err(err) => {
                match errors::get_records(err, &reader.config.stream) {
                    Failure::Fatal(err) => {
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
                        if reader.back_off(failure, &cancel).await? {
                            return Ok(End::Cancelled);
                        }
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
            limit = next_limit(bytes, returned);
        }
        let (batch, cut) = convert(
            &reader.config,
            &shard_id,
            output.records,
            &mut reader.last_sequence,
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
        // and some emulators always send 0).
        let behind = page.behind.unwrap_or(0);
        if behind > 0 || page.full || (closed && !reader.config.follow) {
            continue;
        }
        if returned == 0 && !closed && reader.config.until.is_some_and(|until| Utc::now() > until) {
            return Ok(End::Until);
        }
        // Caught up: poll every interval, counted from the last call. The first time, wait a
        // random part of it more, which spreads the shards' polls over the interval.
        let mut wait = reader.config.poll_interval;
        if !caught_up_before {
            caught_up_before = true;
            let extra = rand::rng().random_range(0..=wait.as_millis() as u64 / 2);
            wait += Duration::from_millis(extra);
        }
        let since_call = last_call.map(|at| at.elapsed()).unwrap_or_default();
        if sleep_or_cancel(wait.saturating_sub(since_call), &cancel).await {
            return Ok(End::Cancelled);
        }
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
                response = request.send() => response,
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
        let wait = match failure {
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
                tracing::debug!(shard = %self.shard, "throttled; backing off");
                // Unbounded: never `None`.
                self.throttled.failed().unwrap_or_default()
            }
        };
        Ok(sleep_or_cancel(wait, cancel).await)
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

/// Kinesis records → user records, cut at `--until` or the `-e` cutoff; `last_sequence` follows
/// the last record handed on. Returns how the shard ends when a cut happened. Shared with the
/// enhanced fan-out reader.
pub(super) fn convert(
    config: &ReaderConfig,
    shard: &Arc<str>,
    records: Vec<aws_sdk_kinesis::types::Record>,
    last_sequence: &mut Option<String>,
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
                batch.push(Record {
                    shard: shard.clone(),
                    sequence: sequence.clone(),
                    sub_sequence: user.sub_sequence,
                    partition_key: user.partition_key.into(),
                    arrival,
                    data: user.data,
                });
            }
        } else {
            batch.push(Record {
                shard: shard.clone(),
                sequence,
                sub_sequence: None,
                partition_key: partition_key.into(),
                arrival,
                data,
            });
        }
    }
    (batch, None)
}

/// The record count that asks for about `CALL_BYTES`, from the last response's record sizes.
fn next_limit(bytes: usize, records: usize) -> i32 {
    let average = (bytes / records.max(1)).max(1);
    (CALL_BYTES / average).clamp(1, MAX_LIMIT as usize) as i32
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
    fn limit_follows_record_size() {
        assert_eq!(next_limit(200 * 100, 100), 5242);
        assert_eq!(next_limit(10 * 100, 100), MAX_LIMIT);
        assert_eq!(
            next_limit(3 << 20, 3),
            1,
            "KPL aggregates of 1 MB: one per call"
        );
        assert_eq!(next_limit(0, 5), MAX_LIMIT);
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
