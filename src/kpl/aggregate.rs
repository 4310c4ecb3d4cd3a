//! Packing user records into KPL aggregated records under a byte budget.
//!
//! The size of the pending aggregate is tracked exactly and incrementally (the protobuf encoding is
//! deterministic), so deciding whether the next record fits costs a few additions, not an encode.

use std::collections::HashMap;
use std::mem;

use bytes::Bytes;
use md5::{Digest, Md5};
use prost::Message;
use prost::encoding::{encoded_len_varint, key_len};

use super::proto::{self, EXPLICIT_HASH_KEY_TABLE, PARTITION_KEY_TABLE, RECORDS};
use super::{DIGEST_LEN, MAGIC};

/// Kinesis' limit for one record: data plus partition key (PutRecord/PutRecords), 1 MiB.
pub use crate::contract::MAX_RECORD_BYTES;

/// One Kinesis record ready to put: an aggregate of several user records, or one user record plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatedRecord {
    /// The Kinesis record's data (aggregate, or the plain record).
    pub data: Vec<u8>,
    /// The Kinesis record's partition key (first user record's, as the KPL).
    pub partition_key: String,
    /// The first user record's explicit hash key, as the Python and Java aggregators do.
    pub explicit_hash_key: Option<String>,
    /// How many user records `data` holds.
    pub user_records: usize,
}

/// Packs user records into aggregated records, de-duplicating partition and explicit hash keys.
///
/// Budget: with [`Aggregator::new`], an emitted record's data plus its partition key stay within
/// Kinesis' 1 MiB; with [`Aggregator::with_max_bytes`], its data stays within the given size. A
/// user record that does not fit even alone is still accepted: it is emitted by itself, plain and
/// unchanged, never split or dropped (Kinesis then rejects it if it is over the stream's limit).
///
/// As with the KPL, a record emitted plain whose data happens to be a valid aggregate (magic,
/// message and matching MD5) is read back as that aggregate's records.
///
/// Records are not grouped by shard as the KPL does: the aggregate goes to the shard of its first
/// user record's key, and each user record keeps its own keys when read back.
#[derive(Debug, Clone)]
pub struct Aggregator {
    max_bytes: usize,
    /// True for the Kinesis limit, which counts the outer partition key too.
    counts_partition_key: bool,
    partition_keys: KeyTable,
    explicit_hash_keys: KeyTable,
    records: Vec<proto::Record>,
    /// Encoded length of the pending `AggregatedRecord` message.
    body_len: usize,
}

impl Default for Aggregator {
    fn default() -> Self {
        Self::new()
    }
}

impl Aggregator {
    /// An aggregator for Kinesis' 1 MiB record limit, partition key included.
    pub fn new() -> Self {
        Self::with_budget(MAX_RECORD_BYTES, true)
    }

    /// An aggregator whose emitted records' data (magic, message and digest) stay within `max`
    /// bytes; the partition key is not counted.
    pub fn with_max_bytes(max: usize) -> Self {
        Self::with_budget(max, false)
    }

    fn with_budget(max_bytes: usize, counts_partition_key: bool) -> Self {
        Self {
            max_bytes,
            counts_partition_key,
            partition_keys: KeyTable::default(),
            explicit_hash_keys: KeyTable::default(),
            records: Vec::new(),
            body_len: 0,
        }
    }

    /// Adds a user record. Returns a finished record when the new one did not fit in the current
    /// aggregate (the new record then starts the next one).
    pub fn add(
        &mut self,
        data: &[u8],
        partition_key: &str,
        explicit_hash_key: Option<&str>,
    ) -> Option<AggregatedRecord> {
        let mut body_len = self.grown_body_len(data, partition_key, explicit_hash_key);
        let mut finished = None;
        if !self.is_empty() && !self.fits(body_len) {
            finished = self.flush();
            body_len = self.grown_body_len(data, partition_key, explicit_hash_key);
        }
        let partition_key_index = self.partition_keys.insert(partition_key);
        let explicit_hash_key_index =
            explicit_hash_key.map(|key| self.explicit_hash_keys.insert(key));
        self.records.push(proto::Record {
            partition_key_index: Some(partition_key_index),
            explicit_hash_key_index,
            data: Some(Bytes::copy_from_slice(data)),
            tags: Vec::new(),
        });
        self.body_len = body_len;
        finished
    }

