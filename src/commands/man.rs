//! `ktail man`: the man page, rendered by clap_mangen from the same definitions as the help, so
//! the two never disagree. `man/` in the repository holds the rendered pages.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::{ExitCode, WRITE_OUTPUT};

pub fn run(dir: Option<PathBuf>) -> Result<ExitCode> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
        }
        None => {
            let mut page = Vec::new();
            // As `generate_to` renders it: `help` is not a command worth a page or an entry.
            clap_mangen::Man::new(Cli::command().disable_help_subcommand(true))
                .render(&mut page)?;
            let mut out = std::io::stdout().lock();
            out.write_all(&page).context(WRITE_OUTPUT)?;
            out.flush().context(WRITE_OUTPUT)?;
        }
    }
    Ok(ExitCode::Success)
}
