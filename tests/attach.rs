//! `ktail attach`, `detach` and `status`: the real binary against moto's Lambda, IAM and Kinesis.
//!
//! moto is shared by the whole test binary, so every test works on its own uniquely named source
//! stream and looks only at resources whose names contain it. "No change" is checked with a
//! recording proxy of the test's own (moto does not bump LastModified on configuration updates, so
//! timestamps cannot tell).

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use base64::Engine;
use ktail::attachment::artifact::{self, Architecture};
use serde_json::{Value, json};

use ktail_testkit::{self as support, Emulator, Output, fault_proxy};

const TIMEOUT: Duration = Duration::from_secs(120);

fn ktail(m: &Emulator, args: &[&str]) -> Output {
    let mut cmd = m.ktail();
    cmd.args(args);
    support::run_ktail(cmd, TIMEOUT)
}

pub(crate) async fn source_stream(m: &Emulator, prefix: &str) -> String {
    let name = support::unique_name(prefix);
    m.create_stream(&name, 1).await;
    name
}

/// Everything in moto whose name (or, for mappings, source or function) mentions `needle`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Snapshot {
    roles: BTreeSet<String>,
    functions: BTreeSet<String>,
    mappings: BTreeSet<String>,
    streams: BTreeSet<String>,
}

async fn snapshot(m: &Emulator, needle: &str) -> Snapshot {
    let mut snap = Snapshot::default();
    let iam = m.iam().await;
    let mut roles = iam.list_roles().into_paginator().items().send();
    while let Some(role) = roles.next().await {
        let role = role.unwrap();
        if role.role_name.contains(needle) {
            snap.roles.insert(role.role_name);
        }
    }
    let lambda = m.lambda().await;
    let mut functions = lambda.list_functions().into_paginator().items().send();
    while let Some(f) = functions.next().await {
        let name = f.unwrap().function_name.unwrap_or_default();
        if name.contains(needle) {
            snap.functions.insert(name);
        }
    }
    let mut mappings = lambda
        .list_event_source_mappings()
        .into_paginator()
        .items()
        .send();
    while let Some(mapping) = mappings.next().await {
        let mapping = mapping.unwrap();
        let source = mapping.event_source_arn().unwrap_or_default();
        let function = mapping.function_arn().unwrap_or_default();
        if source.ends_with(&format!("/{needle}")) || function.contains(needle) {
            snap.mappings
                .insert(mapping.uuid().unwrap_or_default().to_owned());
        }
    }
    let kinesis = m.kinesis().await;
    // moto answers HasMoreStreams without a NextToken, so page by ExclusiveStartStreamName.
    let mut last: Option<String> = None;
    loop {
        let page = kinesis
            .list_streams()
            .limit(100)
            .set_exclusive_start_stream_name(last.clone())
            .send()
            .await
            .unwrap();
        last = page.stream_names.last().cloned();
        for name in page.stream_names {
            if name.contains(needle) {
                snap.streams.insert(name);
            }
        }
        if !page.has_more_streams || last.is_none() {
            break;
        }
    }
    snap
}

/// A recorded request, reduced to what identifies the operation.
type Call = fault_proxy::Recorded;

/// Whether the call may change state (everything but Get/List/Describe reads).
fn mutates(call: &Call) -> bool {
    if !call.operation.is_empty() {
        return !(call.operation.starts_with("Describe") || call.operation.starts_with("List"));
    }
    if let Some(action) = call
        .body
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
    {
        return !(action.starts_with("Get") || action.starts_with("List"));
    }
    call.method != "GET"
}

/// Runs ktail with `args` through a recording proxy of its own in front of moto, and returns its
/// output and every call it made.
fn recorded(m: &Emulator, args: &[&str]) -> (Output, Vec<Call>) {
    let recording = fault_proxy::record(&m.endpoint);
    let mut cmd = m.ktail();
    cmd.env("AWS_ENDPOINT_URL", &recording.endpoint).args(args);
    let out = support::run_ktail(cmd, TIMEOUT);
    (out, recording.calls())
}

fn names(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| {
            if c.operation.is_empty() {
                format!("{} {}", c.method, c.path)
            } else {
                c.operation.clone()
            }
        })
        .collect()
}

