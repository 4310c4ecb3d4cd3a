//! `ktail put`'s engine: input lines become records, batched and put through the [`Writer`].
//!
//! Each line is one record without its line ending (`\n` or `\r\n`). Empty lines are skipped:
//! they carry nothing a reader could tell apart, and an empty line between log lines is almost
//! always noise. A line over Kinesis' 1 MiB record limit (data plus partition key) cannot be put
//! at all; it is reported and counted, never split. With aggregation, lines are packed KPL-style.
//! A batch goes out when full or as soon as input pauses (after [`LINGER`]), so
//! `tail -f app.log | ktail put` streams instead of waiting for a full batch.
//!
//! Input is read in chunks by a blocking thread ([`spawn_reader`]) and split into lines here, so
//! everything read is in this task's hands: when told to stop, it puts every line read so far,
//! an unterminated last one too, exactly as at end of input.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read};
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Batch, Failure, Record, Writer};
use crate::contract::MAX_RECORD_BYTES;
use crate::kpl::{AggregatedRecord, Aggregator};
use crate::retry::Backoff;

/// How long a partial batch waits for more input before it is sent (the KPL's default is 100 ms).
pub const LINGER: Duration = Duration::from_millis(100);
/// Rounds of resending failed entries, and the first pause between them (doubled each round,
/// capped): about 6 s in all, enough for a throttled shard's one-second window to pass a few times.
pub const ENTRY_ATTEMPTS: u32 = 7;
pub const BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2))
        .max_attempts(ENTRY_ATTEMPTS);
/// Bytes per read of the input.
const CHUNK: usize = 64 * 1024;
/// Chunks read ahead of the sender (1 MiB).
const READ_AHEAD: usize = 16;

/// What happened to the input, counted in lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Non-empty lines read.
    pub lines: u64,
    /// Empty lines skipped.
    pub empty: u64,
    /// Lines acknowledged by Kinesis.
    pub put: u64,
    /// Kinesis records those lines made (fewer than `put` with aggregation).
    pub records: u64,
    /// Lines over the record limit.
    pub oversized: u64,
    /// Lines whose entries still failed after every retry, and the last error code seen.
    pub failed: u64,
    pub last_error: Option<String>,
}

impl Stats {
    pub fn not_put(&self) -> u64 {
        self.oversized + self.failed
    }

    /// Why lines were not put, for the error line.
    pub fn why_not_put(&self) -> String {
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

/// Who hears how the put goes (the CLI's meter).
pub trait Observer {
    /// After every PutRecords answer.
    fn progress(&mut self, stats: &Stats);
    /// Line number `line` (counting empty lines) is `bytes` long, over the record limit.
    fn oversized(&mut self, line: u64, bytes: usize);
}

/// How lines become records.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Pack lines KPL-style into records of up to 1 MiB.
    pub aggregate: bool,
    /// One key for every record (one shard, in order); a random key per record otherwise.
    pub partition_key: Option<String>,
    /// Compress each record (each aggregate) with this codec, as many producers do.
    pub compress: Option<crate::decode::Codec>,
}

/// How the put ended.
#[derive(Debug)]
pub struct Done {
    pub stats: Stats,
    /// `stop` fired before the end of input.
    pub interrupted: bool,
}

/// A request that failed as a whole (after the SDK's own retries), which ends the put.
#[derive(Debug)]
pub struct RequestFailed {
    pub error: Failure,
    /// Lines in the failed request.
    pub lost: u64,
    pub stats: Stats,
}

/// Reads `input` in chunks on a blocking thread until end of input (or until the receiver is
/// gone). It waits for room in the channel before each read, never after, so a chunk it read is
/// never held back from the receiver.
pub fn spawn_reader(
    mut input: Box<dyn Read + Send>,
) -> (mpsc::Receiver<Vec<u8>>, JoinHandle<io::Result<()>>) {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let runtime = tokio::runtime::Handle::current();
    let reader = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0; CHUNK];
        loop {
            let Ok(permit) = runtime.block_on(tx.reserve()) else {
                return Ok(());
            };
            let n = match input.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            permit.send(buf[..n].to_vec());
        }
    });
    (rx, reader)
}

