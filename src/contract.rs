//! The contract between the CLI and the grep function, in one place both sides compile: the
//! environment the CLI deploys the function with, the Kinesis limits both respect when they put
//! records, and how a stream is named (name or ARN). Neither side spells these out again, so they
//! can only agree.

use std::fmt;
use std::ops::RangeInclusive;

/// The function's environment: set by `ktail attach`/`grep`, read by the function at init.
pub mod env {
    /// The regular expression whose matches the function forwards. Exactly one of it and
    /// [`FILTER_PATTERN`] is set.
    pub const MATCH: &str = "MATCH";
    /// The CloudWatch Logs filter pattern (`--filter-pattern`) whose matches the function
    /// forwards, instead of [`MATCH`]; parsed at init by `crate::pattern`.
    pub const FILTER_PATTERN: &str = "FILTER_PATTERN";
    /// The filtered stream the matches go to: a name or an ARN (see [`super::StreamRef`]).
    pub const STREAM_NAME: &str = "STREAM_NAME";
    /// Forward the records that do not match (`-v`).
    pub const MATCH_INVERT: &str = "MATCH_INVERT";
    /// Match without regard to case (`-i`).
    pub const MATCH_IGNORE_CASE: &str = "MATCH_IGNORE_CASE";
    /// Unix seconds after which the function disables its own mappings (the dead-client guard).
    pub const EXPIRES_AT: &str = "KTAIL_EXPIRES_AT";
    /// How user records are decoded before matching (`--decode`: auto, none, gzip, zlib,
    /// zstd); unset means `auto`, so the CLI sets it only for another mode.
    pub const DECODE: &str = "DECODE";
    /// The most bytes one record may decompress to (`--max-decoded-size`), a decimal number;
    /// unset means 64 MiB, so the CLI sets it only for another size.
    pub const DECODE_MAX_SIZE: &str = "DECODE_MAX_SIZE";
    /// Lambda's limit for a function's whole environment: names and values, 4 KB.
    pub const MAX_BYTES: usize = 4 * 1024;

    /// How the CLI writes a flag that is on (a flag that is off is left unset).
    pub const TRUE: &str = "true";

    /// A flag's value: `true`/`false` (any case) or `1`/`0`, surrounding spaces ignored; an empty
    /// value is off. `None` for anything else.
    pub fn parse_flag(value: &str) -> Option<bool> {
        match value.trim() {
            "" | "0" => Some(false),
            "1" => Some(true),
            v if v.eq_ignore_ascii_case("true") => Some(true),
            v if v.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
}

/// PutRecords accepts at most this many records per call.
pub const MAX_RECORDS_PER_CALL: usize = 500;
/// PutRecords accepts at most this many bytes (data and partition keys) per call.
pub const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;
/// A Kinesis record's data and partition key together are at most this many bytes.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// A partition key is 1 to 256 Unicode characters.
pub const PARTITION_KEY_CHARS: RangeInclusive<usize> = 1..=256;

/// A stream as the user (or the CLI, for the function) named it: Kinesis accepts either the name
/// or the ARN. Requests carry the name when a name was given and the ARN only when an ARN was
/// given (some emulators accept no StreamARN on GetShardIterator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamRef {
    Name(String),
    Arn { arn: String, name: String },
}

impl StreamRef {
    /// An ARN when it starts with `arn:`, a name otherwise.
    pub fn parse(stream: &str) -> StreamRef {
        match stream.strip_prefix("arn:") {
            Some(rest) => StreamRef::Arn {
                arn: stream.to_string(),
                name: rest.rsplit('/').next().unwrap_or(rest).to_string(),
            },
            None => StreamRef::Name(stream.to_string()),
        }
    }

    /// The stream's name (the last part of an ARN).
    pub fn name(&self) -> &str {
        match self {
            StreamRef::Name(name) | StreamRef::Arn { name, .. } => name,
        }
    }

    /// The ARN, when the stream was named by one.
    pub fn arn(&self) -> Option<&str> {
        match self {
            StreamRef::Name(_) => None,
            StreamRef::Arn { arn, .. } => Some(arn),
        }
    }
}

impl fmt::Display for StreamRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamRef::Name(name) => f.write_str(name),
            StreamRef::Arn { arn, .. } => f.write_str(arn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_refs() {
        let arn = StreamRef::parse("arn:aws:kinesis:us-east-1:123456789012:stream/logs");
        assert_eq!(arn.name(), "logs");
        assert_eq!(
            arn.to_string(),
            "arn:aws:kinesis:us-east-1:123456789012:stream/logs"
        );
        assert_eq!(
            arn.arn(),
            Some("arn:aws:kinesis:us-east-1:123456789012:stream/logs")
        );
        assert_eq!(StreamRef::parse("logs"), StreamRef::Name("logs".into()));
        assert_eq!(StreamRef::parse("logs").arn(), None);
    }

    #[test]
    fn flags_as_both_sides_read_them() {
        for on in [env::TRUE, "TRUE", " 1 ", "True"] {
            assert_eq!(env::parse_flag(on), Some(true), "{on:?}");
        }
        for off in ["", "false", "0", " FALSE "] {
            assert_eq!(env::parse_flag(off), Some(false), "{off:?}");
        }
        assert_eq!(env::parse_flag("yes"), None);
    }
}
