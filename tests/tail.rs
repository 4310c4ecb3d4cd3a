//! `ktail tail` (issue 3): the real binary against the emulators. Heavy and ordinary cases run on
//! ferrokinesis; resharding and `--since` (millisecond AT_TIMESTAMP, ChildShards) on kinesis-mock.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use chrono::{SecondsFormat, Utc};
use ktail::kpl::Aggregator;

use ktail_testkit::{self as support, Emulator, Running, run_ktail, unique_name};

const RUN: Duration = Duration::from_secs(60);
const LINE: Duration = Duration::from_secs(30);

pub(crate) use support::put_keyed;

/// One record per call, so a producer keeps per-key order across a reshard.
async fn put_one(client: &Client, stream: &str, key: &str, data: &[u8]) {
    for attempt in 0.. {
        match client
            .put_record()
            .stream_name(stream)
            .partition_key(key)
            .data(Blob::new(data))
            .send()
            .await
        {
            Ok(_) => return,
            Err(e) if attempt < 50 => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("put_record: {e:?}"),
        }
    }
}

pub(crate) fn lines(n: usize, prefix: &str) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| (format!("key-{i}"), format!("{prefix}-{i}").into_bytes()))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub(crate) fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l:?}")))
        .collect()
}

async fn stream_with(emu: &Emulator, shards: i32, records: &[(String, Vec<u8>)]) -> String {
    let name = unique_name("tail");
    emu.create_stream(&name, shards).await;
    put_keyed(&emu.kinesis().await, &name, records).await;
    name
}

