//! The grep function end to end against emulators: the handler in-process against ferrokinesis
//! (and moto for the TTL guard), then the committed x86_64 `bootstrap` as a process behind a
//! Lambda Runtime API stand-in. Every case reads the output stream back, de-aggregates it, and
//! compares it with exactly the matches expected, in order.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine as _;
use bytes::Bytes;
use ktail::function::{Config, Handler, Report};
use ktail::retry::Backoff;
use ktail_testkit::{self as support, Emulator};
use serde_json::{Value, json};

const SHARD: &str = "shardId-000000000000";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// A Lambda Kinesis event: `(source shard, sequence number, data)` per record.
fn event_json(records: &[(&str, String, Vec<u8>)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(shard, seq, data)| {
            json!({
                "eventID": format!("{shard}:{seq}"),
                "eventName": "aws:kinesis:record",
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/source",
                "invokeIdentityArn": "arn:aws:iam::000000000000:role/ktail-grep",
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "pk",
                    "sequenceNumber": seq,
                    "data": b64(data),
                    "approximateArrivalTimestamp": 1_700_000_000.5,
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

fn event(records: &[(&str, String, Vec<u8>)]) -> KinesisEvent {
    serde_json::from_value(event_json(records)).unwrap()
}

/// One source shard's records, sequence numbers 1, 2, ...
fn one_shard(data: &[Vec<u8>]) -> Vec<(&'static str, String, Vec<u8>)> {
    data.iter()
        .enumerate()
        .map(|(i, d)| (SHARD, format!("{}", 1000 + i), d.clone()))
        .collect()
}

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

async fn handler(kinesis: &Emulator, vars: &[(&str, &str)]) -> Handler {
    Handler::new(
        config(vars),
        kinesis.kinesis().await,
        support::moto().lambda().await,
    )
    .with_backoff(Backoff::exponential(
        Duration::from_millis(20),
        Duration::from_millis(200),
    ))
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

/// Every user record in `stream`, shard by shard in shard order, as (output partition key, data).
async fn read_back(kinesis: &Emulator, stream: &str) -> Vec<(String, Vec<u8>)> {
    let client = kinesis.kinesis().await;
    let shards = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        loop {
            let page = match client.get_records().shard_iterator(&iterator).send().await {
                Ok(page) => page,
                // The throttled emulator limits reads too.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_provisioned_throughput_exceeded_exception()) =>
                {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
                Err(e) => panic!("GetRecords: {e:?}"),
            };
            for record in page.records() {
                let data = Bytes::copy_from_slice(record.data().as_ref());
                let key = record.partition_key().unwrap_or_default();
                for user in ktail::kpl::deaggregate(data, key, None) {
                    out.push((key.to_owned(), user.data.to_vec()));
                }
            }
            if page.records().is_empty() && page.millis_behind_latest().unwrap_or(0) == 0 {
                break;
            }
            match page.next_shard_iterator() {
                Some(next) => iterator = next.to_owned(),
                None => break,
            }
        }
    }
    out
}

fn datas(records: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    records.iter().map(|(_, d)| d.clone()).collect()
}

fn lines(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn failures(response: &aws_lambda_events::event::streams::KinesisEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn plain_and_non_utf8_matches_arrive_aggregated_in_order() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 2).await;
    let handler = handler(&kinesis, &[("MATCH", "error"), ("STREAM_NAME", &out)]).await;
    let mut input = lines(&["error 1", "ok 2", "an error 3", "fine", "error 5"]);
    input.insert(2, b"\xff\xfe binary error \x00\x80".to_vec());
    input.push(b"\xff\xfe binary ok \x00".to_vec());
    let (response, report) = handler
        .process(event(&one_shard(&input)), in_a_minute())
        .await;
    assert!(failures(&response).is_empty());
    assert_eq!(
        (
            report.records_in,
            report.user_records,
            report.matched,
            report.put,
            report.calls
        ),
        (7, 7, 4, 1, 1),
        "{report:?}"
    );
    let got = read_back(&kinesis, &out).await;
    assert_eq!(
        datas(&got),
        vec![
            b"error 1".to_vec(),
            b"\xff\xfe binary error \x00\x80".to_vec(),
            b"an error 3".to_vec(),
            b"error 5".to_vec()
        ]
    );
    assert!(
        got.iter().all(|(pk, _)| pk == SHARD),
        "partition key is the source shard"
    );
}

#[tokio::test]
async fn invert_and_ignore_case() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let input = lines(&["ERROR a", "error b", "ok c", "Error d", "fine e"]);

    let ignore_case = handler(
        &kinesis,
        &[
            ("MATCH", "error"),
            ("STREAM_NAME", &out),
            ("MATCH_IGNORE_CASE", "true"),
        ],
    )
    .await;
    ignore_case
        .process(event(&one_shard(&input)), in_a_minute())
        .await;
    assert_eq!(
        datas(&read_back(&kinesis, &out).await),
        lines(&["ERROR a", "error b", "Error d"])
    );

    let out2 = support::unique_name("out");
    kinesis.create_stream(&out2, 1).await;
    let invert = handler(
        &kinesis,
        &[
            ("MATCH", "error"),
            ("STREAM_NAME", &out2),
            ("MATCH_INVERT", "1"),
        ],
    )
    .await;
    invert
        .process(event(&one_shard(&input)), in_a_minute())
        .await;
    assert_eq!(
        datas(&read_back(&kinesis, &out2).await),
        lines(&["ERROR a", "ok c", "Error d", "fine e"])
    );
}

#[tokio::test]
async fn no_match_makes_no_put_records_call() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let proxy = support::fault_proxy::start(
        &kinesis.endpoint,
        "PutRecords",
        "InternalFailure",
        Arc::new(|_| false),
    );
    let client = kinesis_client_at(&kinesis, &proxy.endpoint).await;
    let handler = Handler::new(
        config(&[("MATCH", "error"), ("STREAM_NAME", &out)]),
        client,
        support::moto().lambda().await,
    );
    let (response, report) = handler
        .process(event(&one_shard(&lines(&["ok", "fine"]))), in_a_minute())
        .await;
    assert!(failures(&response).is_empty());
    assert_eq!((report.matched, report.calls), (0, 0));
    assert_eq!(proxy.seen.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(read_back(&kinesis, &out).await.is_empty());
}

/// A client for `kinesis` that goes through `endpoint` (a proxy in front of it).
async fn kinesis_client_at(kinesis: &Emulator, endpoint: &str) -> aws_sdk_kinesis::Client {
    let config = kinesis
        .kinesis()
        .await
        .config()
        .to_builder()
        .endpoint_url(endpoint)
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

#[tokio::test]
async fn python_aggregated_records_are_matched_per_user_record() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    // Two aggregated records made by the official Python aws-kinesis-agg, then a plain one.
    let users: Vec<String> = (0..300)
        .map(|i| {
            format!(
                "{{\"n\":{i},\"level\":\"{}\"}}",
                if i % 7 == 0 { "error" } else { "info" }
            )
        })
        .collect();
    let input: Vec<Value> = users
        .iter()
        .map(|u| json!({"pk": format!("k{}", u.len()), "ehk": null, "data": b64(u.as_bytes())}))
        .collect();
    let aggregated = python_aggregate(&input, 4096);
    assert!(
        aggregated.len() > 1,
        "python made {} records",
        aggregated.len()
    );
    let mut records: Vec<Vec<u8>> = aggregated;
    records.push(b"{\"plain\":true,\"level\":\"error\"}".to_vec());
    let handler = handler(
        &kinesis,
        &[("MATCH", "\"level\":\"error\""), ("STREAM_NAME", &out)],
    )
    .await;
    let (_, report) = handler
        .process(event(&one_shard(&records)), in_a_minute())
        .await;
    let mut expected: Vec<Vec<u8>> = users
        .iter()
        .filter(|u| u.contains("error"))
        .map(|u| u.as_bytes().to_vec())
        .collect();
    expected.push(b"{\"plain\":true,\"level\":\"error\"}".to_vec());
    assert_eq!(report.user_records, 301);
    assert_eq!(report.matched, expected.len());
    assert_eq!(datas(&read_back(&kinesis, &out).await), expected);
}

/// Aggregates with aws-kinesis-agg (tests/fixtures/kpl/xcheck.py) into records of at most `max` bytes.
fn python_aggregate(records: &[Value], max: usize) -> Vec<Vec<u8>> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kpl/xcheck.py");
    let mut child = Command::new(support::python())
        .arg(script)
        .args(["aggregate", &max.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), records).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "xcheck.py failed");
    let out: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    out.iter()
        .map(|r| {
            base64::engine::general_purpose::STANDARD
                .decode(r["data"].as_str().unwrap())
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn ten_thousand_records_from_two_shards_keep_per_shard_order() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 4).await;
    let pad = "x".repeat(900);
    let mut records = Vec::new();
    let mut expected: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let shards = ["shardId-000000000003", "shardId-000000000007"];
    for i in 0..10_000 {
        let shard = i % 2;
        let status = if i % 3 == 0 { 500 } else { 200 };
        let line = format!("{{\"i\":{i},\"status\":{status},\"pad\":\"{pad}\"}}").into_bytes();
        if status == 500 {
            expected[shard].push(line.clone());
        }
        records.push((shards[shard], format!("{i}"), line));
    }
    let handler = handler(
        &kinesis,
        &[("MATCH", "\"status\":500"), ("STREAM_NAME", &out)],
    )
    .await;
    let (response, report) = handler.process(event(&records), in_a_minute()).await;
    assert!(failures(&response).is_empty(), "{report:?}");
    assert_eq!((report.records_in, report.matched), (10_000, 3334));
    assert!(
        report.put <= 6,
        "3.1 MB of matches should take a few aggregated records, took {}",
        report.put
    );
    let got = read_back(&kinesis, &out).await;
    assert_eq!(got.len(), 3334);
    for (shard, expected) in shards.iter().zip(expected) {
        let mine: Vec<Vec<u8>> = got
            .iter()
            .filter(|(pk, _)| pk == shard)
            .map(|(_, d)| d.clone())
            .collect();
        assert!(
            mine == expected,
            "matches of {shard} are not all there in order"
        );
    }
}

/// 3 MB of matches into a one-shard stream throttled at 1 MiB/s: PutRecords fails some entries,
/// the function sends only those again until every one is in, in order.
#[tokio::test]
async fn throttled_entries_are_retried_until_all_arrive() {
    let kinesis = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        enforce_limits: true,
        ..support::ferrokinesis_options()
    });
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let input: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("error {i:05} {}", "y".repeat(1000)).into_bytes())
        .collect();
    let handler = handler(&kinesis, &[("MATCH", "error"), ("STREAM_NAME", &out)]).await;
    let (response, report) = handler
        .process(event(&one_shard(&input)), in_a_minute())
        .await;
    assert!(failures(&response).is_empty(), "{report:?}");
    assert!(
        report.retries > 0,
        "the emulator should have throttled: {report:?}"
    );
    assert_eq!((report.put, report.failed_items), (3, 0), "{report:?}");
    assert_eq!(datas(&read_back(&kinesis, &out).await), input);
}

/// Whole PutRecords calls failing (a proxy answers throttling errors, more times than the SDK
/// retries on its own) are retried too.
#[tokio::test]
async fn failed_calls_are_retried() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let proxy = support::fault_proxy::start(
        &kinesis.endpoint,
        "PutRecords",
        "ProvisionedThroughputExceededException",
        Arc::new(|n| n < 4),
    );
    let client = kinesis_client_at(&kinesis, &proxy.endpoint).await;
    let handler = Handler::new(
        config(&[("MATCH", "error"), ("STREAM_NAME", &out)]),
        client,
        support::moto().lambda().await,
    )
    .with_backoff(Backoff::exponential(
        Duration::from_millis(10),
        Duration::from_millis(50),
    ));
    let input = lines(&["error a", "ok", "error b"]);
    let (response, report) = handler
        .process(event(&one_shard(&input)), in_a_minute())
        .await;
    assert!(failures(&response).is_empty(), "{report:?}");
    assert_eq!(proxy.injected.load(std::sync::atomic::Ordering::Relaxed), 4);
    assert!(report.retries > 0, "{report:?}");
    assert_eq!(
        datas(&read_back(&kinesis, &out).await),
        lines(&["error a", "error b"])
    );
}

