//! A `ktail grep` session: validate → attach the grep function → tail the filtered stream → detach
//! what this session created, whatever ends it (Ctrl-C, SIGTERM, SIGHUP, `-n`, `--until`, an
//! error). `--local` skips the Lambda and filters the source stream on this machine instead.
//!
//! The session owns three things the one-shot commands do not: the signal policy (the first
//! signal starts the cleanup, a second one stops waiting for it and says what is left), the
//! dead-client deadline it keeps pushing forward while it lives, and the bookkeeping of what it
//! created, so that ending one session never removes what another one (or the user) made.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};

use crate::attachment::{self, AttachPlan, Attachment, Clients, Removal, Removed, Target, names};
use crate::exit::ExitCode;
use crate::filter::Matcher;
use crate::kinesis::{self, Start, Stop, StreamRef, TailConfig};
use crate::printer::{PrintOptions, Printer};
use crate::progress::{Feedback, Progress};
use crate::signals::{self, CancellationToken, Listen};

/// `--ttl` when `grep` is not given one: long enough that renewals are rare, short enough that a
/// forgotten attachment stops costing money the same day.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The deadline is pushed forward this many times per TTL, so one failed renewal is not fatal.
const RENEWALS_PER_TTL: u32 = 3;
const STDOUT_BUFFER: usize = 64 * 1024;

/// A resolved `ktail grep` (built by the config step), everything validated.
#[derive(Debug, Clone)]
pub struct Session {
    /// What to attach; `plan.ttl` is the dead-client guard (always set for a session).
    pub plan: AttachPlan,
    /// Keep what this session created (but the mapping) for a quick re-run.
    pub keep: bool,
    /// No Lambda: tail the source and match here.
    pub local: bool,
    pub until: Option<DateTime<Utc>>,
    pub max_records: Option<u64>,
    pub print: PrintOptions,
    /// How to name the session's leftovers in a `ktail detach` command: the global AWS flags
    /// that were given (`--profile …`, `--region …`), already shell-quoted.
    pub aws_flags: String,
}

impl Session {
    fn ttl(&self) -> Duration {
        self.plan.ttl.unwrap_or(DEFAULT_TTL)
    }

    /// The `ktail detach` command that removes this session's attachment (`--purge`: also what
    /// it created).
    fn detach_command(&self, purge: bool) -> String {
        let mut cmd = format!(
            "ktail detach {} {}",
            shell_quote(names::stream_name(&self.plan.source)),
            shell_quote(self.plan.pattern.text())
        );
        let options = self.plan.pattern.options();
        if options.invert {
            cmd.push_str(" -v");
        }
        if options.ignore_case {
            cmd.push_str(" -i");
        }
        if purge {
            cmd.push_str(" --purge");
        }
        cmd.push_str(&self.aws_flags);
        cmd
    }
}

/// Runs the session until it ends, cleans up, prints the summary line; returns the exit code.
pub async fn run(
    sdk: &aws_config::SdkConfig,
    session: Session,
    progress: Progress,
) -> Result<ExitCode> {
    let matcher = session.plan.pattern.matcher().clone();
    if matcher.matches_everything() {
        progress.note(format!(
            "warning: {:?} matches every record: everything in the stream will be {}",
            session.plan.pattern.text(),
            if session.local { "printed" } else { "copied" }
        ));
    }
    let cancel = CancellationToken::new();
    let leftovers = Arc::new(Mutex::new(None::<String>));
    // SIGHUP too: a closed terminal must not leave a function copying the stream.
    signals::watch(cancel.clone(), Listen::WithHangup, {
        let leftovers = Arc::clone(&leftovers);
        move || print_leftovers(&leftovers)
    });
    let clock = Instant::now();
    if session.local {
        return local(sdk, &session, matcher, cancel, &progress, clock).await;
    }
    server_side(sdk, &session, matcher, cancel, leftovers, &progress, clock).await
}

/// `--local`: the source stream through the same matcher and printer, no AWS resources.
async fn local(
    sdk: &aws_config::SdkConfig,
    session: &Session,
    matcher: Matcher,
    cancel: CancellationToken,
    progress: &Progress,
    clock: Instant,
) -> Result<ExitCode> {
    let stream = StreamRef::parse(&session.plan.source);
    let config = TailConfig {
        start: session.plan.start,
        until: session.until,
        max_records: session.max_records,
        matcher: matcher.clone(),
        decode: session.plan.decode,
        warn: progress.feedback() != Feedback::Hidden,
        ..TailConfig::new(stream)
    };
    let client = kinesis::client(sdk);
    progress
        .step(format!("tailing {} (matching here)", session.plan.source))
        .done("started");
    let sink = Printer::new(
        BufWriter::with_capacity(STDOUT_BUFFER, io::stdout()),
        session.print.clone(),
        Some(matcher),
    );
    let summary = kinesis::tail(&client, config, sink, cancel).await?;
    progress.note(summary_line(summary.records, clock.elapsed(), &[], &[]));
    Ok(exit_code(summary.stop))
}

