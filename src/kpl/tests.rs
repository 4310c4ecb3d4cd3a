//! Unit tests of the codec: the pass-through rules, zero-copy, the budget and key de-duplication.

use bytes::Bytes;
use md5::{Digest, Md5};
use prost::Message;

use super::proto;
use super::*;

/// Frames a message as an aggregated record: magic, body, MD5 of the body.
fn frame(body: &[u8]) -> Bytes {
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(body);
    data.extend_from_slice(&Md5::digest(body));
    Bytes::from(data)
}

fn record(pk: u64, ehk: Option<u64>, data: &'static [u8]) -> proto::Record {
    proto::Record {
        partition_key_index: Some(pk),
        explicit_hash_key_index: ehk,
        data: Some(Bytes::from_static(data)),
        tags: Vec::new(),
    }
}

fn message(records: Vec<proto::Record>) -> proto::AggregatedRecord {
    proto::AggregatedRecord {
        partition_key_table: vec!["a".into(), "b".into()],
        explicit_hash_key_table: vec!["42".into()],
        records,
    }
}

fn assert_plain(data: Bytes) {
    let out = deaggregate(data.clone(), "outer", Some("7"));
    assert_eq!(
        out,
        vec![UserRecord {
            data,
            partition_key: "outer".into(),
            explicit_hash_key: Some("7".into()),
            sub_sequence: None,
        }]
    );
}

#[test]
fn valid_aggregate_yields_user_records_with_their_own_keys() {
    let data = frame(
        &message(vec![
            record(0, None, b"one"),
            record(1, Some(0), b"two"),
            record(0, None, b""),
        ])
        .encode_to_vec(),
    );
    let out = deaggregate(data, "outer", None);
    let got: Vec<_> = out
        .iter()
        .map(|r| {
            (
                &r.data[..],
                r.partition_key.as_str(),
                r.explicit_hash_key.as_deref(),
                r.sub_sequence,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (&b"one"[..], "a", None, Some(0)),
            (&b"two"[..], "b", Some("42"), Some(1)),
            (&b""[..], "a", None, Some(2)),
        ]
    );
}

#[test]
fn user_record_data_shares_the_input_buffer() {
    let data = frame(&message(vec![record(0, None, b"shared bytes")]).encode_to_vec());
    let range = data.as_ptr_range();
    let out = deaggregate(data.clone(), "outer", None);
    assert!(range.contains(&out[0].data.as_ptr()));
}

#[test]
fn plain_data_passes_through_unchanged() {
    assert_plain(Bytes::new());
    assert_plain(Bytes::from_static(b"{\"level\":\"info\"}"));
    assert_plain(Bytes::from_static(&[0xF3, 0x89, 0x9A]));
    assert_plain(Bytes::from_static(&MAGIC));
}

#[test]
fn sixteen_bytes_after_the_magic_is_plain() {
    // An empty message frames to exactly magic + digest: too short for the KCL.
    let data = frame(&[]);
    assert_eq!(data.len(), MAGIC.len() + DIGEST_LEN);
    assert!(!looks_aggregated(&data));
    assert_plain(data);
}

#[test]
fn digest_mismatch_is_plain() {
    let mut data = frame(&message(vec![record(0, None, b"x")]).encode_to_vec()).to_vec();
    let last = data.len() - 1;
    data[last] ^= 1;
    assert_plain(Bytes::from(data));
}

#[test]
fn unparsable_body_with_a_good_digest_is_plain() {
    assert_plain(frame(&[0xFF; 40]));
    // A length prefix running past the end of the body.
    assert_plain(frame(&[0x1A, 0x7F, 0x01, 0x02]));
}

#[test]
fn missing_required_fields_are_plain() {
    let mut no_data = record(0, None, b"x");
    no_data.data = None;
    assert_plain(frame(&message(vec![no_data]).encode_to_vec()));

    let mut no_key = record(0, None, b"x");
    no_key.partition_key_index = None;
    assert_plain(frame(&message(vec![no_key]).encode_to_vec()));

    let mut untagged = record(0, None, b"x");
    untagged.tags.push(proto::Tag {
        key: None,
        value: Some("v".into()),
    });
    assert_plain(frame(&message(vec![untagged]).encode_to_vec()));
}

#[test]
fn tags_with_keys_are_accepted_and_ignored() {
    let mut tagged = record(0, None, b"x");
    tagged.tags.push(proto::Tag {
        key: Some("k".into()),
        value: None,
    });
    let out = deaggregate(frame(&message(vec![tagged]).encode_to_vec()), "outer", None);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].sub_sequence, Some(0));
}

