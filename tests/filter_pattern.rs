//! CloudWatch Logs filter patterns end to end (issue 16): `tail --filter-pattern` against
//! ferrokinesis, `grep --filter-pattern` against moto with the test playing the event source
//! mapping's poller that runs the committed grep `bootstrap`, and the usage errors that must come
//! before any AWS call.
//!
//! The records are plain lines, JSON lines, Apache access-log lines (the AWS page's
//! space-delimited example) and gzip'd CloudWatch Logs envelopes whose log events differ in
//! whether they match, so each event must be matched on its own.

use std::collections::BTreeSet;
use std::time::Duration;

use ktail::attachment::names::Identity;
use ktail::decode::{Codec, compress};
use ktail::filter::{MatchOptions, Syntax};

use ktail_testkit::esm_poller::Poller;
use ktail_testkit::{self as support, Emulator, Running, run_ktail, unique_name};

const RUN: Duration = Duration::from_secs(90);
const LINE: Duration = Duration::from_secs(60);

const ERR_DISK: &str = "ERROR disk full on /dev/sda1";
const ERR_TIMEOUT: &str = "ERROR request timeout after 30s";
/// Terms are case-sensitive, as on AWS.
const LOWER: &str = "error: lowercase only";
const INFO: &str = "INFO all good";
const JSON_GET_500: &str = r#"{"status": 500, "method": "GET", "path": "/pay"}"#;
const JSON_PUT_500: &str = r#"{"status":500,"method":"PUT","path":"/cart"}"#;
const JSON_GET_200: &str = r#"{"status": 200, "method": "GET", "path": "/"}"#;
/// A regex for `"status": 500` would match this; `$.status` is the top-level field only.
const JSON_NESTED_500: &str = r#"{"method": "GET", "detail": {"status": 500}}"#;
/// The space-delimited example of the AWS page, with a 5xx and a 2xx status.
const ACCESS_503: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 503 1534"#;
const ACCESS_200: &str =
    r#"127.0.0.1 - bob [10/Oct/2000:13:25:16 -0700] "GET /index.html HTTP/1.0" 200 512"#;
/// Log events of the first envelope: some match each pattern below, some do not.
const CWL_ERR: &str = "ERROR payment failed for order 17";
const CWL_INFO: &str = "INFO order 18 placed";
const CWL_JSON_502: &str = r#"{"status": 502, "method": "POST", "path": "/pay"}"#;
const CWL_ERR_TIMEOUT: &str = "ERROR upstream timeout";
/// Log events of the second envelope: all match `ERROR -timeout`.
const CWL_ALL_1: &str = "ERROR replica 1 lagging";
const CWL_ALL_2: &str = "ERROR replica 2 lagging";

/// A CloudWatch Logs subscription record, gzip'd as CloudWatch Logs sends it to Kinesis. The JSON
/// is written out here, in the documented shape, rather than built with `ktail::decode`.
fn envelope(messages: &[&str]) -> Vec<u8> {
    let events: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                r#"{{"id":"{:056}","timestamp":{},"message":{}}}"#,
                i + 1,
                1_764_000_000_000u64 + i as u64,
                serde_json::Value::from(*m)
            )
        })
        .collect();
    let json = format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"111111111111","logGroup":"/ecs/web","logStream":"web/1","subscriptionFilters":["to-kinesis"],"logEvents":[{}]}}"#,
        events.join(",")
    );
    compress(Codec::Gzip, json.as_bytes()).expect("gzip")
}

/// Every record, in the order they are put (one shard keeps it).
fn records() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        ERR_DISK,
        ERR_TIMEOUT,
        LOWER,
        INFO,
        JSON_GET_500,
        JSON_PUT_500,
        JSON_GET_200,
        JSON_NESTED_500,
        ACCESS_503,
        ACCESS_200,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    out.push(envelope(&[
        CWL_ERR,
        CWL_INFO,
        CWL_JSON_502,
        CWL_ERR_TIMEOUT,
    ]));
    out.push(envelope(&[CWL_ALL_1, CWL_ALL_2]));
    out.push(envelope(&[CWL_INFO]));
    out
}

