//! The terminal experience (issue 7): the stream picker through a real pseudo-terminal, and what
//! a missing STREAM does without one.

use std::process::{Command, Stdio};
use std::time::Duration;

use expectrl::Expect;
use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession as Session;

use ktail_testkit::{self as support, run_ktail, unique_name};

const T: Duration = Duration::from_secs(60);

/// `cmd` on a pseudo-terminal (stdin, stdout and stderr), as a person at a terminal runs it.
fn on_terminal(mut cmd: Command) -> Session {
    // `support::ktail` gives the child /dev/null as stdin; inherit keeps the pty's descriptors.
    cmd.env("TERM", "xterm-256color")
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut session = Session::spawn(cmd).expect("spawn ktail on a pty");
    session.set_expect_timeout(Some(T));
    session
}

/// The exit code as a shell reports it, panicking with what the terminal showed when the process did not exit.
fn exit_code(session: &mut Session) -> i32 {
    // Drain what is left so a full pty buffer cannot block the exit.
    let _ = session.expect(expectrl::Eof);
    match session.get_process().wait().expect("wait for ktail") {
        WaitStatus::Exited(_, code) => code,
        // A key typed between two reads of the prompt meets the terminal in cooked mode, where
        // Ctrl-C is SIGINT itself; a shell reports that as 130 too.
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        other => panic!("ktail did not exit normally: {other:?}"),
    }
}

/// What the terminal showed up to and including the match (EOF matches everything left).
fn screen(captures: &expectrl::Captures) -> String {
    let mut text = captures.before().to_vec();
    text.extend(captures.matches().flatten());
    String::from_utf8_lossy(&text).into_owned()
}

#[tokio::test]
async fn picker_starts_the_tail_on_the_picked_stream() {
    let emu = support::ferrokinesis();
    // Neither hex digits nor the other name contain a 'z', so typing "zebra" selects one stream.
    let walrus = unique_name("pick-walrus");
    let zebra = unique_name("pick-zebra");
    emu.create_stream(&walrus, 1).await;
    emu.create_stream(&zebra, 3).await;
    emu.put_records(&walrus, ["walrus-record"]).await;
    emu.put_records(&zebra, ["zebra-before"]).await;

    let mut cmd = emu.ktail();
    cmd.args(["tail", "--oldest"]);
    let mut session = on_terminal(cmd);
    // Every stream is offered with its status, mode and open shards.
    let menu = session.expect("1 open shard").expect("the picker menu");
    let shown = screen(&menu);
    assert!(
        shown.contains("stream") && shown.contains(&walrus) && shown.contains("provisioned"),
        "{shown}"
    );
    let menu = session.expect("3 open shards").expect("the picker menu");
    assert!(screen(&menu).contains(&zebra), "{}", screen(&menu));
    session.send("zebra").unwrap();
    session.send("\r").unwrap();

    session
        .expect("zebra-before")
        .expect("the tail of the picked stream");
    emu.put_records(&zebra, ["zebra-after"]).await;
    session
        .expect("zebra-after")
        .expect("a record put after the tail started");
    // Ctrl-C on the terminal (back in cooked mode) stops the tail: exit 130.
    session.send("\x03").unwrap();
    let rest = session.expect(expectrl::Eof).expect("ktail exits");
    assert!(
        !screen(&rest).contains("walrus-record"),
        "read the other stream: {}",
        screen(&rest)
    );
    assert_eq!(exit_code(&mut session), 130);
}

#[tokio::test]
async fn esc_in_the_picker_exits_130() {
    let emu = support::ferrokinesis();
    let name = unique_name("pick-esc");
    emu.create_stream(&name, 1).await;

    let mut cmd = emu.ktail();
    cmd.args(["tail"]);
    let mut session = on_terminal(cmd);
    session.expect(name.as_str()).expect("the picker menu");
    session.send("\x1b").unwrap();
    assert_eq!(exit_code(&mut session), 130);
}

#[tokio::test]
async fn ctrl_c_in_the_picker_exits_130() {
    let emu = support::ferrokinesis();
    let name = unique_name("pick-ctrl-c");
    emu.create_stream(&name, 1).await;

    let mut cmd = emu.ktail();
    cmd.args(["tail"]);
    let mut session = on_terminal(cmd);
    session.expect(name.as_str()).expect("the picker menu");
    session.send("\x03").unwrap();
    assert_eq!(exit_code(&mut session), 130);
}

#[test]
fn picker_with_no_streams_says_so() {
    let emu = support::ferrokinesis();
    let mut cmd = emu.ktail();
    cmd.args(["tail"]);
    let mut session = on_terminal(cmd);
    session
        .expect("no streams in us-east-1")
        .expect("the no-streams message");
    assert_eq!(exit_code(&mut session), 1);
}

