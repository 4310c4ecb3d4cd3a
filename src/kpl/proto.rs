//! The KPL aggregation protobuf messages, derived by hand from the KPL's `messages.proto` (proto2) so
//! that no `protoc` runs at build time. The aggregator encodes with them; `decode.rs` reads the same
//! wire format in place, and the unit tests hold it to what these messages decode.
//!
//! proto2 `required` fields are declared `optional` here on purpose: prost does not enforce
//! presence, and the KCL (through protobuf-java) rejects a message that lacks one, so the decoder
//! checks presence itself to pass such a record through unchanged like the KCL does.

use bytes::Bytes;

/// `message AggregatedRecord`: the body between the magic and the MD5 digest.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AggregatedRecord {
    #[prost(string, repeated, tag = "1")]
    pub partition_key_table: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub explicit_hash_key_table: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    pub records: Vec<Record>,
}

/// `message Tag`: carried by the format, unused by Kinesis consumers.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Tag {
    /// `required string key = 1`
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// `message Record`: one user record.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Record {
    /// `required uint64 partition_key_index = 1`
    #[prost(uint64, optional, tag = "1")]
    pub partition_key_index: Option<u64>,
    #[prost(uint64, optional, tag = "2")]
    pub explicit_hash_key_index: Option<u64>,
    /// `required bytes data = 3`; `Bytes` so that decoding from a `Bytes` buffer shares it.
    #[prost(bytes = "bytes", optional, tag = "3")]
    pub data: Option<Bytes>,
    #[prost(message, repeated, tag = "4")]
    pub tags: Vec<Tag>,
}

/// Field numbers of `AggregatedRecord`, for the aggregator's size accounting.
pub(crate) const PARTITION_KEY_TABLE: u32 = 1;
pub(crate) const EXPLICIT_HASH_KEY_TABLE: u32 = 2;
pub(crate) const RECORDS: u32 = 3;
