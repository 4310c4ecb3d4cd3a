//! `ktail put` (issue 7): what is put is read back by `ktail tail --oldest -e`, exactly.

use std::collections::HashSet;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{ChildStdin, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ktail_testkit::{
    self as support, Emulator, Output, Running, fault_proxy, run_ktail, run_ktail_with_stdin,
};

const T: Duration = Duration::from_secs(120);
const MIB: usize = 1024 * 1024;

fn put(emu: &Emulator, args: &[&str], input: &[u8]) -> Output {
    put_at(&emu.endpoint, args, input)
}

fn put_at(endpoint: &str, args: &[&str], input: &[u8]) -> Output {
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", endpoint).arg("put").args(args);
    run_ktail_with_stdin(cmd, Some(input), T)
}

/// Every record of the stream, one line each, as `ktail tail` prints them.
fn read_back(emu: &Emulator, stream: &str, extra: &[&str]) -> Vec<String> {
    let mut cmd = emu.ktail();
    cmd.args(["tail", "--oldest", "-e", stream]).args(extra);
    let out = run_ktail(cmd, T);
    out.assert_success();
    out.stdout_lines()
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

#[tokio::test]
async fn lines_are_read_back_in_order_under_one_key() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-plain");
    emu.create_stream(&stream, 2).await;
    // More than two PutRecords batches; an empty line and a CRLF ending on the way.
    let mut input = String::new();
    let mut expected = Vec::new();
    for i in 0..1200 {
        let line = format!("line {i} {{\"n\":{i}}}");
        input.push_str(&line);
        input.push_str(if i == 7 { "\r\n" } else { "\n" });
        if i == 500 {
            input.push('\n');
        }
        expected.push(line);
    }
    let out = put(
        &emu,
        &[&stream, "--partition-key", "one-key"],
        input.as_bytes(),
    );
    out.assert_success();
    assert!(out.stdout.is_empty(), "stdout is for data only");
    assert!(out.stderr.is_empty(), "not a terminal: {}", out.stderr);
    assert_eq!(read_back(&emu, &stream, &[]), expected);
}

#[tokio::test]
async fn random_keys_spread_lines_over_the_shards() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-spread");
    emu.create_stream(&stream, 4).await;
    let lines: Vec<String> = (0..400).map(|i| format!("spread-{i:04}")).collect();
    // The last line has no newline: it is still a line.
    let input = lines.join("\n");
    put(&emu, &[&stream], input.as_bytes()).assert_success();
    let json = read_back(&emu, &stream, &["-o", "json"]);
    let shards: HashSet<String> = json
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["shard"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(shards.len(), 4, "400 random keys should reach all 4 shards");
    assert_eq!(sorted(read_back(&emu, &stream, &[])), lines);
}

#[tokio::test]
async fn aggregated_lines_are_read_back_and_take_few_records() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-agg");
    emu.create_stream(&stream, 3).await;
    let lines: Vec<String> = (0..5000)
        .map(|i| format!("{{\"level\":\"info\",\"n\":{i},\"msg\":\"aggregated line\"}}"))
        .collect();
    let input = lines.join("\n") + "\n";
    put(&emu, &[&stream, "--aggregate"], input.as_bytes()).assert_success();
    assert_eq!(sorted(read_back(&emu, &stream, &[])), sorted(lines));
    // ~300 KB of lines fit in one aggregate: a handful of Kinesis records, not 5000.
    let records = read_back(&emu, &stream, &["--no-deaggregate", "-o", "json"]);
    assert!(
        !records.is_empty() && records.len() <= 5,
        "{} records",
        records.len()
    );
}

#[tokio::test]
async fn aggregates_fill_whole_put_records_requests() {
    // ~6.5 MB of lines: several 1 MiB aggregates, more than one 5 MiB PutRecords request.
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-agg-big");
    emu.create_stream(&stream, 2).await;
    let lines: Vec<String> = (0..30_000)
        .map(|i| format!("{i:06} {}", "x".repeat(200)))
        .collect();
    // From a file: no pipe to pause on, so batches fill up to the request limit.
    let path = support::target_tmp().join(format!("{stream}.txt"));
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut cmd = emu.ktail();
    cmd.args(["put", &stream, "--aggregate", "--file"])
        .arg(&path);
    let out = run_ktail(cmd, T);
    let _ = std::fs::remove_file(&path);
    out.assert_success();
    let got = read_back(&emu, &stream, &[]);
    assert!(
        sorted(got.clone()) == lines,
        "{} lines read back",
        got.len()
    );
    let records = read_back(&emu, &stream, &["--no-deaggregate", "-o", "json"]);
    assert!(
        (7..=10).contains(&records.len()),
        "{} Kinesis records",
        records.len()
    );
}

