//! `ktail attach`.

use anyhow::Result;

use super::Context;
use crate::cli::AttachArgs;
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context, _args: AttachArgs) -> Result<ExitCode> {
    super::not_yet("attach")
}
