//! `ktail tail` next to the Kinesis tailers people use today (issue 8), in one run, on the same
//! in-process ferrokinesis and the same data, plus the `--efo` lag and idle rows.
//!
//! - drain: 100,000 JSON log lines of ~200 bytes in 4 shards, from the oldest record until every
//!   line is printed: records/s, CPU seconds (user + system) per million and peak RSS of each
//!   tool's own process (wait4). ktail also drains the same lines KPL-aggregated; no peer reads
//!   KPL records (they print the protobuf or fail to decode), so that row has no peer.
//! - lag: one record every 50 ms carrying its send time; put → stdout p50/p99 for ktail polling at
//!   1 s (default) and 200 ms, ktail `--efo`, and each peer at its defaults.
//! - idle: `--efo` following a 100-shard stream with no traffic (the polling row is in
//!   `benches/tail.rs`).
//!
//! Peers, pinned, each in its own venv under `target/bench-tools/` (their dependencies
//! conflict), installed by this script on first use from PyPI: `aws-kinesis-consumer==1.4.1`
//! (GetRecords limit raised to 10,000 for the drain: its default of 10 would measure requests,
//! not the tool) and `async-kinesis[cli]==3.0.1` (`tail -p string -f json`). Both run with
//! `PYTHONUNBUFFERED=1`, as on a terminal; a pipe would otherwise hold their lines back.
//!
//! Run: `cargo bench --bench peers` (all), or `cargo bench --bench peers -- drain|lag|idle`.
//! `KTAIL_BENCH_LAG_SECS` (default 30) and `KTAIL_BENCH_IDLE_SECS` (default 30) set durations.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use ktail::kpl::Aggregator;
use ktail_testkit::{Emulator, REGION, clean_aws_env};

const RECORDS: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tool {
    Ktail,
    KtailPoll200,
    KtailEfo,
    AwsKinesisConsumer,
    AsyncKinesis,
}

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::Ktail => "ktail (poll 1 s)",
            Tool::KtailPoll200 => "ktail --poll-interval 200ms",
            Tool::KtailEfo => "ktail --efo",
            Tool::AwsKinesisConsumer => "aws-kinesis-consumer 1.4.1",
            Tool::AsyncKinesis => "async-kinesis 3.0.1",
        }
    }

    /// The command that follows `stream` from the oldest record (`oldest`) or from now.
    fn command(self, emu: &Emulator, stream: &str, oldest: bool) -> Command {
        let mut cmd = match self {
            Tool::Ktail | Tool::KtailPoll200 | Tool::KtailEfo => {
                let mut cmd = emu.ktail();
                cmd.args(["tail", stream]);
                if oldest {
                    cmd.arg("--oldest");
                }
                match self {
                    Tool::KtailPoll200 => {
                        // 200 ms between polls needs the shard's whole 5 reads/s.
                        cmd.args(["--poll-interval", "200ms", "--max-read-rate", "5"]);
                    }
                    Tool::KtailEfo => {
                        cmd.arg("--efo");
                    }
                    _ => {}
                }
                cmd
            }
            Tool::AwsKinesisConsumer => {
                let mut cmd = Command::new(peer_bin(
                    "akc",
                    "aws-kinesis-consumer==1.4.1",
                    "aws-kinesis-consumer",
                ));
                clean_aws_env(&mut cmd);
                cmd.args(["-s", stream, "-e", &emu.endpoint, "-r", REGION])
                    .args(["-i", if oldest { "trim-horizon" } else { "latest" }])
                    .args(["-m", "10000"]);
                cmd
            }
            Tool::AsyncKinesis => {
                let mut cmd =
                    Command::new(peer_bin("ak", "async-kinesis[cli]==3.0.1", "async-kinesis"));
                clean_aws_env(&mut cmd);
                cmd.args(["--endpoint-url", &emu.endpoint, "--region", REGION])
                    .args(["tail", stream, "-p", "string", "-f", "json"])
                    .args(["-i", if oldest { "TRIM_HORIZON" } else { "LATEST" }]);
                cmd
            }
        };
        cmd.env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        cmd
    }
}

