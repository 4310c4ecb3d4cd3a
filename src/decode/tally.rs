//! Counting what decoding did, for `--debug` and for the one warning per shard about records
//! that passed through as stored. Both `tail` and the grep function word it the same way.

use super::{Decoded, Failure};

/// What decoding did to a run of records (one shard's, or one invocation's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records given to the decoder.
    pub records: u64,
    /// Records left as stored because nothing in them asked for decoding (or `--decode none`).
    pub plain: u64,
    /// Records decompressed (whatever they turned out to be).
    pub decompressed: u64,
    /// CloudWatch Logs `DATA_MESSAGE`s, and the log events they carried.
    pub envelopes: u64,
    pub log_events: u64,
    /// CloudWatch Logs `CONTROL_MESSAGE`s, dropped.
    pub control_messages: u64,
    /// Records that could not be decoded and passed through as stored, by failure, in the order
    /// first seen (a handful at most: codecs times reasons).
    failures: Vec<(Failure, u64)>,
}

impl Tally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one decoded record.
    pub fn add(&mut self, decoded: &Decoded<'_>) {
        self.records += 1;
        match decoded {
            Decoded::Plain(_) => self.plain += 1,
            Decoded::Decompressed { .. } => self.decompressed += 1,
            Decoded::Logs { envelope, .. } => {
                self.decompressed += 1;
                self.envelopes += 1;
                self.log_events += envelope.log_events.len() as u64;
            }
            Decoded::Control { .. } => {
                self.decompressed += 1;
                self.control_messages += 1;
            }
            Decoded::Failed { failure, .. } => self.add_failure(*failure, 1),
        }
    }

    fn add_failure(&mut self, failure: Failure, n: u64) {
        match self.failures.iter_mut().find(|(f, _)| *f == failure) {
            Some((_, count)) => *count += n,
            None => self.failures.push((failure, n)),
        }
    }

    /// Adds another tally's counts (a shard's into a run's total).
    pub fn merge(&mut self, other: &Tally) {
        self.records += other.records;
        self.plain += other.plain;
        self.decompressed += other.decompressed;
        self.envelopes += other.envelopes;
        self.log_events += other.log_events;
        self.control_messages += other.control_messages;
        for (failure, n) in &other.failures {
            self.add_failure(*failure, *n);
        }
    }

    /// Records that passed through as stored because they could not be decoded.
    pub fn failed(&self) -> u64 {
        self.failures.iter().map(|(_, n)| n).sum()
    }

    /// Each distinct failure and how many records it happened to, in the order first seen.
    pub fn failures(&self) -> impl Iterator<Item = (Failure, u64)> + '_ {
        self.failures.iter().copied()
    }

    /// The warning about records that passed through as stored, or None when there were none:
    /// `3 records could not be decoded and were printed as stored: 2 corrupt gzip data, 1 gzip
    /// data larger than 64 MiB decompressed`. The caller says where (which shard) and prints it.
    pub fn warning(&self) -> Option<String> {
        let failed = self.failed();
        if failed == 0 {
            return None;
        }
        let records = if failed == 1 { "record" } else { "records" };
        let was = if failed == 1 { "was" } else { "were" };
        let why = self
            .failures
            .iter()
            .map(|(failure, n)| format!("{n} {failure}"))
            .collect::<Vec<_>>()
            .join(", ");
        Some(format!(
            "{failed} {records} could not be decoded and {was} passed through as stored: {why}"
        ))
    }
}