/// Puts the lines of `chunks` until end of input or `stop`; on `stop`, puts every line already
/// read (an unterminated last line too) and ends.
pub async fn put_lines(
    writer: &Writer,
    mut chunks: mpsc::Receiver<Vec<u8>>,
    options: &Options,
    stop: impl Future<Output = ()>,
    observer: &mut impl Observer,
) -> Result<Done, RequestFailed> {
    let mut put = Putter {
        writer,
        options,
        observer,
        stats: Stats::default(),
        aggregator: options.aggregate.then(Aggregator::new),
        batch: Batch::default(),
    };
    let mut lines = Lines::default();
    let mut stop = std::pin::pin!(stop);
    let mut interrupted = false;
    loop {
        while let Some(line) = lines.next_line() {
            put.accept(line).await?;
        }
        let next = tokio::select! {
            // Stop reading; what was already read is still sent.
            _ = &mut stop => {
                interrupted = true;
                chunks.close();
                while let Ok(chunk) = chunks.try_recv() {
                    lines.push(chunk);
                    while let Some(line) = lines.next_line() {
                        put.accept(line).await?;
                    }
                }
                break;
            }
            next = next_chunk(&mut chunks, put.idle()) => next,
        };
        match next {
            Next::Chunk(chunk) => lines.push(chunk),
            Next::End => break,
            Next::Pause => put.flush().await?,
        }
    }
    if let Some(last) = lines.finish() {
        put.accept(last).await?;
    }
    put.flush().await?;
    Ok(Done {
        stats: put.stats,
        interrupted,
    })
}

enum Next {
    Chunk(Vec<u8>),
    /// Input paused for [`LINGER`] with a batch pending.
    Pause,
    End,
}

/// The next chunk; with a batch pending (`idle` false), waits at most [`LINGER`] for it.
async fn next_chunk(chunks: &mut mpsc::Receiver<Vec<u8>>, idle: bool) -> Next {
    let next = if idle {
        chunks.recv().await
    } else {
        match tokio::time::timeout(LINGER, chunks.recv()).await {
            Ok(next) => next,
            Err(_) => return Next::Pause,
        }
    };
    next.map_or(Next::End, Next::Chunk)
}

/// Input chunks split into lines without their ending; the bytes after the last newline wait
/// for the next chunk, or are the last line at the end.
#[derive(Debug, Default)]
struct Lines {
    buf: Vec<u8>,
    /// Where the next line starts in `buf`.
    start: usize,
}

impl Lines {
    fn push(&mut self, chunk: Vec<u8>) {
        if self.start == self.buf.len() {
            self.buf = chunk;
        } else {
            self.buf.drain(..self.start);
            self.buf.extend_from_slice(&chunk);
        }
        self.start = 0;
    }

    fn next_line(&mut self) -> Option<Vec<u8>> {
        let rest = &self.buf[self.start..];
        let end = rest.iter().position(|&b| b == b'\n')?;
        let mut line = &rest[..end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let line = line.to_vec();
        self.start += end + 1;
        Some(line)
    }

    /// What is left after the last newline: an unterminated last line.
    fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = self.buf.split_off(self.start);
        self.start = 0;
        self.buf.clear();
        (!rest.is_empty()).then_some(rest)
    }
}

/// One PutRecords entry and how many input lines it carries.
#[derive(Debug, Clone)]
struct Entry {
    data: Vec<u8>,
    partition_key: String,
    explicit_hash_key: Option<String>,
    lines: u64,
}

impl Entry {
    fn from_aggregate(record: AggregatedRecord) -> Self {
        Entry {
            data: record.data,
            partition_key: record.partition_key,
            explicit_hash_key: record.explicit_hash_key,
            lines: record.user_records as u64,
        }
    }
}

impl Record for Entry {
    fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
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

struct Putter<'a, O> {
    writer: &'a Writer,
    options: &'a Options,
    observer: &'a mut O,
    stats: Stats,
    aggregator: Option<Aggregator>,
    batch: Batch<Entry>,
}

