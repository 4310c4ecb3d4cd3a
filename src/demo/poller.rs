//! The event source mapping, played locally: what Lambda's poller does between a Kinesis stream
//! and the grep function, so that the demo runs the function's own code on real Kinesis calls.
//!
//! As Lambda does for a mapping with `StartingPosition: LATEST`, `BatchSize: 500`,
//! `MaximumBatchingWindowInSeconds: 0`, `FunctionResponseTypes: [ReportBatchItemFailures]` and
//! `MaximumRetryAttempts: 2` (what `ktail attach` creates):
//! - the position of every shard is fixed when the mapping is created ([`Mapping::open`]), so
//!   nothing put after that is missed;
//! - each shard is polled on its own (one concurrent invocation per shard) with GetRecords, and a
//!   non-empty answer becomes one `KinesisEvent`, records in order;
//! - `batchItemFailures` re-deliver the shard from the earliest failed record (an identifier that
//!   is not in the batch fails the whole batch), at most [`MAX_RETRIES`] times; then the batch is
//!   skipped, as Lambda discards it without an on-failure destination, and a warning says so.
//!
//! Unlike Lambda it does not follow resharding (the demo's source stream never reshards) and it
//! polls a caught-up shard every [`POLL_EVERY`] instead of about once a second.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use aws_lambda_events::encodings::SecondTimestamp;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord, KinesisRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{Record, ShardIteratorType};
use chrono::DateTime;
use tokio::task::JoinSet;

use super::function::Function;
use crate::progress::Progress;
use crate::retry::{Backoff, Retry};
use crate::signals::CancellationToken;

/// Records per invocation at most (the mapping's BatchSize).
pub const BATCH_SIZE: i32 = 500;
/// Re-deliveries of a failing batch before it is skipped (MaximumRetryAttempts).
pub const MAX_RETRIES: u32 = 2;
/// How often a caught-up shard is polled.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// The function's timeout: each invocation's deadline is this far ahead.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);
/// The waits after failed calls (throttling, an emulator busy with a burst): the poller keeps
/// trying for as long as the mapping lives, as Lambda's does.
const ON_ERROR: Backoff =
    Backoff::exponential(Duration::from_millis(200), Duration::from_secs(5)).with_jitter();

/// A mapping whose shard positions are fixed; [`Mapping::start`] begins invoking.
pub struct Mapping {
    client: Client,
    stream: String,
    stream_arn: String,
    shards: Vec<(String, Option<String>)>,
}

impl Mapping {
    /// Creates the mapping on `stream`: every shard's LATEST position, taken now.
    pub async fn open(client: &Client, stream: &str) -> Result<Mapping> {
        let stream_arn = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .with_context(|| format!("cannot describe stream {stream}"))?
            .stream_description_summary
            .map(|s| s.stream_arn)
            .unwrap_or_default();
        let listed = client
            .list_shards()
            .stream_name(stream)
            .send()
            .await
            .with_context(|| format!("cannot list the shards of {stream}"))?;
        let mut shards = Vec::new();
        for shard in listed.shards() {
            let iterator = client
                .get_shard_iterator()
                .stream_name(stream)
                .shard_id(shard.shard_id())
                .shard_iterator_type(ShardIteratorType::Latest)
                .send()
                .await
                .with_context(|| format!("cannot read shard {} of {stream}", shard.shard_id()))?
                .shard_iterator;
            shards.push((shard.shard_id().to_owned(), iterator));
        }
        Ok(Mapping {
            client: client.clone(),
            stream: stream.to_owned(),
            stream_arn,
            shards,
        })
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Polls every shard into `function` until `cancel`.
    pub fn start(
        self,
        function: Arc<Function>,
        progress: Progress,
        cancel: CancellationToken,
    ) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        for (shard, iterator) in self.shards {
            let poller = ShardPoller {
                client: self.client.clone(),
                stream: self.stream.clone(),
                stream_arn: self.stream_arn.clone(),
                shard,
                function: Arc::clone(&function),
                progress: progress.clone(),
            };
            let cancel = cancel.clone();
            tasks.spawn(async move {
                tokio::select! {
                    _ = poller.run(iterator) => {}
                    _ = cancel.cancelled() => {}
                }
            });
        }
        tasks
    }
}

