//! `ktail tail --efo` (issue 8): enhanced fan-out through a registered consumer, against the real
//! binary. Subscriptions, short sessions and consumers on ferrokinesis; resharding (ChildShards in
//! events) on kinesis-mock, whose SubscribeToShard speaks plain HTTP/1.1, as ktail does to an
//! `http://` endpoint. As on AWS, over TLS with HTTP/2 only: ferrokinesis behind nginx
//! (`support::tls_front`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::ConsumerStatus;
use ktail::kinesis::consumer::name_prefix;

use crate::tail::{assert_complete_and_ordered, lines, put_keyed, spawn_producer};
use ktail_testkit::{self as support, Emulator, Running, run_ktail, unique_name};

const RUN: Duration = Duration::from_secs(60);

async fn stream_arn(client: &Client, stream: &str) -> String {
    client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap()
        .stream_arn
}

/// The stream's consumers that are not on their way out: (name, ARN).
async fn live_consumers(client: &Client, stream: &str) -> Vec<(String, String)> {
    let arn = stream_arn(client, stream).await;
    let out = client
        .list_stream_consumers()
        .stream_arn(arn)
        .send()
        .await
        .unwrap();
    out.consumers()
        .iter()
        .filter(|c| c.consumer_status() != &ConsumerStatus::Deleting)
        .map(|c| (c.consumer_name().to_string(), c.consumer_arn().to_string()))
        .collect()
}

async fn assert_no_consumer_left(client: &Client, stream: &str) {
    // Deregistration is asynchronous on AWS; DELETING counts as gone.
    let left = live_consumers(client, stream).await;
    assert!(left.is_empty(), "consumers left behind: {left:?}");
}

/// Waits until a following `--efo` tail prints: puts `warm-N` lines until one shows, then
/// reads past every warm-up line already printed.
async fn wait_reading(emu: &Emulator, stream: &str, tail: Running) -> Running {
    let client = emu.kinesis().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tail = tail;
    for i in 0.. {
        assert!(Instant::now() < deadline, "the tail never printed");
        put_keyed(
            &client,
            stream,
            &[("warm".into(), format!("warm-{i}").into_bytes())],
        )
        .await;
        let (back, line) = tokio::task::spawn_blocking(move || {
            let line = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                tail.next_line(Duration::from_millis(1500))
            }));
            (tail, line)
        })
        .await
        .unwrap();
        tail = back;
        if let Ok(Some(line)) = line {
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            // Later warm-ups may still come; they are skipped by the callers' filters.
            assert!(text.starts_with("warm-"), "unexpected line {text:?}");
            return tail;
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread")]
async fn efo_reads_every_shard_and_deregisters_its_consumer() {
    let emu = support::ferrokinesis();
    let name = unique_name("efo");
    emu.create_stream(&name, 3).await;
    let client = emu.kinesis().await;
    put_keyed(&client, &name, &lines(200, "r")).await;
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--efo", "--oldest", "-e"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    let mut got = out.stdout_lines();
    got.sort();
    let mut want: Vec<String> = (0..200).map(|i| format!("r-{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(out.stderr, "");
    assert_no_consumer_left(&client, &name).await;
}

/// While following, the consumer is there and named for ktail, the user and the host; Ctrl-C
/// and SIGTERM both deregister it and exit 130.
#[tokio::test(flavor = "multi_thread")]
async fn signals_deregister_the_consumer() {
    let emu = support::ferrokinesis();
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let name = unique_name("efo-signal");
        emu.create_stream(&name, 2).await;
        let client = emu.kinesis().await;
        let mut cmd = emu.ktail();
        cmd.args(["tail", &name, "--efo"]);
        let tail = wait_reading(&emu, &name, Running::spawn(cmd)).await;
        let live = live_consumers(&client, &name).await;
        assert_eq!(live.len(), 1, "{live:?}");
        assert!(live[0].0.starts_with(&name_prefix()), "{live:?}");
        tail.signal(signal);
        let out = tail.wait(RUN);
        out.assert_code(130);
        assert_no_consumer_left(&client, &name).await;
    }
}

/// Subscriptions of 1.5 s (AWS: 5 minutes) while a producer writes: every record once, in order
/// per key, across many re-subscriptions; `-n` ends the run and deregisters.
#[tokio::test(flavor = "multi_thread")]
async fn resubscriptions_lose_and_repeat_nothing() {
    let emu = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        subscribe_to_shard_session_ms: 1500,
        ..support::ferrokinesis_options()
    });
    let name = unique_name("efo-resub");
    emu.create_stream(&name, 2).await;
    let client = emu.kinesis().await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--efo", "--oldest"]);
    let tail = Running::spawn(cmd);
    let producer = spawn_producer(client.clone(), name.clone(), 4, stop.clone());
    tokio::time::sleep(Duration::from_secs(7)).await;
    stop.store(true, Ordering::SeqCst);
    let written = producer.await.unwrap();
    let total: usize = written.iter().sum();
    assert!(total > 100, "the producer wrote only {total}");
    let (tail, _) = tokio::task::spawn_blocking(move || {
        let mut tail = tail;
        let got = tail.read_lines(total, Duration::from_secs(60));
        (tail, got)
    })
    .await
    .unwrap();
    // Anything printed twice would come now, after another re-subscription or two.
    tokio::time::sleep(Duration::from_secs(3)).await;
    tail.interrupt();
    let out = tail.wait(RUN);
    out.assert_code(130);
    assert_complete_and_ordered(&out.stdout_lines(), &written);
    assert_no_consumer_left(&client, &name).await;

    // -n: the run ends by itself and still deregisters.
    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--efo", "--oldest", "-n", "7"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    assert_eq!(out.stdout_lines().len(), 7);
    assert_no_consumer_left(&client, &name).await;
}