/// The names an attachment of this plan has, known before any AWS call, so that a deploy that is
/// interrupted halfway can still be taken apart.
struct Planned {
    function: String,
    output_stream: String,
    /// `None` when the user gave `--role`.
    role: Option<String>,
}

impl Planned {
    fn of(plan: &AttachPlan) -> Planned {
        let base = names::Identity {
            source: names::stream_name(&plan.source).to_owned(),
            pattern: plan.pattern.text().to_owned(),
            options: plan.pattern.options(),
        }
        .base_name();
        Planned {
            output_stream: plan
                .deploy
                .filtered_stream
                .clone()
                .unwrap_or_else(|| base.clone()),
            role: plan.deploy.role.is_none().then(|| base.clone()),
            function: base,
        }
    }

    fn target(&self) -> Target {
        Target {
            function_name: self.function.clone(),
            filtered_stream: Some(self.output_stream.clone()),
            role_name: self.role.clone(),
        }
    }
}

/// Which of the planned resources existed before this session.
#[derive(Debug, Clone, Copy)]
struct Existing {
    function: bool,
    output_stream: bool,
    role: bool,
}

impl Existing {
    async fn look(clients: &Clients, planned: &Planned) -> Result<Existing> {
        let (function, output_stream, role) = tokio::join!(
            attachment::function::get(&clients.lambda, &planned.function),
            attachment::filtered_stream::describe(&clients.kinesis, &planned.output_stream),
            async {
                match &planned.role {
                    Some(name) => role_exists(&clients.iam, name).await,
                    None => Ok(true),
                }
            },
        );
        Ok(Existing {
            function: function?.is_some(),
            output_stream: output_stream?.is_some(),
            role: role?,
        })
    }

    /// What to remove when the deploy did not finish: the mapping in any case, and whatever did
    /// not exist before (`remove` skips what is missing and anything not tagged as ktail's).
    fn removal(self, keep: bool) -> Removal {
        Removal {
            mapping: true,
            function: !keep && !self.function,
            filtered_stream: !keep && !self.output_stream,
            role: !keep && !self.role,
        }
    }
}

async fn role_exists(iam: &aws_sdk_iam::Client, name: &str) -> Result<bool> {
    match iam.get_role().role_name(name).send().await {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(attachment::aws_error(
            err,
            &format!("cannot look up IAM role {name}"),
        )),
    }
}

async fn server_side(
    sdk: &aws_config::SdkConfig,
    session: &Session,
    matcher: Matcher,
    cancel: CancellationToken,
    leftovers: Arc<Mutex<Option<String>>>,
    progress: &Progress,
    clock: Instant,
) -> Result<ExitCode> {
    let clients = Clients::new(sdk);
    let planned = Planned::of(&session.plan);
    let started = Utc::now();

    let existing = tokio::select! {
        existing = Existing::look(&clients, &planned) => existing?,
        _ = cancel.cancelled() => {
            progress.note(summary_line(0, clock.elapsed(), &[], &[]));
            return Ok(ExitCode::Interrupted);
        }
    };
    let (created, removal) = (existing.removal(false), existing.removal(session.keep));
    set_leftovers(&leftovers, session, &planned.target(), removal);

    let attached = tokio::select! {
        attached = attachment::attach(&clients, &session.plan, progress) => Some(attached),
        _ = cancel.cancelled() => None,
    };
    let (target, created, removal, ended) = match &attached {
        Some(Ok(attachment)) => {
            let removal = attachment.session_removal(session.keep);
            set_leftovers(&leftovers, session, &attachment.target(), removal);
            let ended = tail_output(
                sdk, &clients, session, attachment, matcher, cancel, started, progress,
            )
            .await;
            let created = attachment.session_removal(false);
            (attachment.target(), created, removal, ended)
        }
        Some(Err(err)) => (planned.target(), created, removal, Err(anyhow!("{err:#}"))),
        None => (planned.target(), created, removal, Ok((0, Stop::Cancelled))),
    };
    let deploy = match &attached {
        None => Deploy::Interrupted,
        Some(Err(_)) => Deploy::Failed,
        Some(Ok(_)) => Deploy::Finished,
    };

    let removed = match sweep(&clients, &target, removal, progress, deploy).await {
        Ok(removed) => removed,
        Err(err) => {
            let err = err.context(format!(
                "could not clean up; run `{}`",
                session.detach_command(removal.filtered_stream || removal.function)
            ));
            return Err(match ended {
                Err(first) => first.context(format!("{err:#}")),
                Ok(_) => err,
            });
        }
    };
    *leftovers.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let kept = kept(&target, created, removal);
    let (matches, stop) = match ended {
        Ok(done) => done,
        Err(err) => {
            progress.note(summary_line(0, clock.elapsed(), &removed, &kept));
            return Err(err);
        }
    };
    progress.note(summary_line(matches, clock.elapsed(), &removed, &kept));
    Ok(exit_code(stop))
}

