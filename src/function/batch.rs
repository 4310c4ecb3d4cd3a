//! The pure core of an invocation: from the event's records to the Kinesis records to put.
//!
//! Every source record is de-aggregated (a record that is not KPL stays one user record), each user
//! record goes through the matcher, and the matches are KPL-aggregated again, one aggregator per
//! source shard whose shard id is the partition key: matches from one shard land, in order, in one
//! output shard. Each output record remembers the first source record it carries, so a record that
//! could not be put maps back to the source record Lambda must re-deliver from.

use std::ops::Range;

use crate::contract::MAX_RECORD_BYTES;
use crate::filter::Matcher;
use crate::kpl::{self, Aggregator};
use crate::put_records;
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use bytes::Bytes;
use md5::{Digest, Md5};

/// The source record an output record comes from, as Lambda names it in a batch item failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub shard_id: String,
    pub sequence_number: String,
}

/// One Kinesis record to put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub data: Vec<u8>,
    pub partition_key: String,
    /// Set only on a record too big to carry the shard id as its key (see [`Entry::new`]).
    pub explicit_hash_key: Option<String>,
    /// Index into [`Plan::sources`] of the first source record whose matches this record carries.
    pub first_source: usize,
    /// How many matched user records it carries.
    pub user_records: usize,
}

impl Entry {
    /// A record of `shard_id`'s matches. One plain match so big (a source record within a few
    /// bytes of 1 MiB) that data and the shard id exceed Kinesis' limit gets a one-byte key and,
    /// as explicit hash key, the hash Kinesis would give the shard id: it still fits, and still
    /// goes to the same output shard, in order, instead of being rejected on every delivery.
    pub fn new(data: Vec<u8>, shard_id: &str, first_source: usize, user_records: usize) -> Self {
        let (partition_key, explicit_hash_key) = if data.len() + shard_id.len() > MAX_RECORD_BYTES {
            let digest = Md5::digest(shard_id.as_bytes());
            let hash = u128::from_be_bytes(digest.into());
            ("-".to_owned(), Some(hash.to_string()))
        } else {
            (shard_id.to_owned(), None)
        };
        Entry {
            data,
            partition_key,
            explicit_hash_key,
            first_source,
            user_records,
        }
    }

    /// What the record counts against PutRecords' byte limit.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

/// What an invocation has to do.
#[derive(Debug, Default)]
pub struct Plan {
    pub sources: Vec<Source>,
    pub entries: Vec<Entry>,
    pub user_records: usize,
    pub matched: usize,
}

impl Plan {
    pub fn records_in(&self) -> usize {
        self.sources.len()
    }

