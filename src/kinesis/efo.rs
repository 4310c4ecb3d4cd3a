//! One shard's enhanced fan-out reader (`--efo`): SubscribeToShard through the SDK's event
//! stream, records pushed as they arrive (about 70 ms on AWS) instead of polled.
//!
//! A subscription lasts at most five minutes. The reader starts the next one itself a little
//! before that, or at once when the service ends it sooner, from right after the last record it
//! handed on (exact on every implementation), or from the last ContinuationSequenceNumber when
//! none came yet, as the KCL does; so nothing is lost or printed twice across subscriptions. A
//! closed shard ends with ChildShards in its last event, which go to the fan-in's lineage like the
//! polling reader's. Subscriptions run over HTTP/2 on AWS: the SDK's default client offers `h2`
//! by ALPN on TLS endpoints, which is what SubscribeToShard needs; a plain `http://` endpoint
//! (an emulator) gets HTTP/1.1 with a chunked event stream.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::operation::subscribe_to_shard::SubscribeToShardError;
use aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError;
use aws_sdk_kinesis::types::{
    ChildShard, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};
use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::caught_up::Page;
use super::decoding::ShardDecoder;
use super::errors::{self, Failure};
use super::reader::{BACKOFF, End, ReaderConfig, convert, send, sleep_or_cancel};
use super::shards::ShardInfo;
use super::{Start, StreamRef};
use crate::aws::errors::{cause as aws_cause, error as aws_error};
use crate::printer::Record;
use crate::retry::Retry;
use crate::signals::CancellationToken;

/// AWS ends a subscription after 5 minutes; start the next one before, on our own terms.
const SESSION_MAX: Duration = Duration::from_secs(290);
/// One SubscribeToShard per second per consumer and shard is the service's limit.
const SUBSCRIBE_GAP: Duration = Duration::from_secs(1);
/// AWS sends an event at least every few seconds, even with no records: silence this long means
/// a dead connection.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Consecutive failed subscriptions (about two minutes of backoff) after which the run fails.
const MAX_TRANSIENT: u32 = 30;

/// Shards that ListShards reported closed, shared by the fan-in with the readers: a service that
/// neither sends ChildShards nor ends the subscription at a shard's end (kinesis-mock) still lets
/// the reader find its end.
pub type ClosedShards = Arc<Mutex<HashSet<String>>>;