    /// What is pending; one record → emitted plain.
    pub fn flush(&mut self) -> Option<AggregatedRecord> {
        let user_records = self.records.len();
        if user_records == 0 {
            return None;
        }
        let partition_key = self.partition_keys.first();
        let explicit_hash_key = self
            .records
            .first()
            .and_then(|record| record.explicit_hash_key_index)
            .and_then(|index| self.explicit_hash_keys.get(index));
        let message = proto::AggregatedRecord {
            partition_key_table: self.partition_keys.take(),
            explicit_hash_key_table: self.explicit_hash_keys.take(),
            records: mem::take(&mut self.records),
        };
        debug_assert_eq!(self.body_len, message.encoded_len());
        self.body_len = 0;
        let data = if user_records == 1 {
            message
                .records
                .into_iter()
                .next()
                .and_then(|record| record.data)
                .map(Vec::from)
                .unwrap_or_default()
        } else {
            let mut data = Vec::with_capacity(MAGIC.len() + message.encoded_len() + DIGEST_LEN);
            data.extend_from_slice(&MAGIC);
            message.encode_raw(&mut data);
            let digest = Md5::digest(&data[MAGIC.len()..]);
            data.extend_from_slice(&digest);
            data
        };
        Some(AggregatedRecord {
            data,
            partition_key,
            explicit_hash_key,
            user_records,
        })
    }

    /// User records pending.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Whether an aggregate whose message is `body_len` bytes stays within the budget.
    fn fits(&self, body_len: usize) -> bool {
        let outer_key = if self.counts_partition_key {
            self.partition_keys.first_len()
        } else {
            0
        };
        MAGIC.len() + body_len + DIGEST_LEN + outer_key <= self.max_bytes
    }

    /// The message length once this record is added (to the current aggregate).
    fn grown_body_len(
        &self,
        data: &[u8],
        partition_key: &str,
        explicit_hash_key: Option<&str>,
    ) -> usize {
        let mut len = self.body_len;
        let (partition_key_index, new) = self.partition_keys.position(partition_key);
        if new {
            len += string_field_len(PARTITION_KEY_TABLE, partition_key);
        }
        let mut record = key_len(1) + encoded_len_varint(partition_key_index);
        if let Some(key) = explicit_hash_key {
            let (index, new) = self.explicit_hash_keys.position(key);
            if new {
                len += string_field_len(EXPLICIT_HASH_KEY_TABLE, key);
            }
            record += key_len(2) + encoded_len_varint(index);
        }
        record += key_len(3) + encoded_len_varint(data.len() as u64) + data.len();
        len + key_len(RECORDS) + encoded_len_varint(record as u64) + record
    }
}

fn string_field_len(tag: u32, value: &str) -> usize {
    key_len(tag) + encoded_len_varint(value.len() as u64) + value.len()
}

/// A key table of the message and the index of each key in it.
#[derive(Debug, Clone, Default)]
struct KeyTable {
    keys: Vec<String>,
    index: HashMap<String, u64>,
}

impl KeyTable {
    /// The index `key` has or would get, and whether it would be new.
    fn position(&self, key: &str) -> (u64, bool) {
        match self.index.get(key) {
            Some(&index) => (index, false),
            None => (self.keys.len() as u64, true),
        }
    }

    fn insert(&mut self, key: &str) -> u64 {
        let (index, new) = self.position(key);
        if new {
            self.keys.push(key.to_owned());
            self.index.insert(key.to_owned(), index);
        }
        index
    }

    fn get(&self, index: u64) -> Option<String> {
        self.keys.get(usize::try_from(index).ok()?).cloned()
    }

    fn first(&self) -> String {
        self.keys.first().cloned().unwrap_or_default()
    }

    fn first_len(&self) -> usize {
        self.keys.first().map_or(0, String::len)
    }

    fn take(&mut self) -> Vec<String> {
        self.index.clear();
        mem::take(&mut self.keys)
    }
}
