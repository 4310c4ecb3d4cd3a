//! The KPL codec against the outside world: the published vectors of awslabs/kinesis-aggregation
//! (data fixtures in `tests/fixtures/kpl/`, origin in its README), a cross-check with the official
//! Python package `aws-kinesis-agg` in both directions, and property tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use ktail::kpl::{self, AggregatedRecord, Aggregator, UserRecord};
use serde_json::{Value, json};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kpl")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A user record as plain values, for comparisons across codecs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plain {
    data: Vec<u8>,
    partition_key: String,
    explicit_hash_key: Option<String>,
}

fn plain(r: &UserRecord) -> Plain {
    Plain {
        data: r.data.to_vec(),
        partition_key: r.partition_key.clone(),
        explicit_hash_key: r.explicit_hash_key.clone(),
    }
}

/// A golden vector: the Kinesis record (data, outer key) and the user records it holds.
struct Vector {
    data: Vec<u8>,
    partition_key: String,
    user_records: Vec<Plain>,
}

fn vector(name: &str) -> Vector {
    let v = load(name);
    Vector {
        data: B64.decode(v["data_base64"].as_str().unwrap()).unwrap(),
        partition_key: v["partition_key"].as_str().unwrap().to_owned(),
        user_records: v["user_records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| Plain {
                data: u["data"].as_str().unwrap().as_bytes().to_vec(),
                partition_key: u["partition_key"].as_str().unwrap().to_owned(),
                explicit_hash_key: u["explicit_hash_key"].as_str().map(str::to_owned),
            })
            .collect(),
    }
}

const KPL_AGGREGATES: [&str; 3] = [
    "kpl_with_ehks.json",
    "kpl_no_ehks.json",
    "kpl_kinesis_analytics.json",
];

#[test]
fn kpl_vectors_deaggregate_to_the_published_user_records() {
    for name in KPL_AGGREGATES {
        let v = vector(name);
        assert!(kpl::looks_aggregated(&v.data), "{name}");
        let out = kpl::deaggregate(Bytes::from(v.data), &v.partition_key, None);
        assert_eq!(
            out.iter().map(plain).collect::<Vec<_>>(),
            v.user_records,
            "{name}"
        );
        let subs: Vec<_> = out.iter().map(|r| r.sub_sequence).collect();
        let expected: Vec<_> = (0..out.len() as u64).map(Some).collect();
        assert_eq!(subs, expected, "{name}");
    }
}

#[test]
fn kpl_plain_record_passes_through() {
    let v = vector("kpl_plain.json");
    assert!(!kpl::looks_aggregated(&v.data));
    let out = kpl::deaggregate(Bytes::from(v.data), &v.partition_key, None);
    assert_eq!(out.iter().map(plain).collect::<Vec<_>>(), v.user_records);
    assert_eq!(out[0].sub_sequence, None);
}

#[test]
fn aggregator_reproduces_the_kpl_bytes() {
    for name in KPL_AGGREGATES {
        let v = vector(name);
        let mut agg = Aggregator::new();
        for u in &v.user_records {
            assert_eq!(
                agg.add(&u.data, &u.partition_key, u.explicit_hash_key.as_deref()),
                None
            );
        }
        let out = agg.flush().unwrap();
        let first = &v.user_records[0];
        assert_eq!(
            out,
            AggregatedRecord {
                data: v.data.clone(),
                partition_key: first.partition_key.clone(),
                explicit_hash_key: first.explicit_hash_key.clone(),
                user_records: v.user_records.len(),
            },
            "{name}"
        );
    }
}

#[test]
fn java_sample_lambda_event_holds_100_records() {
    let event = load("SampleLambdaEvent.json");
    let kinesis = &event["Records"][0]["kinesis"];
    let data = B64.decode(kinesis["data"].as_str().unwrap()).unwrap();
    let out = kpl::deaggregate(
        Bytes::from(data),
        kinesis["partitionKey"].as_str().unwrap(),
        None,
    );
    assert_eq!(out.len(), 100);
    for (i, r) in out.iter().enumerate() {
        let expected: &[u8] = if i % 2 == 0 {
            b"abcdefghijklmnopqrstuvwxyz"
        } else {
            b"zyxwvutsrqponmlkjihgfedcba"
        };
        assert_eq!(&r.data[..], expected, "record {i}");
        assert_eq!(r.partition_key, "abc");
        assert_eq!(
            r.explicit_hash_key.as_deref(),
            Some("191415658344158766168031473277922803570")
        );
        assert_eq!(r.sub_sequence, Some(i as u64));
    }
}

