//! The demo's traffic: web access logs as JSON lines (`"status":503` and all), put to the source
//! stream a few times a second in the shapes real producers use — one line per record (a log
//! agent), KPL-aggregated records (the Kinesis Producer Library), and gzip'd CloudWatch Logs
//! envelopes (a subscription filter).
//!
//! [`AccessLog`] is pure (a seeded generator of lines); [`Producer`] puts them.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::contract::StreamRef;
use crate::decode::{Codec, DATA_MESSAGE, LogEvent, LogsEnvelope, compress};
use crate::kpl::Aggregator;
use crate::progress::Progress;
use crate::put_records::{self, RequestRetry, Writer};
use crate::retry::Backoff;
use crate::signals::CancellationToken;

/// How often a batch goes out.
pub const TICK: Duration = Duration::from_millis(200);
/// Lines per batch: 50 lines a second, about 2 of them 5xx.
pub const LINES_PER_TICK: usize = 10;

/// HTTP status codes and how often (per mille) a request ends with each: mostly 2xx and 3xx,
/// a few 4xx, and about 4.5% server errors for the default pattern to find.
const STATUSES: [(u16, u32); 14] = [
    (200, 780),
    (201, 30),
    (204, 20),
    (301, 15),
    (304, 40),
    (400, 20),
    (401, 10),
    (403, 10),
    (404, 25),
    (429, 5),
    (500, 15),
    (502, 10),
    (503, 15),
    (504, 5),
];
const HOSTS: [&str; 4] = ["web-1", "web-2", "web-3", "web-4"];
const AGENTS: [&str; 5] = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148",
    "curl/8.11.0",
    "Go-http-client/2.0",
];
/// Client addresses come from the documentation ranges (RFC 5737): realistic, and nobody's.
const NETWORKS: [&str; 3] = ["192.0.2", "198.51.100", "203.0.113"];

/// A request as the access log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The JSON line, without a newline.
    pub text: String,
    /// The client address: the partition key, which spreads lines over the shards.
    pub client: String,
    /// When the request ended (the line's `time`), in milliseconds since the Unix epoch.
    pub millis: i64,
}

/// Generates access log lines.
#[derive(Debug, Clone)]
pub struct AccessLog {
    rng: StdRng,
}

impl AccessLog {
    pub fn new() -> Self {
        AccessLog {
            rng: StdRng::from_os_rng(),
        }
    }