#[test]
fn key_index_outside_the_tables_passes_the_whole_record_through() {
    let body = message(vec![record(0, None, b"ok"), record(2, None, b"bad")]).encode_to_vec();
    assert_plain(frame(&body));
    let body = message(vec![record(0, Some(1), b"bad")]).encode_to_vec();
    assert_plain(frame(&body));
    let body = message(vec![record(u64::MAX, None, b"bad")]).encode_to_vec();
    assert_plain(frame(&body));
}

#[test]
fn non_utf8_partition_key_is_plain() {
    // Field 1 (partition_key_table), length 1, byte 0xFF; then one record pointing at it.
    let mut body = vec![0x0A, 0x01, 0xFF];
    body.extend(
        proto::AggregatedRecord {
            partition_key_table: vec![],
            explicit_hash_key_table: vec![],
            records: vec![record(0, None, b"x")],
        }
        .encode_to_vec(),
    );
    assert_plain(frame(&body));
}

#[test]
fn aggregate_of_no_records_yields_nothing() {
    let body = proto::AggregatedRecord {
        partition_key_table: vec!["some key".into()],
        explicit_hash_key_table: vec![],
        records: vec![],
    }
    .encode_to_vec();
    assert!(deaggregate(frame(&body), "outer", None).is_empty());
}

fn aggregate_all(
    agg: &mut Aggregator,
    records: &[(Vec<u8>, String, Option<String>)],
) -> Vec<AggregatedRecord> {
    let mut out: Vec<_> = records
        .iter()
        .filter_map(|(data, pk, ehk)| agg.add(data, pk, ehk.as_deref()))
        .collect();
    out.extend(agg.flush());
    assert!(agg.is_empty());
    out
}

fn read_back(records: &[AggregatedRecord]) -> Vec<(Vec<u8>, String, Option<String>)> {
    records
        .iter()
        .flat_map(|r| {
            deaggregate(
                Bytes::from(r.data.clone()),
                &r.partition_key,
                r.explicit_hash_key.as_deref(),
            )
        })
        .map(|u| (u.data.to_vec(), u.partition_key, u.explicit_hash_key))
        .collect()
}

#[test]
fn aggregator_round_trips_and_dedupes_keys() {
    let input: Vec<_> = (0..100)
        .map(|i| {
            (
                format!("line {i}").into_bytes(),
                format!("pk{}", i % 3),
                (i % 2 == 0).then(|| format!("{}", i % 4)),
            )
        })
        .collect();
    let mut agg = Aggregator::new();
    let out = aggregate_all(&mut agg, &input);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].user_records, 100);
    assert_eq!(out[0].partition_key, "pk0");
    assert_eq!(out[0].explicit_hash_key.as_deref(), Some("0"));
    assert_eq!(read_back(&out), input);

    let body = &out[0].data[MAGIC.len()..out[0].data.len() - DIGEST_LEN];
    let message = proto::AggregatedRecord::decode(body).unwrap();
    assert_eq!(message.partition_key_table, ["pk0", "pk1", "pk2"]);
    assert_eq!(message.explicit_hash_key_table, ["0", "2"]);
}

#[test]
fn one_pending_record_is_emitted_plain() {
    let mut agg = Aggregator::new();
    assert_eq!(agg.add(b"hello", "k", Some("5")), None);
    assert_eq!(agg.len(), 1);
    assert_eq!(
        agg.flush(),
        Some(AggregatedRecord {
            data: b"hello".to_vec(),
            partition_key: "k".into(),
            explicit_hash_key: Some("5".into()),
            user_records: 1,
        })
    );
    assert_eq!(agg.flush(), None);
}

#[test]
fn budget_is_exact() {
    // Two records of 10 bytes, key "k": message = table (1+1+1) + 2 * (1+1 + 2 + 2+10) = 35,
    // framed: 4 + 35 + 16 = 55 bytes.
    let mut agg = Aggregator::with_max_bytes(55);
    assert_eq!(agg.add(&[1; 10], "k", None), None);
    assert_eq!(agg.add(&[2; 10], "k", None), None);
    let out = agg.flush().unwrap();
    assert_eq!((out.data.len(), out.user_records), (55, 2));

    let mut agg = Aggregator::with_max_bytes(54);
    assert_eq!(agg.add(&[1; 10], "k", None), None);
    let first = agg.add(&[2; 10], "k", None).unwrap();
    assert_eq!((first.data, first.user_records), (vec![1; 10], 1));
    assert_eq!(agg.len(), 1);
}