#[tokio::test(flavor = "multi_thread")]
async fn oldest_reads_every_shard_of_a_four_shard_stream() {
    let emu = support::ferrokinesis();
    let records = lines(400, "rec");
    let stream = stream_with(&emu, 4, &records).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest", "-e", "-o", "json"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    assert_eq!(out.stderr, "");
    let got = json_lines(&out.stdout);
    let data: Vec<String> = got
        .iter()
        .map(|v| v["data"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = records
        .iter()
        .map(|(_, d)| String::from_utf8(d.clone()).unwrap())
        .collect();
    assert_eq!(sorted(data), sorted(want), "every record exactly once");
    let shards: HashSet<&str> = got.iter().map(|v| v["shard"].as_str().unwrap()).collect();
    assert_eq!(
        shards.len(),
        4,
        "records come from all four shards: {shards:?}"
    );
    for v in &got {
        assert_eq!(v["stream"], stream.as_str());
        assert!(v["sequence"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(v["sub_sequence"].is_null());
        assert!(v["partition_key"].as_str().unwrap().starts_with("key-"));
        let arrival = v["arrival"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(arrival).is_ok(),
            "{arrival}"
        );
    }
    // Per shard, sequence numbers come in order.
    // (Sequence numbers are decimal strings too long for u128: compare by length, then text.)
    let mut last: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for v in &got {
        let seq = v["sequence"].as_str().unwrap();
        let seq = (seq.len(), seq);
        let shard = v["shard"].as_str().unwrap();
        assert!(last.insert(shard, seq).is_none_or(|prev| prev < seq));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn latest_prints_only_new_records() {
    let emu = support::ferrokinesis();
    let stream = stream_with(&emu, 2, &lines(50, "old")).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--poll-interval", "200ms"]);
    let mut tail = Running::spawn(cmd);
    let client = emu.kinesis().await;
    // LATEST starts whenever the readers get their iterators: write until something shows.
    let producer = {
        let stream = stream.clone();
        tokio::spawn(async move {
            for i in 0..600 {
                put_one(
                    &client,
                    &stream,
                    &format!("k{i}"),
                    format!("new-{i}").as_bytes(),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let first = tokio::task::spawn_blocking(move || {
        let line = tail.read_lines(3, LINE);
        (tail, line)
    })
    .await
    .unwrap();
    producer.abort();
    let (tail, got) = first;
    for line in &got {
        assert!(
            line.starts_with("new-"),
            "LATEST printed an old record: {line}"
        );
    }
    tail.interrupt();
    let out = tail.wait(RUN);
    out.assert_code(130);
    for line in out.stdout_lines() {
        assert!(line.starts_with("new-"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn since_and_until_cut_by_arrival_time() {
    let emu = support::kinesis_mock();
    let name = unique_name("tail-since");
    emu.create_stream(&name, 2).await;
    let client = emu.kinesis().await;
    put_keyed(&client, &name, &lines(10, "before")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let from = Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    put_keyed(&client, &name, &lines(10, "during")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let to = Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    put_keyed(&client, &name, &lines(10, "after")).await;

    let since = from.to_rfc3339_opts(SecondsFormat::Millis, true);
    let until = to.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--since", &since, "-e"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    let got = out.stdout_lines();
    assert_eq!(got.len(), 20, "{got:?}");
    assert!(got.iter().all(|l| !l.starts_with("before")), "{got:?}");

    // --until (here with its kinesis-tailf alias) follows until records pass it, then exits.
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--start", &since, "--end", &until]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    let got = out.stdout_lines();
    assert_eq!(got.len(), 10, "{got:?}");
    assert!(got.iter().all(|l| l.starts_with("during")), "{got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn until_ends_an_idle_follow() {
    let emu = support::ferrokinesis();
    let stream = stream_with(&emu, 2, &lines(5, "x")).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest", "--until", "2s"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    assert_eq!(out.stdout_lines().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_records_stops_a_follow() {
    let emu = support::ferrokinesis();
    let stream = stream_with(&emu, 4, &lines(100, "r")).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest", "-n", "7"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    assert_eq!(out.stdout_lines().len(), 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn shard_and_shard_key_select_shards() {
    let emu = support::ferrokinesis();
    let mut records = lines(200, "r");
    records.extend((0..20).map(|i| ("the-key".to_string(), format!("mine-{i}").into_bytes())));
    let stream = stream_with(&emu, 4, &records).await;

    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest", "-e", "-o", "json"]);
    let all = json_lines(&run_ktail(cmd, RUN).assert_success().stdout);
    assert_eq!(all.len(), 220);

    let shard = "shardId-000000000002";
    let mut cmd = emu.ktail();
    cmd.args([
        "tail", &stream, "--oldest", "-e", "-o", "json", "--shard", shard,
    ]);
    let got = json_lines(&run_ktail(cmd, RUN).assert_success().stdout);
    let want = all.iter().filter(|v| v["shard"] == shard).count();
    assert!(want > 0);
    assert_eq!(got.len(), want);
    assert!(got.iter().all(|v| v["shard"] == shard));

    let mut cmd = emu.ktail();
    cmd.args([
        "tail",
        &stream,
        "--oldest",
        "-e",
        "-o",
        "json",
        "--shard-key",
        "the-key",
    ]);
    let got = json_lines(&run_ktail(cmd, RUN).assert_success().stdout);
    let key_shard = all
        .iter()
        .find(|v| v["partition_key"] == "the-key")
        .map(|v| v["shard"].clone())
        .unwrap();
    assert!(got.iter().all(|v| v["shard"] == key_shard));
    let mine: Vec<&str> = got
        .iter()
        .filter(|v| v["partition_key"] == "the-key")
        .map(|v| v["data"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..20).map(|i| format!("mine-{i}")).collect();
    assert_eq!(mine, want, "the key's records, in order");

    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--shard", "shardId-000000000042"]);
    let out = run_ktail(cmd, RUN);
    out.assert_code(1);
    assert!(
        out.stderr.contains("shardId-000000000042"),
        "{}",
        out.stderr
    );
}

/// Aggregated records made by `aws_kinesis_agg` (Python), printed as base64 lines of
/// `partition_key data`.
fn python_aggregates(user_records: &[(String, String)]) -> Vec<(String, Vec<u8>)> {
    use base64::Engine;
    let script = r#"
import sys, json, base64
from aws_kinesis_agg.aggregator import RecordAggregator
agg = RecordAggregator()
out = []
for pk, data in json.load(sys.stdin):
    rec = agg.add_user_record(pk, data.encode())
    if rec:
        out.append(rec)
rec = agg.clear_and_get()
if rec:
    out.append(rec)
for rec in out:
    pk, ehk, data = rec.get_contents()
    print(pk, base64.b64encode(data).decode())
"#;
    let mut child = std::process::Command::new(support::python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(user_records).unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (pk, data) = l.split_once(' ').unwrap();
            (
                pk.to_string(),
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kpl_aggregated_records_are_deaggregated() {
    let emu = support::ferrokinesis();
    let mut records = Vec::new();
    // From the codec's aggregator.
    let mut agg = Aggregator::new();
    for i in 0..30 {
        assert!(
            agg.add(format!("rust-{i}").as_bytes(), &format!("pk{i}"), None)
                .is_none()
        );
    }
    let packed = agg.flush().unwrap();
    records.push((packed.partition_key.clone(), packed.data.clone()));
    // Plain records in between.
    records.extend(lines(5, "plain"));
    // From Python's aws-kinesis-agg.
    let python: Vec<(String, String)> = (0..25)
        .map(|i| (format!("py{i}"), format!("python-{i}")))
        .collect();
    records.extend(python_aggregates(&python));
    let stream = stream_with(&emu, 1, &records).await;

    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest", "-e", "-o", "json"]);
    let got = json_lines(&run_ktail(cmd, RUN).assert_success().stdout);
    let data: Vec<&str> = got.iter().map(|v| v["data"].as_str().unwrap()).collect();
    let mut want: Vec<String> = (0..30).map(|i| format!("rust-{i}")).collect();
    want.extend((0..5).map(|i| format!("plain-{i}")));
    want.extend((0..25).map(|i| format!("python-{i}")));
    assert_eq!(data, want, "user records in order");
    assert_eq!(got[0]["partition_key"], "pk0");
    assert_eq!(got[3]["sub_sequence"], 3);
    assert_eq!(got[0]["sequence"], got[29]["sequence"]);
    assert!(got[30]["sub_sequence"].is_null());
    assert_eq!(got[40]["partition_key"], "py5");

    let mut cmd = emu.ktail();
    cmd.args([
        "tail",
        &stream,
        "--oldest",
        "-e",
        "-o",
        "raw",
        "--no-deaggregate",
    ]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    let want_raw: Vec<u8> = records.iter().flat_map(|(_, d)| d.clone()).collect();
    assert_eq!(
        out.stdout, want_raw,
        "--no-deaggregate prints records as stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_utf8_data_in_every_output_mode() {
    let emu = support::ferrokinesis();
    let bytes = b"\xff\xfe bin \x00 \xc3".to_vec();
    let stream = stream_with(&emu, 1, &[("k".to_string(), bytes.clone())]).await;
    let run = |format: &str| {
        let mut cmd = emu.ktail();
        cmd.args(["tail", &stream, "--oldest", "-e", "-o", format]);
        run_ktail(cmd, RUN)
    };
    let mut line = bytes.clone();
    line.push(b'\n');
    assert_eq!(run("line").assert_success().stdout, line);
    assert_eq!(run("raw").assert_success().stdout, bytes);
    let json = json_lines(&run("json").assert_success().stdout);
    use base64::Engine;
    assert_eq!(
        json[0]["data_base64"],
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    assert!(json[0].get("data").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn line_columns_and_client_side_filter() {
    let emu = support::ferrokinesis();
    let records: Vec<(String, Vec<u8>)> = [
        "GET /a 200",
        "GET /b 500 Error",
        "POST /c 500 error",
        "GET /d 404",
    ]
    .iter()
    .map(|l| ("k".to_string(), l.as_bytes().to_vec()))
    .collect();
    let stream = stream_with(&emu, 1, &records).await;
    let run = |args: &[&str]| {
        let mut cmd = emu.ktail();
        cmd.args(["tail", &stream, "--oldest", "-e"]).args(args);
        run_ktail(cmd, RUN).assert_success().stdout_lines()
    };
    assert_eq!(run(&["-g", "Error"]), ["GET /b 500 Error"]);
    assert_eq!(
        run(&["-g", "error", "-i"]),
        ["GET /b 500 Error", "POST /c 500 error"]
    );
    assert_eq!(run(&["-g", "500", "-v"]), ["GET /a 200", "GET /d 404"]);
    assert_eq!(run(&["-g", "/a", "-g", "/d"]), ["GET /a 200", "GET /d 404"]);
    // Columns: arrival time, then shard id; no colour when stdout is not a terminal.
    let got = run(&["--timestamps", "--prefix", "-g", "/a", "--lf"]);
    let parts: Vec<&str> = got[0].splitn(3, ' ').collect();
    assert!(
        chrono::DateTime::parse_from_rfc3339(parts[0]).is_ok(),
        "{got:?}"
    );
    assert_eq!(parts[1], "shardId-000000000000");
    assert_eq!(parts[2], "GET /a 200");
    // --color always highlights matches.
    let got = run(&["-g", "500", "--color", "always"]);
    assert_eq!(got[0], "GET /b \x1b[1;31m500\x1b[0m Error");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_stream_is_one_clear_line_and_exit_1() {
    let emu = support::ferrokinesis();
    let mut cmd = emu.ktail();
    cmd.args(["tail", "no-such-stream"]);
    let out = run_ktail(cmd, RUN);
    out.assert_code(1);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.starts_with("ktail: "), "{}", out.stderr);
    assert!(out.stderr.contains("no-such-stream"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn no_stream_without_a_terminal_is_a_usage_error() {
    let mut cmd = support::ktail();
    cmd.args(["tail"]);
    let out = run_ktail(cmd, RUN);
    out.assert_code(2);
    assert!(out.stderr.contains("ktail ls"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_stdout_exits_0_quietly() {
    let emu = support::ferrokinesis();
    let stream = stream_with(&emu, 2, &lines(10, "first")).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest", "--poll-interval", "200ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // `| head -1`: read one line, close the pipe.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("first-"));
    drop(stdout);
    // ktail notices on its next write.
    let client = emu.kinesis().await;
    let mut status = None;
    for i in 0..200 {
        put_one(&client, &stream, "k", format!("more-{i}").as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
    }
    let status = status.expect("ktail kept running after its stdout closed");
    assert_quiet_success(&mut child, status);
}

/// A closed stdout is success: exit 0 and nothing on stderr.
fn assert_quiet_success(child: &mut std::process::Child, status: std::process::ExitStatus) {
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

/// `ktail tail s | head -1` on a stream that goes quiet: no further write would reveal the closed
/// pipe, so ktail must notice the reader leaving by itself (as coreutils' `tail -f` does).
#[tokio::test(flavor = "multi_thread")]
async fn closed_stdout_on_a_quiet_stream_exits_0() {
    let emu = support::ferrokinesis();
    // One record: once it is printed there is nothing left to write.
    let stream = stream_with(&emu, 1, &lines(1, "only")).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("only-"), "{line}");
    drop(stdout);
    let mut status = None;
    for _ in 0..600 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("ktail kept following after its stdout closed, with nothing left to write");
    };
    assert_quiet_success(&mut child, status);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_flushes_and_exits_130() {
    let emu = support::ferrokinesis();
    let stream = stream_with(&emu, 2, &lines(30, "r")).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest"]);
    let mut tail = Running::spawn(cmd);
    let first = tail.read_lines(30, LINE);
    assert_eq!(first.len(), 30);
    tail.interrupt();
    let out = tail.wait(RUN);
    out.assert_code(130);
    assert_eq!(out.stderr, "");
}

/// A producer writing `key:n` lines, n counting per key, one record at a time so each key's
/// order is the order of its writes.
pub(crate) fn spawn_producer(
    client: Client,
    stream: String,
    keys: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<usize>> {
    tokio::spawn(async move {
        let mut next = vec![0usize; keys];
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            for (k, n) in next.iter_mut().enumerate() {
                put_one(
                    &client,
                    &stream,
                    &format!("k{k}"),
                    format!("k{k}:{n}").as_bytes(),
                )
                .await;
                *n += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        next
    })
}

/// Stops the producer and reads back as many lines as it wrote, within `timeout`: the tail still
/// running, the lines read, and how many records the producer wrote per key.
pub(crate) async fn stop_and_read(
    stop: &std::sync::atomic::AtomicBool,
    producer: tokio::task::JoinHandle<Vec<usize>>,
    tail: Running,
    timeout: Duration,
) -> (Running, Vec<String>, Vec<usize>) {
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = producer.await.unwrap();
    let total: usize = written.iter().sum();
    let (tail, got) = tokio::task::spawn_blocking(move || {
        let mut tail = tail;
        let got = tail.read_lines(total, timeout);
        (tail, got)
    })
    .await
    .unwrap();
    (tail, got, written)
}

/// Every `key:n` exactly once and in order per key.
#[track_caller]
pub(crate) fn assert_complete_and_ordered(lines: &[String], written: &[usize]) {
    let mut seen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for line in lines {
        let (key, n) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("odd line {line:?}"));
        seen.entry(key.to_string())
            .or_default()
            .push(n.parse().unwrap());
    }
    for (k, count) in written.iter().enumerate() {
        let got = seen.remove(&format!("k{k}")).unwrap_or_default();
        let want: Vec<usize> = (0..*count).collect();
        assert!(
            got == want,
            "key k{k}: want 0..{count} in order, got {got:?}"
        );
    }
    assert!(seen.is_empty(), "unexpected keys {seen:?}");
}

pub(crate) async fn open_shards(
    client: &Client,
    stream: &str,
) -> Vec<aws_sdk_kinesis::types::Shard> {
    let out = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    out.shards()
        .iter()
        .filter(|s| {
            s.sequence_number_range()
                .is_some_and(|r| r.ending_sequence_number().is_none())
        })
        .cloned()
        .collect()
}

/// Split, merge and UpdateShardCount while a producer writes and ktail follows: nothing lost,
/// nothing twice, each key in order (children are read only after their parents are drained).
#[tokio::test(flavor = "multi_thread")]
async fn resharding_while_tailing_loses_nothing_and_keeps_key_order() {
    reshard_while_tailing(support::kinesis_mock()).await;
}

/// The same where the service sends no ChildShards (ferrokinesis): children are found from
/// ListShards' parent ids.
#[tokio::test(flavor = "multi_thread")]
async fn resharding_without_child_shards_in_responses() {
    reshard_while_tailing(&support::ferrokinesis()).await;
}

async fn reshard_while_tailing(emu: &Emulator) {
    reshard_while_tailing_with(emu, &[]).await;
}

/// [`reshard_while_tailing`] with extra flags for the tail (`--efo`).
pub(crate) async fn reshard_while_tailing_with(emu: &Emulator, flags: &[&str]) {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let name = unique_name("tail-reshard");
    emu.create_stream(&name, 2).await;
    let client = emu.kinesis().await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--oldest", "--poll-interval", "200ms"])
        .args(flags);
    let tail = Running::spawn(cmd);

    let stop = Arc::new(AtomicBool::new(false));
    let producer = spawn_producer(client.clone(), name.clone(), 6, stop.clone());
    let pause = Duration::from_millis(1500);

    tokio::time::sleep(pause).await;
    // Split the first shard at the middle of its range.
    let shard = open_shards(&client, &name).await.remove(0);
    let range = shard.hash_key_range().unwrap();
    let lo: u128 = range.starting_hash_key().parse().unwrap();
    let hi: u128 = range.ending_hash_key().parse().unwrap();
    client
        .split_shard()
        .stream_name(&name)
        .shard_to_split(shard.shard_id())
        .new_starting_hash_key((lo + (hi - lo) / 2).to_string())
        .send()
        .await
        .unwrap();
    emu.wait_active(&client, &name).await;
    tokio::time::sleep(pause).await;

    // Merge the two halves back.
    let mut open = open_shards(&client, &name).await;
    open.sort_by_key(|s| {
        s.hash_key_range()
            .unwrap()
            .starting_hash_key()
            .parse::<u128>()
            .unwrap()
    });
    client
        .merge_shards()
        .stream_name(&name)
        .shard_to_merge(open[0].shard_id())
        .adjacent_shard_to_merge(open[1].shard_id())
        .send()
        .await
        .unwrap();
    emu.wait_active(&client, &name).await;
    tokio::time::sleep(pause).await;

    if emu.kind == support::Kind::Ferrokinesis {
        // ferrokinesis 0.7 gives the shards UpdateShardCount makes no parents (AWS reshards by
        // splits and merges, whose shards name them), so no reader can know that they must wait
        // for the old ones, and per-key order held there only while the old shards happened to
        // be read out first (a race lost more often since polls are paced at 2/s). There the
        // third reshard is another split, which names its parent.
        let shard = open_shards(&client, &name).await.remove(0);
        let range = shard.hash_key_range().unwrap();
        let lo: u128 = range.starting_hash_key().parse().unwrap();
        let hi: u128 = range.ending_hash_key().parse().unwrap();
        client
            .split_shard()
            .stream_name(&name)
            .shard_to_split(shard.shard_id())
            .new_starting_hash_key((lo + (hi - lo) / 2).to_string())
            .send()
            .await
            .unwrap();
    } else {
        client
            .update_shard_count()
            .stream_name(&name)
            .target_shard_count(3)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
            .unwrap();
    }
    emu.wait_active(&client, &name).await;
    tokio::time::sleep(pause).await;

    let (tail, got, written) = stop_and_read(&stop, producer, tail, Duration::from_secs(90)).await;
    // Anything printed twice would come now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    tail.interrupt();
    let out = tail.wait(RUN);
    // `out` holds the whole stdout, including the lines read above.
    assert!(out.stdout_lines().starts_with(&got));
    assert_complete_and_ordered(&out.stdout_lines(), &written);
}

/// Iterators that expire between polls (ferrokinesis with a 1 s TTL, ktail polling every 3 s):
/// each read resumes after the last record seen.
#[tokio::test(flavor = "multi_thread")]
async fn expired_iterators_resume_without_loss() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let emu = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        iterator_ttl_seconds: 1,
        ..support::ferrokinesis_options()
    });
    let name = unique_name("tail-expire");
    emu.create_stream(&name, 2).await;
    let client = emu.kinesis().await;
    let mut cmd = emu.ktail();
    cmd.args([
        "--debug",
        "tail",
        &name,
        "--oldest",
        "--poll-interval",
        "3s",
    ]);
    let tail = Running::spawn(cmd);
    let stop = Arc::new(AtomicBool::new(false));
    let producer = spawn_producer(client, name, 4, stop.clone());
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (tail, got, written) = stop_and_read(&stop, producer, tail, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        tail.stderr().contains("iterator expired"),
        "the case was not exercised"
    );
    tail.interrupt();
    let out = tail.wait(RUN);
    // `out` holds the whole stdout, including the lines read above.
    assert!(out.stdout_lines().starts_with(&got));
    assert_complete_and_ordered(&out.stdout_lines(), &written);
}

/// GetRecords throttled in bursts longer than the SDK's own retries: ktail backs off and goes on.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_loses_nothing() {
    let emu = support::ferrokinesis();
    let records = lines(300, "t");
    let stream = stream_with(&emu, 2, &records).await;
    let proxy = support::fault_proxy::start(
        &emu.endpoint,
        "GetRecords",
        "ProvisionedThroughputExceededException",
        std::sync::Arc::new(|n| n % 12 < 9),
    );
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint).args([
        "--debug",
        "tail",
        &stream,
        "--oldest",
        "-e",
        "--poll-interval",
        "200ms",
    ]);
    let out = run_ktail(cmd, Duration::from_secs(120));
    out.assert_success();
    assert!(proxy.injected.load(std::sync::atomic::Ordering::SeqCst) >= 4);
    assert!(
        out.stderr.contains("throttled"),
        "ktail's own backoff was not exercised: {}",
        out.stderr
    );
    let want: Vec<String> = records
        .iter()
        .map(|(_, d)| String::from_utf8(d.clone()).unwrap())
        .collect();
    assert_eq!(sorted(out.stdout_lines()), sorted(want));
}

/// `-e` after resharding: closed shards are read to their end and their children after them.
#[tokio::test(flavor = "multi_thread")]
async fn no_follow_reads_closed_shards_then_children() {
    let emu = support::ferrokinesis();
    let name = unique_name("tail-e-reshard");
    emu.create_stream(&name, 1).await;
    let client = emu.kinesis().await;
    let keys = 5;
    let mut written = vec![0usize; keys];
    let write_round = |client: Client, name: String, written: Vec<usize>| async move {
        let mut written = written;
        for (k, n) in written.iter_mut().enumerate() {
            put_one(
                &client,
                &name,
                &format!("k{k}"),
                format!("k{k}:{n}").as_bytes(),
            )
            .await;
            *n += 1;
        }
        written
    };
    for _ in 0..10 {
        written = write_round(client.clone(), name.clone(), written).await;
    }
    let shard = open_shards(&client, &name).await.remove(0);
    client
        .split_shard()
        .stream_name(&name)
        .shard_to_split(shard.shard_id())
        .new_starting_hash_key((u128::MAX / 2).to_string())
        .send()
        .await
        .unwrap();
    emu.wait_active(&client, &name).await;
    for _ in 0..10 {
        written = write_round(client.clone(), name.clone(), written).await;
    }
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--oldest", "-e"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    assert_complete_and_ordered(&out.stdout_lines(), &written);
}

/// A stream deleted under a following tail ends it with one clear line and exit 1.
#[tokio::test(flavor = "multi_thread")]
async fn deleted_stream_while_following_exits_1() {
    let emu = support::ferrokinesis();
    let stream = stream_with(&emu, 2, &lines(3, "r")).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &stream, "--oldest", "--poll-interval", "200ms"]);
    let mut tail = Running::spawn(cmd);
    let (tail_back, got) = tokio::task::spawn_blocking(move || {
        let got = tail.read_lines(3, LINE);
        (tail, got)
    })
    .await
    .unwrap();
    assert_eq!(got.len(), 3);
    let client = emu.kinesis().await;
    client
        .delete_stream()
        .stream_name(&stream)
        .send()
        .await
        .unwrap();
    let out = tail_back.wait(RUN);
    out.assert_code(1);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains(&stream), "{}", out.stderr);
}

/// AccessDenied (which no emulator produces; injected by the proxy) names the missing permission.
#[tokio::test(flavor = "multi_thread")]
async fn access_denied_names_the_permission() {
    let emu = support::ferrokinesis();
    let stream = stream_with(&emu, 1, &lines(3, "r")).await;
    let proxy = support::fault_proxy::start(
        &emu.endpoint,
        "GetRecords",
        "AccessDeniedException",
        std::sync::Arc::new(|_| true),
    );
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(["tail", &stream, "--oldest"]);
    let out = run_ktail(cmd, RUN);
    // Exit 4: access denied has its own code (issue 12 item 11).
    out.assert_code(4);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("kinesis:GetRecords"), "{}", out.stderr);
    assert!(out.stderr.contains(&stream), "{}", out.stderr);
}

/// The README's promise for `-e`, quoted by the tests of issue 17 item 1 (checked against the
/// README, whitespace aside, so the quote cannot drift from it).
const NO_FOLLOW_PROMISE: [&str; 2] = [
    "`-e` ends once every shard is caught up, also on a stream that keeps receiving writes.",
    "So `-e` prints every record written before it started, then exits.",
];

#[test]
fn the_no_follow_promise_is_in_the_readme() {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let readme = words(include_str!("../README.md"));
    for promise in NO_FOLLOW_PROMISE {
        assert!(readme.contains(&words(promise)), "README lost {promise:?}");
    }
}

/// How long a `-e` tail of a busy stream may take: only a guard against the hang of issue 17,
/// never a timing assertion.
const BUSY_RUN: Duration = Duration::from_secs(150);

/// A writer that puts one record into every shard each `period` (ExplicitHashKey at each shard's
/// first hash key), so that no shard ever answers a poll or pushes an event without records: the
/// stream on which `-e` used to wait forever. Lines are `busy-<round>-<shard>`.
struct BusyWriter {
    shards: usize,
    /// Rounds whose PutRecords had returned.
    rounds: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl BusyWriter {
    async fn start(client: Client, stream: &str, period: Duration) -> BusyWriter {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let mut keys: Vec<String> = open_shards(&client, stream)
            .await
            .iter()
            .map(|s| s.hash_key_range().unwrap().starting_hash_key().to_string())
            .collect();
        keys.sort_by_key(|k| k.parse::<u128>().unwrap());
        let (rounds, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let shards = keys.len();
        let task = {
            let (rounds, stop, stream) = (rounds.clone(), stop.clone(), stream.to_string());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let round = rounds.load(Ordering::SeqCst);
                    let mut pending: Vec<PutRecordsRequestEntry> = keys
                        .iter()
                        .enumerate()
                        .map(|(i, key)| {
                            PutRecordsRequestEntry::builder()
                                .partition_key("busy")
                                .explicit_hash_key(key)
                                .data(Blob::new(format!("busy-{round}-{i}")))
                                .build()
                                .unwrap()
                        })
                        .collect();
                    for attempt in 0.. {
                        assert!(attempt < 50, "put_records keeps failing");
                        let out = client
                            .put_records()
                            .stream_name(&stream)
                            .set_records(Some(pending.clone()))
                            .send()
                            .await
                            .unwrap();
                        if out.failed_record_count().unwrap_or(0) == 0 {
                            break;
                        }
                        pending = pending
                            .into_iter()
                            .zip(out.records())
                            .filter(|(_, r)| r.error_code().is_some())
                            .map(|(e, _)| e)
                            .collect();
                    }
                    rounds.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(period).await;
                }
            })
        };
        let writer = BusyWriter {
            shards,
            rounds,
            stop,
            task,
        };
        // Let the stream be busy before the tail starts.
        while writer.rounds() < 5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        writer
    }

    fn rounds(&self) -> usize {
        self.rounds.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops writing; returns the rounds written.
    async fn stop(self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.task.await.unwrap();
        self.rounds.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `ktail tail STREAM <flags> -e` while a [`BusyWriter`] writes every `period`: it ends by itself,
/// printing every record written before it started, each once (issue 17 item 1).
async fn no_follow_ends_on_a_busy_stream(emu: &Emulator, flags: &[&str], period: Duration) {
    let name = unique_name("tail-e-busy");
    emu.create_stream(&name, 2).await;
    let writer = BusyWriter::start(emu.kinesis().await, &name, period).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "-e"]).args(flags);
    // Every round counted here had been written before ktail started.
    let before = writer.rounds();
    let shards = writer.shards;
    let out = tokio::task::spawn_blocking(move || run_ktail(cmd, BUSY_RUN))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let written = writer.stop().await;
    out.assert_success();
    let got = out.stdout_lines();
    let mut seen = HashSet::new();
    for line in &got {
        assert!(seen.insert(line.as_str()), "printed twice: {line}");
        let round: usize = line
            .strip_prefix("busy-")
            .and_then(|l| l.split('-').next())
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("odd line {line:?}"));
        assert!(round < written, "a record never written: {line}");
    }
    for round in 0..before {
        for shard in 0..shards {
            let line = format!("busy-{round}-{shard}");
            assert!(
                seen.contains(line.as_str()),
                "{:?}: {line}, written before ktail started, was not printed \
                 ({before} rounds before, {written} in all, {} lines)",
                NO_FOLLOW_PROMISE[1],
                got.len()
            );
        }
    }
}

/// Polling, from the oldest record, on ferrokinesis (whose MillisBehindLatest is always 0: the
/// end comes from a page short of its limit).
#[tokio::test(flavor = "multi_thread")]
async fn regression_17_no_follow_ends_on_a_busy_stream_from_the_oldest() {
    let emu = support::ferrokinesis();
    no_follow_ends_on_a_busy_stream(&emu, &["--oldest"], Duration::from_millis(300)).await;
}

/// Polling from `--since`, on kinesis-mock (millisecond AT_TIMESTAMP, and a MillisBehindLatest
/// computed as AWS documents it).
#[tokio::test(flavor = "multi_thread")]
async fn regression_17_no_follow_ends_on_a_busy_stream_since() {
    no_follow_ends_on_a_busy_stream(
        support::kinesis_mock(),
        &["--since", "1m"],
        Duration::from_millis(300),
    )
    .await;
}

/// Enhanced fan-out on kinesis-mock, which pushes an event each second with MillisBehindLatest
/// computed as AWS documents it: with a write every 300 ms, every event carries records.
#[tokio::test(flavor = "multi_thread")]
async fn regression_17_efo_no_follow_ends_on_a_busy_stream() {
    no_follow_ends_on_a_busy_stream(
        support::kinesis_mock(),
        &["--efo", "--oldest"],
        Duration::from_millis(300),
    )
    .await;
}

/// Enhanced fan-out on ferrokinesis, which pushes an event every 200 ms: the writer puts every
/// 50 ms so that every event carries records, as on a busy stream on AWS.
#[tokio::test(flavor = "multi_thread")]
async fn regression_17_efo_no_follow_ends_on_a_busy_stream_ferrokinesis() {
    let emu = support::ferrokinesis();
    no_follow_ends_on_a_busy_stream(&emu, &["--efo", "--oldest"], Duration::from_millis(50)).await;
}

// ---------------------------------------------------------------------------------------------
// Reading politely (issue 12 item 6), through the realism layer's read limits
// (support::throttle): pace and throttling are counted by the proxy, per shard, never timed here.
// ---------------------------------------------------------------------------------------------

/// `n` records of `size` bytes each (`<prefix>-<i>-xxx…`), keys spread over the shards.
fn sized_lines(n: usize, prefix: &str, size: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let mut data = format!("{prefix}-{i}-").into_bytes();
            data.resize(size, b'x');
            (format!("key-{i}"), data)
        })
        .collect()
}

fn texts(records: &[(String, Vec<u8>)]) -> Vec<String> {
    records
        .iter()
        .map(|(_, d)| String::from_utf8(d.clone()).unwrap())
        .collect()
}

/// The shards' GetRecords as the proxy saw them (calls with an iterator it never saw issued
/// would be under "?": there must be none).
fn calls_per_shard(
    proxy: &support::throttle::ThrottleProxy,
    shards: usize,
) -> BTreeMap<String, Vec<support::throttle::Call>> {
    let calls = proxy.calls();
    assert!(
        !calls.contains_key("?"),
        "GetRecords on an unknown iterator"
    );
    assert_eq!(calls.len(), shards, "shards read: {:?}", calls.keys());
    calls
}

/// `tail --oldest -e <flags>` on a backlog of about 6 MiB per shard (two shards), through AWS's
/// read limits: every record printed, no call throttled, never more than `rate` GetRecords per
/// shard within a second of the proxy's clock, and at least `min_calls` calls per shard (the
/// backlog takes several paced calls, sized to the rate).
async fn drain_at(emu: &Emulator, stream: &str, want: &[String], flags: &[&str], rate: usize) {
    let proxy = support::throttle::start(&emu.endpoint);
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(["tail", stream, "--oldest", "-e"])
        .args(flags);
    let out = tokio::task::spawn_blocking(move || run_ktail(cmd, Duration::from_secs(180)))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    out.assert_success();
    assert_eq!(
        sorted(out.stdout_lines()),
        sorted(want.to_vec()),
        "{flags:?}: not every record, once"
    );
    let calls = calls_per_shard(&proxy, 2);
    assert_eq!(
        proxy.throttled(),
        0,
        "{flags:?}: ktail was throttled: {calls:?}"
    );
    for (shard, most) in proxy.most_calls_in_a_second() {
        assert!(
            most <= rate,
            "{flags:?}: {most} GetRecords on {shard} within one second (at most {rate}): {:?}",
            calls[&shard]
        );
    }
    for (shard, calls) in &calls {
        // 1 MiB a call at 2/s, 2 MiB at 1/s, 0.4 MiB at 5/s: 3 calls or more for ~4-8 MiB.
        assert!(calls.len() >= 3, "{flags:?}: {shard} drained in {calls:?}");
    }
}

async fn backlog(emu: &Emulator) -> (String, Vec<String>) {
    // 1,200 records of 10 KiB: about 6 MiB per shard, several calls at any rate.
    let records = sized_lines(1200, "big", 10 * 1024);
    (stream_with(emu, 2, &records).await, texts(&records))
}

/// Catching up costs a shard at most 2 of its 5 GetRecords per second by default, and still
/// drains it: each call asks for about 1 MiB, so 2 calls read the shard's 2 MiB/s.
#[tokio::test(flavor = "multi_thread")]
async fn catching_up_takes_at_most_two_reads_per_second_per_shard() {
    let emu = support::ferrokinesis();
    let (stream, want) = backlog(&emu).await;
    drain_at(&emu, &stream, &want, &[], 2).await;
}

/// `--max-read-rate N` sets the pace, from 1 to the shard's 5, never throttled: the calls are
/// sized so that N of them read 2 MiB/s, the shard's byte limit, and no more.
#[tokio::test(flavor = "multi_thread")]
async fn max_read_rate_sets_the_pace() {
    let emu = support::ferrokinesis();
    let (stream, want) = backlog(&emu).await;
    drain_at(&emu, &stream, &want, &["--max-read-rate", "1"], 1).await;
    drain_at(&emu, &stream, &want, &["--max-read-rate", "5"], 5).await;
}

/// Out of range or not a number: a usage error (exit 2) that says the range, before any call.
#[test]
fn max_read_rate_out_of_range_is_a_usage_error() {
    for bad in ["0", "5.5", "-1", "twice"] {
        let mut cmd = support::ktail();
        // Nothing listens there: an AWS call would fail with exit 1, not 2.
        cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").args([
            "tail",
            "s",
            &format!("--max-read-rate={bad}"),
        ]);
        let out = run_ktail(cmd, RUN);
        out.assert_code(2);
        assert!(
            out.stderr.contains("--max-read-rate") && out.stdout.is_empty(),
            "{bad}: {}",
            out.stderr
        );
    }
    let mut cmd = support::ktail();
    cmd.args(["tail", "--help"]);
    let help = run_ktail(cmd, RUN);
    help.assert_success();
    assert!(help.stdout_str().contains("--max-read-rate <N>"));
}

/// The least time between a throttled GetRecords' arrival and the next call's on that shard,
/// after `streak` refusals in a row: the lower end of the reader's jittered backoff (from 1 s,
/// doubling, to 5 s; half of that at least), and never less than the default pace (500 ms).
fn least_backoff(streak: u32) -> Duration {
    let cap = Duration::from_secs(1)
        .saturating_mul(1 << (streak - 1).min(8))
        .min(Duration::from_secs(5));
    (cap / 2).max(Duration::from_millis(500))
}

/// Another consumer takes a shard's whole read throughput (2 MiB/s) while ktail follows it:
/// ktail is refused with ProvisionedThroughputExceededException, as on AWS, backs off (further
/// after each refusal, never above its pace), and once the other consumer stops it reads on;
/// nothing is lost or printed twice.
#[tokio::test(flavor = "multi_thread")]
async fn throttled_reads_back_off_and_lose_nothing() {
    let emu = support::ferrokinesis();
    let name = unique_name("tail-throttled");
    emu.create_stream(&name, 2).await;
    let client = emu.kinesis().await;
    let before = lines(100, "before");
    put_keyed(&client, &name, &before).await;
    let proxy = support::throttle::start(&emu.endpoint);
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(["--debug", "tail", &name, "--oldest"]);
    let tail = Running::spawn(cmd);
    let tail = tokio::task::spawn_blocking(move || {
        let mut tail = tail;
        tail.read_lines(before.len(), RUN);
        tail
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    // The other consumer: 2 MiB each second, until ktail was refused 3 times on each shard.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let refused = |proxy: &support::throttle::ThrottleProxy| {
        let calls = proxy.calls();
        let per_shard: Vec<usize> = calls
            .values()
            .map(|calls| calls.iter().filter(|c| c.throttled).count())
            .collect();
        per_shard.len() == 2 && per_shard.iter().all(|&n| n >= 3)
    };
    let after = lines(100, "after");
    let mut put_after = false;
    while !refused(&proxy) {
        assert!(
            std::time::Instant::now() < deadline,
            "ktail was not throttled 3 times per shard: {:?}",
            proxy.calls()
        );
        proxy.other_consumer_read(2 << 20);
        if !put_after {
            // Written while ktail is being refused.
            put_keyed(&client, &name, &after).await;
            put_after = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The other consumer stopped: its last read is paid off within a second.
    let tail = tokio::task::spawn_blocking(move || {
        let mut tail = tail;
        tail.read_lines(after.len(), RUN);
        tail
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    tail.interrupt();
    let out = tail.wait(RUN);
    out.assert_code(130);
    let want = texts(&lines(100, "before"))
        .into_iter()
        .chain(texts(&lines(100, "after")))
        .collect();
    assert_eq!(sorted(out.stdout_lines()), sorted(want));
    assert!(
        out.stderr.contains("throttled; backing off"),
        "ktail's own backoff was not exercised"
    );

    for (shard, calls) in calls_per_shard(&proxy, 2) {
        let mut streak = 0;
        for pair in calls.windows(2) {
            streak = if pair[0].throttled { streak + 1 } else { 0 };
            if streak > 0 {
                let gap = pair[1].at - pair[0].at;
                assert!(
                    gap >= least_backoff(streak),
                    "{shard}: the call after {streak} refusals in a row came {gap:?} later \
                     (at least {:?}): {calls:?}",
                    least_backoff(streak)
                );
            }
        }
    }
    for (shard, most) in proxy.most_calls_in_a_second() {
        assert!(most <= 2, "{most} GetRecords on {shard} within one second");
    }
}
