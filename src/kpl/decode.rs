//! The hot path of `deaggregate`: reads the aggregate's protobuf body in place, straight into user
//! records, and feeds MD5 as it goes.
//!
//! Decoding through prost's derived messages (`proto.rs`) builds every `Record` and key-table
//! `String` before the user records are built from them; that measured 0.74x md-5's throughput,
//! short of the 0.85x goal (see `benches/kpl.rs`), and this reader reaches it. It accepts and
//! rejects exactly what prost does (same wire-type, varint, length, UTF-8 and recursion-limit
//! rules); the unit tests compare the two on arbitrary and malformed input, so `proto.rs` stays
//! the definition of the format, the aggregator's encoder and the decoder of last resort.

use std::ops::Range;

use bytes::Bytes;
use md5::{Digest, Md5};

use super::{DIGEST_LEN, MAGIC, UserRecord};

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// prost's nesting limit (messages and groups), counted down as it does.
const RECURSION_LIMIT: u32 = 100;

/// What the in-place reader made of an aggregate.
pub(super) enum Decoded {
    /// A valid aggregate: its user records.
    Records(Vec<UserRecord>),
    /// Not a valid aggregate (digest, framing or parse): the record passes through plain.
    Plain,
    /// A record points past the keys read so far; keys may legally come later in the body, which
    /// no producer writes, so the caller settles it with the full prost decode.
    Unresolved,
}

/// Reads an aggregate in one pass, in the layout producers write: key tables, then records.
/// `data` must pass `looks_aggregated`.
pub(super) fn unpack(data: &Bytes) -> Decoded {
    match read(data) {
        Some(decoded) => decoded,
        None => Decoded::Plain,
    }
}

fn read(data: &Bytes) -> Option<Decoded> {
    let body_end = data.len().checked_sub(DIGEST_LEN)?;
    let body = data.get(MAGIC.len()..body_end)?;
    let digest = data.get(body_end..)?;

    // The key tables, up to the first record.
    let mut key_ranges = Vec::new();
    let mut hash_key_ranges = Vec::new();
    let mut top = Reader::new(body, 0..body.len());
    let mut first_record = body.len();
    while !top.at_end() {
        let field_start = top.pos;
        let (tag, wire_type) = top.key()?;
        match (tag, wire_type) {
            (1, LENGTH_DELIMITED) => key_ranges.push(top.range()?),
            (2, LENGTH_DELIMITED) => hash_key_ranges.push(top.range()?),
            (3, LENGTH_DELIMITED) => {
                first_record = field_start;
                break;
            }
            (1..=3, _) => return None,
            _ => top.skip(wire_type, tag, RECURSION_LIMIT)?,
        }
    }
    let text = Keys::new(body, first_record);
    let mut keys: Vec<&str> = key_ranges
        .into_iter()
        .map(|r| text.text(r))
        .collect::<Option<_>>()?;
    let mut hash_keys: Vec<&str> = hash_key_ranges
        .into_iter()
        .map(|r| text.text(r))
        .collect::<Option<_>>()?;

    // The records, each hashed right after it is read, while its bytes are in cache.
    let mut md5 = Md5::new();
    md5.update(&body[..first_record]);
    let mut hashed = first_record;
    let mut out = Vec::new();
    let mut top = Reader::new(body, first_record..body.len());
    while !top.at_end() {
        let (tag, wire_type) = top.key()?;
        match (tag, wire_type) {
            (3, LENGTH_DELIMITED) => {}
            (1, LENGTH_DELIMITED) => {
                keys.push(text.text(top.range()?)?);
                continue;
            }
            (2, LENGTH_DELIMITED) => {
                hash_keys.push(text.text(top.range()?)?);
                continue;
            }
            (1..=3, _) => return None,
            _ => {
                top.skip(wire_type, tag, RECURSION_LIMIT)?;
                continue;
            }
        }
        let range = top.range()?;
        if out.capacity() == 0 {
            // Records are usually of one size: the first one sizes the lot.
            let first = top.pos - first_record;
            out.reserve((body.len() - first_record) / first + 1);
        }
        let record = Record::read(body, range)?;
        let Some(partition_key) = lookup(&keys, record.partition_key_index?) else {
            return Some(Decoded::Unresolved);
        };
        let explicit_hash_key = match record.explicit_hash_key_index {
            Some(i) => match lookup(&hash_keys, i) {
                Some(key) => Some(key.to_owned()),
                None => return Some(Decoded::Unresolved),
            },
            None => None,
        };
        let data_range = record.data?;
        out.push(UserRecord {
            data: data.slice(MAGIC.len() + data_range.start..MAGIC.len() + data_range.end),
            partition_key: partition_key.to_owned(),
            explicit_hash_key,
            sub_sequence: Some(out.len() as u64),
        });
        md5.update(&body[hashed..top.pos]);
        hashed = top.pos;
    }
    md5.update(&body[hashed..]);
    (md5.finalize().as_slice() == digest).then_some(Decoded::Records(out))
}