/// The peer's executable in its own venv, installed (pinned) on first use.
fn peer_bin(venv: &str, requirement: &str, exe: &str) -> PathBuf {
    let dir = ktail_testkit::target_dir().join("bench-tools").join(venv);
    let bin = dir.join("bin").join(exe);
    if bin.exists() {
        return bin;
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(dir.join("bin").join("pip"))
            .args(["install", "-q", "--disable-pip-version-check", requirement])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok && bin.exists(),
        "cannot install {requirement} into {}",
        dir.display()
    );
    bin
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("ktail binary: {}", ktail_testkit::ktail_bin().display());
    if want("drain") {
        rt.block_on(drain());
    }
    if want("lag") {
        let secs = env_secs("KTAIL_BENCH_LAG_SECS", 30);
        for tool in [
            Tool::Ktail,
            Tool::KtailPoll200,
            Tool::KtailEfo,
            Tool::AwsKinesisConsumer,
            Tool::AsyncKinesis,
        ] {
            rt.block_on(lag(tool, secs));
        }
    }
    if want("idle") {
        rt.block_on(idle_efo(env_secs("KTAIL_BENCH_IDLE_SECS", 30)));
    }
}

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// A ~200-byte JSON log line (the same as `benches/tail.rs`).
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

fn entry(key: &str, data: Vec<u8>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(key)
        .data(Blob::new(data))
        .build()
        .expect("entry")
}

async fn put_entries(client: &Client, stream: &str, entries: Vec<PutRecordsRequestEntry>) {
    // PutRecords takes at most 500 records and 5 MiB per call.
    let mut batch = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let size = entry.data().as_ref().len() + entry.partition_key().map_or(0, str::len);
        if batch.len() == 500 || bytes + size > 4 * 1024 * 1024 {
            send(client, stream, std::mem::take(&mut batch)).await;
            bytes = 0;
        }
        bytes += size;
        batch.push(entry);
    }
    if !batch.is_empty() {
        send(client, stream, batch).await;
    }
}

async fn send(client: &Client, stream: &str, batch: Vec<PutRecordsRequestEntry>) {
    let out = client
        .put_records()
        .stream_name(stream)
        .set_records(Some(batch))
        .send()
        .await
        .expect("put_records");
    assert_eq!(
        out.failed_record_count().unwrap_or(0),
        0,
        "put_records had failures"
    );
}

