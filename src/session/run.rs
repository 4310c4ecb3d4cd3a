//! The session's orchestration: watch signals, attach (or, with `--local`, tail the source), tail
//! the filtered stream while renewing the deadline, then sweep and report.

use std::io::{self, BufWriter};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};

use super::Session;
use super::cleanup::{self, Deploy, Existing, Leftovers};
use super::report::{left_note, shared_note, summary_line};
use crate::attachment::lease::{Lease, Release};
use crate::attachment::{self, Attachment, Change, Clients, Removal, mapping};
use crate::exit::ExitCode;
use crate::filter::Matcher;
use crate::kinesis::{self, Start, Stop, StreamRef, TailConfig};
use crate::printer::Printer;
use crate::progress::{Feedback, Progress};
use crate::signals::{self, CancellationToken, Listen};

/// The deadline is pushed forward this many times per TTL, so one failed renewal is not fatal.
const RENEWALS_PER_TTL: u32 = 3;
const STDOUT_BUFFER: usize = 64 * 1024;

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
    let leftovers: Arc<Leftovers> = Arc::default();
    // SIGHUP too: a closed terminal must not leave a function copying the stream.
    signals::watch(cancel.clone(), Listen::WithHangup, {
        let leftovers = Arc::clone(&leftovers);
        move || cleanup::print_leftovers(&leftovers)
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
        efo: session.efo_tail,
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

async fn server_side(
    sdk: &aws_config::SdkConfig,
    session: &Session,
    matcher: Matcher,
    cancel: CancellationToken,
    leftovers: Arc<Leftovers>,
    progress: &Progress,
    clock: Instant,
) -> Result<ExitCode> {
    let clients = Clients::new(sdk);
    let planned = session.plan.names(&clients.region());
    let started = Utc::now();

    let existing = tokio::select! {
        existing = Existing::look(&clients, &planned) => existing?,
        _ = cancel.cancelled() => {
            progress.note(summary_line(0, clock.elapsed(), &[], &[]));
            return Ok(ExitCode::Interrupted);
        }
    };
    let (created, removal) = (existing.removal(false), existing.removal(session.keep));
    cleanup::set_leftovers(&leftovers, session, &planned.target(), removal);

    let attached = tokio::select! {
        attached = attach_with_lease(&clients, session, progress) => Some(attached),
        _ = cancel.cancelled() => None,
    };
    let mut shared = 0;
    let (target, created, removal, ended, left) = match &attached {
        Some(Ok((attachment, lease))) => {
            let removal = attachment.session_removal(session.keep);
            cleanup::set_leftovers(&leftovers, session, &attachment.target(), removal);
            let ended = tail_filtered(
                sdk, &clients, session, attachment, lease, matcher, cancel, started, progress,
            )
            .await;
            let created = attachment.session_removal(false);
            let removal = match lease.release(&clients.lambda, removal).await {
                Ok(Release::Last(removal)) => removal,
                Ok(Release::Shared(others)) => {
                    shared = others;
                    Removal::NOTHING
                }
                Err(err) => {
                    progress.note(format!(
                        "warning: could not check for other sessions on function {} ({err:#}); \
                         cleaning up as the last one",
                        attachment.function_name
                    ));
                    removal
                }
            };
            let left = cleanup::left_in_place(attachment, &session.plan, removal);
            (attachment.target(), created, removal, ended, left)
        }
        // The attach removed what it had created before it failed: nothing is kept.
        Some(Err(err)) => (
            planned.target(),
            removal,
            removal,
            Err(anyhow!("{err:#}")),
            Vec::new(),
        ),
        None => (
            planned.target(),
            created,
            removal,
            Ok((0, Stop::Cancelled)),
            Vec::new(),
        ),
    };
    let deploy = match &attached {
        None => Deploy::Interrupted,
        Some(Err(_)) => Deploy::Failed,
        Some(Ok(_)) => Deploy::Finished,
    };

    let removed = match cleanup::sweep(&clients, &target, removal, progress, deploy).await {
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
    cleanup::clear_leftovers(&leftovers);
    let (kept, left) = if shared > 0 {
        (Vec::new(), shared_note(shared))
    } else {
        (
            cleanup::kept(&target, created, removal),
            left_note(&left, &session.detach_command(true)),
        )
    };
    let (matches, stop) = match ended {
        Ok(done) => done,
        Err(err) => {
            progress.note(summary_line(0, clock.elapsed(), &removed, &kept) + &left);
            return Err(err);
        }
    };
    progress.note(summary_line(matches, clock.elapsed(), &removed, &kept) + &left);
    Ok(exit_code(stop))
}

/// Attaches, then takes this session's lease on the attachment: another session with the same
/// pattern and options may share it, and the first to end must leave it to the others (see
/// [`attachment::lease`]). A session that ended between this attach and the lease, believing
/// itself the last, may have removed the mapping (and what it created): then attach once more.
async fn attach_with_lease(
    clients: &Clients,
    session: &Session,
    progress: &Progress,
) -> Result<(Attachment, Lease)> {
    let first = attachment::attach(clients, &session.plan, progress).await?;
    let lease = take_lease(clients, session, &first, progress).await;
    let mapped = mapping::list(&clients.lambda, &first.function_name)
        .await
        .map(|found| found.iter().any(|m| !mapping::is_deleting(m)))
        .unwrap_or(true);
    if mapped {
        return Ok((first, lease));
    }
    progress.note("the attachment was removed by a session that just ended; attaching again");
    let mut again = attachment::attach(clients, &session.plan, progress).await?;
    // What the first attach created is this session's to remove, whatever the second found.
    for (now, before) in [
        (&mut again.role, first.role),
        (&mut again.filtered, first.filtered),
        (&mut again.function, first.function),
        (&mut again.mapping, first.mapping),
    ] {
        if before == Change::Created {
            *now = Change::Created;
        }
    }
    let lease = take_lease(clients, session, &again, progress).await;
    Ok((again, lease))
}

/// Takes the session's lease on `attachment`'s function; warns when it cannot (the session still
/// runs, but a session sharing the attachment may then lose the mapping when this one ends).
async fn take_lease(
    clients: &Clients,
    session: &Session,
    attachment: &Attachment,
    progress: &Progress,
) -> Lease {
    let lease = Lease::new(&attachment.function_arn);
    if let Err(err) = lease.renew(&clients.lambda, session.ttl()).await {
        progress.note(format!(
            "warning: could not record this session on function {} ({err:#}); a session \
             sharing it may lose its mapping when this one ends",
            attachment.function_name
        ));
    }
    lease
}

/// Tails the filtered stream from where this session's matches begin, renewing the dead-client
/// deadline meanwhile. Returns how many records were printed and why the tail stopped.
#[allow(clippy::too_many_arguments)]
async fn tail_filtered(
    sdk: &aws_config::SdkConfig,
    clients: &Clients,
    session: &Session,
    attachment: &Attachment,
    lease: &Lease,
    matcher: Matcher,
    cancel: CancellationToken,
    started: DateTime<Utc>,
    progress: &Progress,
) -> Result<(u64, Stop)> {
    // A stream this session created holds only its matches; a reused one may hold an earlier
    // session's, which end before this one started.
    let start = if attachment.filtered == Change::Created {
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
        efo: session.efo_tail,
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
        lease.clone(),
        session.ttl(),
        progress.clone(),
    ));
    let summary = kinesis::tail(&client, config, sink, cancel).await;
    renewals.abort();
    let summary = summary?;
    Ok((summary.records, summary.stop))
}

/// Pushes the function's deadline and the session's lease forward while the session lives;
/// warns once when it cannot.
async fn renew(
    clients: Clients,
    function: String,
    lease: Lease,
    ttl: Duration,
    progress: Progress,
) {
    let every = (ttl / RENEWALS_PER_TTL).max(Duration::from_secs(1));
    let mut warned = false;
    loop {
        tokio::time::sleep(every).await;
        let renewed = async {
            attachment::renew_ttl(&clients, &function, ttl).await?;
            lease.renew(&clients.lambda, ttl).await
        };
        match renewed.await {
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

fn exit_code(stop: Stop) -> ExitCode {
    match stop {
        Stop::Cancelled => ExitCode::Interrupted,
        Stop::Done | Stop::MaxRecords => ExitCode::Success,
    }
}
