//! Issue 12: the control plane through the realism layer (`ktail_testkit::realism`), which makes
//! moto behave as Lambda and IAM do on AWS: IAM changes take seconds to reach Lambda, functions are
//! `Pending` and updates `InProgress`, mappings are `Creating`, `Updating` and `Deleting` for
//! seconds, and IAM is one for every region. Each test names the divergence of issue 12 it proves
//! and failed before its fix. Counts, never timings, say what ktail did.

use std::time::Duration;

use serde_json::Value;

use crate::attach::source_stream;
use ktail_testkit::realism::{self, Realism};
use ktail_testkit::{self as support, Emulator, Output};

const TIMEOUT: Duration = Duration::from_secs(180);

fn run(layer: &Realism, args: &[&str]) -> Output {
    let mut cmd = layer.ktail();
    cmd.args(args);
    support::run_ktail(cmd, TIMEOUT)
}

/// The layer's behaviours all meet a fresh attach: the new role cannot be assumed at first, the
/// function is Pending, the mapping Creating. attach waits each out and ends with an Enabled
/// mapping (this held before issue 12; it proves the layer is in the way).
#[tokio::test]
async fn a_fresh_attach_waits_out_iam_pending_and_creating() {
    let m = support::moto();
    // IAM propagation long enough that the first CreateFunction meets it however slow the
    // machine (the role and the filtered stream come first).
    let layer = realism::start_with(
        m,
        realism::Settings {
            iam_propagation: Duration::from_secs(8),
            ..Default::default()
        },
    );
    let src = source_stream(m, "real-fresh").await;
    let out = run(&layer, &["attach", &src, "ERROR", "-o", "json"]);
    out.assert_success();
    let report = out.stdout_json();
    assert_eq!(report["function"], "created");
    assert_eq!(report["mapping"], "created");
    assert!(
        layer.refused("InvalidParameterValueException") >= 1,
        "the layer refused the fresh role at least once"
    );
    let state = m
        .lambda()
        .await
        .get_event_source_mapping()
        .uuid(report["mapping_uuid"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .state;
    assert_eq!(state.as_deref(), Some("Enabled"));
}

// ---- item 3: mapping deletion is asynchronous -------------------------------------------------

/// Issue 12 item 3: a deleted mapping stays listed as `Deleting` for seconds. attach took it for a
/// settled mapping and updated it (ResourceInUseException on AWS), so `attach` right after
/// `detach` failed. Now it waits the Deleting mapping out, then creates a new one.
#[tokio::test]
async fn attach_right_after_detach_waits_the_deleting_mapping_out() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-reattach").await;
    let first = run(&layer, &["attach", &src, "x", "-o", "json"]);
    first.assert_success();
    let first = first.stdout_json();
    run(&layer, &["detach", &src, "x"]).assert_success();

    let again = run(&layer, &["attach", &src, "x", "-o", "json"]);
    again.assert_success();
    let again = again.stdout_json();
    assert_eq!(again["mapping"], "created", "{again}");
    assert_ne!(again["mapping_uuid"], first["mapping_uuid"]);
    assert_eq!(
        layer.calls("UpdateEventSourceMapping"),
        0,
        "a Deleting mapping is never updated"
    );
}

/// Issue 12 item 3, the same for detach: a mapping already `Deleting` is not deleted again (which
/// AWS refuses), so `detach` twice in a row succeeds.
#[tokio::test]
async fn detach_twice_in_a_row_leaves_a_deleting_mapping_alone() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-detach2").await;
    run(&layer, &["attach", &src, "x"]).assert_success();
    run(&layer, &["detach", &src, "x"]).assert_success();
    let again = run(&layer, &["detach", &src, "x"]);
    again.assert_success();
    assert_eq!(
        layer.calls("DeleteEventSourceMapping"),
        1,
        "{}",
        again.stderr
    );
}

// ---- item 5: function and mapping states ------------------------------------------------------

/// What Lambda answers an update that arrives while another is in progress (the realism layer's
/// own wording of it, as in the UpdateFunctionConfiguration API reference).
const UPDATE_IN_PROGRESS: &str =
    "The operation cannot be performed at this time. An update is in progress for resource: f";

