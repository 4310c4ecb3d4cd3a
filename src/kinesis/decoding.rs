//! Decoding in the readers: each reader decodes its shard's user records (after KPL
//! de-aggregation) with its own [`Decoder`], and counts what it did into the run's [`Tallies`].
//! At the end of the run the tail logs the counts (`--debug`) and, for each shard where records
//! could not be decoded, prints ONE warning saying how many and why: records that fail pass
//! through as stored, so the warning is the only sign of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::decode::{self, Decode, Decoder, Tally};

/// One reader's decoder and its counts since they were last handed to [`Tallies`].
pub(super) struct ShardDecoder {
    decoder: Decoder,
    tally: Tally,
}

impl ShardDecoder {
    pub(super) fn new(options: decode::Options) -> Self {
        ShardDecoder {
            decoder: Decoder::new(options),
            tally: Tally::new(),
        }
    }

    /// The lines of one user record, each with its log event when it is one. Under `none`, and
    /// under `auto` for a record without a compression magic, the record itself (no copy, no
    /// count: plain records cost nothing).
    pub(super) fn lines(&mut self, data: Bytes) -> Lines {
        let options = self.decoder.options();
        let plain = match options.mode {
            Decode::None => true,
            Decode::Auto => decode::detect(&data).is_none(),
            _ => false,
        };
        if plain {
            return Lines::Plain(Some(data));
        }
        // Decoded by the rule the grep function shares, which also opens a compressed KPL
        // aggregate (`ktail put --aggregate --compress`) into its user records.
        let mut lines = Vec::with_capacity(1);
        self.decoder
            .decode_each(&data, &mut self.tally, |stored, decoded| {
                lines.push(decoded.owned_items(stored));
            });
        Lines::Decoded(lines.into_iter().flatten())
    }

    /// The counts since the last call, leaving zero.
    pub(super) fn take(&mut self) -> Tally {
        std::mem::take(&mut self.tally)
    }
}

/// What one user record decoded to, as lines.
pub(super) enum Lines {
    Plain(Option<Bytes>),
    Decoded(std::iter::Flatten<std::vec::IntoIter<decode::OwnedItems>>),
}

impl Iterator for Lines {
    type Item = (Bytes, Option<decode::LogMeta>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Lines::Plain(data) => data.take().map(|d| (d, None)),
            Lines::Decoded(items) => items.next().map(|i| (i.line, i.log)),
        }
    }
}

/// Every shard's decoding counts for one run, shared by its readers.
#[derive(Debug, Clone, Default)]
pub struct Tallies(Arc<Mutex<BTreeMap<String, Tally>>>);

impl Tallies {
    /// Adds a reader's counts (once per batch: one lock per GetRecords answer).
    pub(super) fn add(&self, shard: &str, tally: &Tally) {
        if tally.records == 0 {
            return;
        }
        if let Ok(mut all) = self.0.lock() {
            all.entry(shard.to_owned()).or_default().merge(tally);
        }
    }

    /// Each shard's counts, by shard id.
    pub fn by_shard(&self) -> Vec<(String, Tally)> {
        match self.0.lock() {
            Ok(all) => all.iter().map(|(s, t)| (s.clone(), t.clone())).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// One warning per shard where records could not be decoded: `shardId-…: 3 records could
    /// not be decoded and were passed through as stored: 2 corrupt gzip data, …`.
    pub fn warnings(&self) -> Vec<String> {
        self.by_shard()
            .into_iter()
            .filter_map(|(shard, tally)| Some(format!("{shard}: {}", tally.warning()?)))
            .collect()
    }

    /// `--debug`: what decoding did on each shard, control messages dropped included.
    pub fn log(&self) {
        for (shard, t) in self.by_shard() {
            tracing::debug!(
                %shard,
                records = t.records,
                plain = t.plain,
                decompressed = t.decompressed,
                envelopes = t.envelopes,
                log_events = t.log_events,
                control_messages_dropped = t.control_messages,
                failed = t.failed(),
                "decoding"
            );
        }
    }
}
