//! `ktail detach`: remove what `ktail attach` wired to a stream.

use anyhow::Result;

use crate::attachment::{self, Clients};
use crate::config::DetachCommand;
use crate::context::Context;
use crate::exit::ExitCode;

pub async fn run(ctx: &Context, command: DetachCommand) -> Result<ExitCode> {
    let clients = Clients::new(ctx.sdk().await?);
    let progress = ctx.progress();
    let removed = attachment::detach(
        &clients,
        &command.stream,
        &command.selector,
        command.purge,
        &progress,
    )
    .await?;
    progress.note(if removed.is_empty() {
        format!("nothing to remove from {}", command.stream)
    } else {
        let list: Vec<String> = removed
            .iter()
            .map(|r| format!("{} {}", r.kind, r.name))
            .collect();
        format!("removed {}", list.join(", "))
    });
    Ok(ExitCode::Success)
}