/// One shard of the mapping.
struct ShardPoller {
    client: Client,
    stream: String,
    stream_arn: String,
    shard: String,
    function: Arc<Function>,
    progress: Progress,
}

impl ShardPoller {
    async fn run(&self, mut iterator: Option<String>) {
        let mut retries = 0;
        let mut errors = Retry::new(ON_ERROR);
        // The last record handed on for good: where to resume when an iterator expires.
        let mut checkpoint: Option<String> = None;
        while let Some(current) = iterator.take() {
            let out = match self
                .client
                .get_records()
                .shard_iterator(&current)
                .limit(BATCH_SIZE)
                .send()
                .await
            {
                Ok(out) => {
                    errors.succeeded();
                    out
                }
                Err(err) => {
                    tracing::debug!(shard = %self.shard, "GetRecords: {err:?}");
                    tokio::time::sleep(errors.failed().unwrap_or(ON_ERROR.delay(u32::MAX))).await;
                    let expired = err
                        .as_service_error()
                        .is_some_and(|e| e.is_expired_iterator_exception());
                    iterator = if expired {
                        self.iterator_after(checkpoint.as_deref()).await
                    } else {
                        Some(current)
                    };
                    continue;
                }
            };
            let next = out.next_shard_iterator().map(str::to_owned);
            let records = out.records();
            if records.is_empty() {
                tokio::time::sleep(POLL_EVERY).await;
                iterator = next;
                continue;
            }
            let event = event(&self.stream_arn, &self.shard, records);
            let response = self
                .function
                .invoke(event, SystemTime::now() + FUNCTION_TIMEOUT)
                .await;
            match redeliver_from(&response, records) {
                Some(sequence) if retries < MAX_RETRIES => {
                    retries += 1;
                    iterator = self.iterator_at(sequence).await.or(Some(current));
                }
                failed => {
                    if failed.is_some() {
                        self.progress.note(format!(
                            "warning: the grep function failed a batch of {} on {} {} times; \
                             skipped it, as the event source mapping does",
                            self.stream,
                            self.shard,
                            MAX_RETRIES + 1
                        ));
                    }
                    retries = 0;
                    checkpoint = records.last().map(|r| r.sequence_number().to_owned());
                    iterator = next;
                }
            }
        }
    }

    async fn iterator_at(&self, sequence: &str) -> Option<String> {
        self.iterator(ShardIteratorType::AtSequenceNumber, Some(sequence))
            .await
    }

    async fn iterator_after(&self, checkpoint: Option<&str>) -> Option<String> {
        match checkpoint {
            Some(sequence) => {
                self.iterator(ShardIteratorType::AfterSequenceNumber, Some(sequence))
                    .await
            }
            None => self.iterator(ShardIteratorType::Latest, None).await,
        }
    }

    async fn iterator(&self, kind: ShardIteratorType, sequence: Option<&str>) -> Option<String> {
        let mut errors = Retry::new(ON_ERROR);
        loop {
            let sent = self
                .client
                .get_shard_iterator()
                .stream_name(&self.stream)
                .shard_id(&self.shard)
                .shard_iterator_type(kind.clone())
                .set_starting_sequence_number(sequence.map(str::to_owned))
                .send()
                .await;
            match sent {
                Ok(out) => return out.shard_iterator,
                Err(err) => {
                    tracing::debug!(shard = %self.shard, "GetShardIterator: {err:?}");
                    tokio::time::sleep(errors.failed().unwrap_or(ON_ERROR.delay(u32::MAX))).await;
                }
            }
        }
    }
}