#[test]
fn default_budget_counts_the_outer_partition_key() {
    let key = "k".repeat(256);
    // message = key table (1 + 2 + 256) + per record: 1 + varint(r) + r, r = 1+1 + 1+varint(len)+len.
    let framing = MAGIC.len() + DIGEST_LEN + key.len() + (1 + 2 + 256);
    let varint = |n: usize| prost::encoding::encoded_len_varint(n as u64);
    let inner = |data: usize| 2 + 1 + varint(data) + data;
    let record_len = |data: usize| 1 + varint(inner(data)) + inner(data);
    let first = 1000;
    // Both records together fill the budget exactly (the second's varints are 3 bytes long).
    let second = MAX_RECORD_BYTES - framing - record_len(first) - record_len(0) - 4;
    assert_eq!(
        framing + record_len(first) + record_len(second),
        MAX_RECORD_BYTES
    );
    let mut agg = Aggregator::new();
    agg.add(&vec![0; first], &key, None);
    let got = agg.add(&vec![0; second], &key, None);
    let out = got.into_iter().chain(agg.flush()).collect::<Vec<_>>();
    assert_eq!(out.len(), 1, "fits exactly");
    assert_eq!(out[0].data.len() + key.len(), MAX_RECORD_BYTES);

    let mut agg = Aggregator::new();
    agg.add(&vec![0; first], &key, None);
    assert!(agg.add(&vec![0; second + 1], &key, None).is_some());
}

#[test]
fn record_bigger_than_the_budget_is_emitted_alone_and_plain() {
    let mut agg = Aggregator::with_max_bytes(100);
    assert_eq!(agg.add(b"small", "a", None), None);
    let big = vec![7u8; 500];
    let first = agg.add(&big, "b", None).unwrap();
    assert_eq!(first.data, b"small");
    let second = agg.add(b"after", "c", None).unwrap();
    assert_eq!((second.data, second.user_records), (big, 1));
    assert_eq!(agg.flush().unwrap().data, b"after");
}

#[test]
fn many_records_are_split_under_the_budget_and_read_back_in_order() {
    let input: Vec<_> = (0..2000)
        .map(|i| {
            (
                vec![(i % 251) as u8; i % 97],
                format!("key-{}", i % 17),
                None,
            )
        })
        .collect();
    let mut agg = Aggregator::with_max_bytes(4096);
    let out = aggregate_all(&mut agg, &input);
    assert!(out.len() > 10);
    assert!(out.iter().all(|r| r.data.len() <= 4096));
    assert_eq!(
        out.iter().map(|r| r.user_records).sum::<usize>(),
        input.len()
    );
    assert_eq!(read_back(&out), input);
}

/// The reference reading, straight through prost's messages.
fn reference_unpack(data: &Bytes) -> Option<Vec<UserRecord>> {
    if !looks_aggregated(data) {
        return None;
    }
    super::unpack_with_prost(data)
}

fn assert_same_as_reference(data: Bytes) {
    assert_eq!(
        super::unpack(&data),
        reference_unpack(&data),
        "{:02x?}",
        &data[..]
    );
}

/// A protobuf field of any wire type, for building odd but well-framed messages.
#[derive(Debug, Clone)]
enum Field {
    Varint(u32, u64),
    Len(u32, Vec<u8>),
    Fixed32(u32),
    Fixed64(u32),
    Group(u32, Vec<Field>),
    /// Bytes that may break the framing.
    Raw(Vec<u8>),
}

fn put_varint(out: &mut Vec<u8>, value: u64) {
    prost::encoding::encode_varint(value, out);
}

