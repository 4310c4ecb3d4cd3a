//! Payload decoding: what real streams carry, turned into lines. gzip, zlib and zstd records are
//! decompressed, and CloudWatch Logs subscription envelopes become one line per log event.
//!
//! `ktail tail` and the grep function run this same code after KPL de-aggregation, so both print
//! (and match) the same lines. For each user record, [`Decoder::decode`]:
//!
//! 1. picks a codec: the one `--decode` names, or under `auto` the one [`detect`] sees in the
//!    first bytes. Under `auto` a record with no magic, and every record under `none`, is
//!    [`Decoded::Plain`]: a borrow of the input, with no allocation and no copy.
//! 2. decompresses within a cap (`--max-decoded-size`, 64 MiB by default). A bomb past the cap,
//!    corrupt or truncated data, or a record that an explicit codec does not fit, is
//!    [`Decoded::Failed`]: it passes through as stored, with a [`Failure`] the caller counts and
//!    warns about (once per shard: see [`Tally`]).
//! 3. recognises a CloudWatch Logs envelope in what came out: a `DATA_MESSAGE` is
//!    [`Decoded::Logs`], one [`Item`] per log event; a `CONTROL_MESSAGE` is [`Decoded::Control`]
//!    and yields nothing. Anything else is [`Decoded::Decompressed`], one line.
//! 4. [`Decoder::decode_each`] adds the one rule on top that `tail` and the function share: a
//!    record that decompresses to a KPL aggregate holds its user records, each decoded in turn.
//!
//! Envelopes are only looked for in decompressed data (CloudWatch Logs always compresses them),
//! so plain records never pay for a JSON parse. Nothing here panics on any input, and no record
//! is lost: every outcome but a control message yields at least the bytes that were stored.
//!
//! Pure: bytes in, values out; no I/O, no AWS or CLI types.

mod cloudwatch;
mod codec;
mod detect;
mod item;
mod nested;
mod tally;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use cloudwatch::{CONTROL_MESSAGE, DATA_MESSAGE, LogEvent, LogsEnvelope};
pub use codec::{Failure, Reason, compress};
pub use detect::{Codec, GZIP_MAGIC, UnknownCodec, ZSTD_MAGIC, detect};
pub use item::{Item, Items, LogContext, LogMeta, LogSource, OwnedItem, OwnedItems};
pub use tally::Tally;

/// The default cap on one record's decompressed size: 64 MiB.
pub const DEFAULT_MAX_DECODED_SIZE: usize = 64 << 20;

/// How user records are decoded (`--decode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Decode {
    /// Recognise gzip, zlib and zstd by their first bytes, then CloudWatch Logs envelopes;
    /// anything else stays as it is.
    #[default]
    Auto,
    /// The bytes as stored (after KPL de-aggregation).
    None,
    /// Every record is gzip; one that is not passes through as stored, counted as a failure.
    Gzip,
    /// Every record is zlib, likewise.
    Zlib,
    /// Every record is zstd, likewise.
    Zstd,
}

impl Decode {
    /// Every mode, in the order help text lists them.
    pub const ALL: [Decode; 5] = [
        Decode::Auto,
        Decode::None,
        Decode::Gzip,
        Decode::Zlib,
        Decode::Zstd,
    ];

    /// The name used on the command line and in the grep function's environment.
    pub fn name(self) -> &'static str {
        match self {
            Decode::Auto => "auto",
            Decode::None => "none",
            Decode::Gzip => "gzip",
            Decode::Zlib => "zlib",
            Decode::Zstd => "zstd",
        }
    }

    /// The codec this mode forces, if it forces one.
    pub fn codec(self) -> Option<Codec> {
        match self {
            Decode::Auto | Decode::None => None,
            Decode::Gzip => Some(Codec::Gzip),
            Decode::Zlib => Some(Codec::Zlib),
            Decode::Zstd => Some(Codec::Zstd),
        }
    }
}

