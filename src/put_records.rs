//! The one PutRecords writer, shared by `ktail put` (through [`lines`], its engine) and the grep
//! function: records batched within the API's limits (count and bytes, [`Batch`] and [`calls`]),
//! and one batch put by [`Writer`] with the entries PutRecords reports as failed sent again, with
//! backoff, until they are in or the retry policy gives up; what could not be put is handed back
//! by index.
//!
//! PutRecords keeps no order across a partial failure: any entry may fail (InternalFailure,
//! throttling) while the ones after it go in, and the failed one, sent again, lands after them.
//! A caller whose records must stay in order per shard splits them with [`calls_in_order`]: one
//! record per shard in a call, so nothing of that shard is sent until the record before it is in.

pub mod lines;

use std::ops::Range;
use std::time::Instant;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::SdkError;
use aws_sdk_kinesis::operation::put_records::PutRecordsError;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use crate::contract::{MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL, StreamRef};
use crate::retry::{Backoff, Retry};

/// A record the writer can put.
pub trait Record {
    /// Data plus partition key, as PutRecords' per-call byte limit counts them.
    fn size(&self) -> usize;
    /// The request entry, built for every attempt that sends it; `None` if it cannot be built
    /// (no data or key), which leaves the record unsent and reported as failed.
    fn request_entry(&self) -> Option<PutRecordsRequestEntry>;
}

/// Records for one PutRecords call, kept within its limits.
#[derive(Debug)]
pub struct Batch<R> {
    records: Vec<R>,
    bytes: usize,
}

impl<R> Default for Batch<R> {
    fn default() -> Self {
        Batch {
            records: Vec::new(),
            bytes: 0,
        }
    }
}

impl<R: Record> Batch<R> {
    /// Whether `record` still fits in this call.
    pub fn fits(&self, record: &R) -> bool {
        fits(self.records.len(), self.bytes, record.size())
    }

    pub fn push(&mut self, record: R) {
        self.bytes += record.size();
        self.records.push(record);
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn take(&mut self) -> Vec<R> {
        self.bytes = 0;
        std::mem::take(&mut self.records)
    }
}

fn fits(records: usize, bytes: usize, size: usize) -> bool {
    records < MAX_RECORDS_PER_CALL && bytes + size <= MAX_BYTES_PER_CALL
}

/// Splits `records` into consecutive PutRecords calls within the record-count and byte limits
/// (a record over the byte limit alone still gets a call of its own).
pub fn calls<R: Record>(records: &[R]) -> Vec<Range<usize>> {
    let mut calls = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, record) in records.iter().enumerate() {
        let size = record.size();
        if i > start && !fits(i - start, bytes, size) {
            calls.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < records.len() {
        calls.push(start..records.len());
    }
    calls
}

/// Like [`calls`], with at most one record of each `lane` (the records that must land in order,
/// e.g. one source shard's) in a call: a record is sent only after the one before it in its lane
/// is in, so a failure in the middle of a call cannot let later records of its lane overtake it.
/// Records of different lanes still share calls.
pub fn calls_in_order<R: Record, L: PartialEq>(
    records: &[R],
    lane: impl Fn(&R) -> L,
) -> Vec<Range<usize>> {
    let mut calls = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, record) in records.iter().enumerate() {
        let size = record.size();
        let own = lane(record);
        let lane_taken = records[start..i].iter().any(|r| lane(r) == own);
        if i > start && (lane_taken || !fits(i - start, bytes, size)) {
            calls.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < records.len() {
        calls.push(start..records.len());
    }
    calls
}

/// Why an attempt did not put everything.
#[derive(Debug)]
pub enum Failure {
    /// PutRecords answered, and `failed` entries were not accepted; `code` is the first error code
    /// it gave (e.g. ProvisionedThroughputExceededException).
    Entries { failed: usize, code: Option<String> },
    /// The request failed as a whole (after the SDK's own retries).
    Request(Box<SdkError<PutRecordsError, HttpResponse>>),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Entries { failed, code } => write!(
                f,
                "{failed} records failed ({})",
                code.as_deref().unwrap_or("no error code")
            ),
            Failure::Request(err) => match err.as_service_error() {
                Some(e) => write!(
                    f,
                    "{}: {}",
                    e.meta().code().unwrap_or("error"),
                    e.meta().message().unwrap_or("no message")
                ),
                None => write!(f, "{}", aws_sdk_kinesis::error::DisplayErrorContext(&**err)),
            },
        }
    }
}

/// What putting one batch came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Indices (into the batch, ascending) of the records never accepted.
    pub failed: Vec<usize>,
    /// PutRecords calls made.
    pub calls: usize,
    /// Records sent again after a failure.
    pub retries: usize,
    /// Why the last failing attempt failed; `None` when everything was put.
    pub failure: Option<Failure>,
}

/// Which whole-request failures are worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestRetry {
    /// None: the SDK has retried it already; the caller decides what a failed request means.
    Never,
    /// Throttling, internal and 5xx errors, timeouts and connection errors: the next attempt may
    /// get through. A missing stream or a denied permission fails the same way every time.
    Transient,
}

/// Puts batches to one stream.
#[derive(Debug, Clone)]
pub struct Writer {
    client: Client,
    stream: StreamRef,
    backoff: Backoff,
    requests: RequestRetry,
}

impl Writer {
    /// Failed entries are sent again as `backoff` says; failed requests as `requests` says.
    pub fn new(
        client: Client,
        stream: StreamRef,
        backoff: Backoff,
        requests: RequestRetry,
    ) -> Self {
        Writer {
            client,
            stream,
            backoff,
            requests,
        }
    }

    pub fn stream(&self) -> &StreamRef {
        &self.stream
    }

