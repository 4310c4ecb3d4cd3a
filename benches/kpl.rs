//! KPL deaggregation throughput next to md-5 alone over the same bytes.
//!
//! Every aggregate carries an MD5 of its body, so hashing the record is the floor a checksummed
//! format allows; the target is deaggregation at >= 0.85x of md-5's MB/s. Input: ~214-byte JSON
//! log lines (the size TARGETS.md measures with) with per-line partition keys, packed by our
//! `Aggregator` into a KPL-default 50 KiB aggregate and into a full 1 MiB one.
//!
//! Run: `cargo bench --bench kpl` (add `--no-default-features` to skip building the CLI).
//!
//! Criterion times md-5 and deaggregation in separate windows, so on a loaded machine their ratio
//! is noise. Before the criterion groups, the bench therefore prints a paired figure: both
//! alternate on the same aggregate and each keeps its fastest run, which load can only slow.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use ktail::kpl::{self, Aggregator};
use md5::{Digest, Md5};

/// One aggregate of log lines filling `max` bytes.
fn aggregate(max: usize) -> (Bytes, String, usize) {
    let mut agg = Aggregator::with_max_bytes(max);
    for i in 0.. {
        let line = format!(
            r#"{{"ts":"2026-11-25T14:{:02}:{:02}.{:03}Z","level":"info","service":"checkout","request_id":"{:032x}","msg":"order placed","latency_ms":{},"user":"u-{:06}"}}"#,
            i / 3600 % 60,
            i / 60 % 60,
            i % 1000,
            (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
            i % 997,
            i % 100_000,
        );
        let key = format!(
            "{:08x}-{:04x}",
            i * 2_654_435_761u64 % 1_000_000_007,
            i % 64
        );
        if let Some(full) = agg.add(line.as_bytes(), &key, None) {
            return (
                Bytes::from(full.data),
                full.partition_key,
                full.user_records,
            );
        }
    }
    unreachable!("the loop returns once an aggregate is full")
}

const SIZES: [(&str, usize); 2] = [("50KiB", 50 * 1024), ("1MiB", kpl::MAX_RECORD_BYTES - 64)];

/// Fastest of `runs` alternating runs of md-5 and of deaggregation over the same aggregate.
fn paired() {
    for (name, max) in SIZES {
        let (data, key, records) = aggregate(max);
        let (mut md5, mut deaggregate) = (Duration::MAX, Duration::MAX);
        for _ in 0..(200 * 1024 * 1024 / max) {
            let start = Instant::now();
            black_box(Md5::digest(black_box(&data[..])));
            md5 = md5.min(start.elapsed());
            let start = Instant::now();
            black_box(kpl::deaggregate(black_box(data.clone()), &key, None));
            deaggregate = deaggregate.min(start.elapsed());
        }
        let mb_s = |t: Duration| data.len() as f64 / 1e6 / t.as_secs_f64();
        eprintln!(
            "kpl/{name} paired ({records} user records, {} bytes): md5 {:.0} MB/s, deaggregate {:.0} MB/s, ratio {:.3}",
            data.len(),
            mb_s(md5),
            mb_s(deaggregate),
            md5.as_secs_f64() / deaggregate.as_secs_f64(),
        );
    }
}

fn bench(c: &mut Criterion) {
    for (name, max) in SIZES {
        let (data, key, records) = aggregate(max);
        assert_eq!(kpl::deaggregate(data.clone(), &key, None).len(), records);
        let mut group = c.benchmark_group(format!("kpl/{name}"));
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function("md5", |b| b.iter(|| Md5::digest(black_box(&data[..]))));
        group.bench_function("deaggregate", |b| {
            b.iter(|| kpl::deaggregate(black_box(data.clone()), &key, None))
        });
        group.finish();
    }
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