/// Waits for the child and returns its CPU seconds alone. (Its `ru_maxrss` would include this
/// process's memory at fork time, so peak RSS is read from /proc before the kill instead.)
fn reap(child: Child) -> f64 {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // The Child is forgotten: wait4 reaps it and reports its own resource use.
    std::mem::forget(child);
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

async fn drain() {
    let emu = ktail_testkit::ferrokinesis();
    let client = emu.kinesis().await;
    let plain = ktail_testkit::unique_name("peers-drain");
    emu.create_stream(&plain, 4).await;
    let entries = (0..RECORDS)
        .map(|i| entry(&format!("key-{i}"), log_line(i).into_bytes()))
        .collect();
    put_entries(&client, &plain, entries).await;

    let kpl = ktail_testkit::unique_name("peers-drain-kpl");
    emu.create_stream(&kpl, 4).await;
    let mut agg = Aggregator::new();
    let mut entries = Vec::new();
    for i in 0..RECORDS {
        if let Some(done) = agg.add(log_line(i).as_bytes(), &format!("key-{}", i % 64), None) {
            entries.push(entry(&done.partition_key, done.data));
        }
    }
    if let Some(done) = agg.flush() {
        entries.push(entry(&done.partition_key, done.data));
    }
    put_entries(&client, &kpl, entries).await;

    println!("| tool | data | records/s | CPU s per million | peak RSS |");
    println!("|---|---|---|---|---|");
    for (tool, stream, data) in [
        (Tool::Ktail, &plain, "plain"),
        (Tool::Ktail, &kpl, "KPL-aggregated"),
        (Tool::KtailEfo, &plain, "plain"),
        (Tool::AwsKinesisConsumer, &plain, "plain"),
        (Tool::AsyncKinesis, &plain, "plain"),
    ] {
        let started = Instant::now();
        let mut child = tool.command(&emu, stream, true).spawn().expect("spawn");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut buf = vec![0u8; 1 << 16];
        let mut lines = 0usize;
        let deadline = Duration::from_secs(600);
        while lines < RECORDS && started.elapsed() < deadline {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => lines += buf[..n].iter().filter(|b| **b == b'\n').count(),
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        // Every tool follows; it is stopped once every line is out (ktail's `-e` would end it
        // by itself, but the peers have no such mode).
        let rss = proc_status_kb(child.id(), "VmHWM:") as f64 / 1024.0;
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        drop(stdout);
        let cpu = reap(child);
        if lines < RECORDS {
            println!(
                "| {} | {data} | failed: {lines} of {RECORDS} lines in {elapsed:.0} s | | |",
                tool.label()
            );
            continue;
        }
        println!(
            "| {} | {data} | {:.0} | {:.2} | {rss:.0} MB |",
            tool.label(),
            RECORDS as f64 / elapsed,
            cpu * 1_000_000.0 / RECORDS as f64,
        );
    }
}

async fn put_one(client: &Client, stream: &str, key: &str, data: String) {
    client
        .put_record()
        .stream_name(stream)
        .partition_key(key)
        .data(Blob::new(data.into_bytes()))
        .send()
        .await
        .expect("put_record");
}

/// The send time in a `sent <ms> <i>` line, wherever the tool put it.
fn sent_ms(line: &str) -> Option<u128> {
    let at = line.find("sent ")?;
    line[at + 5..].split(' ').next()?.parse().ok()
}

async fn lag(tool: Tool, secs: u64) {
    let emu = ktail_testkit::ferrokinesis();
    let stream = ktail_testkit::unique_name("peers-lag");
    emu.create_stream(&stream, 4).await;
    let client = emu.kinesis().await;
    let mut child = tool.command(&emu, &stream, false).spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<(u128, String)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((now_ms(), line)).is_err() {
                break;
            }
        }
    });
    // Wait until the tool is reading (LATEST starts when its iterators are taken).
    let ready = Instant::now();
    loop {
        put_one(&client, &stream, "warm", format!("warmup {}", now_ms())).await;
        if rx.recv_timeout(Duration::from_millis(2500)).is_ok() {
            break;
        }
        if ready.elapsed() > Duration::from_secs(60) {
            println!("lag {}: never printed", tool.label());
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    while rx.try_recv().is_ok() {}

    let count = (secs * 1000 / 50) as usize;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    for i in 0..count {
        tick.tick().await;
        put_one(
            &client,
            &stream,
            &format!("k{i}"),
            format!("sent {} {i}", now_ms()),
        )
        .await;
    }
    let mut lags = Vec::with_capacity(count);
    let deadline = Instant::now() + Duration::from_secs(15);
    while lags.len() < count && Instant::now() < deadline {
        let Ok((at, line)) = rx.recv_timeout(Duration::from_secs(5)) else {
            break;
        };
        if let Some(sent) = sent_ms(&line) {
            lags.push(at.saturating_sub(sent) as u64);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    if lags.is_empty() {
        println!("lag {}: no record printed", tool.label());
        return;
    }
    lags.sort_unstable();
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "lag {}: {} of {count} records over {secs} s, put→stdout p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        tool.label(),
        lags.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        lags[lags.len() - 1]
    );
}

/// utime + stime of a live process in clock ticks, from /proc.
fn proc_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn idle_efo(secs: u64) {
    let emu = ktail_testkit::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        shard_limit: 200,
        ..ktail_testkit::ferrokinesis_options()
    });
    let stream = ktail_testkit::unique_name("peers-idle");
    emu.create_stream(&stream, 100).await;
    let mut child = Tool::KtailEfo.command(&emu, &stream, false);
    child.stdout(Stdio::null());
    let mut child = child.spawn().expect("spawn ktail");
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let before = proc_ticks(pid);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let cpu = (proc_ticks(pid) - before) as f64 / ticks_per_sec;
    let wall = started.elapsed().as_secs_f64();
    let rss = proc_status_kb(pid, "VmRSS:");
    let running = child.try_wait().ok().flatten().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(running, "ktail exited while idle");
    println!(
        "idle --efo: 100 shards for {wall:.0} s (ferrokinesis pushes an empty event every 200 ms per shard): \
         CPU {:.2} % of one core, RSS {:.1} MB",
        cpu / wall * 100.0,
        rss as f64 / 1024.0,
    );
}
