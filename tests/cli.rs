//! The command line as a user meets it: help, usage errors, AWS options, `ls`, `alias`,
//! `completions`, and the real binary reaching each emulator.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use ktail_testkit::{self as support, Emulator, Output, run_ktail};

const T: Duration = Duration::from_secs(60);

const SUBCOMMANDS: [&str; 10] = [
    "tail",
    "grep",
    "attach",
    "detach",
    "status",
    "ls",
    "put",
    "completions",
    "alias",
    "man",
];

fn ktail(args: &[&str]) -> Output {
    let mut cmd = support::ktail();
    cmd.args(args);
    run_ktail(cmd, T)
}

fn ktail_at(emu: &Emulator, args: &[&str]) -> Output {
    let mut cmd = emu.ktail();
    cmd.args(args);
    run_ktail(cmd, T)
}

/// An endpoint where nothing listens (connections are refused at once).
fn dead_endpoint() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    format!("http://127.0.0.1:{port}")
}

/// The `ls` text row of `name`, split into its columns.
fn ls_row(out: &Output, name: &str) -> Vec<String> {
    out.stdout_lines()
        .iter()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("{name} not in ls output:\n{}", out.stdout_str()))
}

// ---- the harness and the binary against each emulator ---------------------------------------

#[tokio::test]
async fn ls_reaches_every_emulator() {
    let ferro = support::ferrokinesis();
    let name = support::unique_name("cli-ferro");
    ferro.create_stream(&name, 2).await;
    let out = ktail_at(&ferro, &["ls"]);
    out.assert_success();
    assert_eq!(ls_row(&out, &name)[3], "2");

    let mock = support::kinesis_mock();
    let name = support::unique_name("cli-mock");
    mock.create_stream(&name, 1).await;
    let out = ktail_at(mock, &["ls"]);
    out.assert_success();
    assert_eq!(ls_row(&out, &name)[1], "ACTIVE");

    let moto = support::moto();
    let name = support::unique_name("cli-moto");
    moto.create_stream(&name, 1).await;
    let out = ktail_at(moto, &["ls"]);
    out.assert_success();
    ls_row(&out, &name);
    // moto also serves IAM and Lambda for the attach tests.
    let role = support::unique_name("cli-role");
    moto.iam()
        .await
        .create_role()
        .role_name(&role)
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap();
    let roles = moto.iam().await.list_roles().send().await.unwrap();
    assert!(roles.roles().iter().any(|r| r.role_name() == role));
}

// ---- help and usage errors -------------------------------------------------------------------

/// README: "`ktail --help` lists every subcommand with an example" — `man` too (issue 17, item 9).
#[test]
fn help_shows_an_example_per_subcommand() {
    let out = ktail(&["--help"]);
    out.assert_success();
    let help = out.stdout_str();
    for sub in SUBCOMMANDS {
        let example = format!("ktail {sub} ");
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(&example)),
            "`ktail --help` has no example of `{sub}`:\n{help}"
        );
        let out = ktail(&[sub, "--help"]);
        out.assert_success();
        let sub_help = out.stdout_str();
        let example_section = sub_help
            .split_once("Example:")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("`ktail {sub} --help` has no example:\n{sub_help}"));
        assert!(
            example_section.contains(&format!("ktail {sub}")),
            "`ktail {sub} --help`'s example does not run `ktail {sub}`:\n{sub_help}"
        );
    }
}