/// Reads one shard into `tx` through `consumer_arn`, one batch per event.
#[allow(clippy::too_many_arguments)]
pub async fn read_shard(
    client: Client,
    config: Arc<ReaderConfig>,
    consumer_arn: Arc<str>,
    shard: String,
    start: Start,
    closed: bool,
    listed_closed: ClosedShards,
    tx: mpsc::Sender<Vec<Record>>,
    cancel: CancellationToken,
) -> Result<End> {
    let shard_id: Arc<str> = shard.as_str().into();
    let stream = &config.stream;
    let mut last_sequence: Option<String> = None;
    let mut decoder = ShardDecoder::new(config.decode);
    let mut continuation: Option<String> = None;
    let mut children: Option<Vec<ShardInfo>> = None;
    let mut last_subscribe: Option<Instant> = None;
    let mut throttled = Retry::new(BACKOFF);
    let mut transient = Retry::new(BACKOFF.max_attempts(MAX_TRANSIENT + 1));
    // Empty events seen since the shard is known to be closed: two in a row mean its end (the
    // first may have been sent before the last records).
    let mut closed = closed;
    let mut empty_since_closed = 0u32;
    // The first subscription waits its turn (`stagger`), as a polling reader's first read does.
    if !config.stagger.turn_or_cancel(&cancel).await {
        return Ok(End::Cancelled);
    }
    loop {
        if let Some(at) = last_subscribe
            && sleep_or_cancel(SUBSCRIBE_GAP.saturating_sub(at.elapsed()), &cancel).await
        {
            return Ok(End::Cancelled);
        }
        last_subscribe = Some(Instant::now());
        let position =
            starting_position(&start, last_sequence.as_deref(), continuation.as_deref())?;
        tracing::debug!(%shard, ?position, "subscribing");
        let call = client
            .subscribe_to_shard()
            .consumer_arn(&*consumer_arn)
            .shard_id(&shard)
            .starting_position(position)
            .send();
        let response = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(End::Cancelled),
            response = call => response,
        };
        let mut output = match response {
            Ok(output) => output,
            Err(err) => {
                let wait = match subscribe_failure(err, stream) {
                    Failure::Fatal(err) => {
                        let err = errors::name_the_key(err, &client, stream).await;
                        return Err(err.context(format!("reading {shard}")));
                    }
                    Failure::Transient(err) => match transient.failed() {
                        Some(wait) => wait,
                        None => return Err(err.context(keeps_failing(&shard, stream))),
                    },
                    // Unbounded: never `None`.
                    Failure::Throttled | Failure::Expired => throttled.failed().unwrap_or_default(),
                };
                if sleep_or_cancel(wait, &cancel).await {
                    return Ok(End::Cancelled);
                }
                continue;
            }
        };

        let session_end = Instant::now() + SESSION_MAX;
        let mut last_returned = usize::MAX;
        // Each pass takes one event; `break` ends this subscription and starts the next one.
        loop {
            let event = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(End::Cancelled),
                _ = tokio::time::sleep_until(session_end) => break,
                event = tokio::time::timeout(EVENT_TIMEOUT, output.event_stream.recv()) => event,
            };
            let event = match event {
                Err(_silent) => {
                    if transient.failed().is_none() {
                        return Err(anyhow!("no event for {EVENT_TIMEOUT:?}")
                            .context(keeps_failing(&shard, stream)));
                    }
                    tracing::debug!(%shard, "subscription silent; subscribing again");
                    break;
                }
                Ok(Ok(Some(event))) => event,
                Ok(Ok(None)) => {
                    tracing::debug!(%shard, "subscription ended");
                    // The service ended the subscription: at the end of a closed shard (after
                    // an event with ChildShards), or at its five minutes.
                    if let Some(children) = children.take() {
                        return Ok(End::Closed(children));
                    }
                    if closed && last_returned == 0 {
                        // A service that sends no ChildShards: the fan-in lists them.
                        return Ok(End::Closed(Vec::new()));
                    }
                    break;
                }
                Ok(Err(err)) => {
                    match event_failure(err, stream) {
                        Failure::Fatal(err) => {
                            let err = errors::name_the_key(err, &client, stream).await;
                            return Err(err.context(format!("reading {shard}")));
                        }
                        Failure::Transient(err) => {
                            if transient.failed().is_none() {
                                return Err(err.context(keeps_failing(&shard, stream)));
                            }
                            tracing::debug!(%shard, error = %format!("{err:#}"), "subscription failed; subscribing again");
                        }
                        Failure::Throttled | Failure::Expired => {
                            let wait = throttled.failed().unwrap_or_default();
                            if sleep_or_cancel(wait, &cancel).await {
                                return Ok(End::Cancelled);
                            }
                        }
                    }
                    break;
                }
            };
            let SubscribeToShardEventStream::SubscribeToShardEvent(event) = event else {
                continue;
            };
            throttled.succeeded();
            transient.succeeded();
            // A service that ignores the starting sequence number (ferrokinesis 0.7 drops it)
            // sends records again from further back: sequence numbers say which were handed on.
            let mut records = event.records;
            if let Some(last) = &last_sequence {
                records.retain(|r| sequence_after(&r.sequence_number, last));
            }
            let returned = records.len();
            tracing::trace!(
                %shard,
                returned,
                behind = event.millis_behind_latest,
                children = ?event.child_shards.as_ref().map(|c| c.len()),
                "event"
            );
            last_returned = returned;
            let (batch, cut) = convert(
                &config,
                &shard_id,
                records,
                &mut last_sequence,
                &mut decoder,
            );
            if let Some(end) = send(&tx, &cancel, batch).await {
                return Ok(end);
            }
            if let Some(end) = cut {
                return Ok(end);
            }
            continuation = Some(event.continuation_sequence_number);
            if let Some(found) = event.child_shards.filter(|c| !c.is_empty()) {
                // ChildShards come only at the end of a closed shard.
                children = Some(found.into_iter().map(child_info).collect());
                if returned == 0 {
                    return Ok(End::Closed(children.take().unwrap_or_default()));
                }
                continue;
            }
            if returned == 0 {
                if !closed && listed_closed.lock().is_ok_and(|c| c.contains(&shard)) {
                    closed = true;
                } else if closed {
                    empty_since_closed += 1;
                    if empty_since_closed >= 2 {
                        return Ok(End::Closed(Vec::new()));
                    }
                }
            } else {
                empty_since_closed = 0;
            }
            // `-e` ends an open shard at the first event that says it is caught up, records and
            // all (see `caught_up`); a closed one is read to its end, as above.
            let page = Page {
                behind: Some(event.millis_behind_latest),
                returned,
                full: false,
            };
            if !config.follow && !closed && page.caught_up() {
                return Ok(End::CaughtUp);
            }
            if returned == 0
                && event.millis_behind_latest == 0
                && !closed
                && config.until.is_some_and(|until| Utc::now() > until)
            {
                return Ok(End::Until);
            }
        }
    }
}

/// Where a subscription starts: after the last record handed on, else after the last
/// continuation point, else the tail's start.
fn starting_position(
    start: &Start,
    last_sequence: Option<&str>,
    continuation: Option<&str>,
) -> Result<StartingPosition, BuildError> {
    let builder = StartingPosition::builder();
    let builder = match (last_sequence.or(continuation), start) {
        (Some(seq), _) => builder
            .r#type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(seq),
        (None, Start::Latest) => builder.r#type(ShardIteratorType::Latest),
        (None, Start::TrimHorizon) => builder.r#type(ShardIteratorType::TrimHorizon),
        (None, Start::AtTimestamp(at)) => builder.r#type(ShardIteratorType::AtTimestamp).timestamp(
            aws_smithy_types::DateTime::from_millis(at.timestamp_millis()),
        ),
    };
    builder.build()
}

