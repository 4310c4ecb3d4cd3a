//! `ktail completions`.

use anyhow::Result;

use super::Context;
use crate::cli::CompletionsArgs;
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context, _args: CompletionsArgs) -> Result<ExitCode> {
    super::not_yet("completions")
}