#[tokio::test]
async fn fresh_attach_creates_role_stream_function_and_mapping() {
    let m = support::moto();
    let src = source_stream(m, "attach-fresh").await;
    let out = ktail(
        m,
        &[
            "attach",
            &src,
            "\"status\":500",
            "-i",
            "--arch",
            "x86_64",
            "--memory",
            "256",
            "--parallel",
            "3",
            "-o",
            "json",
        ],
    );
    out.assert_success();
    let report = out.stdout_json();
    for part in ["role", "output", "function", "mapping"] {
        assert_eq!(report[part], "created", "{part} in {report:#}");
    }
    let name = report["function_name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("ktail-") && name.contains(&src), "{name}");
    assert_eq!(report["output_stream"], name.as_str());

    // The output stream: created, active, one shard, tagged (`ktail/…`: Kinesis refuses `:`).
    let kinesis = m.kinesis().await;
    let summary = kinesis
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap();
    assert_eq!(summary.open_shard_count, 1);
    assert_eq!(summary.stream_status.as_str(), "ACTIVE");
    let tags = kinesis
        .list_tags_for_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap()
        .tags;
    assert!(tags.iter().any(|t| t.key == "ktail/managed"));
    assert!(
        tags.iter()
            .any(|t| t.key == "ktail/source" && t.value.as_deref() == Some(src.as_str()))
    );

    // The function.
    let lambda = m.lambda().await;
    let got = lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .unwrap();
    let config = got.configuration().unwrap();
    assert_eq!(
        config.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(config.handler(), Some("bootstrap"));
    assert_eq!(config.memory_size(), Some(256));
    assert_eq!(config.timeout(), Some(60));
    assert_eq!(
        config
            .architectures()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["x86_64"]
    );
    assert_eq!(
        config.code_sha256(),
        Some(artifact::code_sha256(Architecture::X86_64).as_str())
    );
    assert_eq!(config.role(), report["role_arn"].as_str());
    let env = config.environment().unwrap().variables().unwrap();
    assert_eq!(env["MATCH"], "\"status\":500");
    assert_eq!(env["STREAM_NAME"], name);
    assert_eq!(env["MATCH_IGNORE_CASE"], "true");
    assert!(!env.contains_key("MATCH_INVERT") && !env.contains_key("KTAIL_EXPIRES_AT"));
    let tags = got.tags().unwrap();
    assert_eq!(tags["ktail/managed"], "true");
    assert_eq!(tags["ktail/source"], src);
    assert_eq!(tags["ktail/options"], "-i");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&tags["ktail/pattern"])
            .unwrap(),
        b"\"status\":500"
    );

    // The mapping.
    let mappings = lambda
        .list_event_source_mappings()
        .function_name(&name)
        .send()
        .await
        .unwrap()
        .event_source_mappings
        .unwrap_or_default();
    assert_eq!(mappings.len(), 1);
    let mapping = &mappings[0];
    assert_eq!(mapping.uuid(), report["mapping_uuid"].as_str());
    assert_eq!(
        mapping.event_source_arn(),
        report["source_stream_arn"].as_str()
    );
    assert_eq!(mapping.state(), Some("Enabled"));
    assert_eq!(
        mapping.starting_position().map(|p| p.as_str()),
        Some("LATEST")
    );
    assert_eq!(mapping.batch_size(), Some(500));
    assert_eq!(mapping.maximum_batching_window_in_seconds(), Some(0));
    assert_eq!(mapping.parallelization_factor(), Some(3));
    assert_eq!(mapping.maximum_retry_attempts(), Some(2));
    assert_eq!(mapping.maximum_record_age_in_seconds(), Some(3600));
    assert_eq!(mapping.bisect_batch_on_function_error(), Some(true));
    assert_eq!(
        mapping
            .function_response_types()
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>(),
        ["ReportBatchItemFailures"]
    );
}