/// Issue 12 item 5: after an update a function's `LastUpdateStatus` is `InProgress`, and another
/// update then fails with ResourceConflictException. ktail waits for the function before each
/// update, but an update by someone else (another ktail renewing its deadline, a deploy) can land
/// between that wait and ktail's call: the attach failed. Now a conflicting update waits for the
/// function and tries again, with the retry policy of `src/retry.rs`.
#[tokio::test]
async fn an_update_that_meets_another_in_progress_waits_and_retries() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-conflict").await;
    run(&layer, &["attach", &src, "x"]).assert_success();

    layer.fail(
        "UpdateFunctionConfiguration",
        1,
        409,
        "ResourceConflictException",
        UPDATE_IN_PROGRESS,
    );
    let out = run(
        &layer,
        &["attach", &src, "x", "--memory", "256", "-o", "json"],
    );
    out.assert_success();
    assert_eq!(out.stdout_json()["function"], "updated");
    assert_eq!(layer.calls("UpdateFunctionConfiguration"), 2);
    let memory = m
        .lambda()
        .await
        .get_function_configuration()
        .function_name(out.stdout_json()["function_name"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .memory_size;
    assert_eq!(memory, Some(256));
}

/// Issue 12 item 5, for mappings: an update of a mapping that is `Updating` or `Creating` fails
/// with ResourceInUseException. A mapping changed by someone else between ktail's wait and its
/// update made the attach fail; now it waits for the mapping and tries again.
#[tokio::test]
async fn a_mapping_update_that_meets_another_waits_and_retries() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-esm-busy").await;
    run(&layer, &["attach", &src, "x"]).assert_success();

    layer.fail(
        "UpdateEventSourceMapping",
        1,
        400,
        "ResourceInUseException",
        "Cannot update the event source mapping because it is in use.",
    );
    let out = run(
        &layer,
        &["attach", &src, "x", "--parallel", "2", "-o", "json"],
    );
    out.assert_success();
    assert_eq!(out.stdout_json()["mapping"], "updated");
    assert_eq!(layer.calls("UpdateEventSourceMapping"), 2);
}

// ---- item 4, second half: retry only what IAM propagation causes -------------------------------

/// Issue 12 item 4: every InvalidParameterValueException from CreateFunction was retried for
/// ~36 s as if it were IAM propagation. Now only the messages IAM propagation causes ("cannot be
/// assumed", "Cannot access stream") are retried; any other fails at once, with AWS's message on
/// one line. (The message is Lambda's for an environment over 4 KB, which ktail also checks
/// before any call; here the layer sends it whatever the size.)
#[tokio::test]
async fn an_invalid_parameter_that_is_not_iam_propagation_fails_at_once() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-badparam").await;
    let message = "Lambda was unable to configure your environment variables because the \
                   environment variables you have provided exceeded the 4KB limit.";
    layer.fail(
        "CreateFunction",
        20,
        400,
        "InvalidParameterValueException",
        message,
    );
    let out = run(&layer, &["attach", &src, "x"]);
    out.assert_code(1);
    assert_eq!(layer.calls("CreateFunction"), 1, "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("ktail:"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        line.contains(&format!("InvalidParameterValueException: {message}")),
        "{line}"
    );
}

/// The other half: the message a fresh role gets while IAM propagates is still retried.
#[tokio::test]
async fn a_role_lambda_cannot_assume_yet_is_retried() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-assume").await;
    layer.fail(
        "CreateFunction",
        2,
        400,
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    );
    run(&layer, &["attach", &src, "x"]).assert_success();
    assert!(layer.calls("CreateFunction") >= 3);
}

// ---- item 1: IAM is global, attachments are regional ------------------------------------------

fn run_in(layer: &Realism, region: &str, args: &[&str]) -> Output {
    let mut cmd = layer.ktail_in(region);
    cmd.args(args);
    support::run_ktail(cmd, TIMEOUT)
}

/// Creates the stream `name` in `region` of moto's account.
async fn stream_in(m: &Emulator, region: &str, name: &str) {
    let sdk = m.sdk_config().await;
    let config = aws_sdk_kinesis::config::Builder::from(&sdk)
        .region(aws_sdk_kinesis::config::Region::new(region.to_owned()))
        .build();
    let client = aws_sdk_kinesis::Client::from_conf(config);
    client
        .create_stream()
        .stream_name(name)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    m.wait_active(&client, name).await;
}

async fn role_policy_source(m: &Emulator, role: &str) -> Option<String> {
    try_role_policy(m, role).await?["Statement"]
        .as_array()?
        .iter()
        .find(|s| s["Sid"] == "ReadSourceStream")
        .and_then(|s| s["Resource"].as_str())
        .map(str::to_owned)
}