#[test]
fn bad_flags_and_values_exit_2() {
    let out = ktail(&["tail", "s", "--no-such-flag"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--no-such-flag"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    let out = ktail(&["tail", "s", "--poll-interval", "10ms"]);
    out.assert_code(2);
    assert!(out.stderr.contains("200ms"), "{}", out.stderr);

    let out = ktail(&["ls", "-o", "yaml"]);
    out.assert_code(2);
}

/// README, exit codes: "2 | bad usage or bad input: an unknown flag or value, a missing region;
/// nothing was sent to AWS". Each of these is refused before any AWS call (the endpoint is dead,
/// so a call would be exit 1), naming the flag, without a panic.
fn assert_refused(args: &[&str], flag: &str, why: &str) {
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", dead_endpoint()).args(args);
    let out = run_ktail(cmd, T);
    out.assert_code(2);
    assert!(
        out.stderr.contains(flag) && out.stderr.contains(why),
        "{args:?}: no {flag:?} and {why:?} in:\n{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
    assert!(out.stdout.is_empty(), "{args:?}");
}

/// Issue 17, item 3: durations too long for a clock panicked ("DateTime - TimeDelta overflowed").
#[test]
fn out_of_range_durations_exit_2_naming_the_flag_and_the_range() {
    for (args, flag) in [
        (&["tail", "s", "--since", "9999999999h"][..], "--since"),
        (&["tail", "s", "--since", "300000y"], "--since"),
        (&["tail", "s", "--until", "9999999999h"], "--until"),
        (&["attach", "s", "x", "--since", "9999999999h"], "--since"),
        (&["grep", "s", "x", "--since", "300000y"], "--since"),
        (&["grep", "s", "x", "--until", "300000y"], "--until"),
        (
            &["tail", "s", "--poll-interval", "300000y"],
            "--poll-interval",
        ),
    ] {
        assert_refused(args, flag, "at most 100y");
    }
}

/// Issue 17, item 6: `attach` takes the deadline `grep` takes: 1s to 100y from now (`0s` deployed
/// an expired function; `9999999999h` stored a deadline that `status` showed as "never").
#[test]
fn attach_and_grep_refuse_the_same_ttls() {
    for sub in ["attach", "grep"] {
        for ttl in ["0s", "500ms", "9999999999h"] {
            assert_refused(&[sub, "s", "x", "--ttl", ttl], "--ttl", "1s to 100y");
        }
    }
}

/// Issue 17, item 5: `-v` without `-g` printed nothing (or followed forever with `-n`).
#[test]
fn invert_match_needs_a_pattern() {
    assert_refused(&["tail", "s", "-v"], "--grep", "required");
    assert_refused(&["tail", "s", "-e", "-v", "-n", "1"], "--grep", "required");
}

/// Issue 17, item 9: an empty `--shard-key` was accepted while an empty `--partition-key` was
/// refused; both are partition keys, 1 to 256 characters.
#[test]
fn shard_key_and_partition_key_share_one_rule() {
    let why = "a partition key is 1 to 256 characters (this one has 0)";
    assert_refused(&["tail", "s", "--shard-key", ""], "--shard-key", why);
    assert_refused(&["put", "s", "--partition-key", ""], "--partition-key", why);
}

/// Issue 17, item 9 hid `grep --efo` until it worked; issue 14 made it work: `--help` offers it
/// for `grep` and `attach`, and `--tail-polling` makes sense only with it.
#[test]
fn grep_and_attach_offer_efo() {
    for sub in ["grep", "attach"] {
        let out = ktail(&[sub, "--help"]);
        out.assert_success();
        assert!(out.stdout_str().contains("--efo"), "{}", out.stdout_str());
    }
    let out = ktail(&["grep", "s", "x", "--tail-polling"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--efo"), "{}", out.stderr);
}

#[test]
fn unknown_subcommand_exits_2() {
    let out = ktail(&["frobnicate"]);
    out.assert_code(2);
    assert!(out.stderr.contains("frobnicate"), "{}", out.stderr);
}

#[test]
fn missing_region_is_a_usage_error() {
    let mut cmd = support::ktail();
    cmd.env_remove("AWS_REGION")
        .args(["--endpoint-url", &dead_endpoint(), "ls"]);
    let out = run_ktail(cmd, T);
    out.assert_code(2);
    assert!(
        out.stderr.starts_with("ktail: no AWS region is set") && out.stderr.contains("--region"),
        "{}",
        out.stderr
    );
}

// ---- AWS options -----------------------------------------------------------------------------

#[tokio::test]
async fn endpoint_url_flag_beats_aws_endpoint_url() {
    let emu = support::ferrokinesis();
    let name = support::unique_name("cli-endpoint");
    emu.create_stream(&name, 1).await;
    let dead = dead_endpoint();

    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", &dead);
    cmd.args(["--endpoint-url", &emu.endpoint, "ls"]);
    let out = run_ktail(cmd, T);
    out.assert_success();
    ls_row(&out, &name);

    // Without the flag the variable is used: here it points nowhere, so the run fails (exit 5:
    // the endpoint cannot be reached, issue 12 item 11).
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", &dead).arg("ls");
    let out = run_ktail(cmd, T);
    out.assert_code(5);
    assert!(
        out.stderr
            .starts_with("ktail: cannot list the streams in us-east-1"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[tokio::test]
async fn per_service_endpoint_variable_is_honoured() {
    let emu = support::ferrokinesis();
    let name = support::unique_name("cli-kinesis-endpoint");
    emu.create_stream(&name, 1).await;
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", dead_endpoint())
        .env("AWS_ENDPOINT_URL_KINESIS", &emu.endpoint)
        .arg("ls");
    let out = run_ktail(cmd, T);
    out.assert_success();
    ls_row(&out, &name);
}

#[tokio::test]
async fn debug_logs_to_stderr_without_the_secret_key() {
    let emu = support::ferrokinesis();
    let name = support::unique_name("cli-debug");
    emu.create_stream(&name, 1).await;
    let secret = "ktailTestSecretKeyThatMustNeverBeLogged0";
    let mut cmd = emu.ktail();
    cmd.env("AWS_SECRET_ACCESS_KEY", secret)
        .args(["--debug", "ls"]);
    let out = run_ktail(cmd, T);
    out.assert_success();
    assert!(
        out.stderr.contains("DEBUG") && out.stderr.contains("ListStreams"),
        "no SDK debug log on stderr:\n{}",
        out.stderr
    );
    assert!(!out.stderr.contains(secret), "the secret key was logged");
    // stdout still carries only the listing.
    assert_eq!(
        out.stdout_lines()[0].split_whitespace().next(),
        Some("NAME")
    );
    ls_row(&out, &name);

    let out = ktail_at(&emu, &["ls"]);
    assert!(
        out.stderr.is_empty(),
        "stderr without --debug: {}",
        out.stderr
    );
}

/// Issue 17, item 4: an empty or malformed endpoint or region was an SDK panic (exit 101) or an
/// SDK internal ("must be a valid host label", exit 1).
#[test]
fn empty_or_malformed_endpoint_and_region_are_usage_errors() {
    assert_refused(&["--endpoint-url", "", "ls"], "--endpoint-url", "empty");
    assert_refused(
        &["--endpoint-url", "localhost:4566", "ls"],
        "--endpoint-url",
        "scheme",
    );
    assert_refused(
        &["--endpoint-url", "not a url", "ls"],
        "--endpoint-url",
        "not a URL",
    );
    assert_refused(&["--region", "", "ls"], "--region", "empty");
    assert_refused(
        &["--region", "us east 1", "ls"],
        "--region",
        "not a region name",
    );
    // The same for a region from the environment.
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", dead_endpoint())
        .env("AWS_REGION", "")
        .arg("ls");
    let out = run_ktail(cmd, T);
    out.assert_code(2);
    assert!(
        out.stderr.contains("AWS_REGION") && !out.stderr.contains("host label"),
        "{}",
        out.stderr
    );
}

/// Issue 17, item 4. README: "an empty variable counts as unset, as in the AWS CLI".
#[tokio::test]
async fn empty_endpoint_variables_count_as_unset() {
    let emu = support::ferrokinesis();
    let name = support::unique_name("cli-empty-endpoint");
    emu.create_stream(&name, 1).await;
    // An empty AWS_ENDPOINT_URL leaves the per-service variable in charge...
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", "")
        .env("AWS_ENDPOINT_URL_KINESIS", &emu.endpoint)
        .arg("ls");
    let out = run_ktail(cmd, T);
    out.assert_success();
    ls_row(&out, &name);
    // ...and an empty per-service variable leaves AWS_ENDPOINT_URL in charge.
    let mut cmd = emu.ktail();
    cmd.env("AWS_ENDPOINT_URL_KINESIS", "").arg("ls");
    let out = run_ktail(cmd, T);
    out.assert_success();
    ls_row(&out, &name);
    // Lambda and IAM alike (`status` asks Lambda).
    let mut cmd = support::moto().ktail();
    cmd.env("AWS_ENDPOINT_URL_LAMBDA", "")
        .env("AWS_ENDPOINT_URL_IAM", "")
        .env("AWS_ENDPOINT_URL_KINESIS", "")
        .arg("status");
    run_ktail(cmd, T).assert_success();
}

// ---- ls --------------------------------------------------------------------------------------

#[tokio::test]
async fn ls_shows_status_mode_shards_and_retention() {
    let emu = support::ferrokinesis();
    let big = support::unique_name("cli-ls-big");
    let small = support::unique_name("cli-ls-small");
    emu.create_stream(&big, 3).await;
    emu.create_stream(&small, 1).await;
    emu.kinesis()
        .await
        .increase_stream_retention_period()
        .stream_name(&small)
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();

    let out = ktail_at(&emu, &["ls"]);
    out.assert_success();
    let lines = out.stdout_lines();
    // ferrokinesis serves no Lambda, so whether a grep is attached is unknown: `-`.
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "STATUS", "MODE", "SHARDS", "RETENTION", "GREPS"]
    );
    assert_eq!(lines.len(), 3, "{}", out.stdout_str());
    assert_eq!(
        ls_row(&out, &big),
        [&big, "ACTIVE", "provisioned", "3", "24h", "-"]
    );
    assert_eq!(
        ls_row(&out, &small),
        [&small, "ACTIVE", "provisioned", "1", "48h", "-"]
    );
    // Columns line up: every row's second column starts where the header's does.
    let status_at = lines[0].find("STATUS").unwrap();
    for line in &lines[1..] {
        assert_eq!(&line[status_at..status_at + 6], "ACTIVE", "{line}");
    }
}

#[tokio::test]
async fn ls_json_reports_on_demand_streams() {
    // kinesis-mock: ferrokinesis cannot create an on-demand stream without a shard count.
    let emu = support::kinesis_mock();
    let on_demand = support::unique_name("cli-ls-od");
    let provisioned = support::unique_name("cli-ls-prov");
    emu.create_on_demand_stream(&on_demand).await;
    emu.create_stream(&provisioned, 2).await;

    let out = ktail_at(emu, &["ls", "-o", "json"]);
    out.assert_success();
    let streams: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |name: &str| {
        streams
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {streams:#}"))
            .clone()
    };
    let od = find(&on_demand);
    assert_eq!(od["mode"], "on-demand");
    assert_eq!(od["status"], "ACTIVE");
    assert!(od["open_shards"].as_i64().unwrap() >= 1, "{od}");
    assert_eq!(od["retention_hours"], 24);
    assert!(
        od["arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":stream/{on_demand}")),
        "{od}"
    );
    let prov = find(&provisioned);
    assert_eq!(prov["mode"], "provisioned");
    assert_eq!(prov["open_shards"], 2);
}

#[tokio::test]
async fn ls_lists_every_page_of_streams() {
    // More streams than one ListStreams page (100). ferrokinesis pages with HasMoreStreams and
    // no NextToken, which the SDK paginator alone would stop at.
    let emu = support::ferrokinesis_with(ferrokinesis::store::StoreOptions {
        shard_limit: 500,
        ..support::ferrokinesis_options()
    });
    let prefix = support::unique_name("cli-page");
    let names: Vec<String> = (0..105).map(|i| format!("{prefix}-{i:03}")).collect();
    let client = emu.kinesis().await;
    for name in &names {
        client
            .create_stream()
            .stream_name(name)
            .shard_count(1)
            .send()
            .await
            .unwrap();
    }
    for name in &names {
        emu.wait_active(&client, name).await;
    }
    let out = ktail_at(&emu, &["ls", "-o", "json"]);
    out.assert_success();
    let streams: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<&str> = streams
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), names.len(), "streams listed");
    assert_eq!(listed, names);
}

#[test]
fn ls_with_no_streams_prints_nothing_or_an_empty_array() {
    let emu = support::ferrokinesis();
    let out = ktail_at(&emu, &["ls"]);
    out.assert_success();
    assert!(out.stdout.is_empty(), "{}", out.stdout_str());
    // Not a terminal: no "no streams" note on stderr either.
    assert!(out.stderr.is_empty(), "{}", out.stderr);

    let out = ktail_at(&emu, &["ls", "-o", "json"]);
    out.assert_success();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json, serde_json::json!([]));
}

// ---- alias and completions -------------------------------------------------------------------

#[test]
fn alias_prints_the_aws_cli_alias_line() {
    let out = ktail(&["alias"]);
    out.assert_success();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"ktail = !ktail"));
    // Everything else is a comment, so the output can be appended to the alias file.
    assert!(lines[..lines.len() - 1].iter().all(|l| l.starts_with('#')));
    assert!(text.contains("[toplevel]") && text.contains("~/.aws/cli/alias"));
    assert!(text.contains("AWS_PROFILE") && text.contains("AWS_REGION"));
}

#[test]
fn completion_files_are_up_to_date() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (shell, file) in [
        ("bash", "ktail.bash"),
        ("zsh", "_ktail"),
        ("fish", "ktail.fish"),
        ("powershell", "_ktail.ps1"),
        ("elvish", "ktail.elv"),
    ] {
        let out = ktail(&["completions", shell]);
        out.assert_success();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("attach"),
            "the {shell} script does not know the subcommands"
        );
        let committed = std::fs::read(dir.join(file)).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "completions/{file} is out of date with src/cli.rs: run completions/generate.sh"
        );
    }
}

