//! The printer: the record event every `-o` format renders, the printers (line, raw, json),
//! per-shard colours and match highlighting.
//!
//! Printers are generic over `io::Write` so they can be tested into a `Vec<u8>`; the single stdout
//! writer is a [`Printer`] over a `BufWriter<Stdout>` owned by the fan-in thread (see
//! `kinesis::tail`), which flushes whenever no batch is waiting.

mod closed;

pub use closed::on_stdout_closed;

use std::io::{self, Write};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::decode::LogMeta;
use crate::filter::Matcher;

/// One user record, as every output mode sees it. A KPL-aggregated Kinesis record becomes several
/// of these, sharing `sequence` and numbered by `sub_sequence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub shard: Arc<str>,
    pub sequence: Arc<str>,
    /// Position inside a KPL-aggregated record; `None` for a plain record.
    pub sub_sequence: Option<u64>,
    pub partition_key: Arc<str>,
    /// Approximate arrival time, to the millisecond.
    pub arrival: Option<DateTime<Utc>>,
    /// The line: the user record's bytes, decoded (see `decode`), or one log event's message.
    pub data: Bytes,
    /// The CloudWatch Logs event `data` is the message of, if it is one.
    pub log: Option<LogMeta>,
}

impl Record {
    /// The record's time: the log event's own timestamp when it is one, else the arrival time.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        match &self.log {
            Some(log) => DateTime::from_timestamp_millis(log.timestamp_ms).or(self.arrival),
            None => self.arrival,
        }
    }
}

/// Where printed records go. The fan-in calls `record` for every record that passed the filter,
/// in order per shard, and `flush` whenever no more records are waiting.
pub trait Sink: Send + 'static {
    fn record(&mut self, record: &Record) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}

/// How each record is rendered (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The record's data followed by a newline unless it already ends with one.
    #[default]
    Line,
    /// The record's bytes exactly as stored.
    Raw,
    /// One JSON object per record.
    Json,
}

/// How records are rendered.
#[derive(Debug, Clone, Default)]
pub struct PrintOptions {
    pub format: Format,
    /// Line mode: time column (arrival time; a log event's own timestamp).
    pub timestamps: bool,
    /// Line mode: shard id column (and log group and stream for a log event).
    pub prefix: bool,
    /// ANSI colours (shard prefix, match highlights); decided once from `--color`, `NO_COLOR` and
    /// whether stdout is a terminal, before the printer exists.
    pub color: bool,
    /// The stream name for `-o json`.
    pub stream: String,
}

const RESET: &str = "\x1b[0m";
const HIGHLIGHT: &str = "\x1b[1;31m";
const DIM: &str = "\x1b[2m";
/// Shard colours, as stern does: readable on dark and light backgrounds, no red (kept for matches).
const PALETTE: [&str; 6] = [
    "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[92m",
];

/// The colour of a shard, from a hash of its id so it stays the same across runs.
pub fn shard_color(shard: &str) -> &'static str {
    // FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
    let mut hash: u32 = 0x811c_9dc5;
    for b in shard.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    PALETTE[hash as usize % PALETTE.len()]
}