/// A stream that does not exist fails every time: no waiting, and Lambda is told to re-deliver
/// from the first record that had a match.
#[tokio::test]
async fn persistent_failure_reports_the_first_record_not_forwarded() {
    let kinesis = support::ferrokinesis();
    let handler = handler(
        &kinesis,
        &[("MATCH", "error"), ("STREAM_NAME", "no-such-stream")],
    )
    .await;
    let input = lines(&["ok", "fine", "error a", "error b"]);
    let started = std::time::Instant::now();
    let (response, report) = handler
        .process(event(&one_shard(&input)), in_a_minute())
        .await;
    assert_eq!(failures(&response), vec!["1002".to_string()], "{report:?}");
    assert_eq!(report.put, 0);
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or("")
            .contains("ResourceNotFound"),
        "{report:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a missing stream is not worth waiting for"
    );
}

/// Throttled beyond the invocation's time: what was put stays put, and the batch item failure
/// names the first source record whose matches are not all in the output.
#[tokio::test]
async fn out_of_time_reports_the_first_record_not_fully_forwarded() {
    let kinesis = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        enforce_limits: true,
        ..support::ferrokinesis_options()
    });
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let input: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("error {i:05} {}", "z".repeat(1000)).into_bytes())
        .collect();
    let records = one_shard(&input);
    let handler = handler(&kinesis, &[("MATCH", "error"), ("STREAM_NAME", &out)]).await;
    // Lambda's deadline 700 ms away leaves 200 ms after the response margin: not enough for 3 MB at 1 MiB/s.
    let (response, report) = handler
        .process(
            event(&records),
            SystemTime::now() + Duration::from_millis(700),
        )
        .await;
    let failed = failures(&response);
    assert_eq!(failed.len(), 1, "{report:?}");
    let first_missing = records
        .iter()
        .position(|(_, seq, _)| *seq == failed[0])
        .unwrap();
    assert!(first_missing > 0, "something was put: {report:?}");
    let got = datas(&read_back(&kinesis, &out).await);
    // Everything before the reported record is in the output, in order; re-delivery from it
    // completes the rest (at least once).
    assert!(
        got.len() >= first_missing && got.len() < input.len(),
        "{} of {}",
        got.len(),
        input.len()
    );
    assert_eq!(got[..first_missing], input[..first_missing]);
}

