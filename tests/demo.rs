//! `ktail demo`: the grep flow on the embedded Kinesis, and `--serve` for other processes, each
//! run on a machine with no usable AWS set-up: `HOME` holds a garbage `~/.aws/config` and an
//! unreadable `~/.aws/credentials`, and every `AWS_*` variable is removed or set to something
//! that would break a run that read it (a dead endpoint, a bogus region, a missing profile).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use ktail_testkit::{
    self as support, Output, Running, run_ktail, run_ktail_with_stdin, unique_name,
};

const T: Duration = Duration::from_secs(90);
const STREAM: &str = "access-logs";

/// A `HOME` whose AWS files would fail any run that read them.
fn hostile_home() -> PathBuf {
    let home = support::target_tmp().join(unique_name("demo-home"));
    let aws = home.join(".aws");
    std::fs::create_dir_all(aws.join("credentials")).unwrap(); // a directory: unreadable as a file
    std::fs::write(
        aws.join("config"),
        "[default\nregion = = =\n\0\u{7f}garbage\n[profile missing-bracket\n",
    )
    .unwrap();
    home
}

/// `AWS_*` variables that break any use of the AWS environment. Loopback only: nothing listens
/// on port 1.
const HOSTILE_AWS: [(&str, &str); 12] = [
    ("AWS_PROFILE", "no-such-profile"),
    ("AWS_DEFAULT_PROFILE", "no-such-profile"),
    ("AWS_REGION", "not a region!"),
    ("AWS_DEFAULT_REGION", "not a region!"),
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
    ("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:1"),
    ("AWS_USE_FIPS_ENDPOINT", "maybe"),
    ("AWS_MAX_ATTEMPTS", "zero"),
    ("AWS_RETRY_MODE", "bogus"),
    ("AWS_CA_BUNDLE", "/no/such/bundle.pem"),
    ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1"),
    (
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://127.0.0.1:1/creds",
    ),
];

/// The real binary with no AWS set-up at all: every `AWS_*` variable of this process removed,
/// the hostile ones set, and `HOME` (so `~/.aws`) pointing at [`hostile_home`].
fn bare_ktail(args: &[&str]) -> Command {
    let mut cmd = Command::new(support::ktail_bin());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(HOSTILE_AWS)
        .env("HOME", hostile_home())
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .args(args);
    cmd
}

