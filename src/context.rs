//! The shared run context: the global options, the terminal as it was at start, and the run's one
//! `SdkConfig`, loaded on first use so that offline commands (completions, alias, man) never touch
//! AWS configuration.

use std::io::IsTerminal;

use anyhow::Result;
use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::aws::AwsOptions;
use crate::progress::{Feedback, Progress};

/// Which standard streams are terminals, and what the environment says about colour and the
/// terminal's abilities; taken once at start so every decision agrees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Terminal {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// `TERM=dumb`: no cursor movement, so no spinners.
    pub dumb: bool,
    /// `NO_COLOR` is set (and not empty).
    pub no_color: bool,
}

impl Terminal {
    pub fn detect() -> Terminal {
        Terminal {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
            dumb: std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }

    /// Whether a prompt can be answered: someone types on stdin and sees stderr.
    pub fn interactive(&self) -> bool {
        self.stdin && self.stderr
    }
}

/// What every command may use.
#[derive(Debug)]
pub struct Context {
    pub aws: AwsOptions,
    pub terminal: Terminal,
    /// `--quiet`: nothing on stderr but errors.
    pub quiet: bool,
    sdk: OnceCell<SdkConfig>,
}

impl Context {
    pub fn new(aws: AwsOptions, terminal: Terminal, quiet: bool) -> Self {
        Context {
            aws,
            terminal,
            quiet,
            sdk: OnceCell::new(),
        }
    }

    pub async fn sdk(&self) -> Result<&SdkConfig> {
        self.sdk
            .get_or_try_init(|| crate::aws::load(&self.aws))
            .await
    }

    /// How steps are shown: `--quiet` and stderr decide.
    pub fn feedback(&self) -> Feedback {
        Feedback::choose(self.quiet, self.terminal.stderr, self.terminal.dumb)
    }

    /// Progress for a multi-step command.
    pub fn progress(&self) -> Progress {
        Progress::new(self.feedback())
    }
}
