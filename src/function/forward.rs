//! Putting the planned records to the output stream without losing any, through the PutRecords
//! writer `ktail put` uses too: only the records that failed are sent again, with backoff, for as
//! long as the invocation has time. What still failed is handed back so the caller can make Lambda
//! re-deliver it.

use std::ops::Range;
use std::time::{Duration, Instant};

use super::batch::Entry;
use crate::contract::StreamRef;
use crate::put_records::{Record, RequestRetry, Writer};
use crate::retry::Backoff;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

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
    writer: Writer,
}

impl Forwarder {
    /// Whole requests that fail with a throttling, internal or network error are retried too; a
    /// missing stream, a denied permission or a rejected request fails the same way every time,
    /// so the invocation gives up on them at once.
    pub fn new(client: Client, target: StreamRef) -> Self {
        Forwarder {
            writer: Writer::new(client, target, BACKOFF, RequestRetry::Transient),
        }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.writer = self.writer.with_backoff(backoff);
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
            let put = self
                .writer
                .put(&entries[call.clone()], Some(deadline), |_| {})
                .await;
            outcome.put += call.len() - put.failed.len();
            outcome.calls += put.calls;
            outcome.retries += put.retries;
            outcome.error = put.failure.map(|failure| failure.to_string());
            if !put.failed.is_empty() {
                outcome.failed = put.failed.iter().map(|i| call.start + i).collect();
                outcome
                    .failed
                    .extend(calls[n + 1..].iter().flat_map(|c| c.clone()));
                break;
            }
        }
        outcome
    }
}

impl Record for Entry {
    fn size(&self) -> usize {
        Entry::size(self)
    }

    fn request_entry(&self) -> Option<PutRecordsRequestEntry> {
        PutRecordsRequestEntry::builder()
            .data(Blob::new(self.data.clone()))
            .partition_key(&self.partition_key)
            .set_explicit_hash_key(self.explicit_hash_key.clone())
            .build()
            .ok()
    }
}
