//! Wide streams (issue 14 item 2): hundreds of shards. A throttled first ListShards is waited
//! out, readers' first reads are spread over the first poll interval instead of one burst, calls
//! in flight are bounded, and a reshard of hundreds of shards while following loses no record
//! and keeps per-key order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ktail_testkit::{self as support, Running, run_ktail, unique_name};

use crate::tail::{assert_complete_and_ordered, lines, stop_and_read};

const RUN: Duration = Duration::from_secs(60);

/// ListShards answered with LimitExceededException (the stream's ListShards limit, shared with
/// its other readers) more times in a row than the SDK retries (3 attempts): the tail waits it
/// out and reads everything.
#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_first_listing_is_waited_out() {
    let emu = support::ferrokinesis();
    let stream = unique_name("wide-list");
    emu.create_stream(&stream, 4).await;
    let records = lines(40, "listed");
    support::put_keyed(&emu.kinesis().await, &stream, &records).await;
    let proxy = support::fault_proxy::start(
        &emu.endpoint,
        "ListShards",
        "LimitExceededException",
        Arc::new(|n| n < 4),
    );
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(["--debug", "tail", &stream, "--oldest", "-e"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    assert_eq!(proxy.injected.load(Ordering::SeqCst), 4);
    assert!(
        out.stderr.contains("ListShards throttled; backing off"),
        "ktail's own backoff was not exercised: {}",
        out.stderr
    );
    let mut got = out.stdout_lines();
    got.sort();
    let mut want: Vec<String> = records
        .iter()
        .map(|(_, d)| String::from_utf8(d.clone()).unwrap())
        .collect();
    want.sort();
    assert_eq!(got, want);
}

/// 200 shards: every reader takes its iterator at once (exactly one GetShardIterator per shard,
/// so LATEST is the moment the tail started), and the first GetRecords of the shards (counted by
/// the realism layer's proxy, which also refuses a sixth call per shard within a second, as AWS
/// does) are spread over the first interval (3 s here: 10 ms apart at most, so 2 s) instead of
/// coming in one burst.
#[tokio::test(flavor = "multi_thread")]
async fn first_reads_spread_over_the_first_interval() {
    const SHARDS: usize = 200;
    let emu = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        shard_limit: 400,
        ..support::ferrokinesis_options()
    });
    let stream = unique_name("wide-start");
    emu.create_stream(&stream, SHARDS as i32).await;
    let proxy = support::throttle::start(&emu.endpoint);
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint).args([
        "tail",
        &stream,
        "--oldest",
        "-e",
        "--poll-interval",
        "3s",
    ]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();

    let iterators = proxy.iterator_calls();
    let mut shards: Vec<&str> = iterators.iter().map(|(id, _)| id.as_str()).collect();
    shards.sort();
    shards.dedup();
    assert_eq!(shards.len(), SHARDS, "every shard started");
    assert_eq!(
        iterators.len(),
        SHARDS,
        "no shard started twice: {iterators:?}"
    );
    assert!(iterators.iter().all(|(_, c)| !c.throttled));

    let calls = proxy.calls();
    assert_eq!(
        calls.len(),
        SHARDS,
        "GetRecords on every shard: {:?}",
        calls.keys()
    );
    let mut firsts: Vec<Duration> = calls.values().map(|calls| calls[0].at).collect();
    firsts.sort();
    // Structure, not speed: a slow machine only stretches the spread. All at once (the old
    // start, jittered over 50 ms) put 58 of them in one 100 ms window even with a debug build
    // whose own CPU spread them over a second; 10 ms apart, a window holds about 10.
    let first = firsts[0];
    let mut per_window = std::collections::BTreeMap::<u128, usize>::new();
    for at in &firsts {
        *per_window
            .entry((*at - first).as_millis() / 100)
            .or_default() += 1;
    }
    let most = per_window.values().copied().max().unwrap_or(0);
    let spread = firsts[SHARDS - 1] - first;
    eprintln!("first GetRecords per 100 ms: {per_window:?}, over {spread:?}");
    assert!(
        most <= SHARDS / 8,
        "{most} of {SHARDS} first GetRecords in one 100 ms window: {per_window:?}"
    );
    assert!(
        spread >= Duration::from_millis(1500),
        "first reads spread over {spread:?} only"
    );
}

