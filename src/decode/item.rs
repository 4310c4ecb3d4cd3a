//! The lines a decoded record yields: borrowed for in-place use (the grep function matches and
//! forwards), owned for crossing a channel (`tail`'s readers hand batches to the printer).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::Decoded;
use super::cloudwatch::{LogEvent, LogsEnvelope};

/// One line: a record's bytes, or one log event's message, with the event's envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// The line, without a trailing newline (unless the producer put one in); not necessarily
    /// UTF-8.
    pub line: &'a [u8],
    /// Where the line came from, when it is a CloudWatch Logs event.
    pub log: Option<LogContext<'a>>,
}

/// A CloudWatch Logs event and the envelope it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogContext<'a> {
    pub envelope: &'a LogsEnvelope<'a>,
    pub event: &'a LogEvent<'a>,
}

impl<'a> LogContext<'a> {
    pub fn log_group(&self) -> &'a str {
        &self.envelope.log_group
    }

    pub fn log_stream(&self) -> &'a str {
        &self.envelope.log_stream
    }

    pub fn owner(&self) -> &'a str {
        &self.envelope.owner
    }

    pub fn id(&self) -> &'a str {
        &self.event.id
    }

    /// The event's own time, in milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self) -> i64 {
        self.event.timestamp
    }
}

/// The lines of a [`Decoded`], in order.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    inner: Inner<'a>,
}

#[derive(Debug, Clone)]
enum Inner<'a> {
    One(Option<&'a [u8]>),
    Events {
        envelope: &'a LogsEnvelope<'a>,
        events: std::slice::Iter<'a, LogEvent<'a>>,
    },
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        match &mut self.inner {
            Inner::One(line) => line.take().map(|line| Item { line, log: None }),
            Inner::Events { envelope, events } => events.next().map(|event| Item {
                line: &event.message,
                log: Some(LogContext { envelope, event }),
            }),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.inner {
            Inner::One(line) => usize::from(line.is_some()),
            Inner::Events { events, .. } => events.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Items<'_> {}

impl<'a> Decoded<'a> {
    /// The lines to print or match: the stored bytes (plain, or failed to decode), the
    /// decompressed data, or one per log event. None for a control message.
    pub fn items(&self) -> Items<'_> {
        let inner = match self {
            Decoded::Plain(data)
            | Decoded::Decompressed { data, .. }
            | Decoded::Failed { data, .. } => Inner::One(Some(data)),
            Decoded::Logs { envelope, .. } => Inner::Events {
                envelope,
                events: envelope.log_events.iter(),
            },
            Decoded::Control { .. } => Inner::One(None),
        };
        Items { inner }
    }

    /// The lines as owned values. `stored` is the record the decoder was given (as `Bytes`):
    /// plain and failed records come back as `stored` itself, without a copy. The decompressed
    /// data is copied once per record; the log events' messages share that copy, except those
    /// with escapes, which have their own.
    pub fn owned_items(&self, stored: &Bytes) -> OwnedItems {
        let inner = match self {
            Decoded::Plain(data) | Decoded::Failed { data, .. } => {
                OwnedInner::One(Some(share_or_copy(stored, data)))
            }
            Decoded::Decompressed { data, .. } => {
                OwnedInner::One(Some(Bytes::copy_from_slice(data)))
            }
            Decoded::Logs {
                decompressed,
                envelope,
                ..
            } => {
                let buffer = Bytes::copy_from_slice(decompressed);
                let source = Arc::new(LogSource::from(envelope));
                let events = envelope
                    .log_events
                    .iter()
                    .map(|event| {
                        let line = match within(decompressed, &event.message) {
                            Some(range) => buffer.slice(range),
                            None => Bytes::copy_from_slice(&event.message),
                        };
                        OwnedItem {
                            line,
                            log: Some(LogMeta {
                                source: source.clone(),
                                id: event.id.as_ref().into(),
                                timestamp_ms: event.timestamp,
                            }),
                        }
                    })
                    .collect::<Vec<_>>();
                OwnedInner::Many(events.into_iter())
            }
            Decoded::Control { .. } => OwnedInner::One(None),
        };
        OwnedItems { inner }
    }
}

/// `part` as a slice of `stored` when it is one (same memory), else a copy.
fn share_or_copy(stored: &Bytes, part: &[u8]) -> Bytes {
    match within(stored, part) {
        Some(range) => stored.slice(range),
        None => Bytes::copy_from_slice(part),
    }
}

/// Where `part` lies in `whole`, if it is a sub-slice of it (by address, not by content).
fn within(whole: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

/// One line, owned: what a reader sends to the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedItem {
    pub line: Bytes,
    pub log: Option<LogMeta>,
}

/// A CloudWatch Logs event's metadata, owned; the envelope's part is shared by its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMeta {
    pub source: Arc<LogSource>,
    pub id: Box<str>,
    /// The event's own time, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// The envelope fields every event of one envelope shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub owner: Box<str>,
    pub log_group: Box<str>,
    pub log_stream: Box<str>,
    pub subscription_filters: Box<[String]>,
}

impl From<&LogsEnvelope<'_>> for LogSource {
    fn from(envelope: &LogsEnvelope<'_>) -> Self {
        LogSource {
            owner: envelope.owner.as_ref().into(),
            log_group: envelope.log_group.as_ref().into(),
            log_stream: envelope.log_stream.as_ref().into(),
            subscription_filters: envelope.subscription_filters.clone().into(),
        }
    }
}

/// The owned lines of a [`Decoded`], in order.
#[derive(Debug)]
pub struct OwnedItems {
    inner: OwnedInner,
}

#[derive(Debug)]
enum OwnedInner {
    One(Option<Bytes>),
    Many(std::vec::IntoIter<OwnedItem>),
}

impl Iterator for OwnedItems {
    type Item = OwnedItem;

    fn next(&mut self) -> Option<OwnedItem> {
        match &mut self.inner {
            OwnedInner::One(line) => line.take().map(|line| OwnedItem { line, log: None }),
            OwnedInner::Many(items) => items.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.inner {
            OwnedInner::One(line) => usize::from(line.is_some()),
            OwnedInner::Many(items) => items.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for OwnedItems {}
