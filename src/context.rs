//! The shared run context: the global options and the run's one `SdkConfig`, loaded on first
//! use so that offline commands (completions, alias, man) never touch AWS configuration.

use anyhow::Result;
use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::cli::GlobalArgs;

/// What every command may use.
pub struct Context {
    pub global: GlobalArgs,
    sdk: OnceCell<SdkConfig>,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Self {
        Context {
            global,
            sdk: OnceCell::new(),
        }
    }

    pub async fn sdk(&self) -> Result<&SdkConfig> {
        self.sdk
            .get_or_try_init(|| crate::aws::load(&self.global))
            .await
    }
}
