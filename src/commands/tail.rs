//! `ktail tail`.

use anyhow::Result;

use super::Context;
use crate::cli::TailArgs;
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context, _args: TailArgs) -> Result<ExitCode> {
    super::not_yet("tail")
}