#[test]
fn missing_stream_without_a_terminal_is_a_usage_error() {
    let emu = support::ferrokinesis();
    let mut cmd = emu.ktail();
    cmd.args(["tail"]);
    let out = run_ktail(cmd, T);
    out.assert_code(2);
    assert!(
        out.stderr.starts_with("ktail: missing STREAM") && out.stderr.contains("ktail ls"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_flags_are_reported_before_the_picker() {
    let emu = support::ferrokinesis();
    let mut cmd = emu.ktail();
    cmd.args(["tail", "-g", "(unclosed"]);
    let mut session = on_terminal(cmd);
    session
        .expect("invalid pattern")
        .expect("the pattern error");
    assert_eq!(exit_code(&mut session), 2);
}

#[tokio::test]
async fn put_shows_totals_on_a_terminal() {
    let emu = support::ferrokinesis();
    let name = unique_name("put-terminal");
    emu.create_stream(&name, 1).await;
    let path = support::target_tmp().join(format!("{name}.txt"));
    std::fs::write(&path, "a\nb\n\nc\n").unwrap();
    let mut cmd = emu.ktail();
    cmd.args(["put", &name, "--file"]).arg(&path);
    let mut session = on_terminal(cmd);
    session
        .expect("3 lines put as 3 records in")
        .expect("the totals");
    let rest = session.expect(expectrl::Eof).expect("ktail exits");
    let rest = screen(&rest);
    assert!(
        rest.contains("lines/s), 1 empty skipped to") && rest.contains(&name),
        "{rest}"
    );
    assert_eq!(exit_code(&mut session), 0);
    let _ = std::fs::remove_file(&path);
}

// ---- dynamic completion of stream names ------------------------------------------------------

/// What fish would offer for `words` (the last one being completed), with its own cache dir.
fn complete(endpoint: &str, cache: &std::path::Path, words: &[&str]) -> Vec<String> {
    let mut cmd = support::ktail();
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("XDG_CACHE_HOME", cache)
        .env("KTAIL_COMPLETE", "fish")
        .args(["--", "ktail"])
        .args(words);
    // Far above the 1 s budget: only a TAB that waits on the network would take this long.
    let out = run_ktail(cmd, Duration::from_secs(20));
    out.assert_success();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    out.stdout_lines()
}

/// Makes the one cache file look older than its 30 s lifetime.
fn age_cache(cache: &std::path::Path) {
    let dir = cache.join("ktail");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = std::fs::File::options()
            .write(true)
            .open(entry.unwrap().path())
            .unwrap();
        file.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
            .unwrap();
    }
}

#[tokio::test]
async fn tab_completes_stream_names_from_a_short_lived_cache() {
    let mut emu = Some(support::ferrokinesis());
    let endpoint = emu.as_ref().unwrap().endpoint.clone();
    let cache = support::target_tmp().join(unique_name("completion-cache"));
    let zebra = unique_name("comp-zebra");
    let walrus = unique_name("comp-walrus");
    for name in [&zebra, &walrus] {
        emu.as_ref().unwrap().create_stream(name, 1).await;
    }
    assert_eq!(
        complete(&endpoint, &cache, &["tail", "comp-z"]),
        [zebra.as_str()]
    );
    let all = complete(&endpoint, &cache, &["put", ""]);
    assert!(all.contains(&zebra) && all.contains(&walrus), "{all:?}");

    // Within 30 s the cached listing answers: a new stream is not seen yet...
    let yak = unique_name("comp-yak");
    emu.as_ref().unwrap().create_stream(&yak, 1).await;
    assert!(complete(&endpoint, &cache, &["tail", "comp-y"]).is_empty());
    // ...and after it, the region is listed again.
    age_cache(&cache);
    assert_eq!(
        complete(&endpoint, &cache, &["grep", "comp-y"]),
        [yak.as_str()]
    );

    // AWS gone: the last listing is better than nothing.
    age_cache(&cache);
    drop(emu.take());
    assert_eq!(
        complete(&endpoint, &cache, &["detach", "comp-w"]),
        [walrus.as_str()]
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn tab_never_waits_on_an_endpoint_that_does_not_answer() {
    // Accepts connections (the kernel's backlog) and never answers a request.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let cache = support::target_tmp().join(unique_name("completion-silent"));
    // With nothing typed, clap offers the flags; no stream name came back.
    let offered = complete(&endpoint, &cache, &["tail", ""]);
    assert!(offered.iter().all(|l| l.starts_with('-')), "{offered:?}");
    assert!(!offered.is_empty());
    // Subcommands still complete, with no AWS call at all.
    assert!(
        complete(&endpoint, &cache, &["ta"])
            .iter()
            .any(|l| l.starts_with("tail\t"))
    );
    drop(silent);
}

// ---- man pages -------------------------------------------------------------------------------

#[test]
fn man_pages_are_up_to_date() {
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let fresh = support::target_tmp().join(unique_name("man"));
    let mut cmd = support::ktail();
    cmd.args(["man", "--dir"]).arg(&fresh);
    run_ktail(cmd, T).assert_success();
    let names = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let generated = names(&fresh);
    assert!(
        generated.contains(&"ktail.1".to_owned()) && generated.contains(&"ktail-put.1".to_owned()),
        "{generated:?}"
    );
    assert_eq!(
        names(&committed),
        generated,
        "man/ lists other pages than the CLI has: run completions/generate.sh"
    );
    for name in &generated {
        assert!(
            std::fs::read(committed.join(name)).ok() == std::fs::read(fresh.join(name)).ok(),
            "man/{name} is out of date with src/cli.rs: run completions/generate.sh"
        );
    }
    let _ = std::fs::remove_dir_all(&fresh);

    // `ktail man` alone prints ktail(1).
    let out = run_ktail(
        {
            let mut cmd = support::ktail();
            cmd.arg("man");
            cmd
        },
        T,
    );
    out.assert_success();
    assert_eq!(
        out.stdout,
        std::fs::read(committed.join("ktail.1")).unwrap()
    );
    assert!(out.stdout_str().contains(".SH SYNOPSIS"));
}

#[tokio::test]
async fn ctrl_c_in_put_sends_what_was_typed_and_exits_130() {
    let emu = support::ferrokinesis();
    let name = unique_name("put-ctrl-c");
    emu.create_stream(&name, 1).await;
    let mut cmd = emu.ktail();
    cmd.args(["put", &name, "--partition-key", "k"]);
    let mut session = on_terminal(cmd);
    // The spinner shows once put is reading (and its Ctrl-C handler is in place).
    session.expect("waiting for input").expect("the spinner");
    session.send("typed-1\rtyped-2\r").unwrap();
    // Ctrl-C discards typed input the program has not read yet (the terminal's own rule), so
    // wait until put has the lines.
    session.expect("2 lines put").expect("the lines sent");
    session.send("\x03").unwrap();
    let _ = session.expect(expectrl::Eof);
    // Exited with 130 itself, not killed by SIGINT: it had the chance to send.
    match session.get_process().wait().expect("wait for ktail") {
        WaitStatus::Exited(_, 130) => {}
        other => panic!("ktail put did not exit 130: {other:?}"),
    }
    let mut tail = emu.ktail();
    tail.args(["tail", "--oldest", "-e", &name]);
    let out = run_ktail(tail, T);
    out.assert_success();
    assert_eq!(out.stdout_lines(), ["typed-1", "typed-2"]);
}

// ---- the pattern prompt (attach and grep) ----------------------------------------------------

#[tokio::test]
async fn pattern_prompt_refuses_a_bad_regex_then_attaches_with_a_good_one() {
    let moto = support::moto();
    let src = unique_name("prompt-attach");
    moto.create_stream(&src, 1).await;
    let mut cmd = moto.ktail();
    cmd.args(["attach", &src]);
    let mut session = on_terminal(cmd);
    session
        .expect("pattern (regex)")
        .expect("the pattern prompt");
    session.send("level=(warn\r").unwrap();
    // The compiler's reason, and the prompt again.
    session.expect("unclosed").expect("the regex error");
    session.expect("pattern (regex)").expect("the prompt again");
    session.send("level=(warn|error)\r").unwrap();
    session
        .expect("attached; tail it with")
        .expect("attach went ahead");
    assert_eq!(exit_code(&mut session), 0);
    let arn = moto
        .kinesis()
        .await
        .describe_stream_summary()
        .stream_name(&src)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap()
        .stream_arn;
    let mappings = moto
        .lambda()
        .await
        .list_event_source_mappings()
        .event_source_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(mappings.event_source_mappings().len(), 1);
}

#[tokio::test]
async fn ctrl_c_at_the_pattern_prompt_exits_130_with_nothing_created() {
    let moto = support::moto();
    let src = unique_name("prompt-cancel");
    moto.create_stream(&src, 1).await;
    let mut cmd = moto.ktail();
    cmd.args(["attach", &src]);
    let mut session = on_terminal(cmd);
    session
        .expect("pattern (regex)")
        .expect("the pattern prompt");
    session.send("\x03").unwrap();
    assert_eq!(exit_code(&mut session), 130);
    let arn = moto
        .kinesis()
        .await
        .describe_stream_summary()
        .stream_name(&src)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap()
        .stream_arn;
    let mappings = moto
        .lambda()
        .await
        .list_event_source_mappings()
        .event_source_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(mappings.event_source_mappings().is_empty());
}

#[test]
fn missing_pattern_without_a_terminal_is_a_usage_error() {
    let mut cmd = support::ktail();
    cmd.args(["attach", "some-stream"]);
    let out = run_ktail(cmd, T);
    out.assert_code(2);
    assert!(
        out.stderr.starts_with("ktail: missing PATTERN"),
        "{}",
        out.stderr
    );
}