/// (pattern, extra flags, the lines `tail` prints, in order).
fn cases() -> Vec<(&'static str, &'static [&'static str], Vec<&'static str>)> {
    vec![
        // Terms: all must appear, case-sensitive; `-term` excludes.
        (
            "ERROR -timeout",
            &[],
            vec![ERR_DISK, CWL_ERR, CWL_ALL_1, CWL_ALL_2],
        ),
        // Any of the `?` terms.
        ("?disk ?upstream", &[], vec![ERR_DISK, CWL_ERR_TIMEOUT]),
        // A quoted phrase.
        ("\"order 18 placed\"", &[], vec![CWL_INFO, CWL_INFO]),
        // JSON: top-level field, any spacing; not nested, not non-JSON.
        (
            "{ $.status >= 500 }",
            &[],
            vec![JSON_GET_500, JSON_PUT_500, CWL_JSON_502],
        ),
        (
            "{ $.status = 500 && $.method = \"P*\" }",
            &[],
            vec![JSON_PUT_500],
        ),
        // Space-delimited, brackets and quotes keeping a field together.
        (
            "[ip, id, user, timestamp, request, status = 5*, bytes]",
            &[],
            vec![ACCESS_503],
        ),
        ("[..., status > 299, bytes]", &[], vec![ACCESS_503]),
        // With -g both must match; -v stays with -g.
        ("{ $.status >= 500 }", &["-g", "GET"], vec![JSON_GET_500]),
        (
            "{ $.status >= 500 }",
            &["-g", "GET", "-v"],
            vec![JSON_PUT_500, CWL_JSON_502],
        ),
        // A regex term.
        ("%replica [0-9] lag%", &[], vec![CWL_ALL_1, CWL_ALL_2]),
    ]
}

fn tail_lines(emu: &Emulator, stream: &str, pattern: &str, extra: &[&str]) -> Vec<String> {
    let mut cmd = emu.ktail();
    cmd.args([
        "tail",
        stream,
        "--oldest",
        "-e",
        "--filter-pattern",
        pattern,
    ])
    .args(extra);
    let out = run_ktail(cmd, RUN);
    out.assert_success();
    out.stdout_lines()
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_prints_what_the_filter_pattern_matches_with_and_without_g() {
    let emu = support::ferrokinesis();
    let stream = unique_name("fp-tail");
    emu.create_stream(&stream, 1).await;
    emu.put_records(&stream, records()).await;
    for (pattern, extra, want) in cases() {
        assert_eq!(
            tail_lines(&emu, &stream, pattern, extra),
            want,
            "tail --filter-pattern {pattern:?} {extra:?}"
        );
    }
}

fn grep(m: &Emulator, args: &[&str]) -> Running {
    let mut cmd = m.ktail();
    cmd.arg("grep").args(args);
    Running::spawn(cmd)
}

/// What an attachment of `source` with the filter pattern `pattern` is named.
fn base_name(source: &str, pattern: &str) -> String {
    Identity {
        source: source.to_owned(),
        pattern: pattern.to_owned(),
        syntax: Syntax::FilterPattern,
        options: MatchOptions::default(),
    }
    .base_name()
}

/// Everything in moto that ktail made for `source`: event source mappings on it, and functions,
/// roles and streams named after it (listed, so a name derived some other way is found too; the
/// streams also looked up by the names `patterns` give, since moto's ListStreams pages can end
/// early on a busy emulator).
async fn made_for(m: &Emulator, source: &str, patterns: &[&str]) -> BTreeSet<String> {
    let prefix = format!("ktail-{source}");
    let mut made = BTreeSet::new();
    let kinesis = m.kinesis().await;
    let lambda = m.lambda().await;
    let arn = kinesis
        .describe_stream_summary()
        .stream_name(source)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap()
        .stream_arn;
    let mut mappings = lambda
        .list_event_source_mappings()
        .event_source_arn(&arn)
        .into_paginator()
        .items()
        .send();
    while let Some(mapping) = mappings.next().await {
        made.insert(format!("mapping {:?}", mapping.unwrap().uuid()));
    }
    let mut functions = lambda.list_functions().into_paginator().items().send();
    while let Some(f) = functions.next().await {
        let name = f.unwrap().function_name.unwrap_or_default();
        if name.starts_with(&prefix) {
            made.insert(format!("function {name}"));
        }
    }
    let roles = m.iam().await.list_roles().send().await.unwrap();
    for role in roles.roles() {
        if role.role_name().starts_with(&prefix) {
            made.insert(format!("role {}", role.role_name()));
        }
    }
    let streams = kinesis.list_streams().send().await.unwrap();
    for name in streams.stream_names() {
        if name.starts_with(&prefix) {
            made.insert(format!("stream {name}"));
        }
    }
    for pattern in patterns {
        let name = base_name(source, pattern);
        if kinesis
            .describe_stream_summary()
            .stream_name(&name)
            .send()
            .await
            .is_ok()
        {
            made.insert(format!("stream {name}"));
        }
    }
    made
}

/// The function in the loop evaluates the same pattern as `tail`, per plain record and per log
/// event of each envelope (one envelope is cut down to its matching events, one goes whole, one
/// not at all): `grep` and `tail` print the same lines in the same order. Two sessions at once,
/// a terms pattern and a JSON pattern, each with its own attachment.
#[tokio::test(flavor = "multi_thread")]
async fn grep_and_tail_print_the_same_lines_for_a_filter_pattern() {
    let m = support::moto();
    let src = unique_name("fp-grep");
    m.create_stream(&src, 1).await;
    let poller = Poller::start(m, &src);
    m.put_records(&src, records()).await;

    let patterns = ["ERROR -timeout", "{ $.status >= 500 }"];
    let mut sessions = Vec::new();
    for pattern in patterns {
        let want = tail_lines(m, &src, pattern, &[]);
        let expected = cases()
            .into_iter()
            .find(|(p, extra, _)| *p == pattern && extra.is_empty())
            .map(|(_, _, lines)| lines)
            .unwrap();
        assert_eq!(want, expected, "tail on moto, {pattern:?}");
        let n = want.len().to_string();
        let running = grep(
            m,
            &[&src, "--filter-pattern", pattern, "--oldest", "-n", &n],
        );
        sessions.push((pattern, want, running));
    }
    for (pattern, want, mut running) in sessions {
        let got = running.read_lines(want.len(), LINE);
        assert_eq!(
            got,
            want,
            "grep --filter-pattern {pattern:?}; poller: {:#?}; stderr:\n{}",
            poller.activity(),
            running.stderr()
        );
        let out = running.wait(RUN);
        out.assert_success();
        assert_eq!(out.stdout_lines(), want, "{pattern:?}");
        assert!(
            out.stderr
                .contains(&format!("function {}", base_name(&src, pattern))),
            "the attachment is the filter pattern's: {}",
            out.stderr
        );
    }
    assert!(poller.activity().invocations > 0);
    drop(poller);
    assert_eq!(made_for(m, &src, &patterns).await, BTreeSet::new());
}

/// An invalid pattern is refused in the config step: exit 2, where and what was expected, and
/// nothing made in moto (a reachable endpoint, so a call made by mistake would succeed).
#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_filter_pattern_exits_2_and_creates_nothing() {
    let m = support::moto();
    let src = unique_name("fp-invalid");
    m.create_stream(&src, 1).await;
    let bad = ["{ $.status = }", "[ip, status = ]", "{ $.a = 1 && }"];
    for pattern in bad {
        for sub in ["grep", "attach"] {
            let mut cmd = m.ktail();
            cmd.args([sub, &src, "--filter-pattern", pattern]);
            let out = run_ktail(cmd, RUN);
            out.assert_code(2);
            assert!(out.stdout.is_empty());
            assert!(
                out.stderr.contains("invalid --filter-pattern: at column ")
                    && out.stderr.contains(": expected "),
                "{sub} {pattern:?}: {}",
                out.stderr
            );
        }
    }
    let mut cmd = m.ktail();
    cmd.args(["grep", &src, "--filter-pattern", "{ $.status = }"]);
    let out = run_ktail(cmd, RUN);
    assert!(
        out.stderr.contains("at column 14: expected"),
        "the column of the missing value: {}",
        out.stderr
    );
    assert_eq!(made_for(m, &src, &bad).await, BTreeSet::new());
}

/// Lambda allows 4 KB of environment variables; a grep whose environment would not fit is
/// refused before any AWS call (nothing listens at the endpoint: a call would be exit 1), saying
/// the limit and the size. A regex PATTERN goes into the same environment.
#[test]
fn a_pattern_too_long_for_the_function_environment_exits_2_before_any_aws_call() {
    let long_terms = vec!["ERROR"; 800].join(" ");
    let long_regex = "x".repeat(4096);
    for args in [
        &["grep", "logs", "--filter-pattern", &long_terms][..],
        &["attach", "logs", "--filter-pattern", &long_terms],
        &["grep", "logs", &long_regex],
        &["attach", "logs", &long_regex],
    ] {
        let mut cmd = support::ktail();
        cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").args(args);
        let out = run_ktail(cmd, RUN);
        out.assert_code(2);
        assert!(out.stdout.is_empty());
        let needs: usize = out
            .stderr
            .split("this grep needs ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{:?}: no size in {}", args[0], out.stderr));
        assert!(
            out.stderr
                .contains("Lambda allows 4096 bytes of environment variables"),
            "{}",
            out.stderr
        );
        assert!(
            needs > 4096 && needs > args[args.len() - 1].len(),
            "{needs}"
        );
    }
    // --local deploys no function: the same pattern is not refused for its size (it goes on to
    // the endpoint, where nothing listens: exit 5, issue 12 item 11).
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").args([
        "grep",
        "logs",
        "--local",
        "--filter-pattern",
        &long_terms,
    ]);
    run_ktail(cmd, RUN).assert_code(5);
}