/// How long a request sent just before an interrupt may take to land.
const IN_FLIGHT: Duration = Duration::from_secs(1);
/// How long a half-created output stream may take to become deletable.
const STREAM_SETTLE: Duration = Duration::from_secs(300);

/// How the attach step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deploy {
    Finished,
    Failed,
    /// Dropped by a signal, possibly with a create call in flight.
    Interrupted,
}

/// Removes what the session made. After an interrupted deploy a create call may still be in
/// flight (its future was dropped, not its request), so a second pass catches what it created.
async fn sweep(
    clients: &Clients,
    target: &Target,
    removal: Removal,
    progress: &Progress,
    deploy: Deploy,
) -> Result<Vec<Removed>> {
    let mut removed = attachment::remove(clients, target, removal, progress).await?;
    if deploy == Deploy::Interrupted {
        tokio::time::sleep(IN_FLIGHT).await;
        removed.extend(attachment::remove(clients, target, removal, progress).await?);
    }
    if deploy != Deploy::Finished
        && removal.filtered_stream
        && let Some(stream) = &target.filtered_stream
        && delete_unfinished_stream(clients, stream, progress).await?
    {
        removed.push(Removed {
            kind: "output stream",
            name: stream.clone(),
        });
    }
    Ok(removed)
}

/// The output stream is tagged as ktail's only once it is ACTIVE, so `remove` (which deletes only
/// tagged streams) leaves one whose deploy stopped earlier. It did not exist before this session
/// (`removal` says so), so this session made it: wait until it can be deleted, then delete it.
async fn delete_unfinished_stream(
    clients: &Clients,
    stream: &str,
    progress: &Progress,
) -> Result<bool> {
    use aws_sdk_kinesis::client::Waiters as _;
    use aws_sdk_kinesis::types::StreamStatus;
    let Some((_, status)) = attachment::filtered_stream::describe(&clients.kinesis, stream).await?
    else {
        return Ok(false);
    };
    if status == StreamStatus::Deleting {
        return Ok(false);
    }
    let step = progress.step(format!("removing output stream {stream}"));
    if status == StreamStatus::Creating {
        step.update("waiting until it is created");
        clients
            .kinesis
            .wait_until_stream_exists()
            .stream_name(stream)
            .wait(STREAM_SETTLE)
            .await
            .map_err(|e| {
                anyhow!(
                    "output stream {stream} did not finish creating: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(e)
                )
            })?;
    }
    let deleted = attachment::filtered_stream::delete(&clients.kinesis, stream).await?;
    step.done("removed");
    Ok(deleted)
}

/// Tails the output stream from where this session's matches begin, renewing the dead-client
/// deadline meanwhile. Returns how many records were printed and why the tail stopped.
#[allow(clippy::too_many_arguments)]
async fn tail_output(
    sdk: &aws_config::SdkConfig,
    clients: &Clients,
    session: &Session,
    attachment: &Attachment,
    matcher: Matcher,
    cancel: CancellationToken,
    started: DateTime<Utc>,
    progress: &Progress,
) -> Result<(u64, Stop)> {
    // A stream this session created holds only its matches; a reused one may hold an earlier
    // session's, which end before this one started.
    let start = if attachment.filtered == attachment::Change::Created {
        Start::TrimHorizon
    } else {
        Start::AtTimestamp(started)
    };
    let config = TailConfig {
        start,
        until: session.until,
        max_records: session.max_records,
        // What the function forwards decodes back to the lines it matched (see the function's
        // `batch::select`).
        decode: session.plan.decode,
        warn: progress.feedback() != Feedback::Hidden,
        ..TailConfig::new(StreamRef::Name(attachment.filtered_stream.clone()))
    };
    let client = kinesis::client(sdk);
    let sink = Printer::new(
        BufWriter::with_capacity(STDOUT_BUFFER, io::stdout()),
        session.print.clone(),
        Some(matcher),
    );
    progress
        .step(format!("tailing {}", attachment.filtered_stream))
        .done("matches follow; Ctrl-C to stop and detach");
    let renewals = tokio::spawn(renew(
        clients.clone(),
        attachment.function_name.clone(),
        session.ttl(),
        progress.clone(),
    ));
    let summary = kinesis::tail(&client, config, sink, cancel).await;
    renewals.abort();
    let summary = summary?;
    Ok((summary.records, summary.stop))
}