    /// The entries split into PutRecords calls, in order, each within the API's limits.
    pub fn calls(&self) -> Vec<Range<usize>> {
        put_records::calls(&self.entries)
    }
}

/// One aggregator per source shard; few shards per invocation (Lambda sends one), so a Vec will do.
struct ShardAggregator {
    shard_id: String,
    aggregator: Aggregator,
    /// First source record of what the aggregator currently holds.
    first_source: Option<usize>,
}

/// Turns the event's records into the records to put. Takes the records by value so their data
/// moves into the de-aggregator instead of being copied.
pub fn plan(records: Vec<KinesisEventRecord>, matcher: &Matcher) -> Plan {
    let mut plan = Plan {
        sources: Vec::with_capacity(records.len()),
        ..Plan::default()
    };
    let mut shards: Vec<ShardAggregator> = Vec::new();
    for (index, mut record) in records.into_iter().enumerate() {
        let shard_id = shard_id(&record).to_owned();
        let data = Bytes::from(std::mem::take(&mut record.kinesis.data.0));
        let users = kpl::deaggregate(data, &record.kinesis.partition_key, None);
        plan.user_records += users.len();
        let slot = match shards.iter().position(|s| s.shard_id == shard_id) {
            Some(slot) => slot,
            None => {
                shards.push(ShardAggregator {
                    shard_id: shard_id.clone(),
                    aggregator: Aggregator::new(),
                    first_source: None,
                });
                shards.len() - 1
            }
        };
        let shard = &mut shards[slot];
        for user in users {
            if !matcher.is_match(&user.data) {
                continue;
            }
            plan.matched += 1;
            if let Some(full) = shard.aggregator.add(&user.data, &shard.shard_id, None) {
                plan.entries.push(Entry::new(
                    full.data,
                    &shard.shard_id,
                    shard.first_source.unwrap_or(index),
                    full.user_records,
                ));
                // The record just added is what the aggregator holds now.
                shard.first_source = Some(index);
            }
            shard.first_source.get_or_insert(index);
        }
        plan.sources.push(Source {
            shard_id,
            sequence_number: std::mem::take(&mut record.kinesis.sequence_number),
        });
    }
    for mut shard in shards {
        if let Some(last) = shard.aggregator.flush() {
            plan.entries.push(Entry::new(
                last.data,
                &shard.shard_id,
                shard.first_source.unwrap_or(0),
                last.user_records,
            ));
        }
    }
    plan
}

/// The source shard of a record: Lambda's `eventID` is `shardId-…:sequence`. Records without one
/// (never seen from Lambda) share a key, which keeps them in order.
fn shard_id(record: &KinesisEventRecord) -> &str {
    record
        .event_id
        .as_deref()
        .and_then(|id| id.split_once(':').map(|(shard, _)| shard))
        .filter(|shard| !shard.is_empty())
        .unwrap_or("shardId-unknown")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::filter::MatchOptions;
    use base64_event::event;

    /// Builds event records the way Lambda serialises them.
    pub(crate) mod base64_event {
        use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};

        fn b64(data: &[u8]) -> String {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(data)
        }

        /// `(shard, sequence number, data)` to event records.
        pub fn event(records: &[(&str, &str, &[u8])]) -> Vec<KinesisEventRecord> {
            let records: Vec<serde_json::Value> = records
                .iter()
                .map(|(shard, seq, data)| {
                    serde_json::json!({
                        "eventID": format!("{shard}:{seq}"),
                        "eventSource": "aws:kinesis",
                        "kinesis": {
                            "approximateArrivalTimestamp": 1700000000.0,
                            "data": b64(data),
                            "partitionKey": "pk",
                            "sequenceNumber": seq,
                            "kinesisSchemaVersion": "1.0",
                        }
                    })
                })
                .collect();
            let event: KinesisEvent =
                serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
            event.records
        }
    }

    fn matcher(pattern: &str) -> Matcher {
        Matcher::new(&[pattern], MatchOptions::default()).unwrap()
    }

    fn users(entry: &Entry) -> Vec<Vec<u8>> {
        kpl::deaggregate(Bytes::from(entry.data.clone()), &entry.partition_key, None)
            .into_iter()
            .map(|u| u.data.to_vec())
            .collect()
    }

    #[test]
    fn matches_are_aggregated_under_the_shard_id() {
        let plan = plan(
            event(&[
                ("shardId-000000000001", "1", b"a error"),
                ("shardId-000000000001", "2", b"fine"),
                ("shardId-000000000001", "3", b"b error"),
            ]),
            &matcher("error"),
        );
        assert_eq!(
            (plan.records_in(), plan.user_records, plan.matched),
            (3, 3, 2)
        );
        assert_eq!(plan.entries.len(), 1);
        let entry = &plan.entries[0];
        assert_eq!(entry.partition_key, "shardId-000000000001");
        assert_eq!((entry.first_source, entry.user_records), (0, 2));
        assert_eq!(users(entry), vec![b"a error".to_vec(), b"b error".to_vec()]);
    }