/// The inline policy of a ktail role, parsed; `None` when there is none.
async fn try_role_policy(m: &Emulator, role: &str) -> Option<Value> {
    let out = m
        .iam()
        .await
        .get_role_policy()
        .role_name(role)
        .policy_name("ktail-grep")
        .send()
        .await
        .ok()?;
    let doc = out.policy_document;
    serde_json::from_str(&doc).ok().or_else(|| {
        serde_json::from_str(
            &percent_encoding_free_decode(&doc), // IAM returns it URL-encoded
        )
        .ok()
    })
}

fn percent_encoding_free_decode(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], s.get(i + 1..i + 3)) {
            (b'%', Some(hex)) if u8::from_str_radix(hex, 16).is_ok() => {
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn role_name(arn: &Value) -> String {
    arn.as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

/// Issue 12 item 1: IAM roles are global, functions and streams regional. The role's name hashed
/// only the stream, pattern and options, so the same attachment in a second region rewrote the
/// first region's role policy (to read the second region's stream), and `detach --purge` there
/// deleted the role the first region's function runs as. Now the role's name holds the region,
/// and a purge keeps a role whose policy serves another region.
#[tokio::test]
async fn the_same_attachment_in_two_regions_keeps_two_roles() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = support::unique_name("real-regions");
    m.create_stream(&src, 1).await;
    stream_in(m, "eu-west-1", &src).await;

    let east = run_in(&layer, "us-east-1", &["attach", &src, "x", "-o", "json"]);
    east.assert_success();
    let east = east.stdout_json();
    let west = run_in(&layer, "eu-west-1", &["attach", &src, "x", "-o", "json"]);
    west.assert_success();
    let west = west.stdout_json();
    assert_eq!(west["role"], "created", "{west}");
    assert_ne!(east["role_arn"], west["role_arn"]);
    let east_role = role_name(&east["role_arn"]);
    assert_eq!(
        role_policy_source(m, &east_role).await.as_deref(),
        east["source_stream_arn"].as_str(),
        "the first region's policy still reads the first region's stream"
    );

    run_in(&layer, "eu-west-1", &["detach", &src, "x", "--purge"]).assert_success();
    let iam = m.iam().await;
    assert!(
        iam.get_role().role_name(&east_role).send().await.is_ok(),
        "the purge in eu-west-1 keeps us-east-1's role"
    );
    assert!(
        iam.get_role()
            .role_name(role_name(&west["role_arn"]))
            .send()
            .await
            .is_err(),
        "and removes its own"
    );
    run_in(&layer, "us-east-1", &["detach", &src, "x", "--purge"]).assert_success();
    assert!(iam.get_role().role_name(&east_role).send().await.is_err());
}

/// Issue 12 item 1: `detach --purge` never deletes a role another attachment uses. A ktail role
/// given with `--role` to a second attachment was deleted by the second one's purge, under the
/// first one's function.
#[tokio::test]
async fn purge_keeps_a_ktail_role_that_another_attachment_runs_as() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-shared-role").await;
    let first = run(&layer, &["attach", &src, "a", "-o", "json"]);
    first.assert_success();
    let first = first.stdout_json();
    let role_arn = first["role_arn"].as_str().unwrap();
    run(&layer, &["attach", &src, "b", "--role", role_arn]).assert_success();

    let out = run(&layer, &["detach", &src, "b", "--purge"]);
    out.assert_success();
    assert!(
        m.iam()
            .await
            .get_role()
            .role_name(role_name(&first["role_arn"]))
            .send()
            .await
            .is_ok(),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("kept"), "{}", out.stderr);
}

// ---- item 10, second half: what an earlier attach made is purged too ---------------------------

/// Issue 12 item 10: re-attaching with another `--role` and `--output-stream` left the role and
/// the filtered stream ktail had made for the first attach behind on `detach --purge`, which
/// followed only the function's current role and stream. Now the purge also removes what ktail
/// made under the attachment's default names, and still never what the user gave.
#[tokio::test]
async fn purge_after_re_attaching_with_a_given_role_and_stream_removes_the_old_ones() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-reroute").await;
    let first = run(&layer, &["attach", &src, "x", "-o", "json"]);
    first.assert_success();
    let first = first.stdout_json();
    let given_stream = source_stream(m, "real-reroute-out").await;
    let iam = m.iam().await;
    let given_role = iam
        .create_role()
        .role_name(support::unique_name("real-reroute-role"))
        .assume_role_policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let second = run(
        &layer,
        &[
            "attach",
            &src,
            "x",
            "--role",
            &given_role.arn,
            "--output-stream",
            &given_stream,
            "-o",
            "json",
        ],
    );
    second.assert_success();

    let out = run(&layer, &["detach", &src, "x", "--purge"]);
    out.assert_success();
    let old_role = role_name(&first["role_arn"]);
    assert!(
        iam.get_role().role_name(&old_role).send().await.is_err(),
        "the role of the first attach is removed:\n{}",
        out.stderr
    );
    let kinesis = m.kinesis().await;
    let old_stream = first["output_stream"].as_str().unwrap();
    let gone = kinesis
        .describe_stream_summary()
        .stream_name(old_stream)
        .send()
        .await
        .map(|o| o.stream_description_summary.map(|d| d.stream_status));
    assert!(
        gone.is_err()
            || gone
                .as_ref()
                .is_ok_and(|s| s == &Some(aws_sdk_kinesis::types::StreamStatus::Deleting)),
        "the filtered stream of the first attach is removed: {gone:?}\n{}",
        out.stderr
    );
    assert!(
        iam.get_role()
            .role_name(&given_role.role_name)
            .send()
            .await
            .is_ok()
    );
    assert!(
        kinesis
            .describe_stream_summary()
            .stream_name(&given_stream)
            .send()
            .await
            .is_ok()
    );
}

