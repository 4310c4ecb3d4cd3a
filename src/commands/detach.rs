//! `ktail detach`.

use anyhow::Result;

use super::Context;
use crate::cli::DetachArgs;
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context, _args: DetachArgs) -> Result<ExitCode> {
    super::not_yet("detach")
}
