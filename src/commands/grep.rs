//! `ktail grep STREAM PATTERN`: resolve the flags into a [`Session`] (no I/O beyond the picker),
//! then run it. The session itself (attach, tail, detach, signals) lives in `crate::session`.
//!
//! Exit codes: 0 when `-n` or `--until` ends the session or stdout closes; 1 on an AWS error; 2 on
//! bad usage; 130 when a signal ended it. Every one of them detaches first.

use anyhow::Result;
use chrono::Utc;

use crate::cli::{GlobalArgs, GrepArgs};
use crate::context::Context;
use crate::exit::{ExitCode, usage};
use crate::filter::{MatchOptions, Matcher};
use crate::kinesis::StreamRef;
use crate::picker;
use crate::progress::Progress;
use crate::session::{self, DEFAULT_TTL, Session, shell_quote};

pub async fn run(ctx: &Context, args: GrepArgs) -> Result<ExitCode> {
    let options = MatchOptions {
        invert: args.pattern_args.invert_match,
        ignore_case: args.pattern_args.ignore_case,
    };
    // A typo in a given pattern or flag is reported before the picker asks for the stream.
    if let Some(pattern) = &args.pattern {
        Matcher::new(&[pattern], options).map_err(|e| usage(e.to_string()))?;
    }
    check_flags(&args)?;
    let stream = picker::resolve_stream(ctx, args.stream.clone()).await?;
    let pattern = picker::resolve_pattern(args.pattern.clone(), options)?;
    let session = resolve(&ctx.global, &args, stream, pattern)?;
    let sdk = ctx.sdk().await?;
    session::run(sdk, session, Progress::detect(&ctx.global)).await
}

fn check_flags(args: &GrepArgs) -> Result<()> {
    if args.efo {
        return Err(usage(
            "--efo is not available yet; drop it to read with GetRecords polling",
        ));
    }
    if let Some(since) = args.start.since {
        if since > Utc::now() {
            return Err(usage(
                "--since is in the future; give a past time or a duration ago",
            ));
        }
        if args.stop.until.is_some_and(|until| until < since) {
            return Err(usage("--until is before --since; nothing could be printed"));
        }
    }
    if args.deploy.ttl.is_some_and(|ttl| ttl.as_secs() == 0) {
        return Err(usage("--ttl must be at least 1s"));
    }
    Ok(())
}

/// Flags → a validated session.
pub fn resolve(
    global: &GlobalArgs,
    args: &GrepArgs,
    stream: String,
    pattern: String,
) -> Result<Session> {
    let mut plan = super::attach::plan(
        stream,
        pattern,
        &args.pattern_args,
        &args.start,
        &args.deploy,
    );
    plan.ttl = Some(args.deploy.ttl.unwrap_or(DEFAULT_TTL));
    plan.validate()?;
    let source = StreamRef::parse(&plan.source);
    let print =
        super::tail::print_options(&args.output, &source, super::tail::use_color(global.color));
    Ok(Session {
        plan,
        keep: args.keep,
        local: args.local,
        until: args.stop.until,
        max_records: args.stop.max_records,
        print,
        aws_flags: aws_flags(global),
    })
}

/// The global AWS flags the user gave, for the `ktail detach` hint.
fn aws_flags(global: &GlobalArgs) -> String {
    let mut flags = String::new();
    for (flag, value) in [
        ("--profile", &global.profile),
        ("--region", &global.region),
        ("--endpoint-url", &global.endpoint_url),
    ] {
        if let Some(value) = value {
            flags.push_str(&format!(" {flag} {}", shell_quote(value)));
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::exit;
    use clap::Parser;

    fn session(line: &[&str]) -> Result<Session> {
        let cli = Cli::try_parse_from(line).unwrap();
        let Command::Grep(args) = cli.command else {
            panic!("not grep")
        };
        check_flags(&args)?;
        let (stream, pattern) = (args.stream.clone().unwrap(), args.pattern.clone().unwrap());
        resolve(&cli.global, &args, stream, pattern)
    }

    #[test]
    fn a_session_always_has_a_deadline() {
        let s = session(&["ktail", "grep", "logs", "x"]).unwrap();
        assert_eq!(s.plan.ttl, Some(DEFAULT_TTL));
        assert!(!s.keep && !s.local);
        let s = session(&[
            "ktail", "grep", "logs", "x", "--ttl", "5m", "--keep", "-n", "3",
        ])
        .unwrap();
        assert_eq!(s.plan.ttl, Some(std::time::Duration::from_secs(300)));
        assert!(s.keep);
        assert_eq!(s.max_records, Some(3));
    }

    #[test]
    fn usage_errors_come_before_any_aws_call() {
        for line in [
            &["ktail", "grep", "logs", "(unclosed"][..],
            &["ktail", "grep", "logs", "x", "--efo"],
            &["ktail", "grep", "logs", "x", "--ttl", "0s"],
            &["ktail", "grep", "logs", "x", "--output-stream", "logs"],
        ] {
            let err = session(line).unwrap_err();
            assert_eq!(
                exit::code_for(&err),
                Some(ExitCode::Usage),
                "{line:?}: {err}"
            );
        }
    }

    #[test]
    fn a_second_signal_names_what_is_left_and_how_to_remove_it() {
        use crate::lambda::{Removal, Target};
        let s = session(&[
            "ktail",
            "--region",
            "eu-west-1",
            "grep",
            "logs",
            "it's",
            "-i",
        ])
        .unwrap();
        let target = Target {
            function_name: "ktail-logs-1".into(),
            output_stream: Some("ktail-logs-1".into()),
            role_name: Some("ktail-logs-1".into()),
        };
        let all = Removal {
            role: false,
            ..Removal::PURGE
        };
        assert_eq!(
            crate::session::leftover_message(&s, &target, all),
            "ktail: stopped before cleaning up; may be left: the event source mapping of \
             ktail-logs-1, function ktail-logs-1, output stream ktail-logs-1; remove with: \
             ktail detach logs 'it'\\''s' -i --purge --region eu-west-1"
        );
        assert!(
            crate::session::leftover_message(&s, &target, Removal::MAPPING)
                .ends_with("remove with: ktail detach logs 'it'\\''s' -i --region eu-west-1")
        );
    }

    #[test]
    fn the_detach_hint_carries_the_aws_flags() {
        let cli = Cli::try_parse_from([
            "ktail",
            "--region",
            "eu-west-1",
            "--profile",
            "my prof",
            "grep",
            "logs",
            "x",
        ])
        .unwrap();
        assert_eq!(
            aws_flags(&cli.global),
            " --profile 'my prof' --region eu-west-1"
        );
    }
}