/// Where the shard resumes after `response`: `None` when the whole batch is done, else the
/// sequence number of the earliest record to re-deliver.
fn redeliver_from<'a>(response: &KinesisEventResponse, records: &'a [Record]) -> Option<&'a str> {
    let failed: Vec<Option<&str>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_deref())
        .collect();
    if failed.is_empty() {
        return None;
    }
    let position =
        |id: Option<&str>| id.and_then(|id| records.iter().position(|r| r.sequence_number() == id));
    // An identifier that names no record of the batch fails the whole batch.
    let earliest = if failed.iter().any(|id| position(*id).is_none()) {
        0
    } else {
        failed
            .iter()
            .filter_map(|id| position(*id))
            .min()
            .unwrap_or(0)
    };
    records.get(earliest).map(Record::sequence_number)
}

/// The event Lambda delivers for these records of `shard`.
pub fn event(stream_arn: &str, shard: &str, records: &[Record]) -> KinesisEvent {
    let mut event = KinesisEvent::default();
    event.records = records
        .iter()
        .map(|r| {
            let mut kinesis = KinesisRecord::default();
            kinesis.approximate_arrival_timestamp = SecondTimestamp(
                r.approximate_arrival_timestamp()
                    .and_then(|t| t.to_millis().ok())
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or_default(),
            );
            kinesis.data.0 = r.data().as_ref().to_vec();
            kinesis.partition_key = r.partition_key().unwrap_or_default().to_owned();
            kinesis.sequence_number = r.sequence_number().to_owned();
            kinesis.kinesis_schema_version = Some("1.0".to_owned());
            let mut record = KinesisEventRecord::default();
            record.event_id = Some(format!("{shard}:{}", r.sequence_number()));
            record.event_name = Some("aws:kinesis:record".to_owned());
            record.event_source = Some("aws:kinesis".to_owned());
            record.event_source_arn = Some(stream_arn.to_owned());
            record.event_version = Some("1.0".to_owned());
            record.aws_region = Some(super::emulator::REGION.to_owned());
            record.kinesis = kinesis;
            record
        })
        .collect();
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::streams::KinesisBatchItemFailure;
    use aws_sdk_kinesis::primitives::Blob;

    fn records(sequences: &[&str]) -> Vec<Record> {
        sequences
            .iter()
            .map(|s| {
                Record::builder()
                    .sequence_number(*s)
                    .partition_key("pk")
                    .data(Blob::new(format!("data {s}")))
                    .build()
                    .unwrap()
            })
            .collect()
    }

    fn failures(ids: &[Option<&str>]) -> KinesisEventResponse {
        let mut response = KinesisEventResponse::default();
        response.batch_item_failures = ids
            .iter()
            .map(|id| {
                let mut item = KinesisBatchItemFailure::default();
                item.item_identifier = id.map(str::to_owned);
                item
            })
            .collect();
        response
    }

    #[test]
    fn batch_item_failures_redeliver_from_the_earliest() {
        let batch = records(&["10", "20", "30"]);
        assert_eq!(redeliver_from(&failures(&[]), &batch), None);
        assert_eq!(
            redeliver_from(&failures(&[Some("30"), Some("20")]), &batch),
            Some("20")
        );
        // Not in the batch, or no identifier at all: the whole batch again.
        assert_eq!(
            redeliver_from(&failures(&[Some("30"), Some("99")]), &batch),
            Some("10")
        );
        assert_eq!(redeliver_from(&failures(&[None]), &batch), Some("10"));
    }

    #[test]
    fn events_look_like_lambdas() {
        let event = event(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s",
            "shardId-000000000001",
            &records(&["10", "20"]),
        );
        let json = serde_json::to_value(&event).unwrap();
        let first = &json["Records"][0];
        assert_eq!(first["eventID"], "shardId-000000000001:10");
        assert_eq!(first["eventSource"], "aws:kinesis");
        assert_eq!(first["kinesis"]["sequenceNumber"], "10");
        // base64 of "data 10"
        assert_eq!(first["kinesis"]["data"], "ZGF0YSAxMA==");
        assert_eq!(json["Records"].as_array().unwrap().len(), 2);
    }
}