fn encode_fields(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        match field {
            Field::Varint(tag, v) => {
                put_varint(&mut out, u64::from(tag << 3));
                put_varint(&mut out, *v);
            }
            Field::Len(tag, bytes) => {
                put_varint(&mut out, u64::from(tag << 3 | 2));
                put_varint(&mut out, bytes.len() as u64);
                out.extend_from_slice(bytes);
            }
            Field::Fixed32(tag) => {
                put_varint(&mut out, u64::from(tag << 3 | 5));
                out.extend_from_slice(&[1, 2, 3, 4]);
            }
            Field::Fixed64(tag) => {
                put_varint(&mut out, u64::from(tag << 3 | 1));
                out.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
            }
            Field::Group(tag, inner) => {
                put_varint(&mut out, u64::from(tag << 3 | 3));
                out.extend(encode_fields(inner));
                put_varint(&mut out, u64::from(tag << 3 | 4));
            }
            Field::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
    out
}

mod equivalence {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Mostly valid keys, sometimes invalid UTF-8.
    fn text() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => "\\PC{0,6}".prop_map(String::into_bytes),
            1 => vec(any::<u8>(), 0..6),
        ]
    }

    /// Fields any message may carry besides its own: unknown ones, groups, garbage.
    fn stray(tags: std::ops::Range<u32>) -> impl Strategy<Value = Field> {
        prop_oneof![
            (tags.clone(), any::<u64>()).prop_map(|(t, v)| Field::Varint(t, v)),
            (tags.clone(), vec(any::<u8>(), 0..8)).prop_map(|(t, b)| Field::Len(t, b)),
            tags.clone().prop_map(Field::Fixed32),
            tags.clone().prop_map(Field::Fixed64),
            (tags, vec((1u32..8, any::<u64>()), 0..3)).prop_map(|(t, inner)| {
                Field::Group(
                    t,
                    inner
                        .into_iter()
                        .map(|(t, v)| Field::Varint(t, v))
                        .collect(),
                )
            }),
            vec(any::<u8>(), 1..4).prop_map(Field::Raw),
        ]
    }

    fn tag_message() -> impl Strategy<Value = Vec<u8>> {
        vec(
            prop_oneof![
                4 => (1u32..3, text()).prop_map(|(t, b)| Field::Len(t, b)),
                1 => stray(1..6),
            ],
            0..3,
        )
        .prop_map(|fields| encode_fields(&fields))
    }

    fn record_message() -> impl Strategy<Value = Vec<u8>> {
        vec(
            prop_oneof![
                6 => (0u64..4).prop_map(|i| Field::Varint(1, i)),
                3 => (0u64..3).prop_map(|i| Field::Varint(2, i)),
                6 => vec(any::<u8>(), 0..12).prop_map(|b| Field::Len(3, b)),
                1 => tag_message().prop_map(|b| Field::Len(4, b)),
                1 => stray(1..8),
            ],
            0..6,
        )
        .prop_map(|fields| encode_fields(&fields))
    }

    fn aggregate_body() -> impl Strategy<Value = Vec<u8>> {
        vec(
            prop_oneof![
                3 => text().prop_map(|b| Field::Len(1, b)),
                2 => text().prop_map(|b| Field::Len(2, b)),
                6 => record_message().prop_map(|b| Field::Len(3, b)),
                1 => stray(1..8),
            ],
            0..10,
        )
        .prop_map(|fields| encode_fields(&fields))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn decoder_matches_prost_on_odd_messages(body in aggregate_body()) {
            assert_same_as_reference(frame(&body));
        }

        #[test]
        fn decoder_matches_prost_on_arbitrary_bodies(body in vec(any::<u8>(), 0..64)) {
            assert_same_as_reference(frame(&body));
        }

        #[test]
        fn decoder_matches_prost_on_mutated_messages(
            body in aggregate_body(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut body = body;
            if !body.is_empty() {
                let i = at.index(body.len());
                body[i] = byte;
            }
            assert_same_as_reference(frame(&body));
        }
    }
}

#[test]
fn decoder_matches_prost_at_the_recursion_limit() {
    for depth in [98, 99, 100, 101] {
        let mut group = Vec::new();
        for _ in 0..depth {
            group = vec![Field::Group(9, group)];
        }
        let record = encode_fields(&[Field::Varint(1, 0), Field::Len(3, b"x".to_vec())]);
        let mut top = vec![Field::Len(1, b"k".to_vec()), Field::Len(3, record.clone())];
        top.extend(group.clone());
        let data = frame(&encode_fields(&top));
        assert_eq!(
            super::unpack(&data).is_some(),
            depth <= 100,
            "{depth} at the top"
        );
        assert_same_as_reference(data);
        // The same groups inside a record, one level deeper.
        let mut inner = vec![Field::Varint(1, 0), Field::Len(3, b"x".to_vec())];
        inner.extend(group);
        let top = [
            Field::Len(1, b"k".to_vec()),
            Field::Len(3, encode_fields(&inner)),
        ];
        let data = frame(&encode_fields(&top));
        assert_eq!(
            super::unpack(&data).is_some(),
            depth < 100,
            "{depth} in a record"
        );
        assert_same_as_reference(data);
    }
}

#[test]
fn producer_layouts_take_the_in_place_path() {
    let mut agg = Aggregator::new();
    for i in 0..50 {
        agg.add(
            format!("line {i}").as_bytes(),
            &format!("k{}", i % 7),
            (i % 2 == 0).then_some("9"),
        );
    }
    let data = Bytes::from(agg.flush().unwrap().data);
    assert!(
        matches!(super::decode::unpack(&data), super::decode::Decoded::Records(r) if r.len() == 50)
    );
}

#[test]
fn records_may_precede_their_keys() {
    let record = encode_fields(&[Field::Varint(1, 0), Field::Len(3, b"x".to_vec())]);
    let body = encode_fields(&[Field::Len(3, record), Field::Len(1, b"late".to_vec())]);
    let out = deaggregate(frame(&body), "outer", None);
    assert_eq!(out[0].partition_key, "late");
    assert_same_as_reference(frame(&body));
}