// ---- item 12: what can be lost, and where to see it -------------------------------------------

/// Issue 12 item 12: a mapping skips a batch after its retries (and records older than its
/// maximum age), and says so only in its LastProcessingResult. `ktail status` shows it, in the
/// table and in JSON, and the README states when a match can be skipped.
#[tokio::test]
async fn status_shows_the_mapping_s_last_processing_result() {
    let readme = include_str!("../README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        readme.contains("When a match can be skipped"),
        "the README says when a match can be lost"
    );
    assert!(!readme.contains("nothing is dropped"));

    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-result").await;
    let out = run(&layer, &["attach", &src, "x", "-o", "json"]);
    out.assert_success();
    let uuid = out.stdout_json()["mapping_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    layer.set_last_processing_result(&uuid, "PROBLEM: Function call failed");

    let status = run(&layer, &["status", "-o", "json"]);
    status.assert_success();
    let all = status.stdout_json();
    let mine = all
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["mapping_uuid"] == uuid.as_str())
        .unwrap_or_else(|| panic!("{all:#}"));
    assert_eq!(
        mine["last_processing_result"],
        "PROBLEM: Function call failed"
    );
    let table = run(&layer, &["status"]);
    table.assert_success();
    let row = table
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with(&src))
        .unwrap_or_else(|| panic!("{}", table.stdout_str()));
    assert!(row.contains("PROBLEM: Function call failed"), "{row}");
}

// ---- item 2: encrypted streams ----------------------------------------------------------------

/// The ktail policy on `role`, decoded.
pub(crate) async fn role_policy(m: &Emulator, role: &str) -> Value {
    try_role_policy(m, role)
        .await
        .unwrap_or_else(|| panic!("role {role} has ktail's policy"))
}

/// The statements of `policy` that allow `action`.
fn allowing(policy: &Value, action: &str) -> Vec<Value> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Action"] == action)
        .cloned()
        .collect()
}

/// `arn:aws:kms:REGION:ACCOUNT:` for the account and region of a stream ARN.
fn kms_prefix(stream_arn: &Value) -> String {
    let parts: Vec<&str> = stream_arn.as_str().unwrap().split(':').collect();
    format!("arn:aws:kms:{}:{}:", parts[3], parts[4])
}

/// Issue 12 item 2: a source stream encrypted with a customer-managed KMS key cannot be read by
/// the function without kms:Decrypt on that key, and the policy had none. Now attach reads the
/// key with DescribeStreamSummary and grants kms:Decrypt on exactly that key; a bare key id
/// becomes the key's ARN in the stream's region and account.
#[tokio::test]
async fn a_source_stream_s_customer_key_is_granted_kms_decrypt() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-kms-src").await;
    let key = "1234abcd-12ab-34cd-56ef-1234567890ab";
    layer.encrypt(m, &src, key).await;
    let out = run(&layer, &["attach", &src, "x", "-o", "json"]);
    out.assert_success();
    let report = out.stdout_json();
    let policy = role_policy(m, &role_name(&report["role_arn"])).await;
    let decrypt = allowing(&policy, "kms:Decrypt");
    assert_eq!(decrypt.len(), 1, "{policy:#}");
    assert_eq!(
        decrypt[0]["Resource"],
        format!("{}key/{key}", kms_prefix(&report["source_stream_arn"])),
        "{policy:#}"
    );
    assert!(allowing(&policy, "kms:GenerateDataKey").is_empty());
}