/// Past `KTAIL_EXPIRES_AT` the function forwards nothing and disables its own mapping (moto).
#[tokio::test]
async fn expired_function_disables_its_mapping_and_forwards_nothing() {
    let moto = support::moto();
    let kinesis = moto.kinesis().await;
    let lambda = moto.lambda().await;
    let iam = moto.iam().await;
    let source = support::unique_name("src");
    let out = support::unique_name("out");
    moto.create_stream(&source, 1).await;
    moto.create_stream(&out, 1).await;
    let role = iam
        .create_role()
        .role_name(support::unique_name("role"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let function = support::unique_name("ktail-grep");
    lambda
        .create_function()
        .function_name(&function)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().unwrap().arn())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(&source)
        .send()
        .await
        .unwrap();
    let stream_arn = stream_arn
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_owned();
    let mapping = lambda
        .create_event_source_mapping()
        .function_name(&function)
        .event_source_arn(&stream_arn)
        .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
        .send()
        .await
        .unwrap();
    let uuid = mapping.uuid().unwrap().to_owned();

    let past = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 5;
    let handler = Handler::new(
        config(&[
            ("MATCH", "error"),
            ("STREAM_NAME", &out),
            ("KTAIL_EXPIRES_AT", &past.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", &function),
        ]),
        kinesis.clone(),
        lambda.clone(),
    );
    let response = handler
        .handle(
            event(&one_shard(&lines(&["error 1", "error 2"]))),
            in_a_minute(),
        )
        .await;
    assert!(
        failures(&response).is_empty(),
        "an expired batch is done with, not retried"
    );
    let state = lambda
        .get_event_source_mapping()
        .uuid(&uuid)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(state.state(), Some("Disabled" | "Disabling")),
        "mapping state {:?}",
        state.state()
    );
    assert!(
        read_back(moto, &out).await.is_empty(),
        "nothing forwarded after expiry"
    );
}

/// Not yet expired: forwarding goes on and the mapping is left alone.
#[tokio::test]
async fn unexpired_function_forwards() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let future = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string();
    let handler = handler(
        &kinesis,
        &[
            ("MATCH", "error"),
            ("STREAM_NAME", &out),
            ("KTAIL_EXPIRES_AT", &future),
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
        ],
    )
    .await;
    handler
        .handle(event(&one_shard(&lines(&["error 1"]))), in_a_minute())
        .await;
    assert_eq!(datas(&read_back(&kinesis, &out).await), lines(&["error 1"]));
}

