//! The pure core of an invocation: from the event's records to the Kinesis records to put.
//!
//! Every source record is de-aggregated (a record that is not KPL stays one user record), each user
//! record is decoded as `ktail tail` decodes it ([`crate::decode`]: gzip, zlib, zstd, CloudWatch
//! Logs envelopes, and a compressed KPL aggregate's records one by one, through
//! [`Decoder::decode_each`]) and its lines go through the matcher (see [`select`] for what a match
//! forwards), and the matches are KPL-aggregated again, one aggregator per
//! source shard whose shard id is the partition key: matches from one shard land, in order, in one
//! output shard. Each output record remembers the first source record it carries, so a record that
//! could not be put maps back to the source record Lambda must re-deliver from.

use std::borrow::Cow;
use std::ops::Range;

use crate::contract::MAX_RECORD_BYTES;
use crate::decode::{self, Decoded, Decoder, LogsEnvelope, Tally};
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
    /// Lines that matched: user records, or log events of CloudWatch Logs envelopes.
    pub matched: usize,
    /// What decoding did (the invocation's log line reports failures as `tail` warns of them).
    pub decoding: Tally,
}

impl Plan {
    pub fn records_in(&self) -> usize {
        self.sources.len()
    }

    /// The entries split into PutRecords calls, in order, each within the API's limits and with
    /// at most one entry of each source shard: a shard's matches go to one output shard, and an
    /// entry that fails in the middle of a call would otherwise land after the ones behind it.
    pub fn calls(&self) -> Vec<Range<usize>> {
        put_records::calls_in_order(&self.entries, |entry| {
            self.sources
                .get(entry.first_source)
                .map(|source| source.shard_id.as_str())
        })
    }
}

/// One aggregator per source shard; few shards per invocation (Lambda sends one), so a Vec will do.
struct ShardAggregator {
    shard_id: String,
    aggregator: Aggregator,
    /// First source record of what the aggregator currently holds.
    first_source: Option<usize>,
}

/// [`plan_decoded`] with `--decode auto` and the default size cap.
pub fn plan(records: Vec<KinesisEventRecord>, matcher: &Matcher) -> Plan {
    plan_decoded(records, matcher, decode::Options::default())
}

/// What one decoded user record forwards to the filtered stream, and how many lines matched.
///
/// The filtered stream carries what `ktail tail` decodes back to the matching lines, with the
/// same `--decode` mode:
/// - a record whose one line matched (plain, decompressed, or failed to decode) goes as stored,
///   so the tail side decodes (or fails to decode) it exactly as a tail of the source would;
/// - a CloudWatch Logs `DATA_MESSAGE` is matched per log event. All matched: it goes as stored.
///   Some matched: a copy of the envelope (same owner, group, stream and filters, same field
///   names, messages byte for byte even when not UTF-8) with only those events, compressed again with the codec it came in, so it is still
///   an envelope to the mode that read the original (and `-o json` still shows `log_group`).
///   None matched: nothing;
/// - a `CONTROL_MESSAGE` (a health check) is dropped.
pub fn select<'a>(
    decoded: &Decoded<'_>,
    stored: &'a [u8],
    matcher: &Matcher,
) -> (usize, Option<Cow<'a, [u8]>>) {
    match decoded {
        Decoded::Control { .. } => (0, None),
        Decoded::Logs {
            codec, envelope, ..
        } => {
            let keep: Vec<_> = envelope
                .log_events
                .iter()
                .filter(|e| matcher.is_match(&e.message))
                .cloned()
                .collect();
            let n = keep.len();
            if n == 0 {
                return (0, None);
            }
            if n == envelope.log_events.len() {
                return (n, Some(Cow::Borrowed(stored)));
            }
            let cut = LogsEnvelope {
                log_events: keep,
                ..envelope.clone()
            };
            // Compressing into a Vec does not fail; should it, the whole record goes as stored:
            // more than matched, never less.
            match decode::compress(*codec, &cut.to_json_exact()) {
                Ok(data) => (n, Some(Cow::Owned(data))),
                Err(_) => (n, Some(Cow::Borrowed(stored))),
            }
        }
        _ => {
            let line = decoded.items().next().map(|i| i.line).unwrap_or_default();
            if matcher.is_match(line) {
                (1, Some(Cow::Borrowed(stored)))
            } else {
                (0, None)
            }
        }
    }
}

