//! Recognising a compressed payload by its first bytes, without reading further.

use std::fmt;
use std::str::FromStr;

/// A compression format that `decode` can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// RFC 1952, one or more members (CloudWatch Logs subscriptions, most producers).
    Gzip,
    /// RFC 1950 (Fluent Bit's Kinesis output, `zlib.compress`).
    Zlib,
    /// Zstandard frames (RFC 8878).
    Zstd,
}

impl Codec {
    /// Every codec, in the order `--decode` lists them.
    pub const ALL: [Codec; 3] = [Codec::Gzip, Codec::Zlib, Codec::Zstd];

    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zlib => "zlib",
            Codec::Zstd => "zstd",
        }
    }

    /// Whether `data` opens the way this codec's data must: the check an explicit `--decode`
    /// makes before decompressing (weaker than `detect`'s for zlib, which also guards plain text).
    pub fn opens(self, data: &[u8]) -> bool {
        match self {
            Codec::Gzip => data.starts_with(&GZIP_MAGIC),
            Codec::Zlib => zlib_header(data),
            Codec::Zstd => data.starts_with(&ZSTD_MAGIC),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A codec name that is not one of `gzip`, `zlib`, `zstd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCodec(pub String);

impl fmt::Display for UnknownCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown codec {:?} (expected gzip, zlib or zstd)",
            self.0
        )
    }
}

impl std::error::Error for UnknownCodec {}

impl FromStr for Codec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCodec(s.to_owned()))
    }
}

/// ID1 ID2 of every gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The magic number that opens every Zstandard frame (0xFD2FB528, little-endian).
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The codec `data` is compressed with, judged by its first bytes; None for anything else.
///
/// gzip and zstd have magic numbers that text does not start with. zlib has none: its two-byte
/// header check passes 19 pairs of printable ASCII (`x `, `80`, `HK` ...). So besides RFC 1950's
/// check (deflate, a window of at most 32 KiB, FCHECK) `detect` asks for what a stream ktail can
/// decode also has: no preset dictionary (FDICT clear, true of 6 of those 19 pairs) and a first
/// deflate block of a defined type (not the reserved type 3, which a quarter of printable third
/// bytes name). About three in four text lines that pass the header check stay plain.
pub fn detect(data: &[u8]) -> Option<Codec> {
    if data.starts_with(&GZIP_MAGIC) {
        Some(Codec::Gzip)
    } else if data.starts_with(&ZSTD_MAGIC) {
        Some(Codec::Zstd)
    } else if decodable_zlib(data) {
        Some(Codec::Zlib)
    } else {
        None
    }
}

/// RFC 1950's header check: CM = 8, CINFO <= 7 and CMF * 256 + FLG a multiple of 31.
fn zlib_header(data: &[u8]) -> bool {
    let [cmf, flg, ..] = *data else {
        return false;
    };
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// A zlib header without FDICT, followed by a deflate block header of a defined type.
fn decodable_zlib(data: &[u8]) -> bool {
    let [_, flg, block, ..] = *data else {
        return false;
    };
    const FDICT: u8 = 0x20;
    zlib_header(data) && flg & FDICT == 0 && (block >> 1) & 0b11 != 0b11
}