#[tokio::test]
async fn a_line_over_the_record_limit_is_reported_and_the_rest_put() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-big");
    emu.create_stream(&stream, 1).await;
    // With the 1-byte key, 1 MiB - 1 bytes of data is exactly the limit; 1 MiB is over it.
    let fits = "a".repeat(MIB - 1);
    let over = "b".repeat(MIB);
    let input = format!("small-1\n{fits}\n{over}\nsmall-2\n");
    let out = put(&emu, &[&stream, "--partition-key", "k"], input.as_bytes());
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("line 3 is 1048576 bytes, over the 1 MiB record limit"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "ktail: 1 of 4 lines were not put to {stream}: 1 over the 1 MiB record limit"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        read_back(&emu, &stream, &[]),
        ["small-1".to_owned(), fits, "small-2".to_owned()]
    );
}

#[tokio::test]
async fn throttled_entries_are_retried_until_they_are_put() {
    // One shard takes 1000 records/s: 2500 lines need the failed entries resent in later windows.
    let emu = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        enforce_limits: true,
        ..support::ferrokinesis_options()
    });
    let stream = support::unique_name("put-throttled");
    emu.create_stream(&stream, 1).await;
    let lines: Vec<String> = (0..2500).map(|i| format!("t{i}")).collect();
    let input = lines.join("\n");
    let out = put(&emu, &[&stream, "--partition-key", "k"], input.as_bytes());
    out.assert_success();
    // Every line exactly once; a resent entry lands after those that went through with it.
    let got = read_back(&emu, &stream, &[]);
    assert!(
        sorted(got.clone()) == sorted(lines),
        "{} lines read back",
        got.len()
    );
}

#[tokio::test]
async fn entries_that_keep_failing_are_counted_and_exit_1() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-failing");
    emu.create_stream(&stream, 1).await;
    // Every PutRecords answer says every entry failed (HTTP 200, as Kinesis does).
    let answer: fault_proxy::Answer = Arc::new(|_, request: &[u8]| {
        let request: serde_json::Value = serde_json::from_slice(request).ok()?;
        let n = request["Records"].as_array()?.len();
        let failed =
            serde_json::json!({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"});
        let body = serde_json::json!({"FailedRecordCount": n, "Records": vec![failed; n]});
        Some((200, body.to_string()))
    });
    let proxy = fault_proxy::start_answering(&emu.endpoint, "PutRecords", answer);
    let out = put_at(&proxy.endpoint, &[&stream], b"x\ny\nz\n");
    out.assert_code(1);
    assert_eq!(
        out.stderr.lines().collect::<Vec<_>>(),
        [format!(
            "ktail: 3 of 3 lines were not put to {stream}: 3 still failing after 7 attempts \
             (InternalFailure); try again later or reshard the stream"
        )]
    );
    assert_eq!(proxy.seen.load(std::sync::atomic::Ordering::SeqCst), 7);
    assert!(read_back(&emu, &stream, &[]).is_empty());
}

#[tokio::test]
async fn entries_that_fail_once_are_resent() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-fail-once");
    emu.create_stream(&stream, 1).await;
    // The first PutRecords is answered with every entry failed; later ones reach the emulator.
    let answer: fault_proxy::Answer = Arc::new(|n, request: &[u8]| {
        if n > 0 {
            return None;
        }
        let request: serde_json::Value = serde_json::from_slice(request).ok()?;
        let n = request["Records"].as_array()?.len();
        let failed = serde_json::json!({"ErrorCode": "ProvisionedThroughputExceededException",
            "ErrorMessage": "injected"});
        let body = serde_json::json!({"FailedRecordCount": n, "Records": vec![failed; n]});
        Some((200, body.to_string()))
    });
    let proxy = fault_proxy::start_answering(&emu.endpoint, "PutRecords", answer);
    let out = put_at(
        &proxy.endpoint,
        &[&stream, "--partition-key", "k"],
        b"x\ny\nz\n",
    );
    out.assert_success();
    assert_eq!(proxy.injected.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(read_back(&emu, &stream, &[]), ["x", "y", "z"]);
}

#[tokio::test]
async fn file_input_and_its_errors() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-file");
    emu.create_stream(&stream, 1).await;
    let path = support::target_tmp().join(format!("{stream}.txt"));
    std::fs::write(&path, "from-file-1\nfrom-file-2\n").unwrap();
    let mut cmd = emu.ktail();
    cmd.args(["put", &stream, "--file"]).arg(&path);
    run_ktail(cmd, T).assert_success();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        read_back(&emu, &stream, &[]),
        ["from-file-1", "from-file-2"]
    );

    let mut cmd = emu.ktail();
    cmd.args(["put", &stream, "--file", "/no/such/file"]);
    let out = run_ktail(cmd, T);
    out.assert_code(2);
    assert!(
        out.stderr.starts_with("ktail: cannot read /no/such/file"),
        "{}",
        out.stderr
    );

    let out = put(&emu, &["no-such-stream-here"], b"x\n");
    out.assert_code(1);
    assert!(
        out.stderr
            .starts_with("ktail: stream no-such-stream-here does not exist"),
        "{}",
        out.stderr
    );
}