#[tokio::test]
async fn role_policy_is_exactly_least_privilege() {
    let m = support::moto();
    let src = source_stream(m, "attach-policy").await;
    let out = ktail(m, &["attach", &src, "ERROR", "-o", "json"]);
    out.assert_success();
    let report = out.stdout_json();
    let name = report["function_name"].as_str().unwrap();
    let source_arn = report["source_stream_arn"].as_str().unwrap();
    let output_arn = report["output_stream_arn"].as_str().unwrap();
    let account = source_arn.split(':').nth(4).unwrap();
    let logs = format!("arn:aws:logs:us-east-1:{account}:log-group:/aws/lambda/{name}");

    let role_name = report["role_arn"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let iam = m.iam().await;
    let role = iam
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = decode_policy(role.assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"],
        json!([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
    );
    let policies = iam
        .list_role_policies()
        .role_name(role_name)
        .send()
        .await
        .unwrap();
    assert_eq!(policies.policy_names, ["ktail-grep"]);
    let expected_without_ttl = json!([
        {"Sid": "ReadSourceStream", "Effect": "Allow", "Action": [
            "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
            "kinesis:GetShardIterator", "kinesis:ListShards"], "Resource": source_arn},
        {"Sid": "ListStreams", "Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*"},
        {"Sid": "WriteOutputStream", "Effect": "Allow",
            "Action": ["kinesis:PutRecord", "kinesis:PutRecords"], "Resource": output_arn},
        {"Sid": "CreateOwnLogGroup", "Effect": "Allow", "Action": "logs:CreateLogGroup",
            "Resource": format!("{logs}:*")},
        {"Sid": "WriteOwnLogs", "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("{logs}:log-stream:*")},
    ]);
    assert_eq!(
        inline_policy(&iam, role_name).await["Statement"],
        expected_without_ttl
    );

    // With a TTL, the dead-client guard may list mappings and update only its own function's.
    ktail(m, &["attach", &src, "ERROR", "--ttl", "1h"]).assert_success();
    let mut expected = expected_without_ttl.as_array().unwrap().clone();
    expected.push(json!({"Sid": "FindOwnMappings", "Effect": "Allow",
        "Action": "lambda:ListEventSourceMappings", "Resource": "*"}));
    expected.push(json!({"Sid": "DisableOwnMappings", "Effect": "Allow",
        "Action": "lambda:UpdateEventSourceMapping",
        "Resource": format!("arn:aws:lambda:us-east-1:{account}:event-source-mapping:*"),
        "Condition": {"StringEquals": {
            "lambda:FunctionArn": format!("arn:aws:lambda:us-east-1:{account}:function:{name}")}}}));
    assert_eq!(
        inline_policy(&iam, role_name).await["Statement"],
        Value::Array(expected)
    );
    let lambda = m.lambda().await;
    let config = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .unwrap();
    let expires: i64 = config.environment().unwrap().variables().unwrap()["KTAIL_EXPIRES_AT"]
        .parse()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now + 3500..=now + 3700).contains(&expires),
        "{expires} vs {now}"
    );
}

async fn inline_policy(iam: &aws_sdk_iam::Client, role: &str) -> Value {
    let doc = iam
        .get_role_policy()
        .role_name(role)
        .policy_name("ktail-grep")
        .send()
        .await
        .unwrap()
        .policy_document;
    decode_policy(&doc)
}

fn decode_policy(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| {
        let mut out = Vec::new();
        let bytes = doc.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&doc[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        serde_json::from_slice(&out).unwrap()
    })
}

#[tokio::test]
async fn second_attach_with_the_same_arguments_changes_nothing() {
    let m = support::moto();
    let src = source_stream(m, "attach-again").await;
    let args = ["attach", &src, "level=(warn|error)", "-v"];
    let first = ktail(m, &args);
    first.assert_success();
    let name = first.stdout_str().trim().to_owned();
    assert!(
        name.starts_with("ktail-"),
        "stdout is the output stream: {name:?}"
    );
    let before = snapshot(m, &src).await;

    let uuids: Vec<&str> = before.mappings.iter().map(String::as_str).collect();
    assert_eq!(uuids.len(), 1);
    let (second, calls) = recorded(m, &[&args[..], &["-o", "json"]].concat());
    second.assert_success();
    let report = second.stdout_json();
    for part in ["role", "output", "function", "mapping"] {
        assert_eq!(report[part], "unchanged", "{part} in {report:#}");
    }
    assert_eq!(report["output_stream"], name.as_str());
    assert!(!calls.is_empty(), "the recorder saw ktail's lookups");
    let writes: Vec<Call> = calls.into_iter().filter(mutates).collect();
    assert!(
        writes.is_empty(),
        "a repeated attach must only read, but sent {:?}",
        names(&writes)
    );
    assert_eq!(snapshot(m, &src).await, before);
    // A plain re-run prints the same name, so `ktail tail $(ktail attach …)` is stable.
    let third = ktail(m, &args);
    third.assert_success();
    assert_eq!(third.stdout_str().trim(), name);
}

#[tokio::test]
async fn code_is_uploaded_only_when_the_zip_differs() {
    let m = support::moto();
    let src = source_stream(m, "attach-code").await;
    let first = ktail(m, &["attach", &src, "x", "--arch", "arm64"]);
    first.assert_success();
    let name = first.stdout_str().trim().to_owned();
    let lambda = m.lambda().await;

    // Someone (or an older ktail) deployed other code: attach puts the embedded zip back, and
    // touches nothing else.
    lambda
        .update_function_code()
        .function_name(&name)
        .zip_file(Blob::new(other_zip()))
        .send()
        .await
        .unwrap();
    let (out, calls) = recorded(m, &["attach", &src, "x", "--arch", "arm64", "-o", "json"]);
    out.assert_success();
    assert_eq!(out.stdout_json()["function"], "updated");
    let writes: Vec<Call> = calls.into_iter().filter(mutates).collect();
    assert_eq!(
        names(&writes),
        [format!("PUT /2015-03-31/functions/{name}/code")],
    );
    let config = lambda
        .get_function_configuration()
        .function_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        config.code_sha256(),
        Some(artifact::code_sha256(Architecture::Arm64).as_str())
    );

    // Unchanged code is not uploaded again.
    let (out, calls) = recorded(m, &["attach", &src, "x", "--arch", "arm64", "-o", "json"]);
    out.assert_success();
    assert_eq!(out.stdout_json()["function"], "unchanged");
    assert!(
        calls.iter().all(|c| !c.path.ends_with("/code")),
        "{:?}",
        names(&calls)
    );
}

/// A valid zip that is not the embedded artifact.
fn other_zip() -> Vec<u8> {
    // An empty zip archive: just the end-of-central-directory record, with a comment to differ.
    let comment = b"not ktail";
    let mut zip = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    zip.extend((comment.len() as u16).to_le_bytes());
    zip.extend(comment);
    zip
}

#[tokio::test]
async fn a_disabled_mapping_is_re_enabled() {
    let m = support::moto();
    let src = source_stream(m, "attach-reenable").await;
    let out = ktail(m, &["attach", &src, "x", "-o", "json"]);
    out.assert_success();
    let uuid = out.stdout_json()["mapping_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let lambda = m.lambda().await;
    lambda
        .update_event_source_mapping()
        .uuid(&uuid)
        .enabled(false)
        .send()
        .await
        .unwrap();
    let out = ktail(m, &["attach", &src, "x", "-o", "json"]);
    out.assert_success();
    let report = out.stdout_json();
    assert_eq!(report["mapping"], "updated");
    assert_eq!(report["mapping_uuid"], uuid.as_str());
    let state = lambda
        .get_event_source_mapping()
        .uuid(&uuid)
        .send()
        .await
        .unwrap()
        .state;
    assert_eq!(state.as_deref(), Some("Enabled"));
}

#[tokio::test]
async fn patterns_coexist_and_detach_removes_only_the_named_one() {
    let m = support::moto();
    let src = source_stream(m, "attach-two").await;
    let a = ktail(m, &["attach", &src, "alpha", "-o", "json"]);
    a.assert_success();
    let b = ktail(m, &["attach", &src, "beta", "-o", "json"]);
    b.assert_success();
    let (a, b) = (a.stdout_json(), b.stdout_json());
    assert_ne!(a["function_name"], b["function_name"]);
    assert_ne!(a["output_stream"], b["output_stream"]);
    assert_ne!(a["mapping_uuid"], b["mapping_uuid"]);
    assert_eq!(
        b["role"], "created",
        "each attachment has its own scoped role"
    );
    assert_eq!(snapshot(m, &src).await.mappings.len(), 2);

    let out = ktail(m, &["detach", &src, "beta"]);
    out.assert_success();
    assert!(
        out.stderr.contains(&format!(
            "removed mapping {}",
            b["mapping_uuid"].as_str().unwrap()
        )),
        "detach says what it removed: {}",
        out.stderr
    );
    let lambda = m.lambda().await;
    let gone = lambda
        .get_event_source_mapping()
        .uuid(b["mapping_uuid"].as_str().unwrap())
        .send()
        .await;
    assert!(
        gone.is_err_and(|e| e
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception())),
        "beta's mapping is removed"
    );
    let alpha = lambda
        .get_event_source_mapping()
        .uuid(a["mapping_uuid"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        alpha.state(),
        Some("Enabled"),
        "alpha's mapping is untouched"
    );
    // Without --purge the function and output stream stay for a quick re-attach.
    let snap = snapshot(m, &src).await;
    assert_eq!(snap.functions.len(), 2);
    assert!(snap.streams.contains(b["output_stream"].as_str().unwrap()));

    // Detaching again is a no-op that succeeds.
    let again = ktail(m, &["detach", &src, "beta"]);
    again.assert_success();
    assert!(
        again.stderr.contains("nothing to remove"),
        "{}",
        again.stderr
    );
    // Re-attaching beta reuses its function and makes a new mapping.
    let again = ktail(m, &["attach", &src, "beta", "-o", "json"]);
    again.assert_success();
    let again = again.stdout_json();
    assert_eq!(again["function"], "unchanged");
    assert_eq!(again["mapping"], "created");
}

#[tokio::test]
async fn purge_leaves_the_account_as_it_was() {
    let m = support::moto();
    let src = source_stream(m, "attach-purge").await;
    let before = snapshot(m, &src).await;
    assert_eq!(before.streams, BTreeSet::from([src.clone()]));
    ktail(m, &["attach", &src, "one", "--ttl", "1h"]).assert_success();
    ktail(m, &["attach", &src, "two", "-i", "--on-demand"]).assert_success();
    let during = snapshot(m, &src).await;
    assert_eq!(
        (
            during.roles.len(),
            during.functions.len(),
            during.mappings.len(),
            during.streams.len()
        ),
        (2, 2, 2, 3)
    );
    let out = ktail(m, &["detach", &src, "--all", "--purge"]);
    out.assert_success();
    assert_eq!(snapshot(m, &src).await, before);
    // Nothing left: still success.
    ktail(m, &["detach", &src, "--all", "--purge"]).assert_success();
}

#[tokio::test]
async fn purge_keeps_a_role_and_output_stream_the_user_supplied() {
    let m = support::moto();
    let src = source_stream(m, "attach-given").await;
    let out_stream = source_stream(m, "attach-given-out").await;
    let iam = m.iam().await;
    let role_name = support::unique_name("attach-given-role");
    let role = iam
        .create_role()
        .role_name(&role_name)
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let out = ktail(
        m,
        &[
            "attach",
            &src,
            "x",
            "--role",
            &role.arn,
            "--output-stream",
            &out_stream,
            "-o",
            "json",
        ],
    );
    out.assert_success();
    let report = out.stdout_json();
    assert_eq!(report["role"], "given");
    assert_eq!(report["output"], "unchanged");
    assert_eq!(report["output_stream"], out_stream.as_str());

    ktail(m, &["detach", &src, "x", "--purge"]).assert_success();
    let snap = snapshot(m, &src).await;
    assert!(
        snap.functions.is_empty() && snap.mappings.is_empty(),
        "{snap:?}"
    );
    assert!(iam.get_role().role_name(&role_name).send().await.is_ok());
    let kinesis = m.kinesis().await;
    assert!(
        kinesis
            .describe_stream_summary()
            .stream_name(&out_stream)
            .send()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn invalid_regex_is_a_usage_error_and_creates_nothing() {
    let m = support::moto();
    let src = source_stream(m, "attach-badre").await;
    let before = snapshot(m, &src).await;
    let out = ktail(m, &["attach", &src, "status\":(500"]);
    out.assert_code(2);
    assert!(out.stderr.contains("invalid pattern"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert_eq!(snapshot(m, &src).await, before);

    // Validation happens before any AWS call: an unreachable endpoint changes nothing.
    let mut cmd = m.ktail();
    cmd.args(["--endpoint-url", "http://127.0.0.1:9", "attach", &src, "("]);
    support::run_ktail(cmd, TIMEOUT).assert_code(2);
}

#[tokio::test]
async fn missing_source_stream_is_a_clear_error_and_creates_nothing() {
    let m = support::moto();
    let src = support::unique_name("attach-nosuch");
    let out = ktail(m, &["attach", &src, "x"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains(&format!("stream {src} not found")),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("ktail:").count(), 1, "{}", out.stderr);
    assert_eq!(snapshot(m, &src).await, Snapshot::default());
}

#[tokio::test]
async fn status_shows_attachments_and_json_parses() {
    let m = support::moto();
    let src = source_stream(m, "attach-status").await;
    ktail(m, &["attach", &src, "\"status\":500", "--ttl", "1h"]).assert_success();
    ktail(m, &["attach", &src, "timeout", "-i", "--ttl", "1s"]).assert_success();
    ktail(m, &["attach", &src, "detached-one"]).assert_success();
    ktail(m, &["detach", &src, "detached-one"]).assert_success();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let out = ktail(m, &["status", "-o", "json"]);
    out.assert_success();
    let all = out.stdout_json();
    let mine: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["source_stream"] == src.as_str())
        .collect();
    assert_eq!(mine.len(), 3, "{all:#}");
    let by_pattern = |p: &str| *mine.iter().find(|a| a["pattern"] == p).unwrap();
    let live = by_pattern("\"status\":500");
    assert_eq!(live["state"], "Enabled");
    assert_eq!(live["expired"], false);
    assert!(live["expires_at"].is_string());
    assert!(live["created"].is_string());
    assert!(
        live["output_stream"]
            .as_str()
            .unwrap()
            .starts_with("ktail-")
    );
    let expired = by_pattern("timeout");
    assert_eq!(expired["options"], "-i");
    assert_eq!(expired["expired"], true);
    let detached = by_pattern("detached-one");
    assert_eq!(detached["state"], "detached");
    assert_eq!(detached["expires_at"], Value::Null);

    let text = ktail(m, &["status"]);
    text.assert_success();
    let lines: Vec<String> = text
        .stdout_lines()
        .into_iter()
        .filter(|l| l.contains(&src))
        .collect();
    assert_eq!(lines.len(), 3, "{}", text.stdout_str());
    assert!(text.stdout_str().starts_with("SOURCE"));
    assert!(lines.iter().any(|l| l.contains("(expired)")));
}

#[tokio::test]
async fn start_position_and_output_capacity_follow_the_flags() {
    let m = support::moto();
    let src = source_stream(m, "attach-start").await;
    let lambda = m.lambda().await;
    let kinesis = m.kinesis().await;
    let mapping_of = |report: &Value| report["mapping_uuid"].as_str().unwrap().to_owned();

    let oldest = ktail(
        m,
        &[
            "attach",
            &src,
            "a",
            "--oldest",
            "--output-shards",
            "2",
            "-o",
            "json",
        ],
    );
    oldest.assert_success();
    let oldest = oldest.stdout_json();
    let mapping = lambda
        .get_event_source_mapping()
        .uuid(mapping_of(&oldest))
        .send()
        .await
        .unwrap();
    assert_eq!(
        mapping.starting_position().map(|p| p.as_str()),
        Some("TRIM_HORIZON")
    );
    assert_eq!(mapping.maximum_record_age_in_seconds(), Some(604_800));
    let summary = kinesis
        .describe_stream_summary()
        .stream_name(oldest["output_stream"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap();
    assert_eq!(summary.open_shard_count, 2);

    let (since, calls) = recorded(
        m,
        &[
            "attach",
            &src,
            "b",
            "--since",
            "2h",
            "--on-demand",
            "-o",
            "json",
        ],
    );
    since.assert_success();
    let since = since.stdout_json();
    let mapping = lambda
        .get_event_source_mapping()
        .uuid(mapping_of(&since))
        .send()
        .await
        .unwrap();
    assert_eq!(
        mapping.starting_position().map(|p| p.as_str()),
        Some("AT_TIMESTAMP")
    );
    // moto does not echo StartingPositionTimestamp back, so read it from the recorded request.
    let create = calls
        .iter()
        .find(|c| c.method == "POST" && c.path.ends_with("/event-source-mappings"))
        .expect("CreateEventSourceMapping was recorded");
    let body: Value = serde_json::from_str(&create.body).unwrap();
    let at = body["StartingPositionTimestamp"].as_f64().unwrap() as i64;
    let two_hours_ago = chrono::Utc::now().timestamp() - 7200;
    assert!((two_hours_ago - 60..=two_hours_ago).contains(&at), "{at}");
    let age = mapping.maximum_record_age_in_seconds().unwrap();
    assert!((3 * 3600 - 60..=3 * 3600 + 60).contains(&age), "{age}");
    let summary = kinesis
        .describe_stream_summary()
        .stream_name(since["output_stream"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap();
    assert_eq!(
        summary
            .stream_mode_details
            .map(|d| d.stream_mode.as_str().to_owned()),
        Some("ON_DEMAND".to_owned())
    );
}

#[tokio::test]
async fn ls_counts_the_greps_attached_to_each_stream() {
    let m = support::moto();
    let src = source_stream(m, "attach-ls").await;
    let greps = |m: &Emulator| {
        let out = ktail(m, &["ls", "-o", "json"]);
        out.assert_success();
        let all = out.stdout_json();
        let row = all
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == src.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{src} not listed: {all:#}"));
        row["greps"].clone()
    };
    assert_eq!(greps(m), 0);
    ktail(m, &["attach", &src, "one"]).assert_success();
    ktail(m, &["attach", &src, "two"]).assert_success();
    assert_eq!(greps(m), 2);
    ktail(m, &["detach", &src, "one"]).assert_success();
    assert_eq!(greps(m), 1);
    let text = ktail(m, &["ls"]);
    let row = text
        .stdout_lines()
        .into_iter()
        .find(|l| l.split_whitespace().next() == Some(src.as_str()))
        .unwrap();
    assert_eq!(row.split_whitespace().last(), Some("1"), "{row}");
}

#[tokio::test]
async fn missing_arguments_without_a_terminal_are_usage_errors() {
    let m = support::moto();
    let out = ktail(m, &["attach"]);
    out.assert_code(2);
    assert!(out.stderr.contains("missing STREAM"), "{}", out.stderr);
    let src = support::unique_name("attach-nopattern");
    let out = ktail(m, &["attach", &src]);
    out.assert_code(2);
    assert!(out.stderr.contains("missing PATTERN"), "{}", out.stderr);
}

#[tokio::test]
async fn renew_ttl_pushes_the_deadline_and_clears_expired() {
    let m = support::moto();
    let src = source_stream(m, "attach-renew").await;
    let out = ktail(m, &["attach", &src, "x", "--ttl", "1s", "-o", "json"]);
    out.assert_success();
    let function = out.stdout_json()["function_name"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let expired = |all: &Value| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|a| a["source_stream"] == src.as_str())
            .unwrap()["expired"]
            .clone()
    };
    assert_eq!(
        expired(&ktail(m, &["status", "-o", "json"]).stdout_json()),
        true
    );

    let clients = ktail::attachment::Clients::new(&m.sdk_config().await);
    let at = ktail::attachment::renew_ttl(&clients, &function, Duration::from_secs(3600))
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now + 3000..=now + 3600).contains(&at), "{at}");
    let env = m
        .lambda()
        .await
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .unwrap()
        .environment
        .unwrap()
        .variables
        .unwrap();
    assert_eq!(env["KTAIL_EXPIRES_AT"], at.to_string());
    assert_eq!(env["MATCH"], "x", "the rest of the environment is kept");
    assert_eq!(
        expired(&ktail(m, &["status", "-o", "json"]).stdout_json()),
        false
    );
}

// ---- issue 17 item 7: tags every service accepts, and nothing left behind on failure ---------

/// Kinesis from a fresh ferrokinesis, which applies Kinesis's documented tag character set
/// (letters, digits, spaces and `_ . / = + - % @`; moto's Kinesis takes any key), with Lambda and
/// IAM from moto. moto's event source mappings look their source up in moto's own Kinesis, so a
/// source stream is made in both, under one ARN: ferrokinesis plays moto's account.
struct StrictKinesis {
    moto: &'static Emulator,
    ferro: Emulator,
}

impl StrictKinesis {
    async fn start(moto: &'static Emulator) -> StrictKinesis {
        let probe = source_stream(moto, "attach-account").await;
        let arn = moto
            .kinesis()
            .await
            .describe_stream_summary()
            .stream_name(&probe)
            .send()
            .await
            .unwrap()
            .stream_description_summary
            .unwrap()
            .stream_arn;
        let ferro = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
            aws_account_id: arn.split(':').nth(4).unwrap().to_owned(),
            ..support::ferrokinesis_options()
        });
        StrictKinesis { moto, ferro }
    }

    /// A source stream in both emulators.
    async fn source(&self, prefix: &str) -> String {
        let name = source_stream(self.moto, prefix).await;
        self.ferro.create_stream(&name, 1).await;
        name
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = self.moto.ktail();
        cmd.env("AWS_ENDPOINT_URL_KINESIS", &self.ferro.endpoint)
            .args(args);
        cmd
    }

    fn ktail(&self, args: &[&str]) -> Output {
        support::run_ktail(self.command(args), TIMEOUT)
    }

    /// Every stream ferrokinesis holds.
    async fn streams(&self) -> BTreeSet<String> {
        self.ferro
            .kinesis()
            .await
            .list_streams()
            .send()
            .await
            .unwrap()
            .stream_names
            .into_iter()
            .collect()
    }
}

/// Issue 17 item 7: an emulator that applies the documented tag character set refused the `:` of
/// every `ktail:` key, so attach failed after CreateStream. Now the filtered stream is tagged (at
/// creation) with keys every service ktail tags accepts, `status` lists the attachment, and
/// `detach --all --purge` removes the stream with the rest.
#[tokio::test]
async fn attach_works_where_kinesis_enforces_its_tag_character_set() {
    let m = support::moto();
    let k = StrictKinesis::start(m).await;
    let src = k.source("attach-strict").await;
    let out = k.ktail(&["attach", &src, "\"status\":500", "-i", "-o", "json"]);
    out.assert_success();
    let report = out.stdout_json();
    assert_eq!(report["output"], "created", "{report:#}");
    let name = report["output_stream"].as_str().unwrap().to_owned();
    let tags = k
        .ferro
        .kinesis()
        .await
        .list_tags_for_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap()
        .tags;
    let tag = |key: &str| {
        tags.iter()
            .find(|t| t.key == key)
            .and_then(|t| t.value.clone())
    };
    assert_eq!(tag("ktail/managed").as_deref(), Some("true"), "{tags:?}");
    assert_eq!(tag("ktail/source").as_deref(), Some(src.as_str()));
    assert_eq!(tag("ktail/options").as_deref(), Some("-i"));

    let status = k.ktail(&["status", "-o", "json"]).stdout_json();
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["source_stream"] == src.as_str() && a["output_stream"] == name.as_str()),
        "status lists the attachment: {status:#}"
    );

    k.ktail(&["detach", &src, "--all", "--purge"])
        .assert_success();
    assert_eq!(k.streams().await, BTreeSet::from([src.clone()]));
    let left = snapshot(m, &src).await;
    assert!(
        left.roles.is_empty() && left.functions.is_empty() && left.mappings.is_empty(),
        "{left:?}"
    );
}

/// Issue 17 item 7: when a step fails after others created their resources, attach removes what
/// this run created (here the role and the filtered stream, when Lambda cannot be reached) and
/// exits 1 with the step's error, instead of leaving them behind.
#[tokio::test]
async fn a_failed_attach_removes_what_it_created() {
    let m = support::moto();
    let k = StrictKinesis::start(m).await;
    let src = k.source("attach-undo").await;
    let mut cmd = k.command(&["attach", &src, "x"]);
    cmd.env("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9");
    let out = support::run_ktail(cmd, TIMEOUT);
    // Exit 5: Lambda's endpoint cannot be reached (issue 12 item 11).
    out.assert_code(5);
    let base = ktail::attachment::names::Identity {
        source: src.clone(),
        pattern: "x".into(),
        syntax: Default::default(),
        options: Default::default(),
    }
    .base_name();
    let role = ktail::attachment::names::Identity {
        source: src.clone(),
        pattern: "x".into(),
        options: Default::default(),
        syntax: Default::default(),
    }
    .role_name(support::REGION);
    for created in [
        format!("role {role}: created"),
        format!("output stream {base}: created"),
        format!("removing output stream {base}: removed"),
        format!("removing role {role}: removed"),
    ] {
        assert!(
            out.stderr.contains(&created),
            "{created:?} in:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr
            .contains(&format!("ktail: cannot look up function {base}: ")),
        "{}",
        out.stderr
    );
    assert_eq!(k.streams().await, BTreeSet::from([src.clone()]));
    assert_eq!(snapshot(m, &src).await.roles, BTreeSet::new());
}

/// What versions before `ktail/…` tags made (tagged `ktail:managed`, `ktail:source`, …, with an
/// RFC 3339 `ktail:created`) is still listed by `status` and removed by `detach --purge`.
#[tokio::test]
async fn what_older_versions_tagged_is_still_found_and_removed() {
    let m = support::moto();
    let src = source_stream(m, "attach-legacy").await;
    let before = snapshot(m, &src).await;
    let out = ktail(m, &["attach", &src, "old", "-o", "json"]);
    out.assert_success();
    let report = out.stdout_json();
    let name = report["function_name"].as_str().unwrap().to_owned();
    let role = report["role_arn"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let legacy = |key: &str, value: &str| match key.strip_prefix("ktail/") {
        Some("created") => (
            "ktail:created".to_owned(),
            "2024-05-01T12:00:00Z".to_owned(),
        ),
        Some(rest) => (format!("ktail:{rest}"), value.to_owned()),
        None => (key.to_owned(), value.to_owned()),
    };

    let lambda = m.lambda().await;
    let arn = report["function_arn"].as_str().unwrap();
    let tags = lambda
        .list_tags()
        .resource(arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    lambda
        .untag_resource()
        .resource(arn)
        .set_tag_keys(Some(tags.keys().cloned().collect()))
        .send()
        .await
        .unwrap();
    lambda
        .tag_resource()
        .resource(arn)
        .set_tags(Some(tags.iter().map(|(k, v)| legacy(k, v)).collect()))
        .send()
        .await
        .unwrap();

    let iam = m.iam().await;
    let tags = iam
        .list_role_tags()
        .role_name(&role)
        .send()
        .await
        .unwrap()
        .tags;
    iam.untag_role()
        .role_name(&role)
        .set_tag_keys(Some(tags.iter().map(|t| t.key.clone()).collect()))
        .send()
        .await
        .unwrap();
    for t in &tags {
        let (key, value) = legacy(&t.key, &t.value);
        iam.tag_role()
            .role_name(&role)
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }

    let kinesis = m.kinesis().await;
    let tags = kinesis
        .list_tags_for_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap()
        .tags;
    kinesis
        .remove_tags_from_stream()
        .stream_name(&name)
        .set_tag_keys(Some(tags.iter().map(|t| t.key.clone()).collect()))
        .send()
        .await
        .unwrap();
    kinesis
        .add_tags_to_stream()
        .stream_name(&name)
        .set_tags(Some(
            tags.iter()
                .map(|t| legacy(&t.key, t.value.as_deref().unwrap_or_default()))
                .collect(),
        ))
        .send()
        .await
        .unwrap();

    let status = ktail(m, &["status", "-o", "json"]).stdout_json();
    let mine = status
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source_stream"] == src.as_str())
        .unwrap_or_else(|| panic!("{src} not in {status:#}"))
        .clone();
    assert_eq!(mine["created"], "2024-05-01T12:00:00Z");
    assert_eq!(mine["function"], name.as_str());

    ktail(m, &["detach", &src, "--all", "--purge"]).assert_success();
    assert_eq!(snapshot(m, &src).await, before);
}

// ---- issue 17 item 9 ---------------------------------------------------------------------------

/// A pattern with a tab or a newline kept `status` from being a table: the row broke in two.
/// Control characters now show as the escapes a regex reads the same way; JSON has the pattern
/// as it is.
#[tokio::test]
async fn status_keeps_an_attachment_with_a_newline_in_its_pattern_on_one_row() {
    let m = support::moto();
    let src = source_stream(m, "attach-ctl").await;
    ktail(m, &["attach", &src, "a\tb\nc"]).assert_success();
    let text = ktail(m, &["status"]);
    text.assert_success();
    let rows: Vec<String> = text
        .stdout_lines()
        .into_iter()
        .filter(|l| l.contains(&src))
        .collect();
    assert_eq!(rows.len(), 1, "{}", text.stdout_str());
    assert!(rows[0].contains(r"a\tb\nc"), "{}", rows[0]);
    assert!(
        text.stdout_lines()
            .iter()
            .all(|l| !l.starts_with('c') && !l.contains('\t')),
        "{}",
        text.stdout_str()
    );
    let json = ktail(m, &["status", "-o", "json"]).stdout_json();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|a| a["source_stream"] == src.as_str() && a["pattern"] == "a\tb\nc"),
        "{json:#}"
    );
}

/// README: "The steps of `attach`, `detach`, `grep` and `status`, and their summary lines,
/// appear on a terminal and off it (as plain lines), because they say which resources ktail
/// created or removed in your account". The README used to say progress appears "only when
/// stderr is a terminal" while these steps were printed anyway; now the two agree. Also: the
/// hint names the pattern (quoted for the shell, with its options) instead of `<PATTERN>`.
#[tokio::test]
async fn attach_shows_its_steps_off_a_terminal_and_the_detach_command_that_undoes_it() {
    let promise = "The steps of `attach`, `detach`, `grep` and `status`, and their summary lines, \
                   appear on a terminal and off it (as plain lines)";
    let readme = include_str!("../README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(readme.contains(promise), "the README promises it");

    let m = support::moto();
    let src = source_stream(m, "attach-steps").await;
    let pattern = r"it's 5\d\d";
    let out = ktail(m, &["attach", &src, pattern, "-i"]);
    out.assert_success();
    let name = out.stdout_str().trim().to_owned();
    let role = ktail::attachment::names::Identity {
        source: src.clone(),
        pattern: pattern.into(),
        options: ktail::filter::MatchOptions {
            invert: false,
            ignore_case: true,
        },
        syntax: Default::default(),
    }
    .role_name(support::REGION);
    for step in [
        format!("checking stream {src}: found"),
        format!("role {role}: created"),
        format!("output stream {name}: created"),
        format!("function {name}: created"),
        format!("event source mapping {src} → {name}: created"),
    ] {
        assert!(
            out.stderr.lines().any(|l| l == step),
            "{step:?} in:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains(&format!(
            r"remove it with `ktail detach {src} 'it'\''s 5\d\d' -i`"
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("<PATTERN>"), "{}", out.stderr);

    // `-q` leaves only errors.
    let quiet = ktail(m, &["-q", "detach", &src, pattern, "-i", "--purge"]);
    quiet.assert_success();
    assert_eq!(quiet.stderr, "");
    let steps = ktail(m, &["detach", &src, pattern, "-i"]);
    assert!(
        steps
            .stderr
            .contains(&format!("finding what ktail attached to {src}: nothing")),
        "{}",
        steps.stderr
    );
}
