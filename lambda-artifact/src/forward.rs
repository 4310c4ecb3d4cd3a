//! Putting the planned records to the output stream without losing any: PutRecords reports
//! success per record, so only the records that failed are sent again, with backoff, for as long
//! as the invocation has time. What still failed is handed back so the caller can make Lambda
//! re-deliver it.

use std::ops::Range;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::SdkError;
use aws_sdk_kinesis::operation::put_records::PutRecordsError;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use ktail::retry::{Backoff, Retry};

use crate::batch::Entry;
use ktail::contract::StreamRef;

/// How long to wait between attempts: doubling from 50 ms, never more than 2 s; how many is
/// bounded by the invocation's deadline.
pub const BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(50), Duration::from_secs(2));

/// What forwarding achieved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Records accepted by Kinesis.
    pub put: usize,
    /// Records sent again after a failure.
    pub retries: usize,
    /// PutRecords calls made.
    pub calls: usize,
    /// Indices of the entries that were never accepted (failed for good, or not tried because an
    /// earlier call failed for good: sending them would only reorder the output).
    pub failed: Vec<usize>,
    /// Why the last failing call failed.
    pub error: Option<String>,
}

/// Sends records to one stream.
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: Client,
    target: StreamRef,
    backoff: Backoff,
}

impl Forwarder {
    pub fn new(client: Client, target: StreamRef) -> Self {
        Forwarder {
            client,
            target,
            backoff: BACKOFF,
        }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Puts `entries` in the given calls, in order. Stops at the first call that cannot be
    /// completed before `deadline`.
    pub async fn forward(
        &self,
        entries: &[Entry],
        calls: &[Range<usize>],
        deadline: Instant,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        for (n, call) in calls.iter().enumerate() {
            let failed = self
                .put_call(entries, call.clone(), deadline, &mut outcome)
                .await;
            if !failed.is_empty() {
                outcome.failed = failed;
                outcome
                    .failed
                    .extend(calls[n + 1..].iter().flat_map(|c| c.clone()));
                break;
            }
        }
        outcome
    }

    /// One call's records, retried until all are in, the deadline is near, or the error is one
    /// that waiting will not fix. Returns the indices still not put.
    async fn put_call(
        &self,
        entries: &[Entry],
        call: Range<usize>,
        deadline: Instant,
        outcome: &mut Outcome,
    ) -> Vec<usize> {
        let mut pending: Vec<usize> = call.collect();
        let mut retry = Retry::new(self.backoff).with_deadline(deadline);
        loop {
            let records: Vec<PutRecordsRequestEntry> = pending
                .iter()
                .filter_map(|&i| request_entry(&entries[i]))
                .collect();
            let request = self.client.put_records().set_records(Some(records));
            let request = match &self.target {
                StreamRef::Name(name) => request.stream_name(name),
                StreamRef::Arn { arn, .. } => request.stream_arn(arn),
            };
            outcome.calls += 1;
            let retryable = match request.send().await {
                Ok(response) => {
                    let before = pending.len();
                    // Results come back in request order, one per record.
                    let mut results = response.records().iter();
                    pending.retain(|_| results.next().is_none_or(|r| r.error_code().is_some()));
                    outcome.put += before - pending.len();
                    if let Some(code) = response.records().iter().find_map(|r| r.error_code()) {
                        outcome.error = Some(format!("{} records failed ({code})", pending.len()));
                    }
                    true
                }
                Err(err) => {
                    outcome.error = Some(describe(&err));
                    is_retryable(&err)
                }
            };
            if pending.is_empty() {
                outcome.error = None;
                return pending;
            }
            if !retryable {
                return pending;
            }
            let Some(delay) = retry.failed() else {
                return pending;
            };
            tokio::time::sleep(delay).await;
            outcome.retries += pending.len();
        }
    }
}

fn request_entry(entry: &Entry) -> Option<PutRecordsRequestEntry> {
    PutRecordsRequestEntry::builder()
        .data(Blob::new(entry.data.clone()))
        .partition_key(&entry.partition_key)
        .set_explicit_hash_key(entry.explicit_hash_key.clone())
        .build()
        .ok()
}

/// Errors that a later attempt can get past. A missing stream, a denied permission or a rejected
/// request will fail the same way every time, so the invocation should give up on them at once.
fn is_retryable(err: &SdkError<PutRecordsError, HttpResponse>) -> bool {
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            e.is_provisioned_throughput_exceeded_exception()
                || e.is_kms_throttling_exception()
                || e.is_internal_failure_exception()
                || service.raw().status().is_server_error()
        }
        // Timeouts, connection and response errors: the next attempt may well get through.
        _ => true,
    }
}

fn describe<R: std::fmt::Debug>(err: &SdkError<PutRecordsError, R>) -> String {
    match err.as_service_error() {
        Some(e) => format!(
            "{}: {}",
            e.meta().code().unwrap_or("error"),
            e.meta().message().unwrap_or("no message")
        ),
        None => format!("{}", aws_sdk_kinesis::error::DisplayErrorContext(err)),
    }
}