/// `ktail put` reading a pipe that the test keeps open, as `(echo hello; sleep 3) | ktail put`.
fn put_from_pipe(endpoint: &str, args: &[&str]) -> (Running, ChildStdin) {
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .arg("put")
        .args(args)
        .stdin(Stdio::piped());
    let mut running = Running::spawn(cmd);
    let stdin = running.child.stdin.take().expect("stdin pipe");
    (running, stdin)
}

/// Waits until ktail has read everything written to `pipe` (nothing is left in it).
#[track_caller]
fn wait_until_read(pipe: &ChildStdin) {
    let deadline = Instant::now() + T;
    loop {
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int; on Linux it works on either end of a pipe.
        let rc = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut unread) };
        assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
        if unread == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "ktail never read its input");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// Issue 17 item 2. The README: "| 130 | interrupted (Ctrl-C or SIGTERM; SIGHUP too for `grep`)
// before finishing", and for put: "Ctrl-C or SIGTERM (`kill`, `docker stop`, systemd) stops
// reading, sends every line already read (an unterminated last line too, as at the end of
// input), and exits 130; a second signal exits at once."

#[tokio::test]
async fn sigterm_puts_the_line_already_read_and_exits_130() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-term");
    emu.create_stream(&stream, 1).await;
    // (sleep 0.5; echo hello; sleep 3) | ktail put s, then SIGTERM once the line was read.
    let (running, mut stdin) = put_from_pipe(&emu.endpoint, &[&stream]);
    stdin.write_all(b"hello\n").unwrap();
    wait_until_read(&stdin);
    running.signal(libc::SIGTERM);
    let out = running.wait(T);
    drop(stdin);
    out.assert_code(130);
    assert_eq!(read_back(&emu, &stream, &[]), ["hello"]);
}

#[tokio::test]
async fn sigterm_puts_an_unterminated_last_line_as_at_end_of_input() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-term-partial");
    emu.create_stream(&stream, 1).await;
    let (running, mut stdin) = put_from_pipe(&emu.endpoint, &[&stream, "--partition-key", "k"]);
    stdin.write_all(b"first\nno newline yet").unwrap();
    wait_until_read(&stdin);
    running.signal(libc::SIGTERM);
    let out = running.wait(T);
    drop(stdin);
    out.assert_code(130);
    assert_eq!(read_back(&emu, &stream, &[]), ["first", "no newline yet"]);
}

#[tokio::test]
async fn sigterm_after_a_burst_puts_every_line_read() {
    let emu = support::ferrokinesis();
    let stream = support::unique_name("put-term-burst");
    emu.create_stream(&stream, 2).await;
    // PutRecords waits at this gate, so the burst is read but mostly not sent yet when the
    // signal comes.
    let open = Arc::new(AtomicBool::new(false));
    let gate = Arc::clone(&open);
    let answer: fault_proxy::Answer = Arc::new(move |_, _| {
        let deadline = Instant::now() + T;
        while !gate.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    });
    let proxy = fault_proxy::start_answering(&emu.endpoint, "PutRecords", answer);
    let (running, mut stdin) = put_from_pipe(&proxy.endpoint, &[&stream]);
    let lines: Vec<String> = (0..5000).map(|i| format!("burst-{i:04}")).collect();
    stdin
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    wait_until_read(&stdin);
    let deadline = Instant::now() + T;
    while proxy.seen.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no PutRecords call");
        std::thread::sleep(Duration::from_millis(5));
    }
    running.signal(libc::SIGTERM);
    open.store(true, Ordering::SeqCst);
    let out = running.wait(T);
    drop(stdin);
    out.assert_code(130);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let got = read_back(&emu, &stream, &[]);
    assert!(
        sorted(got.clone()) == lines,
        "{} of 5000 lines read back",
        got.len()
    );
}
