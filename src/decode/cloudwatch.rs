//! CloudWatch Logs subscription envelopes: what a subscription filter puts on a Kinesis stream,
//! once decompressed.
//!
//! The shape, as the CloudWatch Logs User Guide shows it ("Validate the flow of log events"):
//!
//! ```json
//! { "owner": "111111111111", "logGroup": "CloudTrail/logs",
//!   "logStream": "111111111111_CloudTrail/logs_us-east-1",
//!   "subscriptionFilters": ["RecipientStream"], "messageType": "DATA_MESSAGE",
//!   "logEvents": [{ "id": "3195…", "timestamp": 1432826855000, "message": "{\"eventVersion\":…" }] }
//! ```
//!
//! `CONTROL_MESSAGE`s, with `"owner": "CloudwatchLogs"`, empty group and stream and one event
//! saying "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.", are the
//! subscription's health checks. Strings borrow from the decompressed buffer unless they contain
//! escapes; messages are read as bytes, so a message that is not UTF-8 (raw bytes, or a lone
//! surrogate escape such as `\udc80`, which becomes the bytes of its WTF-8 form) still decodes.
//! Fields the parser does not know (e.g. a newer `policyLevel`) are ignored.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// `messageType` of the envelopes that carry log events.
pub const DATA_MESSAGE: &str = "DATA_MESSAGE";

/// `messageType` of the subscription's health checks.
pub const CONTROL_MESSAGE: &str = "CONTROL_MESSAGE";

/// One decompressed CloudWatch Logs subscription record. Serializes back to the same JSON shape
/// (the grep function forwards envelopes cut down to their matching events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsEnvelope<'a> {
    /// The AWS account id of the log data (`CloudwatchLogs` in control messages).
    #[serde(borrow, default)]
    pub owner: Cow<'a, str>,
    #[serde(borrow)]
    pub log_group: Cow<'a, str>,
    #[serde(borrow)]
    pub log_stream: Cow<'a, str>,
    /// Names of the subscription filters the events matched.
    #[serde(default)]
    pub subscription_filters: Vec<String>,
    /// `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    #[serde(borrow)]
    pub message_type: Cow<'a, str>,
    #[serde(borrow)]
    pub log_events: Vec<LogEvent<'a>>,
}

/// One log event of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent<'a> {
    /// CloudWatch Logs' event id (a decimal string of about 56 digits; empty in control messages).
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// When the event happened, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The log line as it was ingested, unescaped; not necessarily UTF-8.
    #[serde(
        borrow,
        deserialize_with = "message_bytes",
        serialize_with = "message_text"
    )]
    pub message: Cow<'a, [u8]>,
}

/// What a decompressed payload turned out to be.
pub(super) enum Envelope<'a> {
    Data(LogsEnvelope<'a>),
    Control,
}

/// The envelope in `data`, if `data` is one: a JSON object with (at least) `logGroup`,
/// `logStream`, `messageType` and `logEvents`, of a message type ktail knows. Anything else is
/// None and passes through as decompressed.
pub(super) fn parse(data: &[u8]) -> Option<Envelope<'_>> {
    // Cheap refusal of what cannot be a JSON object, before serde_json looks at it.
    let first = data
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    if *first != b'{' {
        return None;
    }
    let envelope: LogsEnvelope<'_> = serde_json::from_slice(data).ok()?;
    match &*envelope.message_type {
        DATA_MESSAGE => Some(Envelope::Data(envelope)),
        CONTROL_MESSAGE => Some(Envelope::Control),
        _ => None,
    }
}

impl LogsEnvelope<'_> {
    /// The envelope as compact JSON, in the field order CloudWatch Logs writes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing these types into a Vec cannot fail: no maps with non-string keys, no I/O.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The envelope as compact JSON, like [`LogsEnvelope::to_json`], except that every message
    /// keeps its exact bytes: what is not UTF-8 in a message is written as it is, not as U+FFFD.
    /// That is not valid JSON (no more than what a producer writing raw bytes makes), but this
    /// module reads it back to the same bytes, so a cut-down envelope the grep function forwards
    /// prints the same lines `tail` prints from the original. All-UTF-8 envelopes give the same
    /// bytes as [`LogsEnvelope::to_json`].
    pub fn to_json_exact(&self) -> Vec<u8> {
        if self
            .log_events
            .iter()
            .all(|e| std::str::from_utf8(&e.message).is_ok())
        {
            return self.to_json();
        }
        // The same fields in the same order as the derived serializer writes them.
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"owner\":");
        json_string(&mut out, &self.owner);
        out.extend_from_slice(b",\"logGroup\":");
        json_string(&mut out, &self.log_group);
        out.extend_from_slice(b",\"logStream\":");
        json_string(&mut out, &self.log_stream);
        out.extend_from_slice(b",\"subscriptionFilters\":[");
        for (i, filter) in self.subscription_filters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_string(&mut out, filter);
        }
        out.extend_from_slice(b"],\"messageType\":");
        json_string(&mut out, &self.message_type);
        out.extend_from_slice(b",\"logEvents\":[");
        for (i, event) in self.log_events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"id\":");
            json_string(&mut out, &event.id);
            out.extend_from_slice(
                format!(",\"timestamp\":{},\"message\":\"", event.timestamp).as_bytes(),
            );
            for chunk in event.message.utf8_chunks() {
                let escaped = serde_json::to_vec(chunk.valid()).unwrap_or_default();
                // Without its quotes; the bytes that are not UTF-8 (never a quote, a backslash
                // or a control character: all are 0x80 or above) as they are.
                if let Some(inner) = escaped.get(1..escaped.len().saturating_sub(1)) {
                    out.extend_from_slice(inner);
                }
                out.extend_from_slice(chunk.invalid());
            }
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"]}");
        out
    }
}

/// `s` as a JSON string, quoted and escaped.
fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Reads a JSON string as bytes: borrowed when it has no escapes, never checked for UTF-8.
fn message_bytes<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Cow<'a, [u8]>, D::Error> {
    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Cow<'de, [u8]>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_vec()))
        }

        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }

        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v.as_bytes()))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.as_bytes().to_vec()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.into_bytes()))
        }
    }

    d.deserialize_bytes(Bytes)
}

/// Writes a message as a JSON string; bytes that are not UTF-8 become U+FFFD.
fn message_text<S: Serializer>(message: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(message))
}
