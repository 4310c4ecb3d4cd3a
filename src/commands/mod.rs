//! One thin module per subcommand; `run` dispatches to them.

use anyhow::Result;
use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::cli::{Cli, Command, GlobalArgs};
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

/// What every command may use: the global flags and the run's single `SdkConfig`, loaded on
/// first use so that offline commands (completions, alias) never touch AWS configuration.
pub struct Context {
    pub global: GlobalArgs,
    sdk: OnceCell<SdkConfig>,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Self {
        Context {
            global,
            sdk: OnceCell::new(),
        }
    }

    pub async fn sdk(&self) -> Result<&SdkConfig> {
        self.sdk
            .get_or_try_init(|| crate::aws::load(&self.global))
            .await
    }
}

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