impl<O: Observer> Putter<'_, O> {
    /// Nothing waits to be sent.
    fn idle(&self) -> bool {
        self.batch.is_empty() && self.aggregator.as_ref().is_none_or(Aggregator::is_empty)
    }

    /// One input line into the batch (through the aggregator), sending the batch first when the
    /// line's entry would not fit.
    async fn accept(&mut self, line: Vec<u8>) -> Result<(), RequestFailed> {
        if line.is_empty() {
            self.stats.empty += 1;
            return Ok(());
        }
        self.stats.lines += 1;
        let key = self
            .options
            .partition_key
            .clone()
            .unwrap_or_else(random_key);
        if line.len() + key.len() > MAX_RECORD_BYTES {
            self.stats.oversized += 1;
            self.observer
                .oversized(self.stats.lines + self.stats.empty, line.len());
            return Ok(());
        }
        let entry = match &mut self.aggregator {
            Some(aggregator) => match aggregator.add(&line, &key, None) {
                Some(full) => Entry::from_aggregate(full),
                None => return Ok(()),
            },
            None => Entry {
                data: line,
                partition_key: key,
                explicit_hash_key: None,
                lines: 1,
            },
        };
        self.push(entry).await
    }

    async fn push(&mut self, mut entry: Entry) -> Result<(), RequestFailed> {
        if let Some(codec) = self.options.compress {
            // Compressing into a Vec does not fail (no I/O); the record goes as it is otherwise.
            if let Ok(data) = crate::decode::compress(codec, &entry.data) {
                entry.data = data;
            }
        }
        if !self.batch.fits(&entry) {
            let entries = self.batch.take();
            self.send(entries).await?;
        }
        self.batch.push(entry);
        Ok(())
    }

    /// Sends everything pending, including a partly filled aggregate.
    async fn flush(&mut self) -> Result<(), RequestFailed> {
        if let Some(record) = self.aggregator.as_mut().and_then(Aggregator::flush) {
            self.push(Entry::from_aggregate(record)).await?;
        }
        if !self.batch.is_empty() {
            let entries = self.batch.take();
            self.send(entries).await?;
        }
        Ok(())
    }

    /// One batch through the writer; entries still failing after every attempt are counted, a
    /// request that fails as a whole ends the put.
    async fn send(&mut self, entries: Vec<Entry>) -> Result<(), RequestFailed> {
        let (stats, observer) = (&mut self.stats, &mut self.observer);
        let outcome = self
            .writer
            .put(&entries, None, |accepted| {
                for &i in accepted {
                    stats.put += entries[i].lines;
                    stats.records += 1;
                }
                observer.progress(stats);
            })
            .await;
        let failed: u64 = outcome.failed.iter().map(|&i| entries[i].lines).sum();
        match outcome.failure {
            None => Ok(()),
            Some(error @ Failure::Request(_)) => Err(RequestFailed {
                error,
                lost: failed,
                stats: self.stats.clone(),
            }),
            Some(Failure::Entries { code, .. }) => {
                if code.is_some() {
                    self.stats.last_error = code;
                }
                self.stats.failed += failed;
                Ok(())
            }
        }
    }
}

/// A partition key that spreads records over every shard.
fn random_key() -> String {
    let random = |n: u8| RandomState::new().hash_one(n);
    format!("{:016x}{:016x}", random(0), random(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::default();
        let mut got = Vec::new();
        for chunk in chunks {
            lines.push(chunk.to_vec());
            while let Some(line) = lines.next_line() {
                got.push(String::from_utf8(line).unwrap());
            }
        }
        got.extend(lines.finish().map(|l| String::from_utf8(l).unwrap()));
        got
    }

    #[test]
    fn lines_lose_their_endings_only() {
        assert_eq!(
            split(&[b"a\r\n\nb\r\rc\n  d "]),
            ["a", "", "b\r\rc", "  d "]
        );
    }

    #[test]
    fn lines_span_chunks_and_the_last_needs_no_newline() {
        assert_eq!(
            split(&[b"he", b"llo\r", b"\nwor", b"ld\nlast"]),
            ["hello", "world", "last"]
        );
        assert_eq!(split(&[b"one\n", b"two\n"]), ["one", "two"]);
        assert!(split(&[]).is_empty());
    }

    #[tokio::test]
    async fn the_reader_hands_on_everything_it_reads() {
        let input: Box<dyn Read + Send> = Box::new(io::Cursor::new(vec![b'x'; 3 * CHUNK + 5]));
        let (mut rx, reader) = spawn_reader(input);
        let mut bytes = 0;
        while let Some(chunk) = rx.recv().await {
            bytes += chunk.len();
        }
        reader.await.unwrap().unwrap();
        assert_eq!(bytes, 3 * CHUNK + 5);
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
