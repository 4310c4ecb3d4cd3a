//! `ktail put` benchmark (issue 7): the release binary sends 100,000 JSON log lines of ~200 bytes
//! to a 4-shard in-process ferrokinesis, plain (random key per line) and `--aggregate`, then
//! `ktail tail --oldest -e` counts them back. Reports lines/s, CPU seconds and peak RSS of `put`.
//!
//! Run: `cargo bench --bench put`.
//!
//! Measured 2026-11-25 on the shared 2-core dev machine (under load): plain 94k lines/s,
//! 0.24 CPU-s, 33 MB peak RSS; `--aggregate` 237k lines/s, 0.19 CPU-s, 140 MB peak RSS (not yet
//! investigated; a guess: copies of each 5 MiB request for the retry path and its base64 JSON).
//! One earlier `--aggregate` run was refused by the in-process emulator with HTTP 413 ("Request
//! body is too large") on a ~7 MB request; it did not recur.

use std::io::Write;
use std::process::Stdio;
use std::time::Instant;

const LINES: usize = 100_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("ktail binary: {}", ktail_testkit::ktail_bin().display());
    rt.block_on(put(false));
    rt.block_on(put(true));
}

fn log_line(i: usize) -> String {
    format!(
        r#"{{"ts":"2026-11-25T14:00:{:02}.{:03}Z","level":"INFO","service":"checkout","request_id":"{:016x}","method":"POST","path":"/api/v1/orders/{}","status":200,"latency_ms":{},"msg":"order created"}}"#,
        i % 60,
        i % 1000,
        (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        i,
        i % 500
    )
}

/// Waits for `child` with wait4: its exit code, CPU seconds and peak RSS in KB (its own, not the
/// maximum over every child so far as RUSAGE_CHILDREN gives).
fn wait_measured(child: std::process::Child) -> (i32, f64, i64) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (
        code,
        secs(usage.ru_utime) + secs(usage.ru_stime),
        usage.ru_maxrss,
    )
}

async fn put(aggregate: bool) {
    let emu = ktail_testkit::ferrokinesis();
    let stream = ktail_testkit::unique_name("bench-put");
    emu.create_stream(&stream, 4).await;
    let mut input = Vec::new();
    for i in 0..LINES {
        input.extend_from_slice(log_line(i).as_bytes());
        input.push(b'\n');
    }
    let bytes = input.len();

    let started = Instant::now();
    let mut cmd = emu.ktail();
    cmd.args(["put", &stream])
        .stdin(Stdio::piped())
        .stderr(Stdio::inherit());
    if aggregate {
        cmd.arg("--aggregate");
    }
    let mut child = cmd.spawn().expect("spawn ktail put");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).expect("write lines");
    });
    let (code, cpu, maxrss_kb) = wait_measured(child);
    let elapsed = started.elapsed().as_secs_f64();
    writer.join().expect("writer");
    assert_eq!(code, 0, "ktail put failed");

    let mut tail = emu.ktail();
    tail.args(["tail", &stream, "--oldest", "-e"]);
    let out = tail.output().expect("ktail tail");
    let read = out.stdout.iter().filter(|b| **b == b'\n').count();
    assert_eq!(read, LINES, "read back {read} of {LINES} lines");
    println!(
        "put {}: {LINES} lines ({:.1} MB) in {elapsed:.2} s = {:.0} lines/s; CPU {cpu:.3} s; \
         peak RSS {:.1} MB",
        if aggregate { "--aggregate" } else { "plain" },
        bytes as f64 / 1e6,
        LINES as f64 / elapsed,
        maxrss_kb as f64 / 1024.0
    );
}
