//! `--debug`: AWS SDK logs on stderr. The SDK redacts credentials and signatures itself.

use tracing_subscriber::EnvFilter;

/// Starts logging when `debug` is set; `ansi` when stderr is a terminal.
pub fn init(debug: bool, ansi: bool) {
    if !debug {
        return;
    }
    let filter = EnvFilter::new(
        "ktail=debug,aws_config=debug,aws_smithy_runtime=debug,aws_sdk_kinesis=debug,aws_sdk_lambda=debug,aws_sdk_iam=debug",
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
