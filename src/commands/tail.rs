//! `ktail tail`: pick the stream when it was left out, then run `kinesis::tail` into stdout until a
//! stop condition, Ctrl-C or SIGTERM. The flags were resolved by the config step.
//!
//! Exit codes: 0 when a stop condition is met (`-e`, `-n`, `--until`) or stdout closes; 1 on an
//! AWS error; 2 on bad usage; 130 when interrupted by Ctrl-C or SIGTERM (what was read is printed
//! and flushed first). A second Ctrl-C exits at once.

use std::io::{self, BufWriter};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

use crate::config::TailCommand;
use crate::context::Context;
use crate::exit::ExitCode;
use crate::kinesis::{self, Stop};
use crate::picker;
use crate::printer::Printer;
use crate::progress::{Feedback, Progress};
use crate::signals::{self, CancellationToken, Listen};

/// stdout buffer; flushed whenever the readers have nothing more waiting.
const STDOUT_BUFFER: usize = 64 * 1024;

pub async fn run(ctx: &Context, command: TailCommand) -> Result<ExitCode> {
    // Every flag was checked by the config step, so a typo is not found after picking.
    let stream = picker::resolve_stream(ctx, command.stream.clone()).await?;
    let (mut config, print) = command.for_stream(&stream);
    // Setup steps (registering an --efo consumer) only on a terminal: a pipe gets data only.
    config.progress = match ctx.progress() {
        p if p.feedback() == Feedback::Spinner => p,
        _ => Progress::new(Feedback::Hidden),
    };
    config.warn = ctx.terminal.stderr && !ctx.quiet;
    let client = kinesis::client(ctx.sdk().await?);
    let cancel = CancellationToken::new();
    // Ctrl-C and SIGTERM stop the tail (what was read is still printed); a second one exits now.
    signals::watch(cancel.clone(), Listen::InterruptAndTerminate, || {});
    // `ktail tail s | head -1` on a quiet stream: end (successfully) when the reader goes away.
    let stdout_closed = Arc::new(AtomicBool::new(false));
    {
        let (cancel, closed) = (cancel.clone(), stdout_closed.clone());
        crate::printer::on_stdout_closed(move || {
            closed.store(true, Ordering::SeqCst);
            cancel.cancel();
        });
    }
    let out = BufWriter::with_capacity(STDOUT_BUFFER, io::stdout());
    let sink = Printer::new(out, print, Some(config.matcher.clone()));
    let summary = kinesis::tail(&client, config, sink, cancel).await?;
    Ok(match summary.stop {
        Stop::Cancelled if stdout_closed.load(Ordering::SeqCst) => ExitCode::Success,
        Stop::Cancelled => ExitCode::Interrupted,
        Stop::Done | Stop::MaxRecords => ExitCode::Success,
    })
}
