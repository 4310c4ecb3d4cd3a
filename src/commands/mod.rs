//! One thin module per subcommand; `run` dispatches to them.

use anyhow::Result;

use crate::config::{Command, Config};
use crate::context::Context;
use crate::exit::ExitCode;

pub mod alias;
pub mod attach;
pub mod completions;
#[cfg(feature = "demo")]
pub mod demo;
pub mod detach;
pub mod grep;
pub mod ls;
pub mod man;
pub mod put;
pub mod status;
pub mod tail;

/// Runs a resolved command line and returns the exit code for a run that did not fail.
pub async fn run(config: Config) -> Result<ExitCode> {
    crate::logging::init(config.debug, config.terminal.stderr);
    let ctx = Context::new(config.aws, config.terminal, config.quiet);
    match config.command {
        Command::Tail(command) => tail::run(&ctx, command).await,
        Command::Grep(command) => grep::run(&ctx, command).await,
        Command::Attach(command) => attach::run(&ctx, command).await,
        Command::Detach(command) => detach::run(&ctx, command).await,
        Command::Status(report) => status::run(&ctx, report).await,
        Command::Ls(report) => ls::run(&ctx, report).await,
        Command::Put(command) => put::run(&ctx, command).await,
        Command::Completions(shell) => completions::run(shell),
        Command::Alias => alias::run(),
        Command::Man(dir) => man::run(dir),
        #[cfg(feature = "demo")]
        Command::Demo(demo) => demo::run(&ctx, demo).await,
    }
}
