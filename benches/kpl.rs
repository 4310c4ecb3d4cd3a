//! KPL deaggregation throughput next to md-5 alone over the same bytes.
//!
//! Every aggregate carries an MD5 of its body, so hashing the record is the floor a checksummed
//! format allows; the target is deaggregation at >= 0.85x of md-5's MB/s. Input: ~214-byte JSON
//! log lines (the size TARGETS.md measures with) with per-line partition keys, packed by our
//! `Aggregator` into a KPL-default 50 KiB aggregate and into a full 1 MiB one.
//!
//! Run: `cargo bench --bench kpl` (add `--no-default-features` to skip building the CLI).

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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

fn bench(c: &mut Criterion) {
    for (name, max) in [("50KiB", 50 * 1024), ("1MiB", kpl::MAX_RECORD_BYTES - 64)] {
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
criterion_main!(benches);
