//! `ktail grep`.

use anyhow::Result;

use super::Context;
use crate::cli::GrepArgs;
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context, _args: GrepArgs) -> Result<ExitCode> {
    super::not_yet("grep")
}
