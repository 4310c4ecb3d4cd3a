//! The grep function's cost per batch: a maximum Kinesis batch (10,000 records of ~1 KB JSON log
//! lines, ~14 MB of event JSON with base64) from the event bytes to the PutRecords request bodies
//! the SDK serialises. The network is left out: a connector answers every call with success.
//!
//! The same batch size of gzip'd CloudWatch Logs envelopes (10 events each, 100,000 log events)
//! measures decoding and per-event matching (issue 13).
//!
//! `cargo bench -p ktail-grep --bench handler`. Goal (TARGETS.md): ≤ 50 ms per batch on one core.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ktail::function::{Config, Handler};

const RECORDS: usize = 10_000;

/// Counts request body bytes and answers PutRecords with success for every entry.
#[derive(Debug, Clone, Default)]
struct Sink {
    bytes: Arc<AtomicUsize>,
}

impl HttpConnector for Sink {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().unwrap_or_default();
        self.bytes.fetch_add(body.len(), Ordering::Relaxed);
        let entries = body
            .windows(14)
            .filter(|w| w == b"\"PartitionKey\"")
            .count();
        let ok = r#"{"SequenceNumber":"1","ShardId":"shardId-000000000000"}"#;
        let response = format!(
            r#"{{"FailedRecordCount":0,"Records":[{}]}}"#,
            vec![ok; entries].join(",")
        );
        let status = 200u16.try_into().unwrap_or_else(|_| unreachable!());
        HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(response))))
    }
}

impl HttpClient for Sink {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A ~1 KB JSON log line, `"status":500` when `i` is a multiple of `every`.
fn log_line(i: usize, every: usize) -> String {
    let status = if i.is_multiple_of(every) { 500 } else { 200 };
    format!(
        r#"{{"ts":"2026-11-25T14:00:00.{i:06}Z","level":"info","service":"checkout","status":{status},"path":"/api/v1/orders/{i}","latency_ms":{},"user_agent":"Mozilla/5.0 (X11; Linux x86_64)","msg":"{}"}}"#,
        i % 977,
        "request handled ".repeat(33)
    )
}

/// The event Lambda would send: ~1 KB JSON log lines, one in `every` with `"status":500`.
fn event_json(every: usize) -> Vec<u8> {
    event_of((0..RECORDS).map(|i| log_line(i, every).into_bytes()))
}

/// Log events per envelope in the envelope batches.
const EVENTS_PER_ENVELOPE: usize = 10;

/// The event for a stream fed by a CloudWatch Logs subscription filter (issue 13): every record
/// a gzip'd `DATA_MESSAGE` of [`EVENTS_PER_ENVELOPE`] of the same log lines, one event in
/// `every` with `"status":500`.
fn envelope_event_json(every: usize) -> Vec<u8> {
    use ktail::decode::{Codec, DATA_MESSAGE, LogEvent, LogsEnvelope, compress};
    event_of((0..RECORDS).map(|r| {
        let first = r * EVENTS_PER_ENVELOPE;
        let lines: Vec<String> = (first..first + EVENTS_PER_ENVELOPE)
            .map(|i| log_line(i, every))
            .collect();
        let envelope = LogsEnvelope {
            owner: "123456789012".into(),
            log_group: "/ecs/checkout".into(),
            log_stream: "checkout/web/5f0c2a".into(),
            subscription_filters: vec!["ktail-grep".into()],
            message_type: DATA_MESSAGE.into(),
            log_events: lines
                .iter()
                .enumerate()
                .map(|(n, line)| LogEvent {
                    id: format!("{:056}", first + n).into(),
                    timestamp: 1_764_079_200_000 + (first + n) as i64,
                    message: line.as_bytes().into(),
                })
                .collect(),
        };
        compress(Codec::Gzip, &envelope.to_json()).unwrap_or_default()
    }))
}

/// A Kinesis event of one shard's records with the given data.
fn event_of(datas: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<serde_json::Value> = datas
        .enumerate()
        .map(|(i, data)| {
            serde_json::json!({
                "eventID": format!("shardId-000000000000:{}", 49_000_000_000u64 + i as u64),
                "eventName": "aws:kinesis:record",
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/logs",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/ktail-grep",
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": format!("host-{}", i % 16),
                    "sequenceNumber": format!("{}", 49_000_000_000u64 + i as u64),
                    "data": b64.encode(data),
                    "approximateArrivalTimestamp": 1_764_079_200.123,
                }
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap_or_default()
}

fn handler(sink: &Sink) -> Handler {
    let config = Config::from_lookup(|name| match name {
        "MATCH" => Some("\"status\":500".into()),
        "STREAM_NAME" => Some("grep-out".into()),
        _ => None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let region = aws_sdk_kinesis::config::Region::new("us-east-1");
    let credentials =
        aws_sdk_kinesis::config::Credentials::new("test", "test", None, None, "bench");
    let kinesis = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(region.clone())
        .credentials_provider(credentials.clone())
        .http_client(SharedHttpClient::new(sink.clone()))
        .build();
    let lambda = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .http_client(SharedHttpClient::new(sink.clone()))
        .build();
    Handler::new(
        config,
        aws_sdk_kinesis::Client::from_conf(kinesis),
        aws_sdk_lambda::Client::from_conf(lambda),
    )
}

fn bench(c: &mut Criterion) {
    // One core, as a 128 MB function gets (less, in fact: a fraction of one).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("handler");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for (name, event) in [
        ("10k_records_10pct_match", event_json(10)),
        ("10k_records_all_match", event_json(1)),
        // Each envelope has one matching event of 10: cut down and gzip'd again.
        (
            "10k_gzip_envelopes_10pct_events_match",
            envelope_event_json(10),
        ),
        // Every event matches: each envelope is forwarded as stored.
        ("10k_gzip_envelopes_all_match", envelope_event_json(1)),
    ] {
        let sink = Sink::default();
        let handler = handler(&sink);
        group.throughput(Throughput::Bytes(event.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let event: KinesisEvent = serde_json::from_slice(&event).unwrap_or_default();
                let deadline = SystemTime::now() + Duration::from_secs(60);
                let (response, report) = runtime.block_on(handler.process(event, deadline));
                assert!(response.batch_item_failures.is_empty() && report.put > 0);
                report
            })
        });
        // One batch outside the measurement, to say what it produces.
        sink.bytes.store(0, Ordering::Relaxed);
        let parsed: KinesisEvent = serde_json::from_slice(&event).unwrap_or_default();
        let (_, report) =
            runtime.block_on(handler.process(parsed, SystemTime::now() + Duration::from_secs(60)));
        eprintln!(
            "{name}: event JSON {} bytes; {} log events; {} matches in {} Kinesis records, {} PutRecords calls, {} bytes of request bodies",
            event.len(),
            report.log_events,
            report.matched,
            report.put,
            report.calls,
            sink.bytes.load(Ordering::Relaxed)
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