/// Whether the Python cross-check can run. Outside CI a missing python3 or package skips it with a
/// loud message; under CI it is a failure, so the check cannot silently stop running there.
fn python_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import six, aws_kinesis_agg"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "python3 with aws-kinesis-agg and six is required under CI"
        );
        eprintln!(
            "\n!!! SKIPPING the aws-kinesis-agg cross-check: python3, aws-kinesis-agg or six is \
             missing (pip install aws-kinesis-agg==1.2.3 six protobuf) !!!\n"
        );
    }
    ok
}

/// Runs `xcheck.py` with `args`, JSON in and out.
fn python(args: &[&str], input: &Value) -> Value {
    let mut child = Command::new("python3")
        .arg(fixture_dir().join("xcheck.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "xcheck.py {args:?} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn to_json(records: &[Plain]) -> Value {
    records
        .iter()
        .map(|r| json!({"pk": r.partition_key, "ehk": r.explicit_hash_key, "data": B64.encode(&r.data)}))
        .collect()
}

/// Deterministic, varied user records: empty, text and binary data, unicode keys, repeated keys.
fn sample(count: usize, ehk: impl Fn(usize) -> Option<String>) -> Vec<Plain> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    let keys = ["a", "ключ", "🦀 key", "k", "with space", "日本"];
    (0..count)
        .map(|i| {
            let len = match i % 5 {
                0 => 0,
                1 => next() % 16,
                2 => next() % 300,
                3 => next() % 3000,
                _ => 214,
            };
            let data = (0..len).map(|_| next() as u8).collect();
            Plain {
                data,
                partition_key: format!("{}-{}", keys[i % keys.len()], next() % 7),
                explicit_hash_key: ehk(i),
            }
        })
        .collect()
}

fn hash_key(i: usize) -> String {
    (u128::MAX / 1000 * (i as u128 % 1000)).to_string()
}

fn aggregate_all(agg: &mut Aggregator, records: &[Plain]) -> Vec<AggregatedRecord> {
    let mut out: Vec<_> = records
        .iter()
        .filter_map(|r| agg.add(&r.data, &r.partition_key, r.explicit_hash_key.as_deref()))
        .collect();
    out.extend(agg.flush());
    out
}

#[test]
fn python_aggregates_and_ktail_deaggregates() {
    if !python_available() {
        return;
    }
    // EHKs on some records only: ktail must give the others none.
    let input = sample(600, |i| (i % 3 == 0).then(|| hash_key(i)));
    let aggregated = python(&["aggregate", "16384"], &to_json(&input));
    let aggregated = aggregated.as_array().unwrap();
    assert!(aggregated.len() > 5, "the budget splits the input");
    let mut got = Vec::new();
    for a in aggregated {
        let data = B64.decode(a["data"].as_str().unwrap()).unwrap();
        assert!(kpl::looks_aggregated(&data));
        let out = kpl::deaggregate(
            Bytes::from(data),
            a["pk"].as_str().unwrap(),
            a["ehk"].as_str(),
        );
        assert!(out.iter().all(|r| r.sub_sequence.is_some()));
        got.extend(out.iter().map(plain));
    }
    assert_eq!(got, input);
}

#[test]
fn ktail_aggregates_and_python_deaggregates() {
    if !python_available() {
        return;
    }
    // The Python deaggregator gives a record without an EHK the table's first EHK when the table is
    // not empty, so each batch has EHKs on all records or on none.
    let batches = [sample(500, |i| Some(hash_key(i))), sample(500, |_| None)];
    for input in batches {
        let mut agg = Aggregator::with_max_bytes(16_000);
        let aggregated = aggregate_all(&mut agg, &input);
        assert!(aggregated.len() > 5, "the budget splits the input");
        let kinesis: Value = aggregated
            .iter()
            .map(|a| json!({"pk": a.partition_key, "ehk": a.explicit_hash_key, "data": B64.encode(&a.data)}))
            .collect();
        let users = python(&["deaggregate"], &kinesis);
        let got: Vec<_> = users
            .as_array()
            .unwrap()
            .iter()
            .map(|u| Plain {
                data: B64.decode(u["data"].as_str().unwrap()).unwrap(),
                partition_key: u["pk"].as_str().unwrap().to_owned(),
                explicit_hash_key: u["ehk"].as_str().map(str::to_owned),
            })
            .collect();
        assert_eq!(got, input);
    }
}

#[test]
fn ktail_and_python_write_the_same_bytes() {
    if !python_available() {
        return;
    }
    let input = sample(40, |i| (i % 2 == 0).then(|| hash_key(i)));
    let ours = aggregate_all(&mut Aggregator::new(), &input);
    let theirs = python(&["aggregate", "1048576"], &to_json(&input));
    assert_eq!(ours.len(), 1);
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(
        B64.encode(&ours[0].data),
        theirs[0]["data"].as_str().unwrap()
    );
    assert_eq!(ours[0].partition_key, theirs[0]["pk"].as_str().unwrap());
}

mod properties {
    use md5::{Digest, Md5};
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn user_record() -> impl Strategy<Value = Plain> {
        (
            vec(any::<u8>(), 0..600),
            "\\PC{1,24}",
            proptest::option::of("[0-9]{1,39}"),
        )
            .prop_map(|(data, partition_key, explicit_hash_key)| Plain {
                data,
                partition_key,
                explicit_hash_key,
            })
    }

    fn read_back(aggregated: &[AggregatedRecord]) -> Vec<Plain> {
        aggregated
            .iter()
            .flat_map(|a| {
                kpl::deaggregate(
                    Bytes::from(a.data.clone()),
                    &a.partition_key,
                    a.explicit_hash_key.as_deref(),
                )
            })
            .map(|r| plain(&r))
            .collect()
    }

    /// Frames `body` as an aggregate with a correct digest, so the parser is what gets exercised.
    fn framed(body: &[u8]) -> Vec<u8> {
        let mut data = kpl::MAGIC.to_vec();
        data.extend_from_slice(body);
        data.extend_from_slice(&Md5::digest(body));
        data
    }

    /// Nothing lost: either the input back as one plain record, or user records cut from it.
    fn check_no_loss(data: Vec<u8>) {
        let input = Bytes::from(data);
        let range = input.as_ptr_range();
        let out = kpl::deaggregate(input.clone(), "outer", Some("1"));
        let passed_through = out.len() == 1 && out[0].sub_sequence.is_none();
        if passed_through {
            assert_eq!(out[0].data, input);
            assert_eq!(out[0].partition_key, "outer");
            assert_eq!(out[0].explicit_hash_key.as_deref(), Some("1"));
        } else {
            for (i, r) in out.iter().enumerate() {
                assert_eq!(r.sub_sequence, Some(i as u64));
                assert!(r.data.is_empty() || range.contains(&r.data.as_ptr()));
            }
        }
    }

    proptest! {
        #[test]
        fn round_trip_under_any_budget(
            input in vec(user_record(), 0..120),
            budget in prop_oneof![Just(None), (64usize..40_000).prop_map(Some)],
        ) {
            let mut agg = budget.map_or_else(Aggregator::new, Aggregator::with_max_bytes);
            let aggregated = aggregate_all(&mut agg, &input);
            prop_assert!(agg.is_empty());
            prop_assert_eq!(aggregated.iter().map(|a| a.user_records).sum::<usize>(), input.len());
            for a in &aggregated {
                let size = match budget {
                    Some(_) => a.data.len(),
                    None => a.data.len() + a.partition_key.len(),
                };
                // Only a lone record may exceed the budget, and it goes out plain.
                prop_assert!(size <= budget.unwrap_or(kpl::MAX_RECORD_BYTES) || a.user_records == 1);
                prop_assert_eq!(a.user_records > 1, kpl::looks_aggregated(&a.data));
            }
            prop_assert_eq!(read_back(&aggregated), input);
        }

        #[test]
        fn many_records_fill_aggregates_to_the_budget(
            count in 500usize..2_000,
            len in 0usize..64,
            budget in 256usize..4_096,
        ) {
            let input: Vec<_> = (0..count)
                .map(|i| Plain {
                    data: vec![i as u8; len],
                    partition_key: format!("key-{}", i % 5),
                    explicit_hash_key: None,
                })
                .collect();
            let aggregated = aggregate_all(&mut Aggregator::with_max_bytes(budget), &input);
            // Every aggregate but the last was closed because the next record did not fit.
            for a in &aggregated[..aggregated.len() - 1] {
                prop_assert!(a.data.len() <= budget);
                prop_assert!(a.data.len() + len + 16 > budget);
            }
            prop_assert_eq!(read_back(&aggregated), input);
        }

        #[test]
        fn arbitrary_bytes_pass_through(data in vec(any::<u8>(), 0..2_000)) {
            check_no_loss(data);
        }

        #[test]
        fn bytes_after_the_magic_pass_through(tail in vec(any::<u8>(), 0..2_000)) {
            let mut data = kpl::MAGIC.to_vec();
            data.extend(tail);
            check_no_loss(data);
        }

        #[test]
        fn any_body_with_a_good_digest_never_panics(body in vec(any::<u8>(), 0..2_000)) {
            check_no_loss(framed(&body));
        }

        #[test]
        fn corrupted_aggregates_never_panic_nor_lose_data(
            input in vec(user_record(), 2..20),
            edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let aggregated = aggregate_all(&mut Aggregator::new(), &input);
            let data = &aggregated[0].data;
            let mut body = data[kpl::MAGIC.len()..data.len() - 16].to_vec();
            for (at, byte) in &edits {
                let i = at.index(body.len());
                body[i] = *byte;
            }
            check_no_loss(framed(&body));
            check_no_loss(framed(&body[..cut.index(body.len())]));
        }
    }
}
