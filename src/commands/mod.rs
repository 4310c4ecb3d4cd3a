//! One thin module per subcommand; `run` dispatches to them.

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit::ExitCode;

/// Runs the parsed command line and returns the exit code for a run that did not fail.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    crate::logging::init(&cli.global);
    match cli.command {
        Command::Tail(_) => not_yet("tail"),
        Command::Grep(_) => not_yet("grep"),
        Command::Attach(_) => not_yet("attach"),
        Command::Detach(_) => not_yet("detach"),
        Command::Status(_) => not_yet("status"),
        Command::Ls(_) => not_yet("ls"),
        Command::Put(_) => not_yet("put"),
        Command::Completions(_) => not_yet("completions"),
        Command::Alias => not_yet("alias"),
    }
}

fn not_yet(name: &str) -> Result<ExitCode> {
    anyhow::bail!("`ktail {name}` is not implemented yet")
}
