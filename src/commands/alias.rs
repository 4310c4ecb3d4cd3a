//! `ktail alias`.

use anyhow::Result;

use super::Context;
use crate::exit::ExitCode;

pub async fn run(_ctx: &Context) -> Result<ExitCode> {
    super::not_yet("alias")
}
