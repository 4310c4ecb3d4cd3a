//! Payload decoding throughput next to the decompressor alone over the same bytes, and the cost
//! of the plain-record path.
//!
//! Input: CloudWatch Logs `DATA_MESSAGE` envelopes as a subscription delivers them (gzip), of 100
//! events (about 30 KB decompressed) and of 4,000 (about 1.2 MB), in two flavours: JSON log lines
//! (every quote escaped inside the envelope, the common case for application logs) and plain text
//! lines (no escapes). Throughput is MB/s of decompressed output. The target (issue 13): decoding
//! at >= 0.8x of flate2 alone, flate2 used the fastest way (one `Decompress` reset per record,
//! writing into a reused buffer). `GzDecoder::read_to_end` with a fresh decoder per record (the
//! usual way) is shown too. zlib and zstd rows put decode next to their decompressors alone.
//!
//! The plain path: `decode` of ~200-byte lines that carry no magic, under `auto`; it must
//! allocate nothing (counted by a counting global allocator) and cost a few nanoseconds.
//!
//! Run: `cargo bench -p ktail --no-default-features --bench decode`.
//!
//! Criterion times each contender in its own window, so on a loaded machine their ratio is noise.
//! Before the criterion groups the bench prints paired figures: the contenders alternate on the
//! same input and each keeps its fastest run, which load can only slow.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use flate2::{Decompress, FlushDecompress};
use ktail::decode::{Codec, Decode, Decoded, Decoder, LogsEnvelope, Options, compress};

/// Counts allocations (and reallocations), to show the plain path makes none.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// A ~200-byte JSON log line, the size TARGETS.md measures with.
fn json_line(i: u64) -> String {
    format!(
        r#"{{"ts":"2026-11-25T14:{:02}:{:02}.{:03}Z","level":"info","service":"checkout","request_id":"{:032x}","msg":"order placed","latency_ms":{},"user":"u-{:06}"}}"#,
        i / 3600 % 60,
        i / 60 % 60,
        i % 1000,
        u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
        i % 997,
        i % 100_000,
    )
}

/// A plain-text line of about the same size, nothing to escape.
fn text_line(i: u64) -> String {
    format!(
        "2026-11-25T14:{:02}:{:02}.{:03}Z INFO checkout request {:032x} order placed in {} ms for user u-{:06} from 203.0.113.{}",
        i / 3600 % 60,
        i / 60 % 60,
        i % 1000,
        u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
        i % 997,
        i % 100_000,
        i % 250,
    )
}

/// Makes the i-th log line.
type Line = fn(u64) -> String;

/// A DATA_MESSAGE of `events` events, as compact JSON in CloudWatch Logs' field order.
fn envelope(events: u64, line: Line) -> Vec<u8> {
    let events: Vec<serde_json::Value> = (0..events)
        .map(|i| {
            serde_json::json!({
                "id": format!("379152247133728428703053740947663906134261789145917{i:05}"),
                "timestamp": 1_795_442_602_000u64 + i,
                "message": line(i),
            })
        })
        .collect();
    let envelope = serde_json::json!({
        "owner": "111111111111",
        "logGroup": "/aws/lambda/checkout",
        "logStream": "2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef",
        "subscriptionFilters": ["ktail"],
        "messageType": "DATA_MESSAGE",
        "logEvents": events,
    });
    // serde_json keeps insertion order only with preserve_order; the field order does not
    // matter to either side, so the default (sorted) map is fine here.
    serde_json::to_vec(&envelope).expect("serialize")
}

/// Every line of a decoded record, touched as a printer or matcher would (their lengths summed).
fn consume(decoded: &Decoded<'_>) -> usize {
    decoded.items().map(|item| black_box(item.line).len()).sum()
}

/// The decompressor alone, used the fastest way: state and output buffer reused.
struct Alone {
    codec: Codec,
    inflate: Decompress,
    zstd: ruzstd::decoding::FrameDecoder,
    out: Vec<u8>,
}

