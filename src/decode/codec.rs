//! Decompression within a size cap, and compression for the round trip (`put --compress`).
//!
//! Each engine keeps its state between records (zlib-rs's inflate state and window, ruzstd's
//! frame buffers) and writes into the caller's buffer, so that decoding a run of records
//! allocates nothing once the buffer has grown to the size of the largest.

use std::fmt;
use std::io::Write;

use flate2::{Decompress, FlushDecompress, Status};
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use super::detect::{Codec, GZIP_MAGIC, ZSTD_MAGIC};

/// Why a record that looked compressed (or that an explicit codec was forced on) passes through
/// as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// It would decompress to more than the cap (in bytes): a decompression bomb, or simply a
    /// record larger than `--max-decoded-size`.
    TooLarge { limit: usize },
    /// The data ends before the stream does.
    Truncated,
    /// Invalid compressed data, or a checksum (gzip CRC-32, zlib Adler-32, zstd XXH64) that does
    /// not match what was decompressed.
    Corrupt,
    /// Bytes that are not another gzip member or zstd frame follow the end of the stream.
    TrailingData,
    /// A preset dictionary (zlib FDICT, a zstd dictionary id) that ktail does not have.
    NeedsDictionary,
    /// An explicit codec was asked for, and the record does not open as that codec's data does.
    Unrecognised,
}

/// A record that could not be decoded: which codec was tried and why it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Failure {
    pub codec: Codec,
    pub reason: Reason,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = self.codec;
        match self.reason {
            Reason::TooLarge { limit } => {
                write!(f, "{codec} data larger than {} decompressed", Size(limit))
            }
            Reason::Truncated => write!(f, "truncated {codec} data"),
            Reason::Corrupt => write!(f, "corrupt {codec} data"),
            Reason::TrailingData => write!(f, "{codec} data followed by other bytes"),
            Reason::NeedsDictionary => write!(f, "{codec} data that needs a preset dictionary"),
            Reason::Unrecognised => write!(f, "not {codec} data"),
        }
    }
}

impl std::error::Error for Failure {}

/// A byte count as people write it: `64 MiB`, `1500 KiB`, `1000 bytes`.
struct Size(usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
            write!(f, "{} GiB", n >> 30)
        } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
            write!(f, "{} MiB", n >> 20)
        } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
            write!(f, "{} KiB", n >> 10)
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// Output grows by at least this much at a time.
const MIN_GROWTH: usize = 32 * 1024;

/// ruzstd decodes up to this many bytes between two checks against the cap (a block is at most
/// 128 KiB, so the decoder's own buffer stays within window + cap + one block).
const ZSTD_STEP: usize = 256 * 1024;

/// zstd windows up to this size are accepted whatever the cap (8 MiB: zstd's own default limit
/// for levels up to 19); beyond it only when the cap is larger still, since decoding needs the
/// whole window in memory.
const ZSTD_MIN_WINDOW_LIMIT: usize = 8 << 20;

/// The decompressors, created on first use and kept for the next record.
#[derive(Default)]
pub(super) struct Engines {
    gzip: Option<Decompress>,
    zlib: Option<Decompress>,
    zstd: Option<Box<FrameDecoder>>,
}

impl Engines {
    /// Decompresses `input` into `out` (cleared first); at most `limit` bytes come out.
    pub(super) fn decompress(
        &mut self,
        codec: Codec,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), Reason> {
        out.clear();
        if !codec.opens(input) {
            return Err(Reason::Unrecognised);
        }
        let result = match codec {
            Codec::Gzip => {
                let state = self.gzip.get_or_insert_with(|| Decompress::new_gzip(15));
                inflate(state, true, input, out, limit)
            }
            Codec::Zlib => {
                let state = self.zlib.get_or_insert_with(|| Decompress::new(true));
                inflate(state, false, input, out, limit)
            }
            Codec::Zstd => {
                let state = self.zstd.get_or_insert_with(Box::default);
                unzstd(state, input, out, limit)
            }
        };
        if result.is_err() {
            out.clear();
        }
        result
    }
}

/// Makes room for more output: at least `MIN_GROWTH` or as much again as there is, never past
/// one byte over `limit` in all (that byte is how a bomb is told from a record of exactly
/// `limit` bytes).
fn grow(out: &mut Vec<u8>, limit: usize) {
    let room = out
        .len()
        .max(MIN_GROWTH)
        .min(limit.saturating_add(1) - out.len());
    out.reserve_exact(room);
}

