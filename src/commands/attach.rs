//! `ktail attach`: deploy the grep function and wire it; prints the filtered stream's name.

use std::io::Write;

use anyhow::{Context as _, Result};

use crate::attachment::{self, Clients};
use crate::config::{AttachCommand, Report, aws_flags};
use crate::context::Context;
use crate::exit::{ExitCode, WRITE_OUTPUT};
use crate::picker;

pub async fn run(ctx: &Context, command: AttachCommand) -> Result<ExitCode> {
    let request = command.request;
    let stream = picker::resolve_stream(ctx, request.stream.clone()).await?;
    let pattern = picker::resolve_pattern(&ctx.terminal, request.pattern.clone(), request.options)?;
    let plan = request.plan(stream, pattern)?;

    let clients = Clients::new(ctx.sdk().await?);
    let progress = ctx.progress();
    let attachment = attachment::attach(&clients, &plan, &progress).await?;

    let mut stdout = std::io::stdout().lock();
    match command.report {
        Report::Text => writeln!(stdout, "{}", attachment.filtered_stream),
        Report::Json => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&attachment).context("encoding the report")?
        ),
    }
    .context(WRITE_OUTPUT)?;
    progress.note(if attachment.changed() {
        let flags = aws_flags(&ctx.aws);
        format!(
            "attached; tail it with `ktail tail {}{flags}`, remove it with `{}`",
            attachment.filtered_stream,
            plan.detach_command(false, &flags)
        )
    } else {
        "already attached: nothing changed".to_owned()
    });
    Ok(ExitCode::Success)
}
