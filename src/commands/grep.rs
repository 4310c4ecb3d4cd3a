//! `ktail grep STREAM PATTERN`: pick the stream and prompt for the pattern when they were left
//! out, complete the session the config step resolved, then run it.
//! The session itself (attach, tail, detach, signals) lives in `crate::session`.
//!
//! Exit codes: 0 when `-n` or `--until` ends the session or stdout closes; 1 on an AWS error; 2 on
//! bad usage; 130 when a signal ended it. Every one of them detaches first.

use anyhow::Result;

use crate::config::GrepCommand;
use crate::context::Context;
use crate::exit::ExitCode;
use crate::picker;
use crate::session;

pub async fn run(ctx: &Context, command: GrepCommand) -> Result<ExitCode> {
    let request = &command.request;
    let stream = picker::resolve_stream(ctx, request.stream.clone()).await?;
    let pattern = picker::resolve_pattern(&ctx.terminal, request.pattern.clone(), request.options)?;
    let session = command.session(stream, pattern)?;
    let sdk = ctx.sdk().await?;
    session::run(sdk, session, ctx.progress()).await
}
