//! Payload decoding end to end (issue 13): records made by independent producers (the committed
//! fixtures: Python's gzip, zlib and zstandard, CloudWatch Logs envelopes in the documented shape,
//! a control message) mixed with plain and KPL-aggregated records (gzip inside an aggregate
//! too), through the real `ktail tail` against ferrokinesis.

use std::time::Duration;

use bytes::Bytes;
use ktail::decode::{Decoder, Options};
use ktail::kpl::Aggregator;

use crate::tail::json_lines;
use ktail_testkit::{self as support, Emulator, run_ktail, run_ktail_with_stdin, unique_name};

const RUN: Duration = Duration::from_secs(90);

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/decode/");
    std::fs::read(format!("{path}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The mixed stream's records, in order: plain, compressed lines, envelopes in three codecs, a
/// control message, an aggregate holding plain, gzip and an envelope, and bad data.
pub(crate) fn mixed_records() -> Vec<Vec<u8>> {
    let mut agg = Aggregator::new();
    for user in [
        b"aggregated plain GetRecords line".to_vec(),
        fixture("text.gz"),
        fixture("cwl_data.gz"),
    ] {
        assert!(agg.add(&user, "pk", None).is_none());
    }
    let aggregate = agg.flush().unwrap().data;
    vec![
        b"plain GetRecords line".to_vec(),
        fixture("text.gz"),
        fixture("text.zlib"),
        fixture("text.zst"),
        fixture("cwl_data.gz"),
        fixture("cwl_data.zlib"),
        fixture("cwl_data.zst"),
        fixture("cwl_control.gz"),
        aggregate,
        fixture("corrupt_crc.gz"),
        fixture("truncated.zlib"),
        fixture("bomb.gz"),
        fixture("cwl_non_utf8.gz"),
    ]
}

/// What `tail` prints in line mode for `records` (de-aggregated, decoded), as bytes per line.
pub(crate) fn expected_lines(records: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut decoder = Decoder::new(Options::default());
    let mut out = Vec::new();
    for record in records {
        for user in ktail::kpl::deaggregate(Bytes::from(record.clone()), "pk", None) {
            let decoded = decoder.decode(&user.data);
            for item in decoded.items() {
                out.push(item.line.to_vec());
            }
        }
    }
    out
}

/// Splits line-mode output into lines (each record's line ends with one newline).
pub(crate) fn split_lines(stdout: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = stdout.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
}

async fn one_shard_stream(emu: &Emulator, records: &[Vec<u8>]) -> String {
    let name = unique_name("decode");
    emu.create_stream(&name, 1).await;
    emu.put_records(&name, records).await;
    name
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_decodes_mixed_data_and_warns_once_per_shard() {
    let emu = support::ferrokinesis();
    let records = mixed_records();
    let stream = one_shard_stream(&emu, &records).await;
    let mut cmd = emu.ktail();
    cmd.args(["--debug", "tail", &stream, "--oldest", "-e"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    // In order on one shard; bad data as stored (its bytes may hold newlines).
    let want: Vec<u8> = expected_lines(&records)
        .into_iter()
        .flat_map(|mut line| {
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            line
        })
        .collect();
    assert!(
        out.stdout == want,
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // 3 envelopes of 3 events, the aggregate's envelope, and the non-UTF-8 one's 2 events.
    assert_eq!(
        text.matches("\"eventSource\":\"kinesis.amazonaws.com\"")
            .count(),
        8
    );
    assert!(
        !text.contains("CWL CONTROL MESSAGE"),
        "control messages are dropped"
    );
    assert_eq!(text.matches("\"msg\":\"order placed\"").count(), 4);
    let stderr = &out.stderr;
    assert_eq!(
        stderr.matches("could not be decoded").count(),
        1,
        "one warning for the shard: {stderr}"
    );
    assert!(
        stderr.contains("3 records could not be decoded and were passed through as stored"),
        "{stderr}"
    );
    assert!(stderr.contains("control_messages_dropped=1"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_carries_the_log_events_envelope_and_filters_see_decoded_text() {
    let emu = support::ferrokinesis();
    let records = mixed_records();
    let stream = one_shard_stream(&emu, &records).await;
    let mut cmd = emu.ktail();
    cmd.args([
        "tail",
        &stream,
        "--oldest",
        "-e",
        "-o",
        "json",
        "-g",
        "GetRecords",
    ]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    let got = json_lines(&out.stdout);
    // Plain and aggregated plain lines, and the GetRecords event of each of the 4 data envelopes.
    let events: Vec<_> = got
        .iter()
        .filter(|v| v.get("log_group").is_some())
        .collect();
    assert_eq!(got.len(), 6, "{got:#?}");
    assert_eq!(events.len(), 4);
    for e in events {
        assert_eq!(e["log_group"], "CloudTrail/logs");
        assert_eq!(e["log_stream"], "111111111111_CloudTrail/logs_eu-west-1");
        assert_eq!(
            e["log_event_id"],
            "37915224713372842870305374094766390613426178914591719424"
        );
        assert_eq!(e["log_timestamp"], "2026-11-23T14:03:22.000Z");
        assert!(e["data"].as_str().unwrap().contains("GetRecords"));
    }
    // --decode none: the stored bytes, so no gzip'd record matches.
    let mut cmd = emu.ktail();
    cmd.args([
        "tail",
        &stream,
        "--oldest",
        "-e",
        "--decode",
        "none",
        "-g",
        "GetRecords",
    ]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    assert_eq!(
        split_lines(&out.stdout),
        vec![
            b"plain GetRecords line".to_vec(),
            b"aggregated plain GetRecords line".to_vec()
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn put_compress_round_trips_through_tail() {
    let emu = support::ferrokinesis();
    for (codec, aggregate) in [("gzip", false), ("zlib", true), ("zstd", false)] {
        let stream = unique_name("compress");
        emu.create_stream(&stream, 1).await;
        let mut cmd = emu.ktail();
        cmd.args(["put", &stream, "--compress", codec, "--partition-key", "k"]);
        if aggregate {
            cmd.arg("--aggregate");
        }
        let input = "one\ntwo ü\nthree\n";
        run_ktail_with_stdin(cmd, Some(input.as_bytes()), RUN).assert_success();
        let mut cmd = emu.ktail();
        cmd.args(["tail", &stream, "--oldest", "-e"]);
        let out = run_ktail(cmd, RUN);
        out.assert_success();
        assert_eq!(out.stdout_str(), input, "{codec}");
        // Stored compressed: --decode none prints the stored bytes, not the lines.
        let mut cmd = emu.ktail();
        cmd.args(["tail", &stream, "--oldest", "-e", "--decode", "none"]);
        assert_ne!(run_ktail(cmd, RUN).stdout_str(), input, "{codec}");
    }
}