#[test]
fn completions_into_a_closed_pipe_is_success() {
    let mut child = Command::new(support::ktail_bin())
        .args(["completions", "powershell"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -c0`: the reader goes away before ktail writes.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

// ---- the harness's process helpers (other areas build on them) --------------------------------

#[test]
fn running_reads_lines_then_interrupts() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo one; echo two; exec sleep 30"]);
    let mut running = support::Running::spawn(cmd);
    assert_eq!(running.read_lines(2, T), ["one", "two"]);
    running.interrupt();
    let out = running.wait(T);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{:?}", out.status);
    assert_eq!(out.stdout_str(), "one\ntwo\n");
}

#[test]
fn run_with_stdin_feeds_the_process() {
    let input = b"a\nb\n".repeat(50_000);
    let out = support::run_ktail_with_stdin(Command::new("cat"), Some(&input), T);
    out.assert_success();
    assert_eq!(out.stdout, input);
}

// ---- error output (issue 17 item 8) ----------------------------------------------------------

/// README: "Errors are printed once, on one line, as `ktail: <what failed>: <why>`." Every
/// command words a failed AWS call the same way, with no Rust `Debug` dump of the SDK error
/// (`(DispatchFailure(DispatchFailure { source: ConnectorError { … } }))`), which attach, grep,
/// detach and status used to end with.
#[test]
fn every_command_words_a_failed_aws_call_on_one_clean_line() {
    let dead = dead_endpoint();
    for args in [
        &["attach", "logs", "x"][..],
        &["grep", "logs", "x"],
        &["detach", "logs", "x"],
        &["detach", "logs", "--all"],
        &["status"],
        &["ls"],
        &["tail", "logs", "-e"],
    ] {
        let mut cmd = support::ktail();
        cmd.args(["--endpoint-url", &dead]).args(args);
        let out = run_ktail(cmd, T);
        // Exit 5: the endpoint cannot be reached (issue 12 item 11).
        out.assert_code(5);
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("ktail: "))
            .collect();
        assert_eq!(errors.len(), 1, "{args:?}: one error line:\n{}", out.stderr);
        let line = errors[0];
        // `ktail: <what failed>: <why>`
        assert!(line.matches(": ").count() >= 2, "{args:?}: {line}");
        for dump in [
            "DispatchFailure(",
            "ConnectorError {",
            "{ source:",
            "kind: ",
            "Some(",
        ] {
            assert!(
                !out.stderr.contains(dump),
                "{args:?}: a Debug dump:\n{}",
                out.stderr
            );
        }
    }
}

/// README: "2 | bad usage or bad input". A directory given as `--file` is bad input like a file
/// that does not exist, not a runtime error.
#[test]
fn put_file_that_is_a_directory_or_missing_is_bad_input() {
    let dir = std::env::temp_dir();
    let missing = dir.join(support::unique_name("no-such-file"));
    for (file, why) in [
        (dir.as_path(), "is a directory"),
        (missing.as_path(), "No such file"),
    ] {
        let mut cmd = support::ktail();
        cmd.args(["--endpoint-url", &dead_endpoint(), "put", "logs", "--file"])
            .arg(file);
        let out = run_ktail(cmd, T);
        out.assert_code(2);
        assert!(
            out.stderr
                .contains(&format!("cannot read {}", file.display()))
                && out.stderr.contains(why),
            "{}",
            out.stderr
        );
    }
}

/// A full disk (`> /dev/full`) is reported as a failed write of the output, not as a bare
/// "No space left on device" that could be about anything.
#[tokio::test]
async fn a_failed_write_of_the_output_says_so() {
    let emu = support::ferrokinesis();
    emu.create_stream(&support::unique_name("cli-full"), 1)
        .await;
    for args in [
        &["ls"][..],
        &["ls", "-o", "json"],
        &["completions", "bash"],
        &["alias"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut cmd = emu.ktail();
        // Not `run_ktail`: it captures stdout through a pipe.
        let out = cmd
            .args(args)
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("ktail: cannot write the output: No space left on device"),
            "{args:?}: {stderr}"
        );
    }
}
