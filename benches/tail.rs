//! `ktail tail` benchmarks (issue 3): the release binary against an in-process ferrokinesis (fast,
//! so the emulator does not measure itself; its CPU is this process's, not ktail's).
//!
//! - drain: 100,000 JSON log lines of ~200 bytes in 4 shards, plain, KPL-aggregated, and as the
//!   log events of gzip'd CloudWatch Logs envelopes (100 events each, as a subscription filter
//!   delivers them; issue 13), read with `--oldest -e`: records/s, CPU seconds and peak RSS of
//!   ktail.
//! - lag: one record every 50 ms carrying its send time; put → stdout p50/p99 at the default poll
//!   interval and at `--poll-interval 200ms`.
//! - idle: following a 100-shard stream with no traffic: CPU % and RSS, over the first seconds and
//!   once the shards have been quiet for 40 s.
//!
//! - wide (issue 14 item 2): a stream of 100 and of 1,000 shards with one record in each,
//!   followed from the oldest record: time to the first record and to all of them, then idle CPU
//!   and RSS while following (the first window after the last record, and once the shards have
//!   been quiet for 40 s); polling and `--efo`.
//!
//! Run: `cargo bench --bench tail` (all), or `cargo bench --bench tail -- drain|lag|idle|wide`.
//! `KTAIL_BENCH_LAG_SECS` (default 30) and `KTAIL_BENCH_IDLE_SECS` (default 30) set durations;
//! `KTAIL_BENCH_SHARDS` (default `100,1000`) the wide streams' shard counts and
//! `KTAIL_BENCH_WIDE_MODES` (default `poll,efo`) how they are read.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use ktail::decode::{Codec, DATA_MESSAGE, LogEvent, LogsEnvelope};
use ktail::kpl::Aggregator;

const RECORDS: usize = 100_000;

/// Log events per CloudWatch Logs envelope in the envelope drain.
const EVENTS_PER_ENVELOPE: usize = 100;

/// How the drain's lines are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// One line per Kinesis record.
    Plain,
    /// KPL aggregates of many lines.
    Aggregated,
    /// gzip'd CloudWatch Logs `DATA_MESSAGE`s of [`EVENTS_PER_ENVELOPE`] lines each.
    Envelopes,
}

impl Stored {
    fn name(self) -> &'static str {
        match self {
            Stored::Plain => "plain",
            Stored::Aggregated => "KPL-aggregated",
            Stored::Envelopes => "gzip'd CloudWatch Logs envelopes",
        }
    }
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
        rt.block_on(drain(Stored::Plain));
        rt.block_on(drain(Stored::Aggregated));
        rt.block_on(drain(Stored::Envelopes));
    }
    if want("lag") {
        let secs = env_secs("KTAIL_BENCH_LAG_SECS", 30);
        rt.block_on(lag("1s", secs));
        rt.block_on(lag("200ms", secs));
    }
    if want("idle") {
        rt.block_on(idle(env_secs("KTAIL_BENCH_IDLE_SECS", 30)));
    }
    if want("wide") {
        let secs = env_secs("KTAIL_BENCH_IDLE_SECS", 30);
        let shards = env_list("KTAIL_BENCH_SHARDS", "100,1000");
        let modes = env_list("KTAIL_BENCH_WIDE_MODES", "poll,efo");
        for mode in &modes {
            for n in &shards {
                let n = n.parse().expect("KTAIL_BENCH_SHARDS: shard counts");
                rt.block_on(wide(n, mode == "efo", secs));
            }
        }
    }
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
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

/// A ~200-byte JSON log line, as a web service writes them.
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

async fn put_entries(client: &Client, stream: &str, entries: Vec<PutRecordsRequestEntry>) {
    // PutRecords takes at most 500 records and 5 MiB per call.
    let mut batch = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let size = entry.data().as_ref().len() + entry.partition_key().map_or(0, str::len);
        if batch.len() == 500 || bytes + size > 1024 * 1024 {
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

fn entry(key: &str, data: Vec<u8>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(key)
        .data(Blob::new(data))
        .build()
        .expect("entry")
}

/// CPU seconds (user + system) of the children this process has waited for.
fn children_cpu() -> (f64, i64) {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime) + secs(usage.ru_stime), usage.ru_maxrss)
}