/// The committed x86_64 artifact itself: unzipped, run as Lambda runs it, one event in, the
/// matches in the output stream, the per-invocation log line in its log.
#[tokio::test]
async fn committed_bootstrap_forwards_matches() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let bootstrap = support::lambda_runtime::bootstrap("x86_64");
    let mut function = support::lambda_runtime::Function::spawn(
        &bootstrap,
        "ktail-grep-test",
        &[
            ("MATCH", "error"),
            ("STREAM_NAME", &out),
            ("AWS_ENDPOINT_URL", &kinesis.endpoint),
        ],
    );
    let mut agg = ktail::kpl::Aggregator::new();
    for line in ["agg error 1", "agg ok", "agg error 2"] {
        assert!(agg.add(line.as_bytes(), "p", None).is_none());
    }
    let aggregated = agg.flush().unwrap().data;
    let records = one_shard(&[
        b"error 0".to_vec(),
        b"ok".to_vec(),
        aggregated,
        b"\xfferror\xfe".to_vec(),
    ]);
    let payload = serde_json::to_vec(&event_json(&records)).unwrap();
    let outcome = tokio::task::spawn_blocking(move || {
        let outcome = function.invoke(&payload, Duration::from_secs(30));
        (outcome, function)
    })
    .await
    .unwrap();
    let (outcome, function) = outcome;
    assert_eq!(outcome.json(), json!({"batchItemFailures": []}));
    assert_eq!(
        datas(&read_back(&kinesis, &out).await),
        vec![
            b"error 0".to_vec(),
            b"agg error 1".to_vec(),
            b"agg error 2".to_vec(),
            b"\xfferror\xfe".to_vec()
        ]
    );
    let log = function.log();
    let line = log
        .lines()
        .find(|l| l.contains("records_in"))
        .unwrap_or_else(|| panic!("no report line in:\n{log}"));
    let report: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        (
            report["records_in"].as_u64(),
            report["user_records"].as_u64(),
            report["matched"].as_u64()
        ),
        (Some(4), Some(6), Some(4))
    );
    assert!(
        report["elapsed_ms"].is_u64() && report["retries"] == 0 && report["put"] == 1,
        "{report}"
    );
}

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/decode")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Mixed data as real streams carry it, in one shard: plain, Python's gzip, zlib and zstandard
/// (tests/fixtures/decode/make.py), CloudWatch Logs envelopes in three codecs and a control
/// message, an aggregate made by the Python aws-kinesis-agg holding plain, gzip, zstd and an
/// envelope, compressed aggregates (`ktail put --aggregate --compress`), corrupt, truncated, a
/// bomb past the cap, non-UTF-8 messages and a non-UTF-8 plain record.
fn mixed_records() -> Vec<Vec<u8>> {
    let python_users: Vec<Value> = [
        b"aggregated plain GetRecords line".to_vec(),
        fixture("text.gz"),
        fixture("cwl_data.gz"),
        fixture("text.zst"),
        b"aggregated plain other line".to_vec(),
    ]
    .iter()
    .map(|d| json!({"pk": "pk", "ehk": null, "data": b64(d)}))
    .collect();
    let python = python_aggregate(&python_users, 1024 * 1024);
    assert_eq!(python.len(), 1, "one aggregate");
    let mut agg = ktail::kpl::Aggregator::new();
    for user in [
        b"compressed aggregate GetRecords line".to_vec(),
        b"compressed aggregate other line".to_vec(),
        fixture("text.zlib"),
        fixture("cwl_data.zst"),
    ] {
        assert!(agg.add(&user, "pk", None).is_none());
    }
    let aggregate = agg.flush().unwrap().data;
    let compress = |codec| ktail::decode::compress(codec, &aggregate).unwrap();
    vec![
        b"plain GetRecords line".to_vec(),
        fixture("text.gz"),
        fixture("text.zlib"),
        fixture("text.zst"),
        fixture("cwl_data.gz"),
        fixture("cwl_data.zlib"),
        fixture("cwl_data.zst"),
        fixture("cwl_control.gz"),
        python[0].clone(),
        compress(ktail::decode::Codec::Gzip),
        compress(ktail::decode::Codec::Zstd),
        fixture("corrupt_crc.gz"),
        fixture("truncated.zlib"),
        fixture("bomb.gz"),
        fixture("cwl_non_utf8.gz"),
        b"\xff\xfe binary GetRecords \x00".to_vec(),
    ]
}