    /// Replaces the retry schedule.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Puts `records` (one call's worth, see [`Batch`] and [`calls`]), sending the entries that
    /// fail again until they are in, the policy gives up, or no attempt could start before
    /// `deadline`. `accepted` hears, after every answer, which records it accepted.
    pub async fn put<R: Record>(
        &self,
        records: &[R],
        deadline: Option<Instant>,
        mut accepted: impl FnMut(&[usize]),
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let mut pending: Vec<usize> = (0..records.len()).collect();
        let mut retry = Retry::new(self.backoff);
        if let Some(deadline) = deadline {
            retry = retry.with_deadline(deadline);
        }
        while !pending.is_empty() {
            let mut sent = Vec::with_capacity(pending.len());
            let mut entries = Vec::with_capacity(pending.len());
            for &i in &pending {
                if let Some(entry) = records[i].request_entry() {
                    sent.push(i);
                    entries.push(entry);
                }
            }
            let request = self.client.put_records().set_records(Some(entries));
            let request = match &self.stream {
                StreamRef::Name(name) => request.stream_name(name),
                StreamRef::Arn { arn, .. } => request.stream_arn(arn),
            };
            outcome.calls += 1;
            let retryable = match request.send().await {
                Ok(response) => {
                    // Results come back in request order, one per record; a missing one is not
                    // an acknowledgement.
                    let results = response.records();
                    let went_in: Vec<usize> = sent
                        .iter()
                        .zip(results)
                        .filter(|(_, result)| result.error_code().is_none())
                        .map(|(&i, _)| i)
                        .collect();
                    // Both lists ascend.
                    let mut went = went_in.iter().peekable();
                    pending.retain(|&i| went.next_if_eq(&&i).is_none());
                    accepted(&went_in);
                    outcome.failure = (!pending.is_empty()).then(|| Failure::Entries {
                        failed: pending.len(),
                        code: results
                            .iter()
                            .find_map(|r| r.error_code())
                            .map(str::to_owned),
                    });
                    true
                }
                Err(err) => {
                    let retryable = self.requests == RequestRetry::Transient && is_transient(&err);
                    outcome.failure = Some(Failure::Request(Box::new(err)));
                    retryable
                }
            };
            if pending.is_empty() {
                break;
            }
            if !retryable {
                break;
            }
            let Some(wait) = retry.failed() else {
                break;
            };
            tokio::time::sleep(wait).await;
            outcome.retries += pending.len();
        }
        outcome.failed = pending;
        outcome
    }
}

/// Errors that a later attempt can get past.
fn is_transient(err: &SdkError<PutRecordsError, HttpResponse>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::MAX_RECORD_BYTES;

    /// A record of `size` bytes: data and a one-byte key.
    struct Sized(usize);

    impl Record for Sized {
        fn size(&self) -> usize {
            self.0
        }
        fn request_entry(&self) -> Option<PutRecordsRequestEntry> {
            None
        }
    }

    fn entry(data: usize) -> Sized {
        Sized(data + 1)
    }

    #[test]
    fn a_batch_holds_at_most_500_records() {
        let mut batch = Batch::default();
        for _ in 0..MAX_RECORDS_PER_CALL {
            assert!(batch.fits(&entry(10)));
            batch.push(entry(10));
        }
        assert!(!batch.fits(&entry(10)));
        assert_eq!(batch.take().len(), MAX_RECORDS_PER_CALL);
        assert!(batch.is_empty() && batch.fits(&entry(10)));
    }

    #[test]
    fn a_batch_holds_at_most_5_mib_with_keys() {
        let mut batch = Batch::default();
        // Four records of 1 MiB data plus a 1-byte key: 4 MiB + 4 bytes.
        for _ in 0..4 {
            batch.push(entry(MAX_RECORD_BYTES));
        }
        // The fifth, with its key, would pass 5 MiB by one byte.
        assert!(!batch.fits(&entry(MAX_RECORD_BYTES - 4)));
        assert!(batch.fits(&entry(MAX_RECORD_BYTES - 5)));
    }

    #[test]
    fn calls_follow_the_batch_rule() {
        let small: Vec<Sized> = (0..1001).map(|_| entry(10)).collect();
        assert_eq!(calls(&small), vec![0..500, 500..1000, 1000..1001]);
        let big: Vec<Sized> = (0..6).map(|_| entry(1024 * 1024 - 1)).collect();
        assert_eq!(calls(&big), vec![0..5, 5..6]);
        let over: Vec<Sized> = vec![entry(10), Sized(6 * 1024 * 1024), entry(10)];
        assert_eq!(calls(&over), vec![0..1, 1..2, 2..3]);
        assert!(calls::<Sized>(&[]).is_empty());
    }

    #[test]
    fn calls_in_order_hold_one_record_per_lane() {
        let records: Vec<Sized> = (0..6).map(|_| entry(10)).collect();
        // Lanes a a b a b c: a call ends where its lane already has a record.
        let lanes = ['a', 'a', 'b', 'a', 'b', 'c'];
        let lane = |r: &Sized| lanes[records.iter().position(|x| std::ptr::eq(x, r)).unwrap()];
        assert_eq!(calls_in_order(&records, lane), vec![0..1, 1..3, 3..6]);
        // One lane: one record a call. All different: the plain limits.
        assert_eq!(calls_in_order(&records, |_| 0).len(), 6);
        let many: Vec<Sized> = (0..1001).map(|_| entry(10)).collect();
        let distinct = |r: &Sized| many.iter().position(|x| std::ptr::eq(x, r));
        assert_eq!(
            calls_in_order(&many, distinct),
            vec![0..500, 500..1000, 1000..1001]
        );
        assert!(calls_in_order::<Sized, u8>(&[], |_| 0).is_empty());
    }
}