impl Alone {
    fn new(codec: Codec) -> Self {
        Alone {
            codec,
            inflate: match codec {
                Codec::Zlib => Decompress::new(true),
                _ => Decompress::new_gzip(15),
            },
            zstd: ruzstd::decoding::FrameDecoder::new(),
            out: Vec::new(),
        }
    }

    fn run(&mut self, data: &[u8], size: usize) -> usize {
        self.out.clear();
        self.out.reserve(size);
        match self.codec {
            Codec::Gzip | Codec::Zlib => {
                self.inflate.reset(true);
                self.inflate
                    .decompress_vec(data, &mut self.out, FlushDecompress::Finish)
                    .expect("inflate");
            }
            Codec::Zstd => {
                ruzstd::decoding::StreamingDecoder::new_with_decoder(data, &mut self.zstd)
                    .expect("zstd header")
                    .read_to_end(&mut self.out)
                    .expect("zstd");
            }
        }
        assert_eq!(self.out.len(), size);
        self.out.len()
    }
}

/// `GzDecoder::read_to_end` with a fresh decoder and buffer per record: flate2 as most code uses it.
fn gz_decoder(data: &[u8]) -> usize {
    let mut out = Vec::new();
    flate2::bufread::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("gzip");
    out.len()
}

struct Input {
    name: String,
    codec: Codec,
    data: Vec<u8>,
    size: usize,
    events: usize,
}

fn inputs() -> Vec<Input> {
    let mut inputs = Vec::new();
    let flavours: [(&str, Line); 2] = [("json", json_line), ("text", text_line)];
    for (flavour, line) in flavours {
        for events in [100, 4000] {
            let json = envelope(events, line);
            inputs.push(Input {
                name: format!("gzip/{flavour}/{events}"),
                codec: Codec::Gzip,
                data: compress(Codec::Gzip, &json).expect("gzip"),
                size: json.len(),
                events: events as usize,
            });
        }
    }
    for codec in [Codec::Zlib, Codec::Zstd] {
        let json = envelope(4000, json_line);
        inputs.push(Input {
            name: format!("{codec}/json/4000"),
            codec,
            data: compress(codec, &json).expect("compress"),
            size: json.len(),
            events: 4000,
        });
    }
    inputs
}

fn mb_s(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / 1e6 / t.as_secs_f64()
}

/// Fastest of alternating runs of each contender on the same input.
fn paired() {
    for input in inputs() {
        let mut decoder = Decoder::new(Options::new(Decode::Auto));
        let mut alone = Alone::new(input.codec);
        let [
            mut t_alone,
            mut t_decode,
            mut t_owned,
            mut t_gz,
            mut t_parse,
        ] = [Duration::MAX; 5];
        // The decompressed JSON, for serde_json alone (where decode spends what inflate does not).
        alone.run(&input.data, input.size);
        let json = alone.out.clone();
        let runs = (300 << 20) / input.size;
        let before = allocations();
        let decoded = decoder.decode(&input.data);
        assert_eq!(decoded.len(), input.events, "{}", input.name);
        let per_record = allocations() - before;
        let stored = bytes::Bytes::from(input.data.clone());
        for _ in 0..runs {
            let start = Instant::now();
            black_box(alone.run(black_box(&input.data), input.size));
            t_alone = t_alone.min(start.elapsed());

            let start = Instant::now();
            black_box(consume(&decoder.decode(black_box(&input.data))));
            t_decode = t_decode.min(start.elapsed());

            let start = Instant::now();
            black_box(
                decoder
                    .decode(black_box(&stored))
                    .owned_items(&stored)
                    .count(),
            );
            t_owned = t_owned.min(start.elapsed());

            let start = Instant::now();
            let envelope: LogsEnvelope<'_> =
                serde_json::from_slice(black_box(&json)).expect("envelope");
            black_box(envelope.log_events.len());
            drop(envelope);
            t_parse = t_parse.min(start.elapsed());

            if input.codec == Codec::Gzip {
                let start = Instant::now();
                black_box(gz_decoder(black_box(&input.data)));
                t_gz = t_gz.min(start.elapsed());
            }
        }
        let gz = if input.codec == Codec::Gzip {
            format!(
                ", GzDecoder::read_to_end {:.0} MB/s",
                mb_s(input.size, t_gz)
            )
        } else {
            String::new()
        };
        eprintln!(
            "decode/{} paired ({} bytes -> {} bytes, {} events): {} alone {:.0} MB/s, decode {:.0} MB/s (ratio {:.2}), decode + owned items {:.0} MB/s (ratio {:.2}){gz}; serde_json parse alone {:.0} MB/s; {} allocations per record decoded",
            input.name,
            input.data.len(),
            input.size,
            input.events,
            input.codec,
            mb_s(input.size, t_alone),
            mb_s(input.size, t_decode),
            t_alone.as_secs_f64() / t_decode.as_secs_f64(),
            mb_s(input.size, t_owned),
            t_alone.as_secs_f64() / t_owned.as_secs_f64(),
            mb_s(input.size, t_parse),
            per_record,
        );
    }
    plain_path();
}