/// Plain and decompressed lines, some events of each envelope (a non-UTF-8 one too), and bad
/// data by its gzip magic (which it keeps, being forwarded as stored).
const MIXED_MATCH: &str = r"GetRecords|order placed|latin-1|\x1f";

/// One line as `ktail tail` shows it: the bytes and, for a log event, its log group and id.
type Line = (Vec<u8>, Option<(String, String)>);

/// The lines `ktail tail` prints for `records` (user records, decoded), those matching
/// `pattern` only when given.
fn tail_lines<'a>(records: impl IntoIterator<Item = &'a [u8]>, pattern: Option<&str>) -> Vec<Line> {
    use ktail::decode::{Decoder, Options, Tally};
    let matcher = pattern.map(|p| {
        ktail::filter::Matcher::new(&[p], ktail::filter::MatchOptions::default()).unwrap()
    });
    let mut decoder = Decoder::new(Options::default());
    let mut out = Vec::new();
    for record in records {
        for user in ktail::kpl::deaggregate(Bytes::copy_from_slice(record), "pk", None) {
            decoder.decode_each(&user.data, &mut Tally::new(), |_, decoded| {
                for item in decoded.items() {
                    if matcher.as_ref().is_some_and(|m| !m.is_match(item.line)) {
                        continue;
                    }
                    let log = item
                        .log
                        .map(|l| (l.log_group().to_owned(), l.id().to_owned()));
                    out.push((item.line.to_vec(), log));
                }
            });
        }
    }
    out
}

