//! `ktail detach`: remove what `ktail attach` wired to a stream.

use anyhow::Result;

use crate::cli::DetachArgs;
use crate::context::Context;
use crate::exit::ExitCode;
use crate::filter::MatchOptions;
use crate::lambda::{self, Clients, Selector};
use crate::progress::Progress;

pub async fn run(ctx: &Context, args: DetachArgs) -> Result<ExitCode> {
    let selector = match args.pattern {
        Some(pattern) if !args.all => Selector::Pattern(
            pattern,
            MatchOptions {
                invert: args.pattern_args.invert_match,
                ignore_case: args.pattern_args.ignore_case,
            },
        ),
        _ => Selector::All,
    };
    let clients = Clients::new(ctx.sdk().await?);
    let progress = Progress::detect(&ctx.global);
    let removed = lambda::detach(&clients, &args.stream, &selector, args.purge, &progress).await?;
    progress.note(if removed.is_empty() {
        format!("nothing to remove from {}", args.stream)
    } else {
        let list: Vec<String> = removed
            .iter()
            .map(|r| format!("{} {}", r.kind, r.name))
            .collect();
        format!("removed {}", list.join(", "))
    });
    Ok(ExitCode::Success)
}