    #[test]
    fn aggregated_input_is_matched_per_user_record() {
        let mut agg = Aggregator::new();
        for data in [&b"x error 1"[..], b"ok", b"x error 2"] {
            assert!(agg.add(data, "p", None).is_none());
        }
        let aggregated = agg.flush().unwrap().data;
        let plan = plan(
            event(&[
                ("shardId-0", "1", &aggregated),
                ("shardId-0", "2", b"error 3"),
            ]),
            &matcher("error"),
        );
        assert_eq!(
            (plan.records_in(), plan.user_records, plan.matched),
            (2, 4, 3)
        );
        let got: Vec<_> = plan.entries.iter().flat_map(users).collect();
        assert_eq!(
            got,
            vec![
                b"x error 1".to_vec(),
                b"x error 2".to_vec(),
                b"error 3".to_vec()
            ]
        );
    }

    #[test]
    fn no_match_no_entries() {
        let plan = plan(event(&[("shardId-0", "1", b"fine")]), &matcher("error"));
        assert!(plan.entries.is_empty());
        assert!(plan.calls().is_empty());
        assert_eq!(plan.sources[0].sequence_number, "1");
    }

    #[test]
    fn shards_keep_separate_keys_and_order() {
        let plan = plan(
            event(&[
                ("shardId-a", "1", b"a1"),
                ("shardId-b", "1", b"b1"),
                ("shardId-a", "2", b"a2"),
            ]),
            &matcher(""),
        );
        let keys: Vec<_> = plan
            .entries
            .iter()
            .map(|e| e.partition_key.as_str())
            .collect();
        assert_eq!(keys, vec!["shardId-a", "shardId-b"]);
        assert_eq!(
            users(&plan.entries[0]),
            vec![b"a1".to_vec(), b"a2".to_vec()]
        );
        assert_eq!(plan.entries[1].first_source, 1);
    }

    #[test]
    fn full_aggregates_remember_their_first_source() {
        let big = vec![b'e'; 400 * 1024];
        let records: Vec<(&str, &str, &[u8])> = ["1", "2", "3", "4", "5"]
            .iter()
            .map(|s| ("shardId-0", *s, big.as_slice()))
            .collect();
        let plan = plan(event(&records), &matcher("e"));
        // Two 400 KiB records fit under 1 MiB, a third does not.
        let firsts: Vec<_> = plan
            .entries
            .iter()
            .map(|e| (e.first_source, e.user_records))
            .collect();
        assert_eq!(firsts, vec![(0, 2), (2, 2), (4, 1)]);
        assert!(plan.entries.iter().all(|e| e.size() <= 1024 * 1024));
    }

    #[test]
    fn calls_respect_count_and_byte_limits() {
        let entry = |size: usize| Entry::new(vec![0; size], "k", 0, 1);
        let small: Vec<Entry> = (0..1001).map(|_| entry(10)).collect();
        let calls = put_records::calls::<Entry>;
        assert_eq!(calls(&small), vec![0..500, 500..1000, 1000..1001]);
        let big: Vec<Entry> = (0..6).map(|_| entry(1024 * 1024 - 1)).collect();
        assert_eq!(calls(&big), vec![0..5, 5..6]);
        assert!(calls(&[]).is_empty());
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;
    use crate::filter::MatchOptions;

    #[test]
    fn a_record_too_big_for_the_shard_id_keeps_its_shard_through_the_hash_key() {
        let shard = "shardId-000000000000";
        let small = Entry::new(b"x".to_vec(), shard, 0, 1);
        assert_eq!(
            (
                small.partition_key.as_str(),
                small.explicit_hash_key.as_deref()
            ),
            (shard, None)
        );
        // A source record of 1 MiB minus its one-byte partition key.
        let big = vec![b'e'; MAX_RECORD_BYTES - 1];
        let records = tests::base64_event::event(&[(shard, "1", &big)]);
        let plan = plan(
            records,
            &Matcher::new(&["e"], MatchOptions::default()).unwrap(),
        );
        let entry = &plan.entries[0];
        assert!(entry.size() <= MAX_RECORD_BYTES);
        assert_eq!(entry.data, big);
        // MD5("shardId-000000000000") as a 128-bit big-endian integer: Kinesis' hash of the key.
        let expected = u128::from_str_radix("affe12c3d58e5c8df288b495fef25faa", 16).unwrap();
        assert_eq!(entry.explicit_hash_key, Some(expected.to_string()));
    }
}