/// Issue 12 item 2: the AWS-managed `alias/aws/kinesis` key needs no permission ("The use of the
/// default service key for encryption does not require application of custom IAM permissions").
#[tokio::test]
async fn the_aws_managed_kinesis_key_needs_no_kms_permission() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-kms-managed").await;
    layer.encrypt(m, &src, "alias/aws/kinesis").await;
    let out = run(&layer, &["attach", &src, "x", "-o", "json"]);
    out.assert_success();
    let policy = role_policy(m, &role_name(&out.stdout_json()["role_arn"])).await;
    assert!(!policy.to_string().contains("kms:"), "{policy:#}");
}

/// Issue 12 item 2: a given `--output-stream` encrypted with a customer-managed key needs
/// kms:GenerateDataKey on it to be written; an alias is granted on the account's keys with the
/// `kms:ResourceAliases` condition (a policy cannot name a key through its alias).
#[tokio::test]
async fn an_encrypted_output_stream_s_key_is_granted_generate_data_key() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-kms-in").await;
    let out_stream = source_stream(m, "real-kms-out").await;
    layer.encrypt(m, &out_stream, "alias/matches").await;
    let out = run(
        &layer,
        &[
            "attach",
            &src,
            "x",
            "--output-stream",
            &out_stream,
            "-o",
            "json",
        ],
    );
    out.assert_success();
    let report = out.stdout_json();
    let policy = role_policy(m, &role_name(&report["role_arn"])).await;
    assert!(allowing(&policy, "kms:Decrypt").is_empty(), "{policy:#}");
    let generate = allowing(&policy, "kms:GenerateDataKey");
    assert_eq!(generate.len(), 1, "{policy:#}");
    assert_eq!(
        generate[0]["Resource"],
        format!("{}key/*", kms_prefix(&report["source_stream_arn"]))
    );
    assert_eq!(
        generate[0]["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
        "alias/matches"
    );
}

/// Issue 12 item 2: `ktail tail` on a stream whose KMS key these credentials may not use failed
/// with "its KMS key refuses kms:Decrypt" and exit 1, naming no key (Kinesis's error does not).
/// Now it names the key (from DescribeStreamSummary) and the permission, with the access-denied
/// exit code.
#[tokio::test]
async fn tail_on_a_stream_whose_key_it_may_not_use_names_the_key_and_kms_decrypt() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-kms-tail").await;
    m.put_records(&src, ["a line"]).await;
    let key = "arn:aws:kms:us-east-1:123456789012:key/0000aaaa-1111-2222-3333-444455556666";
    layer.encrypt(m, &src, key).await;
    layer.refuse_kms(key, "KMSAccessDeniedException");
    let out = run(&layer, &["tail", &src, "--oldest", "-e"]);
    out.assert_code(4);
    assert!(out.stdout.is_empty());
    let stderr = out.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(key), "{stderr}");
    assert!(stderr.contains("kms:Decrypt"), "{stderr}");
    assert!(stderr.contains("KMSAccessDeniedException"), "{stderr}");
    assert_eq!(layer.refused("KMSAccessDeniedException"), 1);
}

/// A function another session deletes between `status`'s ListFunctions and its ListTags is gone,
/// not an error: Lambda answers ListTags with ResourceNotFoundException (Lambda API reference,
/// ListTags, Errors), and status lists the attachments that remain.
#[tokio::test]
async fn status_skips_a_function_deleted_while_it_lists() {
    let m = support::moto();
    let layer = realism::start(m);
    let src = source_stream(m, "real-vanish").await;
    run(&layer, &["attach", &src, "x"]).assert_success();
    layer.fail(
        "ListTags",
        1,
        404,
        "ResourceNotFoundException",
        "Function not found",
    );
    let status = run(&layer, &["status", "-o", "json"]);
    status.assert_success();
    assert!(status.stdout_json().is_array());
    assert_eq!(layer.refused("ResourceNotFoundException"), 1);

    run(&layer, &["detach", &src, "x", "--purge"]).assert_success();
}