/// Whether sequence number `seq` comes after `last`: both are decimal integers of up to 128
/// bits, so the longer is larger and equal lengths compare as text.
fn sequence_after(seq: &str, last: &str) -> bool {
    (seq.len(), seq) > (last.len(), last)
}

fn child_info(c: ChildShard) -> ShardInfo {
    ShardInfo {
        hash_range: c.hash_key_range.as_ref().and_then(|r| {
            Some((
                r.starting_hash_key.parse().ok()?,
                r.ending_hash_key.parse().ok()?,
            ))
        }),
        id: c.shard_id,
        parents: c.parent_shards,
        closed: false,
    }
}

fn keeps_failing(shard: &str, stream: &StreamRef) -> String {
    format!("reading {shard} of {stream} keeps failing; check the network and the endpoint")
}

/// What a failed SubscribeToShard call means.
fn subscribe_failure(
    err: SdkError<SubscribeToShardError, HttpResponse>,
    stream: &StreamRef,
) -> Failure {
    if let Some(service) = err.as_service_error() {
        // ResourceInUse: the previous subscription to this shard is still closing, or the
        // consumer is not ACTIVE yet; both pass.
        if service.is_limit_exceeded_exception()
            || service.is_resource_in_use_exception()
            || service.is_kms_throttling_exception()
        {
            return Failure::Throttled;
        }
        if service.is_resource_not_found_exception() {
            return Failure::Fatal(errors::not_found(stream));
        }
        if service.is_access_denied_exception() {
            return Failure::Fatal(errors::denied("kinesis:SubscribeToShard", stream));
        }
        if let Some(fatal) = kms_failure(service.code(), || {
            service.is_kms_access_denied_exception()
                || service.is_kms_disabled_exception()
                || service.is_kms_invalid_state_exception()
                || service.is_kms_not_found_exception()
                || service.is_kms_opt_in_required()
        }) {
            return fatal;
        }
        if service.is_internal_failure_exception() {
            return Failure::Transient(aws_cause(err));
        }
    }
    errors::classify_rest(err, "kinesis:SubscribeToShard", stream)
}

/// What an error inside the event stream means.
fn event_failure(
    err: SdkError<SubscribeToShardEventStreamError, aws_smithy_types::event_stream::RawMessage>,
    stream: &StreamRef,
) -> Failure {
    match err.as_service_error() {
        Some(service) => {
            if service.is_resource_in_use_exception() || service.is_kms_throttling_exception() {
                return Failure::Throttled;
            }
            if service.is_resource_not_found_exception() {
                return Failure::Fatal(errors::not_found(stream));
            }
            if let Some(fatal) = kms_failure(service.code(), || {
                service.is_kms_access_denied_exception()
                    || service.is_kms_disabled_exception()
                    || service.is_kms_invalid_state_exception()
                    || service.is_kms_not_found_exception()
                    || service.is_kms_opt_in_required()
            }) {
                return fatal;
            }
            if service.is_internal_failure_exception() {
                return Failure::Transient(aws_cause(err));
            }
            Failure::Fatal(aws_error(
                err,
                format!("the subscription to {stream} failed"),
            ))
        }
        // The connection broke, or a frame did not parse: subscribe again.
        None => Failure::Transient(aws_cause(err)),
    }
}

/// A KMS refusal, whose key [`errors::name_the_key`] looks up before the run ends.
fn kms_failure(code: Option<&str>, is_kms: impl Fn() -> bool) -> Option<Failure> {
    is_kms().then(|| {
        Failure::Fatal(anyhow::Error::new(errors::KmsRefused {
            code: code.unwrap_or("KMS error").to_owned(),
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_integers() {
        assert!(sequence_after("10", "9"));
        assert!(sequence_after(
            "49680556423127683654392834528451960482082714912659865619",
            "49680556423127683654392834528451960482082714912659865618"
        ));
        assert!(!sequence_after("9", "10"));
        assert!(!sequence_after("5", "5"));
    }

    #[test]
    fn resumes_after_the_last_record_then_the_continuation() {
        let p = starting_position(&Start::Latest, None, None).unwrap();
        assert_eq!(p.r#type(), &ShardIteratorType::Latest);
        let p = starting_position(&Start::TrimHorizon, None, Some("c9")).unwrap();
        assert_eq!(p.r#type(), &ShardIteratorType::AfterSequenceNumber);
        assert_eq!(p.sequence_number(), Some("c9"));
        let p = starting_position(&Start::TrimHorizon, Some("r5"), Some("c9")).unwrap();
        assert_eq!(p.sequence_number(), Some("r5"));
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let p = starting_position(&Start::AtTimestamp(at), None, None).unwrap();
        assert_eq!(p.r#type(), &ShardIteratorType::AtTimestamp);
        assert_eq!(
            p.timestamp().map(|t| t.to_millis().unwrap()),
            Some(1_700_000_000_123)
        );
    }
}
