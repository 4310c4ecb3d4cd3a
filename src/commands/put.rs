//! `ktail put STREAM`: lines from stdin (or `--file`) become records, put with the shared
//! PutRecords writer by its line engine ([`crate::put_records::lines`], which says how lines,
//! batches, oversized lines and failed entries are handled).
//!
//! Ctrl-C or SIGTERM stops reading, puts every line already read (an unterminated last one too)
//! and exits 130; a second signal exits at once. Any line not put makes the exit code 1, with a
//! count; a request that fails as a whole (after the SDK's own retries) ends the run.

use std::fs::File;
use std::io::{self, Read};

use anyhow::{Context as _, Result, anyhow};

use crate::config::PutCommand;
use crate::context::Context;
use crate::contract::StreamRef;
use crate::exit::{ExitCode, usage};
use crate::meter::Meter;
use crate::put_records::lines::{self, Options, RequestFailed};
use crate::put_records::{Failure, RequestRetry, Writer};
use crate::signals::{self, CancellationToken, Listen};

pub async fn run(ctx: &Context, command: PutCommand) -> Result<ExitCode> {
    let input: Box<dyn Read + Send> = match &command.file {
        Some(path) => {
            let file = File::open(path)
                .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
            // Opening a directory succeeds; reading it would fail later, as a runtime error.
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(usage(format!(
                    "cannot read {}: it is a directory; give a file",
                    path.display()
                )));
            }
            Box::new(file)
        }
        None => Box::new(io::stdin()),
    };
    let client = crate::aws::kinesis(ctx.sdk().await?);
    let writer = Writer::new(client, command.stream, lines::BACKOFF, RequestRetry::Never);

    // Listening before anything is shown, so a signal is never the default (lines lost) one.
    let stop = CancellationToken::new();
    signals::watch(stop.clone(), Listen::InterruptAndTerminate, || {});
    let (chunks, reader) = lines::spawn_reader(input);
    let mut meter = Meter::new(ctx.feedback());
    let options = Options {
        aggregate: command.aggregate,
        partition_key: command.partition_key,
        compress: command.compress,
    };
    let outcome = lines::put_lines(&writer, chunks, &options, stop.cancelled(), &mut meter).await;
    meter.finish();
    let done = outcome.map_err(|failed| request_failed(failed, writer.stream()))?;
    if !done.interrupted {
        reader
            .await
            .context("the input reader failed")?
            .context("cannot read the input")?;
    }

    let stats = &done.stats;
    let name = writer.stream().name();
    meter.summary(stats, name);
    match stats.not_put() {
        0 if done.interrupted => Ok(ExitCode::Interrupted),
        0 => Ok(ExitCode::Success),
        n => Err(anyhow!(
            "{n} of {} lines were not put to {name}: {}",
            stats.lines,
            stats.why_not_put()
        )),
    }
}

/// The error for a request that failed as a whole: what it was, and how far the put got.
fn request_failed(failed: RequestFailed, stream: &StreamRef) -> anyhow::Error {
    let name = stream.name();
    let so_far = format!(
        "{} lines were put before this, {} in the failed request were not, the rest of the \
         input was not read",
        failed.stats.put, failed.lost
    );
    let Failure::Request(err) = failed.error else {
        return anyhow!("cannot put records to {name}; {so_far}");
    };
    if err
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found_exception())
    {
        return anyhow!(
            "stream {name} does not exist in this region (`ktail ls` lists them); {so_far}"
        );
    }
    crate::aws::errors::error(*err, format!("cannot put records to {name}; {so_far}"))
}