/// A service slower than ktail asks (every GetRecords answered after a second, 200 shards polled
/// every second): calls wait in ktail, at most 64 in flight (each holds a connection), not one per
/// shard, which on 1,000 shards meant over 1,000 open sockets.
#[tokio::test(flavor = "multi_thread")]
async fn calls_in_flight_are_bounded_when_the_service_is_slow() {
    use std::sync::atomic::AtomicUsize;
    use support::fault_proxy::Intercept;

    /// Delays every GetRecords by a second; counts the data-plane calls in flight.
    #[derive(Default)]
    struct Slow {
        now: AtomicUsize,
        most: AtomicUsize,
        iterators: AtomicUsize,
    }
    fn data_plane(operation: &str) -> bool {
        matches!(operation, "GetRecords" | "GetShardIterator")
    }
    impl Intercept for Slow {
        fn request(&self, operation: &str, _body: &[u8]) -> Option<(u16, String)> {
            if !data_plane(operation) {
                return None;
            }
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            if operation == "GetShardIterator" {
                self.iterators.fetch_add(1, Ordering::SeqCst);
            } else {
                std::thread::sleep(Duration::from_secs(1));
            }
            None
        }
        fn wants_response(&self, operation: &str) -> bool {
            data_plane(operation)
        }
        fn response(&self, _operation: &str, _request: &[u8], _status: u16, _body: &[u8]) {
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    const SHARDS: usize = 200;
    let emu = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        shard_limit: 400,
        ..support::ferrokinesis_options()
    });
    let stream = unique_name("wide-slow");
    emu.create_stream(&stream, SHARDS as i32).await;
    let slow = Arc::new(Slow::default());
    let endpoint = support::fault_proxy::start_with(&emu.endpoint, slow.clone());
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &endpoint)
        .args(["tail", &stream]);
    let tail = Running::spawn(cmd);
    // Until every shard has started, and a few seconds of polls more.
    let deadline = std::time::Instant::now() + RUN;
    while slow.iterators.load(Ordering::SeqCst) < SHARDS {
        assert!(
            std::time::Instant::now() < deadline,
            "not every shard started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    tail.interrupt();
    tail.wait(RUN).assert_code(130);
    let most = slow.most.load(Ordering::SeqCst);
    // Unbounded, all 200 were in flight at once.
    assert!(most <= 64, "{most} calls in flight at once");
    assert!(
        most >= 32,
        "the service was not slow enough to test the bound: {most}"
    );
}

/// UpdateShardCount doubles a 100-shard stream (kinesis-mock splits every shard; each child names
/// its parent) while ktail follows it and a producer writes to 400 keys spread over all shards:
/// every record is printed once, in order per key.
#[tokio::test(flavor = "multi_thread")]
async fn resharding_a_wide_stream_loses_nothing_and_keeps_key_order() {
    const KEYS: usize = 400;
    let emu = support::kinesis_mock();
    let name = unique_name("wide-reshard");
    emu.create_stream(&name, 100).await;
    let client = emu.kinesis().await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--oldest"]);
    let tail = Running::spawn(cmd);

    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (client, name, stop) = (client.clone(), name.clone(), stop.clone());
        tokio::spawn(async move {
            // One record per key per round: a round is one PutRecords of 400 entries, and the
            // next starts once it is in, so each key's records are in order.
            let mut rounds = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let round: Vec<(String, Vec<u8>)> = (0..KEYS)
                    .map(|k| (format!("k{k}"), format!("k{k}:{rounds}").into_bytes()))
                    .collect();
                support::put_keyed(&client, &name, &round).await;
                rounds += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            vec![rounds; KEYS]
        })
    };

    let pause = Duration::from_secs(3);
    tokio::time::sleep(pause).await;
    client
        .update_shard_count()
        .stream_name(&name)
        .target_shard_count(200)
        .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    emu.wait_active(&client, &name).await;
    tokio::time::sleep(pause).await;

    let (tail, got, written) = stop_and_read(&stop, producer, tail, Duration::from_secs(90)).await;
    let total: usize = written.iter().sum();
    assert_eq!(got.len(), total, "printed {} of {total}", got.len());
    // Anything printed twice would come now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    tail.interrupt();
    let out = tail.wait(RUN);
    assert!(out.stdout_lines().starts_with(&got));
    assert_complete_and_ordered(&out.stdout_lines(), &written);
}