fn lookup<'a>(table: &[&'a str], index: u64) -> Option<&'a str> {
    table.get(usize::try_from(index).ok()?).copied()
}

/// Turns key-table entries into text, checking UTF-8 as a proto2 `string` requires.
///
/// The tables normally open the body, their entries separated by one-byte tags and lengths that
/// are ASCII, so one check of that whole region usually covers every key at once: a key inside a
/// valid region is valid exactly when it starts and ends on character boundaries.
struct Keys<'a> {
    body: &'a [u8],
    region: Option<&'a str>,
}

impl<'a> Keys<'a> {
    fn new(body: &'a [u8], tables_end: usize) -> Self {
        let region = body
            .get(..tables_end)
            .and_then(|r| std::str::from_utf8(r).ok());
        Self { body, region }
    }

    fn text(&self, range: Range<usize>) -> Option<&'a str> {
        match self.region {
            Some(region) if range.end <= region.len() => region.get(range),
            _ => std::str::from_utf8(self.body.get(range)?).ok(),
        }
    }
}

/// The fields of one `Record` that matter, as positions in the body.
struct Record {
    partition_key_index: Option<u64>,
    explicit_hash_key_index: Option<u64>,
    data: Option<Range<usize>>,
}

impl Record {
    /// Reads a `Record` message; a `Tag` without its required key fails it, as in the KCL.
    fn read(body: &[u8], range: Range<usize>) -> Option<Self> {
        Self::read_canonical(body, range.clone()).or_else(|| Self::read_any(body, range))
    }

    /// The layout every producer writes: key index, optional hash key index, data, nothing else.
    /// Anything else (or an error) goes to `read_any`, which decides.
    #[inline]
    fn read_canonical(body: &[u8], range: Range<usize>) -> Option<Self> {
        let mut reader = Reader::new(body, range);
        reader.expect(1 << 3 | VARINT)?;
        let partition_key_index = Some(reader.varint()?);
        let mut explicit_hash_key_index = None;
        if reader.expect(2 << 3 | VARINT).is_some() {
            explicit_hash_key_index = Some(reader.varint()?);
        }
        reader.expect(3 << 3 | LENGTH_DELIMITED)?;
        let data = Some(reader.range()?);
        reader.at_end().then_some(Record {
            partition_key_index,
            explicit_hash_key_index,
            data,
        })
    }

    fn read_any(body: &[u8], range: Range<usize>) -> Option<Self> {
        // prost: the top level runs at the limit, a message field's contents one below it.
        let depth = RECURSION_LIMIT - 1;
        let mut reader = Reader::new(body, range);
        let mut record = Record {
            partition_key_index: None,
            explicit_hash_key_index: None,
            data: None,
        };
        while !reader.at_end() {
            let (tag, wire_type) = reader.key()?;
            match (tag, wire_type) {
                (1, VARINT) => record.partition_key_index = Some(reader.varint()?),
                (2, VARINT) => record.explicit_hash_key_index = Some(reader.varint()?),
                (3, LENGTH_DELIMITED) => record.data = Some(reader.range()?),
                (4, LENGTH_DELIMITED) => read_tag(body, reader.range()?, depth - 1)?,
                (1..=4, _) => return None,
                _ => reader.skip(wire_type, tag, depth)?,
            }
        }
        Some(record)
    }
}

