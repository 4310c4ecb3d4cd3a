//! Issue 14 item 1: `attach --efo` and `grep --efo`, the mapping reading through an enhanced
//! fan-out consumer of the attachment's own. Through the realism layer, which makes a new consumer
//! CREATING for a while (moto's are ACTIVE at once) and stands in for Lambda where moto refuses a
//! consumer as an event source.

use std::time::Duration;

use serde_json::Value;

use crate::attach::source_stream;
use crate::realism::role_policy;
use ktail_testkit::esm_poller::Poller;
use ktail_testkit::realism::{self, Realism};
use ktail_testkit::{self as support, Emulator, Output, Running};

const TIMEOUT: Duration = Duration::from_secs(180);

fn run(layer: &Realism, args: &[&str]) -> Output {
    let mut cmd = layer.ktail();
    cmd.args(args);
    support::run_ktail(cmd, TIMEOUT)
}

/// The consumer's status in moto itself, `None` once it is deregistered.
async fn consumer_status(m: &Emulator, arn: &str) -> Option<String> {
    m.kinesis()
        .await
        .describe_stream_consumer()
        .consumer_arn(arn)
        .send()
        .await
        .ok()
        .and_then(|o| o.consumer_description)
        .map(|d| d.consumer_status.as_str().to_owned())
}

/// The consumers moto holds for the stream `name`.
async fn consumers_of(m: &Emulator, name: &str) -> Vec<aws_sdk_kinesis::types::Consumer> {
    m.kinesis()
        .await
        .list_stream_consumers()
        .stream_arn(m.stream_arn(name).await)
        .send()
        .await
        .unwrap()
        .consumers
        .unwrap_or_default()
}

async fn mapping_source(layer: &Realism, m: &Emulator, uuid: &str) -> String {
    layer
        .lambda(m)
        .await
        .get_event_source_mapping()
        .uuid(uuid)
        .send()
        .await
        .unwrap()
        .event_source_arn
        .unwrap()
}

fn str_of<'a>(report: &'a Value, key: &str) -> &'a str {
    report[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {report:#}"))
}

/// `attach --efo` registers a consumer named after the attachment, waits until it is ACTIVE
/// (the layer refuses a mapping on a CREATING consumer), maps the function from the consumer,
/// and grants the role SubscribeToShard and DescribeStreamConsumer on that consumer only;
/// `status` shows it on the attachment's row; attaching again without `--efo` moves the
/// attachment back to polling and deregisters the consumer; `detach` deregisters it too.
#[tokio::test]
async fn attach_efo_reads_through_its_own_consumer_and_detach_removes_it() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "efo-attach").await;

    let out = run(&layer, &["attach", &src, "x", "--efo", "-o", "json"]);
    out.assert_success();
    let report = out.stdout_json();
    assert_eq!(report["consumer"], "created", "{report:#}");
    let consumer = str_of(&report, "consumer_arn").to_owned();
    let function = str_of(&report, "function_name").to_owned();
    let source_arn = str_of(&report, "source_stream_arn").to_owned();
    assert!(
        consumer.starts_with(&format!("{source_arn}/consumer/{function}")),
        "the consumer is the source's and named after the attachment: {consumer}"
    );
    assert_eq!(
        consumer_status(m, &consumer).await.as_deref(),
        Some("ACTIVE")
    );
    let uuid = str_of(&report, "mapping_uuid").to_owned();
    assert_eq!(mapping_source(&layer, m, &uuid).await, consumer);
    assert_eq!(report["mapping_source_arn"], consumer.as_str());
    // It waited for ACTIVE: the consumer was CREATING at first (a mapping on it then would have
    // been refused, and that refusal is not one attach retries).
    assert!(layer.calls("DescribeStreamConsumer") >= 2);

    let role = str_of(&report, "role_arn")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let policy = role_policy(m, &role).await;
    let grant = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ReadThroughOwnConsumer")
        .unwrap_or_else(|| panic!("{policy:#}"));
    assert_eq!(
        grant["Action"],
        serde_json::json!(["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"])
    );
    assert_eq!(
        grant["Resource"],
        format!("{source_arn}/consumer/{function}:*").as_str()
    );

    // Again with the same arguments: nothing to change.
    let again = run(&layer, &["attach", &src, "x", "--efo", "-o", "json"]).stdout_json();
    assert_eq!(again["consumer"], "unchanged", "{again:#}");
    assert_eq!(again["mapping"], "unchanged", "{again:#}");
    assert_eq!(again["consumer_arn"], consumer.as_str());

    let status = run(&layer, &["status", "-o", "json"]);
    status.assert_success();
    let all = status.stdout_json();
    let row = all
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["mapping_uuid"] == uuid.as_str())
        .unwrap_or_else(|| panic!("{all:#}"));
    assert_eq!(row["consumer"], consumer.as_str());
    let table = run(&layer, &["status"]);
    table.assert_success();
    let line = table
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with(&src))
        .unwrap_or_else(|| panic!("{}", table.stdout_str()));
    assert!(line.contains(&function), "{line}");
    assert!(
        !table
            .stdout_str()
            .contains(&format!("efo consumer {function}")),
        "an attachment's consumer is not listed as a tail's leftover:\n{}",
        table.stdout_str()
    );

    // Back to polling: one mapping, from the stream, and the consumer deregistered.
    let polling = run(&layer, &["attach", &src, "x", "-o", "json"]).stdout_json();
    assert_eq!(
        polling["mapping_source_arn"],
        source_arn.as_str(),
        "{polling:#}"
    );
    assert!(polling["consumer"].is_null(), "{polling:#}");
    assert_eq!(consumer_status(m, &consumer).await, None);
    let mappings = layer
        .lambda(m)
        .await
        .list_event_source_mappings()
        .function_name(&function)
        .send()
        .await
        .unwrap()
        .event_source_mappings
        .unwrap_or_default();
    let live: Vec<_> = mappings
        .iter()
        .filter(|m| m.state() != Some("Deleting"))
        .collect();
    assert_eq!(live.len(), 1, "{mappings:?}");

    // And --efo again, then detach: the mapping and its consumer go.
    let efo = run(&layer, &["attach", &src, "x", "--efo", "-o", "json"]).stdout_json();
    let consumer = str_of(&efo, "consumer_arn").to_owned();
    let detach = run(&layer, &["detach", &src, "x", "--purge"]);
    detach.assert_success();
    assert!(
        detach.stderr.contains(&format!("consumer {function}"))
            || detach.stdout_str().contains(&function),
        "{}",
        detach.stderr
    );
    assert_eq!(consumer_status(m, &consumer).await, None);
}