/// ~200-byte records that carry no magic, as most streams do.
fn plain_records() -> Vec<Vec<u8>> {
    (0..10_000).map(|i| json_line(i).into_bytes()).collect()
}

/// The plain path under `auto`: allocations (must be none) and time per record.
fn plain_path() {
    let records = plain_records();
    let mut decoder = Decoder::new(Options::new(Decode::Auto));
    let before = allocations();
    let mut lines = 0;
    for record in &records {
        lines += consume(&decoder.decode(record));
    }
    let allocated = allocations() - before;
    assert_eq!(allocated, 0, "the plain path allocates nothing");
    assert_eq!(lines, records.iter().map(Vec::len).sum::<usize>());
    let (mut t_decode, mut t_touch) = (Duration::MAX, Duration::MAX);
    for _ in 0..200 {
        let start = Instant::now();
        for record in &records {
            black_box(consume(&decoder.decode(black_box(record))));
        }
        t_decode = t_decode.min(start.elapsed());
        let start = Instant::now();
        for record in &records {
            black_box(black_box(&record[..]).len());
        }
        t_touch = t_touch.min(start.elapsed());
    }
    let per = |t: Duration| t.as_secs_f64() * 1e9 / records.len() as f64;
    eprintln!(
        "decode/plain paired ({} records of ~{} bytes): decode {:.1} ns per record, touching the bytes alone {:.1} ns; {allocated} allocations",
        records.len(),
        records[0].len(),
        per(t_decode),
        per(t_touch),
    );
}

fn bench(c: &mut Criterion) {
    for input in inputs() {
        let mut group = c.benchmark_group(format!("decode/{}", input.name));
        group.throughput(Throughput::Bytes(input.size as u64));
        let mut alone = Alone::new(input.codec);
        group.bench_function(format!("{} alone", input.codec), |b| {
            b.iter(|| alone.run(black_box(&input.data), input.size))
        });
        if input.codec == Codec::Gzip {
            group.bench_function("GzDecoder", |b| {
                b.iter(|| gz_decoder(black_box(&input.data)))
            });
        }
        let mut decoder = Decoder::new(Options::new(Decode::Auto));
        group.bench_function("decode", |b| {
            b.iter(|| consume(&decoder.decode(black_box(&input.data))))
        });
        group.finish();
    }
    let records = plain_records();
    let mut group = c.benchmark_group("decode/plain");
    group.throughput(Throughput::Elements(records.len() as u64));
    let mut decoder = Decoder::new(Options::new(Decode::Auto));
    group.bench_function("decode", |b| {
        b.iter(|| {
            records
                .iter()
                .map(|r| consume(&decoder.decode(black_box(r))))
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs each bench once and needs no figures.
    if std::env::args().any(|arg| arg == "--bench") {
        paired();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