    /// The same lines every time, for tests.
    pub fn seeded(seed: u64) -> Self {
        AccessLog {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// One request that ended at `at`.
    pub fn line(&mut self, at: DateTime<Utc>) -> Line {
        let rng = &mut self.rng;
        let status = pick_status(rng.random_range(0..1000));
        let (method, path) = match rng.random_range(0..100) {
            0..60 => (
                "GET",
                format!("/api/orders/{}", rng.random_range(1000..99999)),
            ),
            60..75 => ("GET", "/".to_owned()),
            75..82 => (
                "GET",
                format!("/static/app.{:x}.js", rng.random_range(0..16)),
            ),
            82..92 => ("POST", "/api/checkout".to_owned()),
            92..97 => ("PUT", format!("/api/cart/{}", rng.random_range(100..999))),
            _ => (
                "DELETE",
                format!("/api/cart/{}", rng.random_range(100..999)),
            ),
        };
        let (bytes, millis) = match status {
            304 | 204 => (0, rng.random_range(1..10)),
            504 => (0, 30_000),
            500..=599 => (rng.random_range(50..400), rng.random_range(200..3000)),
            400..=499 => (rng.random_range(50..400), rng.random_range(1..20)),
            _ => (rng.random_range(200..40_000), rng.random_range(3..250)),
        };
        let client = format!(
            "{}.{}",
            NETWORKS[rng.random_range(0..NETWORKS.len())],
            rng.random_range(1..255)
        );
        let text = format!(
            r#"{{"time":"{}","host":"{}","client":"{client}","method":"{method}","path":"{path}","status":{status},"bytes":{bytes},"ms":{millis},"agent":"{}","request_id":"{:016x}"}}"#,
            at.to_rfc3339_opts(SecondsFormat::Millis, true),
            HOSTS[rng.random_range(0..HOSTS.len())],
            AGENTS[rng.random_range(0..AGENTS.len())],
            rng.random::<u64>(),
        );
        Line {
            text,
            client,
            millis: at.timestamp_millis(),
        }
    }
}

impl Default for AccessLog {
    fn default() -> Self {
        Self::new()
    }
}

/// The status whose cumulative weight first exceeds `draw` (0..1000).
fn pick_status(draw: u32) -> u16 {
    let mut below = 0;
    for (status, weight) in STATUSES {
        below += weight;
        if draw < below {
            return status;
        }
    }
    200
}

/// How a batch of lines is put, as different producers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One line per Kinesis record, keyed by client address.
    Plain,
    /// All lines of the batch in one KPL aggregate (de-aggregated by the grep function).
    Aggregated,
    /// All lines of the batch as one gzip'd CloudWatch Logs `DATA_MESSAGE` envelope (one log
    /// event per line), as a subscription filter puts them.
    CloudWatchLogs,
}

/// The shapes batches take, in turn: `ktail tail` and the grep function decode each of them to
/// the same lines.
pub const SHAPES: [Shape; 3] = [Shape::Plain, Shape::Aggregated, Shape::CloudWatchLogs];

/// Turns a batch of lines into the Kinesis records of `shape`: (data, partition key).
pub fn records(lines: &[Line], shape: Shape) -> Vec<(Vec<u8>, String)> {
    match shape {
        Shape::Plain => lines
            .iter()
            .map(|l| (l.text.clone().into_bytes(), l.client.clone()))
            .collect(),
        Shape::Aggregated => {
            let mut aggregator = Aggregator::new();
            let mut out = Vec::new();
            for line in lines {
                if let Some(full) = aggregator.add(line.text.as_bytes(), &line.client, None) {
                    out.push((full.data, full.partition_key));
                }
            }
            out.extend(
                aggregator
                    .flush()
                    .map(|last| (last.data, last.partition_key)),
            );
            out
        }
        Shape::CloudWatchLogs => {
            let Some(first) = lines.first() else {
                return Vec::new();
            };
            match compress(Codec::Gzip, &cloudwatch_logs(lines).to_json()) {
                Ok(data) => vec![(data, first.client.clone())],
                Err(_) => Vec::new(),
            }
        }
    }
}

/// The envelope a subscription filter on the web servers' log group would send for `lines`.
fn cloudwatch_logs(lines: &[Line]) -> LogsEnvelope<'_> {
    LogsEnvelope {
        owner: Cow::Borrowed(super::emulator::ACCOUNT_ID),
        log_group: Cow::Borrowed("/ecs/web"),
        log_stream: Cow::Borrowed("web/access"),
        subscription_filters: vec!["to-kinesis".to_owned()],
        message_type: Cow::Borrowed(DATA_MESSAGE),
        log_events: lines
            .iter()
            .enumerate()
            .map(|(i, line)| LogEvent {
                id: Cow::Owned(format!("{:020}{i:036}", line.millis)),
                timestamp: line.millis,
                message: Cow::Borrowed(line.text.as_bytes()),
            })
            .collect(),
    }
}

/// One record of the traffic, for the shared PutRecords writer.
struct Put {
    data: Vec<u8>,
    key: String,
}

impl put_records::Record for Put {
    fn size(&self) -> usize {
        self.data.len() + self.key.len()
    }

    fn request_entry(&self) -> Option<PutRecordsRequestEntry> {
        PutRecordsRequestEntry::builder()
            .data(Blob::new(self.data.clone()))
            .partition_key(&self.key)
            .build()
            .ok()
    }
}

/// Puts access logs to a stream until cancelled.
pub struct Producer {
    pub client: Client,
    pub stream: String,
    pub log: AccessLog,
    pub progress: Progress,
}