/// Pushes the function's deadline forward while the session lives; warns once when it cannot.
async fn renew(clients: Clients, function: String, ttl: Duration, progress: Progress) {
    let every = (ttl / RENEWALS_PER_TTL).max(Duration::from_secs(1));
    let mut warned = false;
    loop {
        tokio::time::sleep(every).await;
        match attachment::renew_ttl(&clients, &function, ttl).await {
            Ok(_) => warned = false,
            Err(err) if !warned => {
                warned = true;
                progress.note(format!(
                    "warning: could not renew the session's deadline ({err:#}); matches stop once it passes"
                ));
            }
            Err(_) => {}
        }
    }
}

/// What `--keep` left in place that this session created: `created` is what it would have
/// removed without `--keep`, `removal` what it did remove.
fn kept(target: &Target, created: Removal, removal: Removal) -> Vec<String> {
    let mut kept = Vec::new();
    if created.function && !removal.function {
        kept.push(format!("function {}", target.function_name));
    }
    if created.filtered_stream
        && !removal.filtered_stream
        && let Some(stream) = &target.filtered_stream
    {
        kept.push(format!("output stream {stream}"));
    }
    if created.role
        && !removal.role
        && let Some(role) = &target.role_name
    {
        kept.push(format!("role {role}"));
    }
    kept
}

fn set_leftovers(
    leftovers: &Mutex<Option<String>>,
    session: &Session,
    target: &Target,
    removal: Removal,
) {
    *leftovers.lock().unwrap_or_else(|e| e.into_inner()) =
        Some(leftover_message(session, target, removal));
}

/// What a second signal prints: what may still exist and the command that removes it.
pub(crate) fn leftover_message(session: &Session, target: &Target, removal: Removal) -> String {
    let mut what = vec![format!(
        "the event source mapping of {}",
        target.function_name
    )];
    if removal.function {
        what.push(format!("function {}", target.function_name));
    }
    if removal.filtered_stream
        && let Some(stream) = &target.filtered_stream
    {
        what.push(format!("output stream {stream}"));
    }
    if removal.role
        && let Some(role) = &target.role_name
    {
        what.push(format!("role {role}"));
    }
    let purge = removal.function || removal.filtered_stream || removal.role;
    format!(
        "ktail: stopped before cleaning up; may be left: {}; remove with: {}",
        what.join(", "),
        session.detach_command(purge)
    )
}

/// `12 matches in 1m 3s; removed mapping …, output stream …`
fn summary_line(matches: u64, elapsed: Duration, removed: &[Removed], kept: &[String]) -> String {
    let mut line = format!(
        "{matches} {} in {}",
        if matches == 1 { "match" } else { "matches" },
        humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
    );
    if !removed.is_empty() {
        let list: Vec<String> = removed
            .iter()
            .map(|r| format!("{} {}", r.kind, r.name))
            .collect();
        let _ = write!(line, "; removed {}", list.join(", "));
    }
    if !kept.is_empty() {
        let _ = write!(line, "; kept {} for a re-run", kept.join(", "));
    }
    line
}

fn exit_code(stop: Stop) -> ExitCode {
    match stop {
        Stop::Cancelled => ExitCode::Interrupted,
        Stop::Done | Stop::MaxRecords => ExitCode::Success,
    }
}

/// A second signal stops waiting for the cleanup: say what may be left and the command that
/// removes it.
fn print_leftovers(leftovers: &Mutex<Option<String>>) {
    if let Some(left) = leftovers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_deref()
    {
        let _ = writeln!(io::stderr(), "{left}");
    }
}

/// Single-quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_shell() {
        assert_eq!(shell_quote("logs"), "logs");
        assert_eq!(shell_quote("\"status\":500"), "'\"status\":500'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn summary_says_what_happened() {
        let removed = [
            Removed {
                kind: "mapping",
                name: "u-1".into(),
            },
            Removed {
                kind: "output stream",
                name: "ktail-logs-x".into(),
            },
        ];
        assert_eq!(
            summary_line(1, Duration::from_millis(63_400), &removed, &[]),
            "1 match in 1m 3s; removed mapping u-1, output stream ktail-logs-x"
        );
        assert_eq!(
            summary_line(0, Duration::ZERO, &[], &["function f".into()]),
            "0 matches in 0s; kept function f for a re-run"
        );
    }

    #[test]
    fn an_interrupted_deploy_removes_only_what_was_new() {
        let existing = Existing {
            function: true,
            output_stream: false,
            role: true,
        };
        assert_eq!(
            existing.removal(false),
            Removal {
                mapping: true,
                function: false,
                filtered_stream: true,
                role: false
            }
        );
        assert_eq!(existing.removal(true), Removal::MAPPING);
    }
}
