//! `ktail put`.

use anyhow::Result;

use super::Context;
use crate::cli::PutArgs;
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context, _args: PutArgs) -> Result<ExitCode> {
    super::not_yet("put")
}