/// RegisterStreamConsumer's LimitExceededException (5 calls per second per account, at most 5
/// consumers CREATING at once) is waited out, not a failure.
#[tokio::test]
async fn a_consumer_registration_limit_is_waited_out() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "efo-limit").await;
    layer.fail(
        "RegisterStreamConsumer",
        2,
        400,
        "LimitExceededException",
        "Rate exceeded for consumer registration",
    );
    let out = run(&layer, &["attach", &src, "x", "--efo", "-o", "json"]);
    out.assert_success();
    assert_eq!(layer.refused("LimitExceededException"), 2);
    let consumer = str_of(&out.stdout_json(), "consumer_arn").to_owned();
    assert_eq!(
        consumer_status(m, &consumer).await.as_deref(),
        Some("ACTIVE")
    );
    run(&layer, &["detach", &src, "x", "--purge"]).assert_success();
    assert_eq!(consumer_status(m, &consumer).await, None);
}

/// `grep --efo --tail-polling`: the session's mapping reads through a consumer, the matches are
/// printed, and on exit the session removes the mapping and deregisters the consumer.
#[tokio::test(flavor = "multi_thread")]
async fn grep_efo_session_prints_matches_and_deregisters_its_consumer() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "efo-grep").await;
    // moto holds the mapping on the consumer's stream, so the poller finds it there.
    let poller = Poller::start(m, &src);
    m.put_records(&src, &["ERROR one", "INFO two", "ERROR three"])
        .await;
    let mut cmd = layer.ktail();
    cmd.args([
        "grep",
        &src,
        "ERROR",
        "--efo",
        "--tail-polling",
        "--oldest",
        "-n",
        "2",
    ]);
    let session = Running::spawn(cmd);
    let out = session.wait(TIMEOUT);
    out.assert_success();
    assert_eq!(out.stdout_lines(), ["ERROR one", "ERROR three"]);
    assert!(
        out.stderr.contains("removing enhanced fan-out consumer")
            || out.stderr.contains("removed consumer"),
        "{}",
        out.stderr
    );
    assert!(poller.activity().invocations > 0);
    drop(poller);
    let left = consumers_of(m, &src).await;
    assert!(left.is_empty(), "{left:?}");
}

/// A mapping that cannot be made leaves no consumer behind: it would read nothing and bill per
/// shard-hour. (The attach's own undo, for `attach` and `grep` alike.)
#[tokio::test]
async fn a_failed_mapping_deregisters_the_consumer_it_registered() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "efo-undo").await;
    layer.fail(
        "CreateEventSourceMapping",
        1,
        400,
        "InvalidParameterValueException",
        "refused by the test: not an IAM propagation message",
    );
    let out = run(&layer, &["attach", &src, "x", "--efo"]);
    out.assert_code(1);
    assert!(out.stderr.contains("refused by the test"), "{}", out.stderr);
    let consumers = consumers_of(m, &src).await;
    assert!(consumers.is_empty(), "{consumers:?}");
}