/// A CloudWatch Logs subscription record holding `lines`, gzip'd, in the documented shape.
fn envelope(first: usize, lines: &[String]) -> Vec<u8> {
    let envelope = LogsEnvelope {
        owner: "123456789012".into(),
        log_group: "/ecs/checkout".into(),
        log_stream: "checkout/web/5f0c2a".into(),
        subscription_filters: vec!["ktail-bench".into()],
        message_type: DATA_MESSAGE.into(),
        log_events: lines
            .iter()
            .enumerate()
            .map(|(i, line)| LogEvent {
                id: format!("{:056}", first + i).into(),
                timestamp: 1_764_079_200_000 + (first + i) as i64,
                message: line.as_bytes().into(),
            })
            .collect(),
    };
    ktail::decode::compress(Codec::Gzip, &envelope.to_json()).expect("gzip")
}

async fn drain(stored: Stored) {
    let emu = ktail_testkit::ferrokinesis();
    let stream = ktail_testkit::unique_name("bench-drain");
    emu.create_stream(&stream, 4).await;
    let client = emu.kinesis().await;
    let mut entries = Vec::new();
    let mut bytes = 0;
    if stored == Stored::Envelopes {
        let lines: Vec<String> = (0..RECORDS).map(log_line).collect();
        bytes = lines.iter().map(String::len).sum();
        for (n, chunk) in lines.chunks(EVENTS_PER_ENVELOPE).enumerate() {
            let data = envelope(n * EVENTS_PER_ENVELOPE, chunk);
            entries.push(entry(&format!("key-{n}"), data));
        }
    } else if stored == Stored::Aggregated {
        let mut agg = Aggregator::new();
        for i in 0..RECORDS {
            let line = log_line(i);
            bytes += line.len();
            if let Some(done) = agg.add(line.as_bytes(), &format!("key-{}", i % 64), None) {
                entries.push(entry(&done.partition_key, done.data));
            }
        }
        if let Some(done) = agg.flush() {
            entries.push(entry(&done.partition_key, done.data));
        }
    } else {
        for i in 0..RECORDS {
            let line = log_line(i);
            bytes += line.len();
            entries.push(entry(&format!("key-{i}"), line.into_bytes()));
        }
    }
    let kinesis_records = entries.len();
    put_entries(&client, &stream, entries).await;

    // Under /usr/bin/time when present: a child's peak RSS from getrusage would include this
    // (large) process's memory at fork time.
    let report = ktail_testkit::target_tmp().join(format!("{stream}.time"));
    let gnu_time = std::path::Path::new("/usr/bin/time").exists();
    let (cpu_before, _) = children_cpu();
    let started = Instant::now();
    let mut cmd = tail_command(&emu);
    if gnu_time {
        let program = cmd.get_program().to_owned();
        let envs: Vec<_> = cmd
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
            .collect();
        cmd = Command::new("/usr/bin/time");
        for (k, v) in envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.arg("-f")
            .arg("%M %U %S")
            .arg("-o")
            .arg(&report)
            .arg(program)
            .stderr(Stdio::inherit());
    }
    let mut child = cmd
        .args(["tail", &stream, "--oldest", "-e"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn ktail");
    let mut stdout = child.stdout.take().expect("stdout");
    let counter = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut lines = 0usize;
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|b| **b == b'\n').count();
        }
        lines
    });
    let status = child.wait().expect("wait ktail");
    let elapsed = started.elapsed().as_secs_f64();
    let lines = counter.join().expect("counter");
    let (cpu_after, maxrss_kb) = children_cpu();
    assert!(status.success(), "ktail failed: {status}");
    assert_eq!(lines, RECORDS, "ktail printed {lines} of {RECORDS} lines");
    let (cpu, maxrss_kb) = if gnu_time {
        let text = std::fs::read_to_string(&report).expect("time report");
        let fields: Vec<f64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        (fields[1] + fields[2], fields[0] as i64)
    } else {
        (cpu_after - cpu_before, maxrss_kb)
    };
    println!(
        "drain {}: {RECORDS} records ({} Kinesis records, avg {} B) in {elapsed:.2} s = {:.0} records/s; \
         CPU {cpu:.3} s ({:.3} s per 100k, {:.2} s per million); peak RSS {:.1} MB",
        stored.name(),
        kinesis_records,
        bytes / RECORDS,
        RECORDS as f64 / elapsed,
        cpu * 100_000.0 / RECORDS as f64,
        cpu * 1_000_000.0 / RECORDS as f64,
        maxrss_kb as f64 / 1024.0,
    );
}