/// Renders records into a writer.
pub struct Printer<W: Write> {
    out: W,
    options: PrintOptions,
    /// Highlights matches when colouring.
    highlight: Option<Matcher>,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, options: PrintOptions, matcher: Option<Matcher>) -> Self {
        let highlight = matcher.filter(|m| options.color && !m.patterns().is_empty());
        Printer {
            out,
            options,
            highlight,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    pub fn print(&mut self, record: &Record) -> io::Result<()> {
        match self.options.format {
            Format::Raw => self.out.write_all(&record.data),
            Format::Line => self.line(record),
            Format::Json => self.json(record),
        }
    }

    fn line(&mut self, record: &Record) -> io::Result<()> {
        let color = self.options.color;
        if self.options.timestamps {
            let at = record.time().map(rfc3339).unwrap_or_else(|| "-".into());
            if color {
                write!(self.out, "{DIM}{at}{RESET} ")?;
            } else {
                write!(self.out, "{at} ")?;
            }
        }
        if self.options.prefix {
            if color {
                write!(
                    self.out,
                    "{}{}{RESET} ",
                    shard_color(&record.shard),
                    record.shard
                )?;
            } else {
                write!(self.out, "{} ", record.shard)?;
            }
            if let Some(log) = &record.log {
                let (group, stream) = (&log.source.log_group, &log.source.log_stream);
                if color {
                    write!(self.out, "{DIM}{group} {stream}{RESET} ")?;
                } else {
                    write!(self.out, "{group} {stream} ")?;
                }
            }
        }
        let data = &record.data[..];
        match &self.highlight {
            Some(matcher) => {
                let mut at = 0;
                for span in matcher.highlights(data) {
                    self.out.write_all(&data[at..span.start])?;
                    self.out.write_all(HIGHLIGHT.as_bytes())?;
                    self.out.write_all(&data[span.clone()])?;
                    self.out.write_all(RESET.as_bytes())?;
                    at = span.end;
                }
                self.out.write_all(&data[at..])?;
            }
            None => self.out.write_all(data)?,
        }
        if !data.ends_with(b"\n") {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn json(&mut self, record: &Record) -> io::Result<()> {
        let text = std::str::from_utf8(&record.data).ok();
        let log = record.log.as_ref();
        let line = JsonRecord {
            stream: &self.options.stream,
            shard: &record.shard,
            sequence: &record.sequence,
            sub_sequence: record.sub_sequence,
            partition_key: &record.partition_key,
            arrival: record.arrival.map(rfc3339),
            data: text,
            data_base64: match text {
                Some(_) => None,
                None => Some(base64::engine::general_purpose::STANDARD.encode(&record.data)),
            },
            log_group: log.map(|l| &*l.source.log_group),
            log_stream: log.map(|l| &*l.source.log_stream),
            log_event_id: log.map(|l| &*l.id),
            log_timestamp: log
                .and_then(|l| DateTime::from_timestamp_millis(l.timestamp_ms))
                .map(rfc3339),
        };
        serde_json::to_writer(&mut self.out, &line).map_err(io::Error::from)?;
        self.out.write_all(b"\n")
    }
}

impl<W: Write + Send + 'static> Sink for Printer<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        self.print(record)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The `-o json` object. `data` when the record is UTF-8, else `data_base64`; never both. A
/// CloudWatch Logs event adds its envelope's group and stream, its id and its own time.
#[derive(Serialize)]
struct JsonRecord<'a> {
    stream: &'a str,
    shard: &'a str,
    sequence: &'a str,
    sub_sequence: Option<u64>,
    partition_key: &'a str,
    arrival: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_stream: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_event_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_timestamp: Option<String>,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LogSource;
    use crate::filter::MatchOptions;
    use chrono::TimeZone;

    fn record(data: &'static [u8]) -> Record {
        Record {
            shard: "shardId-000000000001".into(),
            sequence: "4960".into(),
            sub_sequence: None,
            partition_key: "pk".into(),
            arrival: Some(Utc.timestamp_millis_opt(1_714_564_800_250).unwrap()),
            data: Bytes::from_static(data),
            log: None,
        }
    }

    fn event(message: &'static [u8]) -> Record {
        let source = LogSource {
            owner: "111111111111".into(),
            log_group: "/aws/lambda/app".into(),
            log_stream: "2024/05/01/[$LATEST]abc".into(),
            subscription_filters: Box::new([]),
        };
        Record {
            log: Some(LogMeta {
                source: Arc::new(source),
                id: "3195".into(),
                timestamp_ms: 1_714_564_799_123,
            }),
            ..record(message)
        }
    }

    #[test]
    fn log_events_in_line_mode() {
        let options = PrintOptions {
            timestamps: true,
            prefix: true,
            ..Default::default()
        };
        let out = print(options, None, &[event(b"started")]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2024-05-01T11:59:59.123Z shardId-000000000001 /aws/lambda/app 2024/05/01/[$LATEST]abc started\n"
        );
    }

    #[test]
    fn log_events_in_json() {
        let options = PrintOptions {
            format: Format::Json,
            stream: "logs".into(),
            ..Default::default()
        };
        let out = print(options, None, &[event(b"started")]);
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "stream": "logs", "shard": "shardId-000000000001", "sequence": "4960",
                "sub_sequence": null, "partition_key": "pk",
                "arrival": "2024-05-01T12:00:00.250Z", "data": "started",
                "log_group": "/aws/lambda/app", "log_stream": "2024/05/01/[$LATEST]abc",
                "log_event_id": "3195", "log_timestamp": "2024-05-01T11:59:59.123Z"
            })
        );
    }

    fn print(options: PrintOptions, matcher: Option<Matcher>, records: &[Record]) -> Vec<u8> {
        let mut p = Printer::new(Vec::new(), options, matcher);
        for r in records {
            p.print(r).unwrap();
        }
        p.into_inner()
    }

    #[test]
    fn line_adds_a_newline_only_when_missing() {
        let out = print(
            PrintOptions::default(),
            None,
            &[record(b"one"), record(b"two\n"), record(b"")],
        );
        assert_eq!(out, b"one\ntwo\n\n");
    }

    #[test]
    fn raw_is_exact() {
        let options = PrintOptions {
            format: Format::Raw,
            prefix: true,
            ..Default::default()
        };
        let out = print(options, None, &[record(b"a\xff"), record(b"b\n")]);
        assert_eq!(out, b"a\xffb\n");
    }

    #[test]
    fn line_columns() {
        let options = PrintOptions {
            timestamps: true,
            prefix: true,
            ..Default::default()
        };
        let out = print(options, None, &[record(b"hello")]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2024-05-01T12:00:00.250Z shardId-000000000001 hello\n"
        );
    }

    #[test]
    fn line_keeps_non_utf8_bytes() {
        let out = print(PrintOptions::default(), None, &[record(b"\xff\xfe\x00x")]);
        assert_eq!(out, b"\xff\xfe\x00x\n");
    }

    #[test]
    fn colours_prefix_and_highlights() {
        let options = PrintOptions {
            prefix: true,
            color: true,
            ..Default::default()
        };
        let matcher = Matcher::new(&["err"], MatchOptions::default()).unwrap();
        let out = print(options, Some(matcher), &[record(b"an err here")]);
        let color = shard_color("shardId-000000000001");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{color}shardId-000000000001{RESET} an {HIGHLIGHT}err{RESET} here\n")
        );
    }

    #[test]
    fn no_highlight_without_colour() {
        let matcher = Matcher::new(&["err"], MatchOptions::default()).unwrap();
        let out = print(PrintOptions::default(), Some(matcher), &[record(b"err")]);
        assert_eq!(out, b"err\n");
    }

    #[test]
    fn shard_colours_are_stable_and_varied() {
        assert_eq!(
            shard_color("shardId-000000000003"),
            shard_color("shardId-000000000003")
        );
        let distinct: std::collections::HashSet<_> = (0..8)
            .map(|i| shard_color(&format!("shardId-{i:012}")))
            .collect();
        assert!(distinct.len() >= 3);
    }

    #[test]
    fn json_lines() {
        let options = PrintOptions {
            format: Format::Json,
            stream: "logs".into(),
            ..Default::default()
        };
        let mut agg = record(b"\xff\x01");
        agg.sub_sequence = Some(2);
        let out = print(options, None, &[record(b"{\"a\":1}"), agg]);
        let lines: Vec<serde_json::Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            serde_json::json!({
                "stream": "logs", "shard": "shardId-000000000001", "sequence": "4960",
                "sub_sequence": null, "partition_key": "pk",
                "arrival": "2024-05-01T12:00:00.250Z", "data": "{\"a\":1}"
            })
        );
        assert_eq!(lines[1]["data_base64"], "/wE=");
        assert_eq!(lines[1]["sub_sequence"], 2);
        assert!(lines[1].get("data").is_none());
    }
}