/// What the output stream holds, read as `ktail tail` reads it, is exactly the matching lines
/// of the mixed data, in order, envelope fields included.
fn assert_mixed_output(got: &[(String, Vec<u8>)]) {
    let records = mixed_records();
    let want = tail_lines(records.iter().map(Vec::as_slice), Some(MIXED_MATCH));
    let got = tail_lines(got.iter().map(|(_, d)| d.as_slice()), None);
    let show = |lines: &[Line]| {
        lines
            .iter()
            .map(|(l, _)| {
                String::from_utf8_lossy(l)
                    .chars()
                    .take(60)
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
    };
    assert!(
        got == want,
        "got {:#?}\nwant {:#?}",
        show(&got),
        show(&want)
    );
    // Independent of the library's reading: 2 plain GetRecords lines (one not UTF-8) and 3 in
    // aggregates; the GetRecords event of 6 envelopes (3 in aggregates); "order placed" from 3
    // codecs and 4 in aggregates; the latin-1 event; 2 bad records by their gzip magic (corrupt,
    // bomb). 21 lines, 7 of them log events.
    let count = |needle: &[u8]| {
        got.iter()
            .filter(|(l, _)| l.windows(needle.len()).any(|w| w == needle))
            .count()
    };
    assert_eq!(
        count(b"\"eventName\":\"GetRecords\""),
        6,
        "{:#?}",
        show(&got)
    );
    assert_eq!(count(b"\"msg\":\"order placed\""), 7, "{:#?}", show(&got));
    assert_eq!(count(b"latin-1 caf\xe9 and \xff\xfe"), 1);
    assert_eq!(count(b"\xff\xfe binary GetRecords \x00"), 1);
    assert_eq!(count(b"\x1f\x8b"), 2);
    assert!(count(b"CWL CONTROL MESSAGE") == 0 && count(b"PutRecords") == 0);
    assert_eq!(got.len(), 21, "{:#?}", show(&got));
    let groups: Vec<&str> = got
        .iter()
        .filter_map(|(_, log)| log.as_ref().map(|(group, _)| group.as_str()))
        .collect();
    assert_eq!(groups.len(), 7);
    assert!(groups.iter().all(|g| *g == "CloudTrail/logs"), "{groups:?}");
}

/// Mixed data through the handler in-process: each line matched after decoding, a compressed
/// aggregate opened as `tail` opens it, bad data forwarded as stored when it matches, the control
/// message dropped, and the invocation's counts.
#[tokio::test]
async fn mixed_data_is_decoded_and_matched_as_tail_decodes_it() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let handler = handler(&kinesis, &[("MATCH", MIXED_MATCH), ("STREAM_NAME", &out)]).await;
    let (response, report) = handler
        .process(event(&one_shard(&mixed_records())), in_a_minute())
        .await;
    assert!(failures(&response).is_empty(), "{report:?}");
    assert_eq!((report.records_in, report.matched), (16, 21), "{report:?}");
    assert_eq!(
        (report.control_messages, report.undecodable),
        (1, 3),
        "{report:?}"
    );
    let warning = report.decode_warning.as_deref().unwrap_or_default();
    assert!(
        warning.starts_with("3 records could not be decoded and were passed through as stored"),
        "{warning}"
    );
    assert_mixed_output(&read_back(&kinesis, &out).await);
}

/// The same mixed data through the committed x86_64 `bootstrap`, run as Lambda runs it.
#[tokio::test]
async fn committed_bootstrap_decodes_mixed_data() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let bootstrap = support::lambda_runtime::bootstrap("x86_64");
    let mut function = support::lambda_runtime::Function::spawn(
        &bootstrap,
        "ktail-grep-test",
        &[
            ("MATCH", MIXED_MATCH),
            ("STREAM_NAME", &out),
            ("AWS_ENDPOINT_URL", &kinesis.endpoint),
        ],
    );
    let payload = serde_json::to_vec(&event_json(&one_shard(&mixed_records()))).unwrap();
    let (outcome, function) = tokio::task::spawn_blocking(move || {
        let outcome = function.invoke(&payload, Duration::from_secs(60));
        (outcome, function)
    })
    .await
    .unwrap();
    assert_eq!(outcome.json(), json!({"batchItemFailures": []}));
    assert_mixed_output(&read_back(&kinesis, &out).await);
    let log = function.log();
    let line = log
        .lines()
        .find(|l| l.contains("records_in"))
        .unwrap_or_else(|| panic!("no report line in:\n{log}"));
    let report: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        (
            report["records_in"].as_u64(),
            report["matched"].as_u64(),
            report["control_messages"].as_u64(),
            report["undecodable"].as_u64()
        ),
        (Some(16), Some(21), Some(1), Some(3)),
        "{report}"
    );
}