/// Turns the event's records into the records to put, decoding each user record as `decode`
/// says. Takes the records by value so their data moves into the de-aggregator instead of being
/// copied.
pub fn plan_decoded(
    records: Vec<KinesisEventRecord>,
    matcher: &Matcher,
    decode: decode::Options,
) -> Plan {
    let mut decoder = Decoder::new(decode);
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
            // Decoded as `tail` decodes it: a compressed aggregate's records one by one.
            decoder.decode_each(&user.data, &mut plan.decoding, |stored, decoded| {
                let (matched, forward) = select(decoded, stored, matcher);
                let Some(forward) = forward else {
                    return;
                };
                plan.matched += matched;
                if let Some(full) = shard.aggregator.add(&forward, &shard.shard_id, None) {
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
            });
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

    #[test]
    fn a_call_carries_one_entry_per_source_shard() {
        let source = |shard: &str| Source {
            shard_id: shard.to_owned(),
            sequence_number: "1".to_owned(),
        };
        let plan = Plan {
            sources: vec![source("shard-a"), source("shard-a"), source("shard-b")],
            // a, a, b, a: the second and fourth wait for the a before them.
            entries: [0, 1, 2, 1]
                .iter()
                .map(|&first| Entry::new(vec![0; 10], "k", first, 1))
                .collect(),
            ..Plan::default()
        };
        assert_eq!(plan.calls(), vec![0..1, 1..3, 3..4]);
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

#[cfg(test)]
mod decode_tests {
    use super::tests::base64_event::event;
    use super::*;
    use crate::filter::MatchOptions;

    fn fixture(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/decode/");
        std::fs::read(format!("{path}{name}")).unwrap()
    }

    /// The lines `tail` would print for what the plan forwards: de-aggregated, then decoded.
    fn tail_lines(plan: &Plan, options: decode::Options) -> Vec<(Vec<u8>, Option<String>)> {
        let mut decoder = Decoder::new(options);
        let mut out = Vec::new();
        for entry in &plan.entries {
            for user in kpl::deaggregate(Bytes::from(entry.data.clone()), "k", None) {
                decoder.decode_each(&user.data, &mut Tally::new(), |_, decoded| {
                    for item in decoded.items() {
                        let group = item.log.map(|l| l.log_group().to_owned());
                        out.push((item.line.to_vec(), group));
                    }
                });
            }
        }
        out
    }

    #[test]
    fn a_compressed_aggregate_is_matched_per_record_inside() {
        let mut agg = Aggregator::new();
        let users = [
            b"inner GetRecords line".to_vec(),
            b"inner other line".to_vec(),
            fixture("text.gz"),
            fixture("cwl_data.gz"),
        ];
        for user in &users {
            assert!(agg.add(user, "pk", None).is_none());
        }
        let aggregate = agg.flush().unwrap().data;
        let matcher = Matcher::new(&["GetRecords|order placed"], MatchOptions::default()).unwrap();
        for codec in [
            decode::Codec::Gzip,
            decode::Codec::Zlib,
            decode::Codec::Zstd,
        ] {
            let compressed = decode::compress(codec, &aggregate).unwrap();
            let plan = plan_decoded(
                event(&[("shardId-0", "1", &compressed), ("shardId-0", "2", b"x")]),
                &matcher,
                decode::Options::default(),
            );
            // The aggregate and its 4 records were decoded, and x; 2 lines and 1 of 3 events
            // matched.
            assert_eq!(plan.decoding.records, 6, "{codec}");
            assert_eq!(plan.matched, 3, "{codec}");
            let lines = tail_lines(&plan, decode::Options::default());
            let texts: Vec<String> = lines
                .iter()
                .map(|(l, _)| String::from_utf8_lossy(l).into_owned())
                .collect();
            assert_eq!(texts.len(), 3, "{codec}: {texts:?}");
            assert_eq!(texts[0], "inner GetRecords line");
            assert!(texts[1].contains("order placed"), "{texts:?}");
            assert!(texts[2].contains("\"GetRecords\""), "{texts:?}");
            assert_eq!(lines[2].1.as_deref(), Some("CloudTrail/logs"));
            // Forwarded as the records inside, not as the compressed aggregate.
            let forwarded: Vec<Vec<u8>> = plan
                .entries
                .iter()
                .flat_map(|e| kpl::deaggregate(Bytes::from(e.data.clone()), "k", None))
                .map(|u| u.data.to_vec())
                .collect();
            assert_eq!(forwarded.len(), 3);
            assert_eq!((&forwarded[0], &forwarded[1]), (&users[0], &users[2]));
        }
    }

    #[test]
    fn envelopes_are_matched_per_event_and_cut_down() {
        let data = fixture("cwl_data.gz");
        let control = fixture("cwl_control.gz");
        let corrupt = fixture("corrupt_crc.gz");
        let text = fixture("text.zst");
        let records = event(&[
            ("shardId-0", "1", &data),
            ("shardId-0", "2", &control),
            ("shardId-0", "3", &corrupt),
            ("shardId-0", "4", &text),
            ("shardId-0", "5", b"plain GetRecords line"),
        ]);
        // The envelope's second event (PutRecords) does not match; the zstd line does not either.
        let matcher =
            Matcher::new(&["GetRecords|plain text|\\x1f"], MatchOptions::default()).unwrap();
        let plan = plan_decoded(records, &matcher, decode::Options::default());
        assert_eq!(plan.decoding.control_messages, 1);
        assert_eq!(plan.decoding.failed(), 1);
        let lines = tail_lines(&plan, decode::Options::default());
        let texts: Vec<String> = lines
            .iter()
            .map(|(l, _)| String::from_utf8_lossy(l).into_owned())
            .collect();
        assert_eq!(lines.len(), 4, "{texts:?}");
        assert!(texts[0].contains("\"GetRecords\""), "{texts:?}");
        assert!(texts[1].starts_with("plain text line"), "{texts:?}");
        assert_eq!(lines[0].1.as_deref(), Some("CloudTrail/logs"));
        assert_eq!(lines[1].1.as_deref(), Some("CloudTrail/logs"));
        // The corrupt record goes as stored (its gzip magic matched \x1f) and the plain line.
        assert_eq!(lines[2].0, corrupt);
        assert_eq!(lines[3].0, b"plain GetRecords line");
        assert_eq!(plan.matched, 4);
        // A cut-down envelope is gzip again, smaller than the original.
        let first = kpl::deaggregate(Bytes::from(plan.entries[0].data.clone()), "k", None);
        assert_eq!(decode::detect(&first[0].data), Some(decode::Codec::Gzip));
    }

    #[test]
    fn an_envelope_that_matches_whole_goes_as_stored() {
        let data = fixture("cwl_data.zlib");
        let plan = plan_decoded(
            event(&[("shardId-0", "1", &data)]),
            &Matcher::new(&["."], MatchOptions::default()).unwrap(),
            decode::Options::default(),
        );
        let users = kpl::deaggregate(Bytes::from(plan.entries[0].data.clone()), "k", None);
        assert_eq!(users[0].data, data);
        assert_eq!(plan.matched, 3);
    }

    #[test]
    fn decode_none_matches_the_stored_bytes() {
        let data = fixture("cwl_data.gz");
        let matcher = Matcher::new(&["GetRecords"], MatchOptions::default()).unwrap();
        let plan = plan_decoded(
            event(&[("shardId-0", "1", &data)]),
            &matcher,
            decode::Options::new(decode::Decode::None),
        );
        assert!(plan.entries.is_empty());
    }
}
