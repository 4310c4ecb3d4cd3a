//! CloudWatch Logs filter patterns (`ktail::pattern`) next to the regex matcher (`ktail::filter`)
//! on the same records: a term, JSON patterns (a text field, which the literal prefilter mostly
//! answers; a numeric field, which needs a parse of every record; both together) and a
//! space-delimited pattern, each against the regex a user would write for it.
//!
//! Input: 1,000 ~205-byte JSON log lines like benches/kpl.rs (one in ten an error, latency
//! 0-996 ms); the space-delimited case renders the same events as ~100-byte space-delimited
//! lines. Each pair must agree on which lines match, so the regex is a fair stand-in, and the
//! filter pattern must match all the lines without allocating (a counting global allocator).
//!
//! Run: `cargo bench --no-default-features --bench pattern`.
//!
//! As in benches/kpl.rs, a paired figure comes first (the two matchers alternate over the same
//! lines and each keeps its fastest run, which load can only slow), then criterion's groups.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use ktail::filter::{MatchOptions, Matcher};
use ktail::pattern::FilterPattern;

const LINES: usize = 1000;

/// Counts allocations, to check that matching a record allocates nothing.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn is_error(i: usize) -> bool {
    i % 10 == 3
}

fn json_lines() -> Vec<Vec<u8>> {
    (0..LINES)
        .map(|i| {
            format!(
                r#"{{"ts":"2026-11-25T14:{:02}:{:02}.{:03}Z","level":"{}","service":"checkout","request_id":"{:032x}","msg":"{}","latency_ms":{},"user":"u-{:06}","path":"/api/v1/checkout/orders"}}"#,
                i / 3600 % 60,
                i / 60 % 60,
                i % 1000,
                if is_error(i) { "error" } else { "info" },
                (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
                if is_error(i) { "payment failed" } else { "order placed" },
                i * 7919 % 997,
                i % 100_000,
            )
            .into_bytes()
        })
        .collect()
}

fn delimited_lines() -> Vec<Vec<u8>> {
    (0..LINES)
        .map(|i| {
            format!(
                r#"2026-11-25T14:{:02}:{:02}.{:03}Z {} checkout {:032x} "{}" {} u-{:06}"#,
                i / 3600 % 60,
                i / 60 % 60,
                i % 1000,
                if is_error(i) { "error" } else { "info" },
                (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
                if is_error(i) {
                    "payment failed"
                } else {
                    "order placed"
                },
                i * 7919 % 997,
                i % 100_000,
            )
            .into_bytes()
        })
        .collect()
}

/// (name, filter pattern, the equivalent regex, whether on the space-delimited lines)
const CASES: [(&str, &str, &str, bool); 5] = [
    ("term", "error", "error", false),
    (
        "json-field",
        r#"{ $.level = "error" }"#,
        r#""level":"error""#,
        false,
    ),
    (
        "json-number",
        "{ $.latency_ms >= 500 }",
        r#""latency_ms":([5-9][0-9]{2}|[0-9]{4,})[,}]"#,
        false,
    ),
    (
        "json-and",
        r#"{ $.level = "error" && $.latency_ms >= 500 }"#,
        r#""level":"error".*"latency_ms":([5-9][0-9]{2}|[0-9]{4,})[,}]"#,
        false,
    ),
    (
        "space-delimited",
        "[ts, level = error, service, request_id, msg, latency >= 500, user]",
        r#"^\S+ error \S+ \S+ "[^"]*" ([5-9][0-9]{2}|[0-9]{4,}) \S+$"#,
        true,
    ),
];

struct Case {
    name: &'static str,
    pattern: FilterPattern,
    regex: Matcher,
    lines: Vec<Vec<u8>>,
}

fn cases() -> Vec<Case> {
    let (json, delimited) = (json_lines(), delimited_lines());
    CASES
        .iter()
        .map(|&(name, pattern, regex, space)| {
            let case = Case {
                name,
                pattern: FilterPattern::parse(pattern).expect("bench pattern"),
                regex: Matcher::new(&[regex], MatchOptions::default()).expect("bench regex"),
                lines: if space {
                    delimited.clone()
                } else {
                    json.clone()
                },
            };
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            let by_pattern = count(&case.lines, |l| case.pattern.matches(l));
            let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
            assert_eq!(allocations, 0, "{name}: matching allocated");
            let by_regex = count(&case.lines, |l| case.regex.is_match(l));
            assert_eq!(by_pattern, by_regex, "{name}: the two matchers disagree");
            assert!(
                by_pattern > 0 && by_pattern < LINES,
                "{name}: matches {by_pattern}"
            );
            case
        })
        .collect()
}

fn count(lines: &[Vec<u8>], matches: impl Fn(&[u8]) -> bool) -> usize {
    lines.iter().filter(|l| matches(black_box(l))).count()
}

/// Fastest of alternating runs of each matcher over the same lines.
fn paired() {
    for case in cases() {
        let bytes: usize = case.lines.iter().map(Vec::len).sum();
        let (mut regex, mut pattern) = (Duration::MAX, Duration::MAX);
        for _ in 0..300 {
            let start = Instant::now();
            black_box(count(&case.lines, |l| case.regex.is_match(l)));
            regex = regex.min(start.elapsed());
            let start = Instant::now();
            black_box(count(&case.lines, |l| case.pattern.matches(l)));
            pattern = pattern.min(start.elapsed());
        }
        let per_line = |t: Duration| t.as_nanos() as f64 / LINES as f64;
        let mb_s = |t: Duration| bytes as f64 / 1e6 / t.as_secs_f64();
        eprintln!(
            "pattern/{} paired ({LINES} lines, {} bytes each on average): regex {:.0} ns/line ({:.0} MB/s), filter pattern {:.0} ns/line ({:.0} MB/s)",
            case.name,
            bytes / LINES,
            per_line(regex),
            mb_s(regex),
            per_line(pattern),
            mb_s(pattern),
        );
    }
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let bytes: usize = case.lines.iter().map(Vec::len).sum();
        let mut group = c.benchmark_group(format!("pattern/{}", case.name));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("regex", |b| {
            b.iter(|| count(&case.lines, |l| case.regex.is_match(l)))
        });
        group.bench_function("filter-pattern", |b| {
            b.iter(|| count(&case.lines, |l| case.pattern.matches(l)))
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