/// A bad configuration fails init with one clear line, before any event is taken.
#[test]
fn committed_bootstrap_fails_init_on_a_bad_pattern() {
    let bootstrap = support::lambda_runtime::bootstrap("x86_64");
    let mut function = support::lambda_runtime::Function::spawn(
        &bootstrap,
        "ktail-grep-test",
        &[("MATCH", "(unclosed"), ("STREAM_NAME", "out")],
    );
    let status = function
        .wait_exit(Duration::from_secs(20))
        .expect("init should fail and exit");
    assert!(!status.success());
    let log = function.log();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.starts_with("ktail-grep: invalid configuration: MATCH is not a valid pattern"),
        "{log}"
    );
    assert_eq!(function.api.polls(), 0);
}

#[test]
fn report_serialises_every_counter() {
    let line = serde_json::to_value(Report {
        records_in: 3,
        elapsed_ms: 7,
        ..Report::default()
    })
    .unwrap();
    for key in [
        "records_in",
        "user_records",
        "matched",
        "put",
        "retries",
        "elapsed_ms",
    ] {
        assert!(line.get(key).is_some(), "{key} missing from {line}");
    }
}

/// A plain match within a few bytes of 1 MiB cannot carry the shard id as its key; it goes out
/// under a short key with the shard id's hash, so it lands in the same output shard, in order.
#[tokio::test]
async fn a_match_near_1_mib_keeps_its_place() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 4).await;
    let big = vec![b'e'; 1024 * 1024 - 1];
    let input = vec![b"e1".to_vec(), big.clone(), b"e2".to_vec()];
    let handler = handler(&kinesis, &[("MATCH", "e"), ("STREAM_NAME", &out)]).await;
    let (response, report) = handler
        .process(event(&one_shard(&input)), in_a_minute())
        .await;
    assert!(failures(&response).is_empty(), "{report:?}");
    assert_eq!(report.put, 3, "{report:?}");
    // read_back goes shard by shard: another shard would put the big record out of place.
    assert!(
        datas(&read_back(&kinesis, &out).await) == input,
        "out of order or missing"
    );
}

