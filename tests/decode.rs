//! Payload decoding end to end (issue 13): records made by independent producers (the committed
//! fixtures: Python's gzip, zlib and zstandard, CloudWatch Logs envelopes in the documented shape,
//! a control message) mixed with plain and KPL-aggregated records (gzip inside an aggregate
//! too), through the real `ktail tail` against ferrokinesis.

use std::time::Duration;

use bytes::Bytes;
use ktail::decode::{Codec, Decoder, Options, Tally};
use ktail::kpl::Aggregator;

use crate::tail::json_lines;
use ktail_testkit::esm_poller::Poller;
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
            decoder.decode_each(&user.data, &mut Tally::new(), |_, decoded| {
                for item in decoded.items() {
                    out.push(item.line.to_vec());
                }
            });
        }
    }
    out
}

/// [`mixed_records`], then a KPL aggregate compressed whole in each codec (`ktail put
/// --aggregate --compress`), each holding plain lines, zlib, a non-UTF-8 envelope and a zstd one.
pub(crate) fn parity_records() -> Vec<Vec<u8>> {
    let mut agg = Aggregator::new();
    for user in [
        b"compressed aggregate GetRecords line".to_vec(),
        b"compressed aggregate other line".to_vec(),
        fixture("text.zlib"),
        fixture("cwl_non_utf8.gz"),
        fixture("cwl_data.zst"),
    ] {
        assert!(agg.add(&user, "pk", None).is_none());
    }
    let aggregate = agg.flush().unwrap().data;
    let mut records = mixed_records();
    for codec in [Codec::Gzip, Codec::Zlib, Codec::Zstd] {
        records.push(ktail::decode::compress(codec, &aggregate).unwrap());
    }
    records
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

/// Plain and decompressed lines, some events of most envelopes (a non-UTF-8 one among them) and
/// bad data by its gzip magic (passed through as stored).
const PARITY_MATCH: &str = r"GetRecords|order placed|latin-1|\x1f";

/// The fields of a `-o json` line that say what was printed and where it came from in the
/// source, which both paths must agree on (stream, shard, sequence and key are the filtered
/// stream's under `grep`).
fn printed(line: &serde_json::Value) -> serde_json::Value {
    let keys = [
        "data",
        "data_base64",
        "log_group",
        "log_stream",
        "log_event_id",
        "log_timestamp",
    ];
    keys.iter()
        .filter_map(|k| Some((k.to_string(), line.get(*k)?.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Issue 13: for the same data, `ktail grep S P` (the committed function in the loop, run by the
/// test's event source mapping poller) and `ktail tail S -g P` print the same lines, for every
/// encoding, in line mode and with `-o json` (the envelope fields survive the function).
#[tokio::test(flavor = "multi_thread")]
async fn grep_prints_what_tail_g_prints_for_every_encoding() {
    let m = support::moto();
    let src = unique_name("decode-parity");
    m.create_stream(&src, 1).await;
    let poller = Poller::start(m, &src);
    m.put_records(&src, parity_records()).await;
    let mut n = 0;
    let tail = |json: bool| {
        let mut cmd = m.ktail();
        cmd.args(["tail", &src, "--oldest", "-e", "-g", PARITY_MATCH]);
        if json {
            cmd.args(["-o", "json"]);
        }
        let out = run_ktail(cmd, RUN);
        out.assert_success();
        out.stdout
    };
    let grep = |n: usize, json: bool| {
        let n = n.to_string();
        let mut cmd = m.ktail();
        cmd.args(["grep", &src, PARITY_MATCH, "--oldest", "-n", &n]);
        if json {
            cmd.args(["-o", "json"]);
        }
        let out = run_ktail(cmd, RUN);
        out.assert_success();
        out.stdout
    };

    // 13 lines of the mixed records, 4 in each compressed aggregate.
    let matcher = ktail::filter::Matcher::new(&[PARITY_MATCH], Default::default()).unwrap();
    let expected: Vec<u8> = expected_lines(&parity_records())
        .into_iter()
        .filter(|line| matcher.is_match(line))
        .inspect(|_| n += 1)
        .flat_map(|mut line| {
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            line
        })
        .collect();
    assert_eq!(n, 25);
    let want = tail(false);
    assert!(want == expected, "{:?}", String::from_utf8_lossy(&want));
    let got = grep(n, false);
    assert!(
        got == want,
        "grep printed:\n{}\ntail -g printed:\n{}",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );

    let want: Vec<_> = json_lines(&tail(true)).iter().map(printed).collect();
    let got: Vec<_> = json_lines(&grep(n, true)).iter().map(printed).collect();
    assert_eq!(want.len(), n);
    assert_eq!(got, want);
    let events = got.iter().filter(|v| v.get("log_group").is_some()).count();
    assert_eq!(
        events, 11,
        "log events keep their envelope through the function"
    );
    assert!(poller.activity().invocations > 0);
}
