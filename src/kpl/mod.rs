//! The KPL aggregation format: records packed by the Kinesis Producer Library (and its Python, Java,
//! Node and Go ports) into one Kinesis record, and back.
//!
//! An aggregated record's data is `MAGIC ‖ protobuf AggregatedRecord ‖ MD5(protobuf)`. `deaggregate`
//! reads it the way the KCL's `AggregatorUtil` does, so ktail shows exactly the user records a KCL
//! consumer would see; `Aggregator` writes it the way the KPL does, so that tests (and `put`) can
//! produce what real producers produce. Both are pure functions over bytes: no I/O, no AWS types.

mod aggregate;
mod decode;
mod proto;

use bytes::Bytes;
use md5::{Digest, Md5};
use prost::Message;

use decode::Decoded;

pub use aggregate::{AggregatedRecord, Aggregator, MAX_RECORD_BYTES};

/// The four bytes that open every aggregated record.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

/// Length of the MD5 digest that closes every aggregated record.
pub const DIGEST_LEN: usize = 16;

/// One user record. `data` shares the buffer of the Kinesis record it came from (zero-copy via Bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub data: Bytes,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    /// Some(i) for the i-th record of an aggregate; None for a record passed through plain.
    pub sub_sequence: Option<u64>,
}

/// Cheap check: magic present and long enough (not a full validation).
///
/// "Long enough" is the KCL's rule: more than a digest's worth of bytes after the magic.
pub fn looks_aggregated(data: &[u8]) -> bool {
    data.len() > MAGIC.len() + DIGEST_LEN && data.starts_with(&MAGIC)
}

/// Splits one Kinesis record into its user records.
///
/// Never panics, never drops data: anything not a valid aggregate comes back as one plain record
/// (`sub_sequence: None`) with the Kinesis record's own data and keys. As in the KCL, a record is
/// plain when it is too short, lacks the magic, has 16 bytes or fewer after the magic, fails the MD5
/// check, fails to parse (including a missing proto2 `required` field or a non-UTF-8 key), or has a
/// key index outside its key tables. A valid aggregate of zero user records yields nothing, as the
/// KCL does: it carries no data to lose.
///
/// The user records' `data` are slices of `data`, not copies.
pub fn deaggregate(
    data: Bytes,
    partition_key: &str,
    explicit_hash_key: Option<&str>,
) -> Vec<UserRecord> {
    match unpack(&data) {
        Some(records) => records,
        None => vec![UserRecord {
            data,
            partition_key: partition_key.to_owned(),
            explicit_hash_key: explicit_hash_key.map(str::to_owned),
            sub_sequence: None,
        }],
    }
}

/// The user records of a valid aggregate, or None when `data` must pass through plain.
fn unpack(data: &Bytes) -> Option<Vec<UserRecord>> {
    if !looks_aggregated(data) {
        return None;
    }
    match decode::unpack(data) {
        Decoded::Records(records) => Some(records),
        Decoded::Plain => None,
        Decoded::Unresolved => unpack_with_prost(data),
    }
}

/// The plain reading of the format through prost's messages: slower, but it settles what the
/// in-place reader leaves open (keys stored after the records that use them).
fn unpack_with_prost(data: &Bytes) -> Option<Vec<UserRecord>> {
    let body_end = data.len().checked_sub(DIGEST_LEN)?;
    let body = data.get(MAGIC.len()..body_end)?;
    if Md5::digest(body).as_slice() != data.get(body_end..)? {
        return None;
    }
    let message = proto::AggregatedRecord::decode(data.slice(MAGIC.len()..body_end)).ok()?;
    let lookup = |table: &[String], i: u64| table.get(usize::try_from(i).ok()?).cloned();
    let mut out = Vec::with_capacity(message.records.len());
    for (index, record) in message.records.into_iter().enumerate() {
        let partition_key = lookup(&message.partition_key_table, record.partition_key_index?)?;
        let explicit_hash_key = match record.explicit_hash_key_index {
            Some(i) => Some(lookup(&message.explicit_hash_key_table, i)?),
            None => None,
        };
        if record.tags.iter().any(|tag| tag.key.is_none()) {
            return None;
        }
        out.push(UserRecord {
            data: record.data?,
            partition_key,
            explicit_hash_key,
            sub_sequence: Some(u64::try_from(index).ok()?),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests;