/// PutRecords may fail any entry of a call (InternalFailure, throttling) while the ones after it go
/// in. A match that fails in the middle must still land before the matches behind it (issue 12,
/// item 9): a proxy fails the second entry the function ever sends, once, and really puts the
/// others of that call, as Kinesis does.
#[tokio::test]
async fn a_failed_entry_in_the_middle_keeps_the_order() {
    let kinesis = support::ferrokinesis();
    let out = support::unique_name("out");
    kinesis.create_stream(&out, 1).await;
    let upstream = kinesis.endpoint.clone();
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let proxy = support::fault_proxy::start_answering(
        &kinesis.endpoint,
        "PutRecords",
        Arc::new(move |_, body| {
            let request: Value = serde_json::from_slice(body).ok()?;
            let entries = request["Records"].as_array()?;
            let first = sent.fetch_add(entries.len(), std::sync::atomic::Ordering::SeqCst);
            let failing = (first..first + entries.len()).position(|ordinal| ordinal == 1)?;
            let mut through = request.clone();
            through["Records"] = Value::Array(
                entries
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != failing)
                    .map(|(_, entry)| entry.clone())
                    .collect(),
            );
            let mut results = match through["Records"].as_array().map(Vec::len) {
                Some(0) => Vec::new(),
                _ => post(&upstream, "PutRecords", &through)["Records"]
                    .as_array()?
                    .clone(),
            };
            results.insert(
                failing,
                json!({"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."}),
            );
            let answer = json!({"FailedRecordCount": 1, "Records": results});
            Some((200, answer.to_string()))
        }),
    );
    let client = kinesis_client_at(&kinesis, &proxy.endpoint).await;
    let handler = Handler::new(
        config(&[("MATCH", "error"), ("STREAM_NAME", &out)]),
        client,
        support::moto().lambda().await,
    )
    .with_backoff(Backoff::exponential(
        Duration::from_millis(10),
        Duration::from_millis(50),
    ));
    // Three matches of 900 KB: one aggregate each, small enough for one PutRecords call together.
    let input: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("error {i} {}", "z".repeat(900 * 1024)).into_bytes())
        .collect();
    let (response, report) = handler
        .process(event(&one_shard(&input)), in_a_minute())
        .await;
    assert!(failures(&response).is_empty(), "{report:?}");
    assert!(report.retries > 0, "the proxy failed nothing: {report:?}");
    let got = datas(&read_back(&kinesis, &out).await);
    let heads = |records: &[Vec<u8>]| -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(&r[..8]).into_owned())
            .collect()
    };
    assert_eq!(heads(&got), heads(&input));
}

/// One Kinesis JSON call straight to an emulator (no SDK: this runs on a proxy thread, outside the
/// test's runtime). Emulators do not check signatures.
fn post(upstream: &str, operation: &str, body: &Value) -> Value {
    use std::io::{Read, Write};
    let host = upstream.trim_start_matches("http://").trim_end_matches('/');
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the emulator");
    write!(
        stream,
        "POST / HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/x-amz-json-1.1\r\n\
         x-amz-target: Kinesis_20131202.{operation}\r\n\
         authorization: AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/kinesis/aws4_request, \
         SignedHeaders=host, Signature=0\r\nx-amz-date: 20261203T000000Z\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send to the emulator");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read the emulator's answer");
    let start = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer")
        + 4;
    serde_json::from_slice(&response[start..]).expect("a JSON answer")
}