/// gzip (every member) or zlib through zlib-rs. The stream must end where the data ends; for
/// gzip, further members follow as they do for `gzip -d`, and trailing zeros (padding) are
/// allowed as Python's `gzip.decompress` allows them.
fn inflate(
    state: &mut Decompress,
    gzip: bool,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), Reason> {
    loop {
        // `reset(true)` keeps the mode the state was made with (gzip wrapper or zlib header).
        state.reset(true);
        loop {
            if out.len() > limit {
                return Err(Reason::TooLarge { limit });
            }
            if out.len() == out.capacity() {
                grow(out, limit);
            }
            let (before_in, before_out) = (state.total_in(), out.len());
            let status = state
                .decompress_vec(input, out, FlushDecompress::None)
                .map_err(|e| match e.needs_dictionary() {
                    Some(_) => Reason::NeedsDictionary,
                    None => Reason::Corrupt,
                })?;
            let consumed = usize::try_from(state.total_in() - before_in).unwrap_or(input.len());
            input = input.get(consumed..).unwrap_or_default();
            if out.len() > limit {
                return Err(Reason::TooLarge { limit });
            }
            match status {
                Status::StreamEnd => break,
                Status::Ok | Status::BufError => {
                    let stuck = consumed == 0 && out.len() == before_out;
                    if stuck && out.len() < out.capacity() {
                        // Room to write and nothing written: the input ran out mid-stream.
                        return Err(if input.is_empty() {
                            Reason::Truncated
                        } else {
                            Reason::Corrupt
                        });
                    }
                }
            }
        }
        if input.is_empty() || (gzip && input.iter().all(|&b| b == 0)) {
            return Ok(());
        }
        if !(gzip && input.starts_with(&GZIP_MAGIC)) {
            return Err(Reason::TrailingData);
        }
    }
}

/// Every zstd frame in `input`, skipping skippable frames, through ruzstd. A frame's checksum,
/// when it carries one, must match.
fn unzstd(
    decoder: &mut FrameDecoder,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), Reason> {
    decoder.set_max_window_size(limit.max(ZSTD_MIN_WINDOW_LIMIT) as u64);
    let mut first = true;
    while !input.is_empty() {
        let skippable =
            input.len() >= 4 && input[0] & 0xf0 == 0x50 && input[1..4] == [0x2a, 0x4d, 0x18];
        if !first && !skippable && !input.starts_with(&ZSTD_MAGIC) {
            return Err(Reason::TrailingData);
        }
        first = false;
        match decoder.reset(&mut input) {
            Ok(()) => {}
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                input = usize::try_from(length)
                    .ok()
                    .and_then(|n| input.get(n..))
                    .ok_or(Reason::Truncated)?;
                continue;
            }
            Err(e) => return Err(zstd_reason(&e, input, limit)),
        }
        // A frame that declares its size (most do) can be turned away before decoding.
        if decoder.content_size() > limit.saturating_sub(out.len()) as u64 {
            return Err(Reason::TooLarge { limit });
        }
        loop {
            decoder
                .decode_blocks(&mut input, BlockDecodingStrategy::UptoBytes(ZSTD_STEP))
                .map_err(|e| zstd_reason(&e, input, limit))?;
            // Once the last block is in, everything can be collected; before, all but the window.
            let finished = decoder.is_finished();
            collect(decoder, out, limit)?;
            if finished {
                break;
            }
        }
        if let (Some(stored), Some(computed)) = (
            decoder.get_checksum_from_data(),
            decoder.get_calculated_checksum(),
        ) && stored != computed
        {
            return Err(Reason::Corrupt);
        }
    }
    Ok(())
}

/// Moves what the decoder can give up into `out`, only when it fits under `limit`. `out` grows
/// geometrically as for inflate, but never past `limit`.
fn collect(decoder: &mut FrameDecoder, out: &mut Vec<u8>, limit: usize) -> Result<(), Reason> {
    let ready = decoder.can_collect();
    let room = limit.saturating_sub(out.len());
    if ready > room {
        return Err(Reason::TooLarge { limit });
    }
    if out.capacity() - out.len() < ready {
        out.reserve_exact(ready.max(out.len()).max(MIN_GROWTH).min(room));
    }
    decoder
        .collect_to_writer(&mut *out)
        .map_err(|_| Reason::Corrupt)?;
    Ok(())
}

/// What a ruzstd error means for the record; `rest` is the input the decoder had not consumed.
fn zstd_reason(error: &FrameDecoderError, rest: &[u8], limit: usize) -> Reason {
    match error {
        // A window beyond the limit: decoding would hold more than the cap in memory.
        FrameDecoderError::WindowSizeTooBig { .. } => Reason::TooLarge { limit },
        FrameDecoderError::DictNotProvided { .. } => Reason::NeedsDictionary,
        // ruzstd reads with read_exact, which consumes what there is before failing at the end.
        _ if rest.is_empty() => Reason::Truncated,
        _ => Reason::Corrupt,
    }
}

/// Compresses `data` as `codec` would on a producer: gzip and zlib at zlib's default level 6;
/// zstd with ruzstd's one encoder level (`Fastest`, about zstd's level 1) and a checksum.
pub fn compress(codec: Codec, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let level = flate2::Compression::default();
    match codec {
        Codec::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
            encoder.write_all(data)?;
            encoder.finish()
        }
        Codec::Zlib => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), level);
            encoder.write_all(data)?;
            encoder.finish()
        }
        Codec::Zstd => Ok(ruzstd::encoding::compress_to_vec(
            data,
            ruzstd::encoding::CompressionLevel::Fastest,
        )),
    }
}