fn tail_command(emu: &ktail_testkit::Emulator) -> Command {
    let mut cmd = emu.ktail();
    cmd.stderr(Stdio::inherit());
    cmd
}

async fn lag(poll: &str, secs: u64) {
    let emu = ktail_testkit::ferrokinesis();
    let stream = ktail_testkit::unique_name("bench-lag");
    emu.create_stream(&stream, 4).await;
    let client = emu.kinesis().await;
    let mut child = tail_command(&emu)
        // --max-read-rate 5: a --poll-interval below 500 ms needs more than the default 2 reads/s.
        .args([
            "tail",
            &stream,
            "--poll-interval",
            poll,
            "--max-read-rate",
            "5",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn ktail");
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
    // Wait until the tail is reading (LATEST starts when its iterators are taken).
    let ready = Instant::now();
    loop {
        put_one(&client, &stream, "warm", format!("warmup {}", now_ms())).await;
        if rx.recv_timeout(Duration::from_millis(1500)).is_ok() {
            break;
        }
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "ktail never printed"
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    while rx.try_recv().is_ok() {}

    let count = (secs * 1000 / 50) as usize;
    let producer = {
        let client = client.clone();
        let stream = stream.clone();
        tokio::spawn(async move {
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
        })
    };
    producer.await.expect("producer");
    let mut lags = Vec::with_capacity(count);
    let deadline = Instant::now() + Duration::from_secs(10);
    while lags.len() < count && Instant::now() < deadline {
        let Ok((at, line)) = rx.recv_timeout(Duration::from_secs(5)) else {
            break;
        };
        let Some(sent) = line.split(' ').nth(1).and_then(|s| s.parse::<u128>().ok()) else {
            continue;
        };
        lags.push(at.saturating_sub(sent) as u64);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(lags.len(), count, "lost records");
    lags.sort_unstable();
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "lag --poll-interval {poll}: {count} records over {secs} s, put→stdout p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        lags[lags.len() - 1]
    );
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

/// utime + stime of a process in clock ticks, from /proc.
fn proc_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat; here indices 11 and 12.
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

async fn idle(secs: u64) {
    let emu = ktail_testkit::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        shard_limit: 200,
        ..ktail_testkit::ferrokinesis_options()
    });
    let stream = ktail_testkit::unique_name("bench-idle");
    emu.create_stream(&stream, 100).await;
    let mut child = tail_command(&emu)
        .args(["tail", &stream])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn ktail");
    let pid = child.id();
    // Let every reader start and settle into its polling rhythm.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // Two windows: the first `secs` (every shard polled each interval), then, once the shards
    // have been quiet for 40 s and are polled less often (src/kinesis/reader.rs, `Quiet`), as long
    // again: what following an idle stream costs for good.
    for (window, settle) in [("first", 0), ("quiet", 40u64.saturating_sub(5 + secs))] {
        tokio::time::sleep(Duration::from_secs(settle)).await;
        let before = proc_ticks(pid);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let cpu = (proc_ticks(pid) - before) as f64 / ticks_per_sec;
        let wall = started.elapsed().as_secs_f64();
        let rss = proc_status_kb(pid, "VmRSS:");
        let hwm = proc_status_kb(pid, "VmHWM:");
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "ktail exited while idle"
        );
        println!(
            "idle ({window} {wall:.0} s): 100 shards: CPU {:.2} % of one core ({cpu:.2} s), RSS {:.1} MB (peak {:.1} MB)",
            cpu / wall * 100.0,
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A stream of `shards` shards holding one record each, followed with `--oldest` (and `--efo`):
/// time to the first and to the last record, then idle CPU and RSS while following.
async fn wide(shards: usize, efo: bool, secs: u64) {
    let emu = ktail_testkit::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        shard_limit: (2 * shards).max(200) as u32,
        ..ktail_testkit::ferrokinesis_options()
    });
    let stream = ktail_testkit::unique_name("bench-wide");
    emu.create_stream(&stream, shards as i32).await;
    let client = emu.kinesis().await;
    // One record at the start of each shard's hash range.
    let mut entries = Vec::with_capacity(shards);
    let mut next_token: Option<String> = None;
    loop {
        let request = match next_token.take() {
            Some(token) => client.list_shards().next_token(token),
            None => client.list_shards().stream_name(&stream),
        };
        let page = request.max_results(1000).send().await.expect("list_shards");
        for shard in page.shards() {
            let start = shard
                .hash_key_range()
                .expect("hash range")
                .starting_hash_key();
            let n = entries.len();
            entries.push(
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("k{n}"))
                    .explicit_hash_key(start)
                    .data(Blob::new(format!("record {n}").into_bytes()))
                    .build()
                    .expect("entry"),
            );
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => break,
        }
    }
    assert_eq!(entries.len(), shards, "listed shards");
    put_entries(&client, &stream, entries).await;

    let label = if efo { "--efo" } else { "polling" };
    let mut cmd = tail_command(&emu);
    cmd.args(["tail", &stream, "--oldest"]);
    if efo {
        cmd.arg("--efo");
    }
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn ktail");
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if line.is_err() || tx.send(Instant::now()).is_err() {
                break;
            }
        }
    });
    let deadline = Duration::from_secs(180);
    let first = rx.recv_timeout(deadline).expect("no record within 180 s");
    let mut last = first;
    for _ in 1..shards {
        last = rx
            .recv_timeout(deadline.saturating_sub(started.elapsed()))
            .expect("not every record within 180 s");
    }
    let hwm_start = proc_status_kb(pid, "VmHWM:");
    println!(
        "wide {label}: {shards} shards: first record {:.2} s, all {shards} {:.2} s after launch; peak RSS so far {:.1} MB",
        (first - started).as_secs_f64(),
        (last - started).as_secs_f64(),
        hwm_start as f64 / 1024.0,
    );
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // The first window starts 2 s after the last record; the second once the shards have been
    // empty for 40 s (polled less often then: `Quiet` in src/kinesis/reader.rs).
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (window, settle) in [("first", 0), ("quiet", 40u64.saturating_sub(2 + secs))] {
        tokio::time::sleep(Duration::from_secs(settle)).await;
        let before = proc_ticks(pid);
        let window_start = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let cpu = (proc_ticks(pid) - before) as f64 / ticks_per_sec;
        let wall = window_start.elapsed().as_secs_f64();
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "ktail exited while idle"
        );
        println!(
            "wide {label}: {shards} shards idle ({window} {wall:.0} s): CPU {:.2} % of one core ({cpu:.2} s), RSS {:.1} MB (peak {:.1} MB)",
            cpu / wall * 100.0,
            proc_status_kb(pid, "VmRSS:") as f64 / 1024.0,
            proc_status_kb(pid, "VmHWM:") as f64 / 1024.0,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        rx.try_recv().is_err(),
        "ktail printed more than {shards} records"
    );
}