/// The `"status"` of an access log line.
fn status(line: &str) -> u16 {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    value["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or_else(|| panic!("no status in {line}"))
}

#[track_caller]
fn assert_server_errors(out: &Output, n: usize) {
    let lines = out.stdout_lines();
    assert_eq!(
        lines.len(),
        n,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout_str(),
        out.stderr
    );
    for line in &lines {
        assert!((500..600).contains(&status(line)), "not a 5xx: {line}");
    }
}

#[test]
fn demo_prints_five_server_errors_with_no_aws_setup() {
    // The set-up is hostile indeed: a command that uses the AWS configuration fails in it.
    let out = run_ktail(bare_ktail(&["ls"]), T);
    assert_ne!(
        out.code(),
        Some(0),
        "ls worked without AWS:\n{}",
        out.stdout_str()
    );

    let out = run_ktail(bare_ktail(&["demo", "-n", "5"]), T);
    out.assert_success();
    assert_server_errors(&out, 5);
    // The grep flow's steps, then the summary.
    for step in [
        "embedded Kinesis: listening on http://127.0.0.1:",
        "source stream access-logs: 4 shards",
        "output stream ktail-access-logs-",
        "function ktail-access-logs-",
        "event source mapping access-logs → ktail-access-logs-",
        "tailing ktail-access-logs-",
        "5 matches in ",
    ] {
        assert!(
            out.stderr.contains(step),
            "no {step:?} in stderr:\n{}",
            out.stderr
        );
    }
}

#[test]
fn demo_takes_a_pattern_and_the_grep_flags() {
    let out = run_ktail(bare_ktail(&["demo", r#""status":404"#, "-n", "3"]), T);
    out.assert_success();
    let lines = out.stdout_lines();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    assert!(lines.iter().all(|l| status(l) == 404), "{lines:?}");

    // -i and -v as for grep: everything that is not a 2xx, in any case.
    let out = run_ktail(
        bare_ktail(&["demo", r#""STATUS":2"#, "-i", "-v", "-n", "4", "--prefix"]),
        T,
    );
    out.assert_success();
    let lines = out.stdout_lines();
    assert_eq!(lines.len(), 4, "{}", out.stderr);
    for line in &lines {
        // --prefix: the filtered stream's shard (and, for a CloudWatch Logs event, its log
        // group and stream) before the record.
        let (prefix, record) = line.split_at(line.find('{').unwrap());
        assert!(prefix.starts_with("shardId-"), "{line}");
        assert!(!(200..300).contains(&status(record)), "{line}");
    }
}

#[test]
fn demo_prints_json() {
    let out = run_ktail(bare_ktail(&["demo", "-o", "json", "-n", "2"]), T);
    out.assert_success();
    let lines = out.stdout_lines();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let object = value.as_object().unwrap();
        for key in [
            "stream",
            "shard",
            "sequence",
            "sub_sequence",
            "partition_key",
            "arrival",
        ] {
            assert!(object.contains_key(key), "no {key} in {line}");
        }
        assert_eq!(value["stream"], STREAM);
        // The grep function keys its output by source shard.
        let key = value["partition_key"].as_str().unwrap();
        assert!(key.starts_with("shardId-"), "{line}");
        assert!(
            (500..600).contains(&status(value["data"].as_str().unwrap())),
            "{line}"
        );
    }
}

#[test]
fn ctrl_c_ends_the_demo_with_130() {
    let mut demo = Running::spawn(bare_ktail(&["demo"]));
    let first = demo.read_lines(1, T);
    assert!((500..600).contains(&status(&first[0])), "{first:?}");
    demo.interrupt();
    let out = demo.wait(T);
    out.assert_code(130);
}

#[test]
fn help_shows_the_demo() {
    let out = run_ktail(bare_ktail(&["--help"]), T);
    out.assert_success();
    assert!(
        out.stdout_str().contains("\n  ktail demo -n 5 "),
        "{}",
        out.stdout_str()
    );
    let out = run_ktail(bare_ktail(&["demo", "--help"]), T);
    out.assert_success();
    let help = out.stdout_str();
    assert!(help.contains("Example:\n  ktail demo "), "{help}");
    assert!(
        help.contains(r#"[default: "status":5[0-9][0-9]]"#),
        "{help}"
    );
}

#[test]
fn bad_usage_is_exit_2_before_anything_starts() {
    for args in [
        &["demo", "(unclosed"][..],
        &["--region", "eu-west-1", "demo"],
        &["demo", "--serve", "-n", "1"],
        &["demo", "--port", "4000"],
    ] {
        let out = run_ktail(bare_ktail(args), T);
        out.assert_code(2);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout_str());
    }
}

/// `eval`-style: the `export NAME=VALUE` lines of `--serve`'s stdout.
fn parse_exports(lines: &[String]) -> HashMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// ktail in the environment a user gets from `eval` of the exports in a bare shell.
fn served_ktail(exports: &HashMap<String, String>, args: &[&str]) -> Command {
    let mut cmd = bare_ktail(args);
    // What `unset AWS_ENDPOINT_URL_KINESIS AWS_SESSION_TOKEN` does in the shell.
    cmd.env_remove("AWS_ENDPOINT_URL_KINESIS")
        .env_remove("AWS_SESSION_TOKEN");
    cmd.envs(exports);
    // The shell keeps its other variables; these ones must not get in the way of ls/tail/put.
    cmd.env_remove("AWS_USE_FIPS_ENDPOINT")
        .env_remove("AWS_MAX_ATTEMPTS")
        .env_remove("AWS_RETRY_MODE")
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    cmd
}

#[test]
fn serve_answers_ls_tail_put_and_local_grep_from_other_processes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let port_arg = port.to_string();
    let mut server = Running::spawn(bare_ktail(&["demo", "--serve", "--port", &port_arg]));
    // stdout: four exports and one unset, nothing else.
    let lines = server.read_lines(5, T);
    assert_eq!(lines[4], "unset AWS_ENDPOINT_URL_KINESIS AWS_SESSION_TOKEN");
    let exports = parse_exports(&lines);
    assert_eq!(exports.len(), 4, "{lines:?}");
    assert_eq!(
        exports["AWS_ENDPOINT_URL"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(exports["AWS_REGION"], "us-east-1");
    assert!(
        exports.contains_key("AWS_ACCESS_KEY_ID") && exports.contains_key("AWS_SECRET_ACCESS_KEY")
    );
    server.wait_for_stderr(&format!("--endpoint-url http://127.0.0.1:{port}"), T);

    let out = run_ktail(served_ktail(&exports, &["ls"]), T);
    out.assert_success();
    assert!(
        out.stdout_lines()
            .iter()
            .any(|l| l.starts_with(STREAM) && l.contains(" 4 ")),
        "{}",
        out.stdout_str()
    );

    // Live traffic: a following tail gets three lines and stops.
    let out = run_ktail(served_ktail(&exports, &["tail", STREAM, "-n", "3"]), T);
    out.assert_success();
    let lines = out.stdout_lines();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    for line in &lines {
        status(line);
    }

    // put, then read it back among the traffic.
    let marker = unique_name("demo-put");
    let out = run_ktail_with_stdin(
        served_ktail(&exports, &["put", STREAM]),
        Some(format!("{marker}\n").as_bytes()),
        T,
    );
    out.assert_success();
    let out = run_ktail(
        served_ktail(
            &exports,
            &["tail", STREAM, "--oldest", "-g", &marker, "-n", "1"],
        ),
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout_lines(), vec![marker.clone()]);

    // grep --local: the source through the same matcher, no Lambda.
    let out = run_ktail(
        served_ktail(
            &exports,
            &[
                "grep",
                STREAM,
                r#""status":5[0-9][0-9]"#,
                "--local",
                "-n",
                "2",
            ],
        ),
        T,
    );
    out.assert_success();
    assert_server_errors(&out, 2);

    server.interrupt();
    let out = server.wait(T);
    out.assert_code(130);
}
