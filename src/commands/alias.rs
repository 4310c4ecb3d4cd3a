//! `ktail alias`: the AWS CLI alias that makes `aws ktail …` run ktail.

use std::io::Write;

use anyhow::{Context as _, Result};

use crate::exit::{ExitCode, WRITE_OUTPUT};

/// Comment lines first so the output can be appended to the alias file as it is.
pub const ALIAS: &str = "\
# aws ktail ...: put this line under [toplevel] in ~/.aws/cli/alias.
# The AWS CLI does not pass its --profile/--region on: set AWS_PROFILE/AWS_REGION instead.
ktail = !ktail
";

pub fn run() -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(ALIAS.as_bytes()).context(WRITE_OUTPUT)?;
    out.flush().context(WRITE_OUTPUT)?;
    Ok(ExitCode::Success)
}