fn ktail(m: &Emulator, args: &[&str]) -> support::Output {
    let mut cmd = m.ktail();
    cmd.args(args);
    run_ktail(cmd, RUN)
}

/// The same text as a regex and as a filter pattern are two attachments: their own names, a
/// function each with its own variable (MATCH or FILTER_PATTERN), `status` telling them apart, and
/// `detach --filter-pattern` removing only the filter pattern's.
#[tokio::test(flavor = "multi_thread")]
async fn a_regex_and_a_filter_pattern_of_the_same_text_are_two_attachments() {
    let m = support::moto();
    let src = unique_name("fp-attach");
    m.create_stream(&src, 1).await;
    let regex = ktail(m, &["attach", &src, "ERROR", "-o", "json"]);
    regex.assert_success();
    let filter = ktail(
        m,
        &["attach", &src, "--filter-pattern", "ERROR", "-o", "json"],
    );
    filter.assert_success();
    let (regex, filter) = (regex.stdout_json(), filter.stdout_json());
    assert_ne!(regex["function_name"], filter["function_name"]);
    assert_eq!(filter["function_name"], base_name(&src, "ERROR"));
    let lambda = m.lambda().await;
    let variables = |name: String| {
        let lambda = lambda.clone();
        async move {
            lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .unwrap()
                .environment
                .and_then(|e| e.variables)
                .unwrap_or_default()
        }
    };
    let env = variables(filter["function_name"].as_str().unwrap().to_owned()).await;
    assert_eq!(env.get("FILTER_PATTERN").map(String::as_str), Some("ERROR"));
    assert!(!env.contains_key("MATCH"), "{env:?}");
    let env = variables(regex["function_name"].as_str().unwrap().to_owned()).await;
    assert_eq!(env.get("MATCH").map(String::as_str), Some("ERROR"));
    assert!(!env.contains_key("FILTER_PATTERN"), "{env:?}");

    let out = ktail(m, &["status", "-o", "json"]);
    out.assert_success();
    let mut mine: Vec<(String, String)> = out
        .stdout_json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["source_stream"] == src.as_str())
        .map(|a| {
            (
                a["syntax"].as_str().unwrap_or_default().to_owned(),
                a["options"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    mine.sort();
    assert_eq!(
        mine,
        [
            ("filter-pattern".to_owned(), "--filter-pattern".to_owned()),
            ("regex".to_owned(), "none".to_owned())
        ]
    );

    let out = ktail(m, &["detach", &src, "--filter-pattern", "ERROR"]);
    out.assert_success();
    assert!(
        out.stderr.contains(&format!(
            "removed mapping {}",
            filter["mapping_uuid"].as_str().unwrap()
        )),
        "{}",
        out.stderr
    );
    let regex_mapping = lambda
        .get_event_source_mapping()
        .uuid(regex["mapping_uuid"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(regex_mapping.state(), Some("Enabled"), "the regex's stays");
    ktail(m, &["detach", &src, "--all", "--purge"]).assert_success();
}
