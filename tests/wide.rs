//! Wide streams (issue 14 item 2): hundreds of shards. A throttled first ListShards is waited
//! out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ktail_testkit::{self as support, run_ktail, unique_name};

use crate::tail::lines;

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
