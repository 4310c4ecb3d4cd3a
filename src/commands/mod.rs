//! One thin module per subcommand; `run` dispatches to them.

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::exit::ExitCode;

pub mod alias;
pub mod attach;
pub mod completions;
pub mod detach;
pub mod grep;
pub mod ls;
pub mod man;
pub mod put;
pub mod status;
pub mod tail;

/// Runs the parsed command line and returns the exit code for a run that did not fail.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    crate::logging::init(&cli.global);
    let ctx = Context::new(cli.global);
    match cli.command {
        Command::Tail(args) => tail::run(&ctx, args).await,
        Command::Grep(args) => grep::run(&ctx, args).await,
        Command::Attach(args) => attach::run(&ctx, args).await,
        Command::Detach(args) => detach::run(&ctx, args).await,
        Command::Status(args) => status::run(&ctx, args).await,
        Command::Ls(args) => ls::run(&ctx, args).await,
        Command::Put(args) => put::run(&ctx, args).await,
        Command::Completions(args) => completions::run(&ctx, args).await,
        Command::Alias => alias::run(&ctx).await,
        Command::Man(args) => man::run(args),
    }
}