/// Checks a `Tag` message: UTF-8 strings, and the required key present.
fn read_tag(body: &[u8], range: Range<usize>, depth: u32) -> Option<()> {
    let mut reader = Reader::new(body, range);
    let mut has_key = false;
    while !reader.at_end() {
        let (tag, wire_type) = reader.key()?;
        match (tag, wire_type) {
            (1 | 2, LENGTH_DELIMITED) => {
                std::str::from_utf8(reader.bytes()?).ok()?;
                has_key |= tag == 1;
            }
            (1 | 2, _) => return None,
            _ => reader.skip(wire_type, tag, depth)?,
        }
    }
    has_key.then_some(())
}

/// A cursor over `body[pos..end]`; every read is bounds-checked and fails with None.
struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn new(body: &'a [u8], range: Range<usize>) -> Self {
        Self {
            body,
            pos: range.start,
            end: range.end,
        }
    }

    /// Consumes one byte if it is `byte`.
    #[inline]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (*self.body[..self.end].get(self.pos)? == byte).then(|| self.pos += 1)
    }

    #[inline]
    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    /// A base-128 varint of at most 10 bytes whose value fits in 64 bits (prost's rule).
    #[inline(always)]
    fn varint(&mut self) -> Option<u64> {
        // Keys, indices and lengths below 16 KiB: one or two bytes.
        let bytes = &self.body[..self.end];
        let first = *bytes.get(self.pos)?;
        if first < 0x80 {
            self.pos += 1;
            return Some(u64::from(first));
        }
        if let Some(&second) = bytes.get(self.pos + 1)
            && second < 0x80
        {
            self.pos += 2;
            return Some(u64::from(first & 0x7F) | u64::from(second) << 7);
        }
        self.varint_long()
    }

    fn varint_long(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for count in 0..10 {
            let byte = *self.body[..self.end].get(self.pos)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7F) << (count * 7);
            if byte < 0x80 {
                return (count < 9 || byte < 0x02).then_some(value);
            }
        }
        None
    }

    /// A field key: tag and wire type, with prost's checks.
    #[inline]
    fn key(&mut self) -> Option<(u32, u8)> {
        let key = u32::try_from(self.varint()?).ok()?;
        let wire_type = (key & 0x07) as u8;
        let tag = key >> 3;
        (wire_type <= FIXED32 && tag >= 1).then_some((tag, wire_type))
    }

    /// The extent of a length-delimited field's contents, skipped over.
    #[inline]
    fn range(&mut self) -> Option<Range<usize>> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.end - self.pos {
            return None;
        }
        let start = self.pos;
        self.pos += len;
        Some(start..self.pos)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let range = self.range()?;
        self.body.get(range)
    }

    /// Skips an unknown field as prost's `skip_field` does, groups included.
    fn skip(&mut self, wire_type: u8, tag: u32, depth: u32) -> Option<()> {
        if depth == 0 {
            return None;
        }
        let len = match wire_type {
            VARINT => self.varint().map(|_| 0)?,
            FIXED32 => 4,
            FIXED64 => 8,
            LENGTH_DELIMITED => usize::try_from(self.varint()?).ok()?,
            START_GROUP => loop {
                let (inner_tag, inner_wire_type) = self.key()?;
                if inner_wire_type == END_GROUP {
                    if inner_tag != tag {
                        return None;
                    }
                    break 0;
                }
                self.skip(inner_wire_type, inner_tag, depth - 1)?;
            },
            _ => return None,
        };
        if len > self.end - self.pos {
            return None;
        }
        self.pos += len;
        Some(())
    }
}
