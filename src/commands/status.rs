//! `ktail status`.

use anyhow::Result;

use super::Context;
use crate::cli::ListArgs;
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context, _args: ListArgs) -> Result<ExitCode> {
    super::not_yet("status")
}