/// A killed run leaves its consumer: the next run reuses it if ACTIVE (same ARN), removes this
/// host's other leftovers, and deregisters on exit.
#[tokio::test(flavor = "multi_thread")]
async fn leftover_consumers_are_reused_or_cleaned() {
    let emu = support::ferrokinesis();
    let name = unique_name("efo-left");
    emu.create_stream(&name, 1).await;
    let client = emu.kinesis().await;
    let arn = stream_arn(&client, &name).await;
    let mut left = BTreeMap::new();
    // Slot 0 is what the next run takes (no run holds it); slot 7 is another dead run's.
    for slot in [0, 7] {
        let consumer_name = format!("{}{slot}", name_prefix());
        let out = client
            .register_stream_consumer()
            .stream_arn(&arn)
            .consumer_name(&consumer_name)
            .send()
            .await
            .unwrap();
        left.insert(slot, out.consumer.unwrap().consumer_arn);
    }
    // Someone else's consumer is never touched.
    client
        .register_stream_consumer()
        .stream_arn(&arn)
        .consumer_name("production-app")
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while live_consumers(&client, &name).await.len() < 3 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Wait until all three are ACTIVE.
    loop {
        let out = client
            .list_stream_consumers()
            .stream_arn(&arn)
            .send()
            .await
            .unwrap();
        if out
            .consumers()
            .iter()
            .all(|c| c.consumer_status() == &ConsumerStatus::Active)
        {
            break;
        }
        assert!(Instant::now() < deadline, "consumers never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut cmd = emu.ktail();
    cmd.args(["tail", &name, "--efo"]);
    let tail = wait_reading(&emu, &name, Running::spawn(cmd)).await;
    let mut live = live_consumers(&client, &name).await;
    live.sort();
    let ours = (format!("{}0", name_prefix()), left[&0].clone());
    assert_eq!(
        live,
        vec![ours, ("production-app".to_string(), live[1].1.clone())],
        "slot 0 reused with its ARN, slot 7 removed, others untouched"
    );
    tail.interrupt();
    tail.wait(RUN).assert_code(130);
    let live = live_consumers(&client, &name).await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].0, "production-app");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_stream_is_one_clear_line_and_exit_1() {
    let emu = support::ferrokinesis();
    let mut cmd = emu.ktail();
    cmd.args(["tail", "no-such-stream", "--efo"]);
    let out = run_ktail(cmd, RUN);
    out.assert_code(1);
    assert!(
        out.stderr.contains("no-such-stream does not exist"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

/// Split, merge and UpdateShardCount while following with `--efo`: children start from the
/// events' ChildShards once their parents are drained; nothing lost, nothing twice, keys in order.
#[tokio::test(flavor = "multi_thread")]
async fn resharding_with_efo_loses_nothing_and_keeps_key_order() {
    crate::tail::reshard_while_tailing_with(support::kinesis_mock(), &["--efo"]).await;
}

/// `ktail status` lists ktail's consumers: one a killed run on this host left, and another
/// host's. (moto: status also reads Lambda.)
#[tokio::test(flavor = "multi_thread")]
async fn status_shows_consumers_left_behind() {
    let emu = support::moto();
    let name = unique_name("efo-status");
    emu.create_stream(&name, 1).await;
    let client = emu.kinesis().await;
    let arn = stream_arn(&client, &name).await;
    let mine = format!("{}3", name_prefix());
    for consumer in [mine.as_str(), "ktail-someone-elsewhere-0", "production-app"] {
        client
            .register_stream_consumer()
            .stream_arn(&arn)
            .consumer_name(consumer)
            .send()
            .await
            .unwrap();
    }
    let mut cmd = emu.ktail();
    cmd.arg("status");
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    let text = out.stdout_str();
    let line = |consumer: &str| {
        text.lines()
            .find(|l| l.contains(consumer) && l.contains(&name))
            .unwrap_or_else(|| panic!("no line for {consumer} in:\n{text}"))
            .to_string()
    };
    assert!(line(&mine).contains("left by a killed ktail on this host"));
    assert!(line("ktail-someone-elsewhere-0").contains("another host"));
    assert!(!text.contains("production-app"), "{text}");
}

/// On AWS, SubscribeToShard runs only over TLS with HTTP/2 (issue 12 item 7). Through the realism
/// layer's TLS front (nginx: a test CA, ALPN h2, anything but HTTP/2 refused), `--efo` reads
/// every record, and nginx's log shows each call, SubscribeToShard included, as HTTP/2.
#[tokio::test(flavor = "multi_thread")]
async fn efo_runs_over_tls_and_http2_only() {
    let emu = support::ferrokinesis();
    let name = unique_name("efo-h2");
    emu.create_stream(&name, 2).await;
    let client = emu.kinesis().await;
    put_keyed(&client, &name, &lines(200, "h2")).await;
    let front = support::tls_front::start(&emu.endpoint);

    // Without the test CA the endpoint is not trusted: the TLS is real, and SSL_CERT_FILE is
    // what makes the next run trust it.
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &front.endpoint)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .args(["tail", &name, "--oldest", "-e"]);
    let out = run_ktail(cmd, RUN);
    // Exit 5, naming the endpoint it could not reach (issue 12 item 11).
    out.assert_code(5);
    assert!(out.stderr.contains(&front.endpoint), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL", &front.endpoint)
        .env("SSL_CERT_FILE", &front.ca_file)
        .args(["tail", &name, "--efo", "--oldest", "-e"]);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    let mut got = out.stdout_lines();
    got.sort();
    let mut want: Vec<String> = (0..200).map(|i| format!("h2-{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(out.stderr, "");

    // A subscription is logged when it ends, which may be just after ktail exits.
    let logged = front.wait_logged("SubscribeToShard", Duration::from_secs(30));
    let subscriptions: Vec<_> = logged
        .iter()
        .filter(|l| l.target.ends_with(".SubscribeToShard"))
        .collect();
    assert!(
        subscriptions.len() >= 2,
        "one per shard at least: {logged:?}"
    );
    assert!(
        logged
            .iter()
            .all(|l| l.protocol == "HTTP/2.0" && l.status != "426"),
        "a call that was not HTTP/2: {logged:?}"
    );
    assert_no_consumer_left(&client, &name).await;
}