impl Producer {
    /// Puts a batch every [`TICK`], rotating through [`SHAPES`], with the writer `ktail put` and
    /// the grep function use. What is still not in by the next tick is dropped: the traffic is
    /// made up, and a failure is reported once (e.g. the emulator's retention cap during a long
    /// `--serve`).
    pub async fn run(mut self, cancel: CancellationToken) {
        let writer = Writer::new(
            self.client.clone(),
            StreamRef::Name(self.stream.clone()),
            Backoff::exponential(TICK / 8, TICK / 2),
            RequestRetry::Transient,
        );
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut warned = false;
        for shape in SHAPES.iter().cycle() {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = cancel.cancelled() => return,
            }
            // The requests of the last tick, spread over it.
            let now = Utc::now();
            let step = TICK / LINES_PER_TICK as u32;
            let lines: Vec<Line> = (1..=LINES_PER_TICK)
                .rev()
                .map(|i| self.log.line(now - step * i as u32))
                .collect();
            let batch: Vec<Put> = records(&lines, *shape)
                .into_iter()
                .map(|(data, key)| Put { data, key })
                .collect();
            let outcome = writer
                .put(&batch, Some(Instant::now() + TICK), |_| {})
                .await;
            match outcome.failure {
                None => warned = false,
                Some(failure) if !warned => {
                    warned = true;
                    self.progress.note(format!(
                        "warning: demo traffic to {} failed, still trying: {failure}",
                        self.stream
                    ));
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(line: &str) -> u16 {
        let start = line.find(r#""status":"#).unwrap() + 9;
        line[start..start + 3].parse().unwrap()
    }

    #[test]
    fn weights_cover_a_thousand_draws() {
        assert_eq!(STATUSES.iter().map(|(_, w)| w).sum::<u32>(), 1000);
        assert_eq!(pick_status(0), 200);
        assert_eq!(pick_status(999), 504);
    }

    #[test]
    fn lines_are_compact_json_with_some_server_errors() {
        let mut log = AccessLog::seeded(7);
        let lines: Vec<Line> = (0..2000).map(|_| log.line(Utc::now())).collect();
        let errors = lines
            .iter()
            .filter(|l| (500..600).contains(&status(&l.text)))
            .count();
        assert!((40..160).contains(&errors), "{errors} of 2000 were 5xx");
        for line in &lines[..50] {
            assert!(!line.text.contains('\n'));
            assert!(line.text.starts_with(r#"{"time":""#), "{}", line.text);
            let client = format!(r#""client":"{}""#, line.client);
            assert!(line.text.contains(&client), "{}", line.text);
        }
    }

    #[test]
    fn the_default_pattern_finds_exactly_the_server_errors() {
        let matcher = crate::filter::Matcher::new(
            &[r#""status":5[0-9][0-9]"#],
            crate::filter::MatchOptions::default(),
        )
        .unwrap();
        let mut log = AccessLog::seeded(11);
        for _ in 0..2000 {
            let line = log.line(Utc::now());
            let server_error = (500..600).contains(&status(&line.text));
            assert_eq!(
                matcher.is_match(line.text.as_bytes()),
                server_error,
                "{}",
                line.text
            );
        }
    }

    #[test]
    fn aggregated_batches_read_back_as_the_same_lines() {
        let mut log = AccessLog::seeded(3);
        let lines: Vec<Line> = (0..LINES_PER_TICK).map(|_| log.line(Utc::now())).collect();
        let aggregated = records(&lines, Shape::Aggregated);
        assert_eq!(aggregated.len(), 1);
        let (data, key) = &aggregated[0];
        assert_eq!(key, &lines[0].client);
        let users = crate::kpl::deaggregate(bytes::Bytes::from(data.clone()), key, None);
        let texts: Vec<&[u8]> = users.iter().map(|u| u.data.as_ref()).collect();
        let want: Vec<&[u8]> = lines.iter().map(|l| l.text.as_bytes()).collect();
        assert_eq!(texts, want);
        assert_eq!(records(&lines, Shape::Plain).len(), LINES_PER_TICK);
    }

    #[test]
    fn cloudwatch_logs_batches_decode_to_the_same_lines() {
        use crate::decode::{Decode, Decoded, Decoder, Options};
        let mut log = AccessLog::seeded(5);
        let lines: Vec<Line> = (0..LINES_PER_TICK).map(|_| log.line(Utc::now())).collect();
        let records = records(&lines, Shape::CloudWatchLogs);
        assert_eq!(records.len(), 1);
        let mut decoder = Decoder::new(Options::new(Decode::Auto));
        let Decoded::Logs { envelope, .. } = decoder.decode(&records[0].0) else {
            panic!("not a CloudWatch Logs envelope")
        };
        let messages: Vec<&[u8]> = envelope
            .log_events
            .iter()
            .map(|e| e.message.as_ref())
            .collect();
        let want: Vec<&[u8]> = lines.iter().map(|l| l.text.as_bytes()).collect();
        assert_eq!(messages, want);
    }
}