impl fmt::Display for Decode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--decode` value that is not one of the modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDecode(pub String);

impl fmt::Display for UnknownDecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown decode mode {:?} (expected auto, none, gzip, zlib or zstd)",
            self.0
        )
    }
}

impl std::error::Error for UnknownDecode {}

impl FromStr for Decode {
    type Err = UnknownDecode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decode::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDecode(s.to_owned()))
    }
}

/// What to decode and how far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub mode: Decode,
    /// The most bytes one record may decompress to; beyond it the record passes through as
    /// stored ([`Reason::TooLarge`]).
    pub max_decoded_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Decode::Auto,
            max_decoded_size: DEFAULT_MAX_DECODED_SIZE,
        }
    }
}

impl Options {
    pub fn new(mode: Decode) -> Self {
        Options {
            mode,
            ..Options::default()
        }
    }
}

/// A decompression buffer that grew past this is freed before the next record, so one large
/// record does not pin its memory for the rest of a shard's life.
const RETAINED_BUFFER: usize = 4 << 20;

/// Decodes records one at a time; one per reader (shard) or per function invocation. It keeps
/// the decompressors and the output buffer between records, so a run of records allocates only
/// as the buffer grows. Not shared between threads: make one per task.
#[derive(Default)]
pub struct Decoder {
    options: Options,
    buffer: Vec<u8>,
    engines: codec::Engines,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    pub fn new(options: Options) -> Self {
        Decoder {
            options,
            buffer: Vec::new(),
            engines: codec::Engines::default(),
        }
    }

    pub fn options(&self) -> Options {
        self.options
    }

    /// Decodes one user record. The result borrows `data` and the decoder's buffer, so it lives
    /// until the next call; [`Decoded::items`] gives the lines, [`Decoded::owned_items`] owned
    /// copies that can cross a channel.
    pub fn decode<'a>(&'a mut self, data: &'a [u8]) -> Decoded<'a> {
        let codec = match self.options.mode.codec() {
            Some(forced) => forced,
            None if self.options.mode == Decode::None => return Decoded::Plain(data),
            None => match detect(data) {
                Some(codec) => codec,
                None => return Decoded::Plain(data),
            },
        };
        if self.buffer.capacity() > RETAINED_BUFFER {
            self.buffer = Vec::new();
        }
        let limit = self.options.max_decoded_size;
        if let Err(reason) = self
            .engines
            .decompress(codec, data, &mut self.buffer, limit)
        {
            return Decoded::Failed {
                data,
                failure: Failure { codec, reason },
            };
        }
        let decompressed: &'a [u8] = &self.buffer;
        match cloudwatch::parse(decompressed) {
            Some(cloudwatch::Envelope::Data(envelope)) => Decoded::Logs {
                codec,
                decompressed,
                envelope,
            },
            Some(cloudwatch::Envelope::Control) => Decoded::Control { codec },
            None => Decoded::Decompressed {
                codec,
                data: decompressed,
            },
        }
    }
}

/// What one user record decoded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Not compressed (under `auto`), or `--decode none`: the record's bytes, borrowed.
    Plain(&'a [u8]),
    /// Decompressed data that is not a CloudWatch Logs envelope: one line.
    Decompressed { codec: Codec, data: &'a [u8] },
    /// A CloudWatch Logs `DATA_MESSAGE`: one line per log event. `decompressed` is the JSON
    /// the envelope was read from (its strings borrow from it).
    Logs {
        codec: Codec,
        decompressed: &'a [u8],
        envelope: LogsEnvelope<'a>,
    },
    /// A CloudWatch Logs `CONTROL_MESSAGE` (a health check): no lines; callers count it.
    Control { codec: Codec },
    /// Could not be decoded: the record's bytes as stored, and why.
    Failed { data: &'a [u8], failure: Failure },
}

impl Decoded<'_> {
    /// The codec the record was (or was tried to be) decompressed with.
    pub fn codec(&self) -> Option<Codec> {
        match self {
            Decoded::Plain(_) => None,
            Decoded::Decompressed { codec, .. }
            | Decoded::Logs { codec, .. }
            | Decoded::Control { codec } => Some(*codec),
            Decoded::Failed { failure, .. } => Some(failure.codec),
        }
    }

    /// Why the record passes through as stored, if it does.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            Decoded::Failed { failure, .. } => Some(*failure),
            _ => None,
        }
    }

    /// Whether the record's stored bytes are the one line (plain, or failed to decode).
    pub fn is_stored(&self) -> bool {
        matches!(self, Decoded::Plain(_) | Decoded::Failed { .. })
    }

    /// How many lines [`Decoded::items`] yields.
    pub fn len(&self) -> usize {
        match self {
            Decoded::Logs { envelope, .. } => envelope.log_events.len(),
            Decoded::Control { .. } => 0,
            _ => 1,
        }
    }

    /// Whether there are no lines: a control message, or an envelope without events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
