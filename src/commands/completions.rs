//! `ktail completions SHELL`: the static completion script for a shell, generated from the same
//! clap definitions as the help. `completions/` in the repository holds a copy for every shell.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use super::Context;
use crate::cli::{Cli, CompletionsArgs};
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context, args: CompletionsArgs) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "ktail", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::Success)
}
